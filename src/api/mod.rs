//! The JSON API (`/api/v1`): sending through a pool and asking how it would
//! route. Every answer is JSON; errors are `{"error": {"code", "message"}}`
//! with a stable snake_case code.

pub mod messages;
pub mod openapi;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::AppError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(messages::send).service(messages::route).service(openapi::serve);
}

/// An API error answer.
pub fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "code": code, "message": message } }))
}

/// The answer to a failure of ours: its class as the code, and one log line
/// with the whole cause chain. The line is written inside the request's
/// span, which carries the request id (see `telemetry::middleware`).
/// `message` replaces the class's own sentence where the caller knows more
/// (e.g. that a send went out but its outcome was not stored).
pub fn failure(error: &AppError, message: Option<&str>) -> HttpResponse {
    let (status, code, sentence) = failure_class(error);
    match error {
        AppError::TokenUnreadable { key_id, .. } => tracing::error!(code, key_id = %key_id, cause = %cause_chain(error), "API request failed"),
        _ => tracing::error!(code, cause = %cause_chain(error), "API request failed"),
    }
    let mut response = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header(("Retry-After", "5"));
    }
    response.json(json!({ "error": { "code": code, "message": message.unwrap_or(sentence) } }))
}

/// The status, code and sentence of a failure's class.
pub fn failure_class(error: &AppError) -> (StatusCode, &'static str, &'static str) {
    match error {
        AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "The database is not answering; try again."),
        AppError::TokenUnreadable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "token_unreadable", crate::error::TOKEN_UNREADABLE),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "An unexpected error happened; it was logged with this request's X-Request-Id."),
    }
}

/// An error and its sources, outermost first, joined by ": ".
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}
