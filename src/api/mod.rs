//! The JSON API (`/api/v1`): sending through a pool and asking how it would
//! route. Every answer is JSON; errors are `{"error": {"code", "message"}}`
//! with a stable snake_case code.

pub mod bodies;
pub mod events;
pub mod messages;
pub mod openapi;
pub mod problem;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;
use problem::Problem;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(messages::send)
        .service(messages::route)
        .service(events::events)
        .service(events::message)
        .service(openapi::serve)
        // Last: what no route above took.
        .service(web::resource(["/api", "/api/{rest:.*}"]).to(elsewhere));
}

/// Any other request under `/api/`: a JSON 405 with the methods the path
/// takes when it is an API route, else a JSON 404.
async fn elsewhere(req: HttpRequest) -> HttpResponse {
    let allowed = openapi::methods_of(req.path());
    if allowed.is_empty() {
        return Problem::NotFound.answer();
    }
    let mut response = Problem::MethodNotAllowed.response();
    response.insert_header((actix_web::http::header::ALLOW, allowed.join(", ")));
    response.json(bodies::ErrorAnswer { error: Problem::MethodNotAllowed.detail(None) })
}

/// The answer to a failure of ours: its class as the code, and one log line
/// with the whole cause chain. The line is written inside the request's
/// span, which carries the request id (see `telemetry::middleware`).
/// `message` replaces the class's own sentence where the caller knows more
/// (e.g. that a send went out but its outcome was not stored).
pub fn failure(error: &AppError, message: Option<&str>) -> HttpResponse {
    let problem = failure_class(error);
    let code = problem.code();
    match error {
        AppError::TokenUnreadable { key_id, .. } => tracing::error!(code, key_id = %key_id, cause = %cause_chain(error), "API request failed"),
        _ => tracing::error!(code, cause = %cause_chain(error), "API request failed"),
    }
    problem.answer_saying(message.unwrap_or(problem.message()))
}

/// The problem a failure of ours is answered as.
pub fn failure_class(error: &AppError) -> Problem {
    match error {
        AppError::Unavailable(_) => Problem::DatabaseUnavailable,
        AppError::TokenUnreadable { .. } => Problem::TokenUnreadable,
        _ => Problem::Internal,
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
