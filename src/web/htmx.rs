//! htmx helpers: whether a request came from htmx, and redirects that work
//! for htmx and for plain forms alike.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().get("HX-Request").is_some_and(|v| v == "true")
}

/// Whether to answer with the fragment htmx swaps in rather than the whole
/// page: an htmx request, but neither a boosted link nor htmx restoring a
/// page from history (Back to a URL it pushed), which needs the whole page.
pub fn wants_fragment(req: &HttpRequest) -> bool {
    is_htmx(req) && !req.headers().contains_key("HX-Boosted") && req.headers().get("HX-History-Restore-Request").is_none_or(|v| v != "true")
}

/// The page a request was sent from, as a path with its query: htmx's
/// HX-Current-URL, else the Referer, when either names this host.
pub fn page_of(req: &HttpRequest) -> Option<String> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let url = req.headers().get("HX-Current-URL").or_else(|| req.headers().get(header::REFERER))?.to_str().ok()?;
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?.strip_prefix(host)?;
    rest.starts_with('/').then(|| rest.to_owned())
}

/// After a successful post: 303 for a plain form; for htmx a 200 with
/// HX-Redirect, so the browser loads the page (and its flash) in full.
pub fn see_other(req: &HttpRequest, location: &str) -> HttpResponse {
    if is_htmx(req) {
        HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish()
    } else {
        HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
    }
}
