//! Static files, built into the binary so it runs from any directory.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { path: "css/app.css", content_type: "text/css; charset=utf-8", body: include_bytes!("../../static/css/app.css") },
    Asset { path: "js/app.js", content_type: "text/javascript; charset=utf-8", body: include_bytes!("../../static/js/app.js") },
    Asset {
        path: "vendor/htmx/htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/vendor/htmx/htmx.min.js"),
    },
    Asset { path: "vendor/htmx/LICENSE", content_type: "text/plain; charset=utf-8", body: include_bytes!("../../static/vendor/htmx/LICENSE") },
];

#[get("/static/{path:.*}")]
pub async fn asset(path: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.path == path.as_str()) {
        Some(asset) => {
            HttpResponse::Ok().content_type(asset.content_type).insert_header((header::CACHE_CONTROL, "public, max-age=3600")).body(asset.body)
        }
        None => HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("not found"),
    }
}
