//! The JSON API (`/api/v1`): sending through a pool and asking how it would
//! route. Every answer is JSON; errors are `{"error": {"code", "message"}}`
//! with a stable snake_case code.

pub mod messages;
pub mod openapi;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(messages::send).service(messages::route).service(openapi::serve);
}

/// An API error answer.
pub fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "code": code, "message": message } }))
}
