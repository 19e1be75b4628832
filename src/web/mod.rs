//! The portal: one module per screen, plus the extractors and helpers they share.

pub mod api_keys;
pub mod api_reference;
pub mod assets;
pub mod audit;
pub mod audit_words;
pub mod auth;
pub mod csv;
pub mod demo_receiver;
pub mod error_pages;
pub mod events;
pub mod form;
pub mod health;
pub mod htmx;
pub mod layout;
pub mod numbers;
pub mod overview;
pub mod paging;
pub mod pools;
pub mod routing;
pub mod session;
pub mod users;
pub mod webhooks;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::error::AppError;

pub use crate::app_state::AppState;

/// The client's address: the peer's, or, when the peer is a trusted proxy,
/// the right-most X-Forwarded-For entry that is not itself a trusted proxy.
pub fn client_ip(req: &actix_web::HttpRequest, trusted: &[std::net::IpAddr]) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer.to_string());
    }
    let forwarded = req.headers().get("X-Forwarded-For").and_then(|v| v.to_str().ok()).unwrap_or_default();
    for hop in forwarded.rsplit(',') {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip.to_string()),
            Err(_) => break,
        }
    }
    Some(peer.to_string())
}

/// Renders a template with a status.
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    let body = template.render()?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub fn ok(template: &impl Template) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, template)
}
