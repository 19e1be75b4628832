//! `GET /api/v1/events` and `GET /api/v1/messages/{id}`: events and a
//! message's status history for applications that ask instead of
//! receiving webhooks (DESIGN.md section 14).

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::bodies::{EventAnswer, EventsPageAnswer, MessageAnswer, StatusChangeAnswer};
use super::failure;
use super::messages::authenticate;
use super::problem::Problem;
use crate::app_state::AppState;
use crate::error::AppError;
use crate::services::events::pull;

/// Every problem a page of events can be answered with.
pub const EVENTS_PROBLEMS: &[Problem] = &[Problem::Unauthorized, Problem::InvalidCursor, Problem::DatabaseUnavailable, Problem::Internal];

/// Every problem a message's history can be answered with.
pub const MESSAGE_PROBLEMS: &[Problem] = &[Problem::Unauthorized, Problem::MessageNotFound, Problem::DatabaseUnavailable, Problem::Internal];

/// Which events to read.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The `next` of the previous page; none for the oldest events.
    after: Option<String>,
    /// Events per page, 1 to 500; 100 when left out.
    limit: Option<String>,
}

/// The API key's enterprise's events after a cursor, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    params(EventsQuery),
    responses((status = 200, description = "A page of events and the cursor of the next", body = EventsPageAnswer)),
    security(("api_key" = []))
)]
#[get("/api/v1/events")]
pub async fn events(req: HttpRequest, state: web::Data<AppState>, query: web::Query<EventsQuery>) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => Some(100),
        Some(raw) => raw.parse::<i64>().ok().filter(|l| (1..=pull::MAX_LIMIT).contains(l)),
    };
    let (Some(after), Some(limit)) = (pull::cursor(query.after.as_deref()), limit) else { return Problem::InvalidCursor.answer() };
    match state.run(move |conn| Ok(pull::events_after(conn, caller.enterprise_id, after, limit)?)).await {
        Ok(page) => HttpResponse::Ok().json(EventsPageAnswer {
            data: page.data.into_iter().map(|e| EventAnswer { id: e.id, event_type: e.event_type, timestamp: e.timestamp, data: e.data }).collect(),
            next: page.next,
        }),
        Err(failed) => failure(&failed, None),
    }
}

/// One message of the send log with the statuses it went through.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    params(("id" = i64, Path, description = "The message's id, as the send answered")),
    responses((status = 200, description = "The message and its status history", body = MessageAnswer)),
    security(("api_key" = []))
)]
#[get("/api/v1/messages/{id}")]
pub async fn message(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Some(id) = path.parse::<crate::domain::PoolId>().ok().map(|id| id.get()) else { return Problem::MessageNotFound.answer() };
    match state.run(move |conn| Ok(pull::message(conn, caller.enterprise_id, id)?)).await {
        Ok(found) => HttpResponse::Ok().json(MessageAnswer {
            id: found.message.id,
            pool_id: found.message.pool_id,
            to: found.message.recipient,
            status: found.message.status,
            wamid: found.message.wamid,
            phone_number_id: found.message.phone_number_id,
            attempts: found.attempts,
            history: found.history.into_iter().map(|h| StatusChangeAnswer { status: h.status, at: h.at, error_code: h.error_code }).collect(),
        }),
        Err(AppError::NotFound) => Problem::MessageNotFound.answer(),
        Err(failed) => failure(&failed, None),
    }
}
