//! `POST /api/v1/pools/{id}/messages` and `GET /api/v1/pools/{id}/route`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::bodies::{MessageKind, MessageRequest, RefusalWithRouting, RoutingAnswer, SendAnswer, SentAnswer};
use super::failure;
use super::problem::Problem;
use crate::app_state::AppState;
use crate::services::api_keys::{self, ApiCaller};
use crate::services::routing::{self as service, Planned, Refusal, check_message};
use crate::services::sending::{Delivery, SendError, SendOutcome, SendRequest, Sender, Tried};

/// The largest message body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every problem a send can be answered with.
pub const SEND_PROBLEMS: &[Problem] = &[
    Problem::Unauthorized,
    Problem::PoolNotFound,
    Problem::PoolInactive,
    Problem::IdempotencyInProgress,
    Problem::UnsupportedMediaType,
    Problem::UnreadableBody,
    Problem::BodyTooLarge,
    Problem::InvalidJson,
    Problem::InvalidMessage,
    Problem::InvalidIdempotencyKey,
    Problem::IdempotencyKeyReused,
    Problem::UnknownDepartment,
    Problem::SendATemplate,
    Problem::RecipientRejected,
    Problem::NoEligibleNumber,
    Problem::NumberCoolingDown,
    Problem::WabaOutOfRotation,
    Problem::AllMembersFailed,
    Problem::MetaUnreachable,
    Problem::MetaRefused,
    Problem::DatabaseUnavailable,
    Problem::TokenUnreadable,
    Problem::Internal,
];

/// Every problem a routing question can be answered with.
pub const ROUTE_PROBLEMS: &[Problem] = &[
    Problem::Unauthorized,
    Problem::PoolNotFound,
    Problem::PoolInactive,
    Problem::InvalidMessage,
    Problem::UnknownDepartment,
    Problem::IdempotencyKeyReused,
    Problem::DatabaseUnavailable,
    Problem::Internal,
];

pub(super) async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<ApiCaller, HttpResponse> {
    let Some(presented) = presented_key(req) else { return Err(Problem::Unauthorized.answer()) };
    match state.run(move |conn| Ok(api_keys::authenticate(conn, &presented)?)).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(Problem::Unauthorized.answer()),
        Err(failed) => Err(failure(&failed, None)),
    }
}

fn pool_id(raw: &str) -> Option<i64> {
    raw.parse::<crate::domain::PoolId>().ok().map(|id| id.get())
}

fn refusal(refused: Refusal) -> HttpResponse {
    let problem = Problem::from(&refused);
    match refused {
        Refusal::NeedsTemplate(decision, phones) => {
            problem.response().json(RefusalWithRouting { error: problem.detail(None), routing: RoutingAnswer::new(&decision, &phones) })
        }
        Refusal::NoEligibleMember(decision, phones) => {
            let reasons: Vec<&str> = decision.verdicts.iter().map(|v| v.reason.as_ref()).collect();
            tracing::warn!(code = problem.code(), ?reasons, "no member of the pool can send");
            problem.response().json(RefusalWithRouting { error: problem.detail(None), routing: RoutingAnswer::new(&decision, &phones) })
        }
        _ => problem.answer(),
    }
}

async fn read_json(req: &HttpRequest, mut payload: web::Payload) -> Result<Value, HttpResponse> {
    let is_json = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(Problem::UnsupportedMediaType.answer());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Problem::UnreadableBody.answer())?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Problem::BodyTooLarge.answer());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| Problem::InvalidJson.answer())
}

/// The key after the `Bearer` scheme, whose name is case-insensitive (RFC 9110 §11.1).
fn presented_key(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("Authorization")?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then(|| key.trim().to_owned())
}

async fn check_send(req: &HttpRequest, path: &str, payload: web::Payload) -> Result<SendRequest, HttpResponse> {
    let body = read_json(req, payload).await?;
    let Some(pool_id) = pool_id(path) else { return Err(refusal(Refusal::PoolNotFound)) };
    let message = check_message(body).map_err(|problem| Problem::InvalidMessage.answer_saying(&problem))?;
    let idempotency_key = req.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
        return Err(Problem::InvalidIdempotencyKey.answer());
    }
    Ok(SendRequest { pool_id, message, idempotency_key })
}

/// Sends a message through a pool: wabapool picks the member, asks Meta
/// and fails over on the errors that allow it.
#[utoipa::path(
    post,
    path = "/api/v1/pools/{id}/messages",
    params(
        ("id" = i64, Path, description = "The pool's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 characters; a retry with the same key gets the first answer and sends nothing again"),
    ),
    request_body(content = MessageRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Meta accepted the message", body = SentAnswer,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer of an earlier request with this Idempotency-Key"))),
    ),
    security(("api_key" = []))
)]
#[post("/api/v1/pools/{id}/messages")]
pub async fn send(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>, payload: web::Payload) -> HttpResponse {
    let Some(presented) = presented_key(&req) else { return Problem::Unauthorized.answer() };
    // The body is checked before the key so that the key and the plan share
    // one database visit; its problems are answered only to a valid key.
    let (request, unchecked) = match check_send(&req, &path, payload).await {
        Ok(request) => (Some(request), None),
        Err(problem) => (None, Some(problem)),
    };
    let sender = Sender { db: state.get_ref(), graph: &state.graph, keys: &state.secrets };
    match sender.send(presented, request, SendAnswer::stored).await {
        Ok(SendOutcome::Unauthorized) => Problem::Unauthorized.answer(),
        Ok(SendOutcome::Unchecked) => unchecked.unwrap_or_else(|| Problem::Internal.answer()),
        Ok(SendOutcome::Replayed(answer)) => replay(answer),
        Ok(SendOutcome::Refused(refused)) => refusal(refused),
        Ok(SendOutcome::Ended(ended)) => {
            tell(&state, &ended.tried);
            match SendAnswer::of(&ended) {
                SendAnswer::Sent(sent) => HttpResponse::Created().json(sent),
                SendAnswer::Failed(problem, failed) => problem.response().json(failed),
            }
        }
        Err(SendError::NotSent(cause)) => failure(&cause.into(), None),
        Err(SendError::NotStored { tried, cause }) => {
            tell(&state, &tried);
            failure(&cause.into(), Some("The message outcome could not be stored; check the send log before retrying."))
        }
    }
}

/// Counts a send that reached Meta, and logs the cause once when it failed.
fn tell(state: &AppState, tried: &Tried) {
    let outcome = match &tried.delivery {
        Delivery::Sent { .. } => "sent",
        Delivery::Failed { failure, meta_error_code } => {
            let code = Problem::from(*failure).code();
            let codes: Vec<Option<i64>> = tried.attempts.iter().map(|a| a.error_code).collect();
            tracing::warn!(code, pool_id = tried.pool_id, meta_error_code = ?meta_error_code, attempts = ?codes, "send failed at Meta");
            code
        }
    };
    state.metrics.record_send(tried.pool_id, outcome);
}

/// The stored answer of the first request with this Idempotency-Key.
fn replay(answer: Value) -> HttpResponse {
    let status = if answer.get("error").is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CREATED };
    HttpResponse::build(status).insert_header(("Idempotent-Replayed", "true")).json(answer)
}

/// The message whose routing is asked about.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RouteQuery {
    /// The recipient's phone number, digits with or without a leading +.
    to: Option<String>,
    /// The kind of message; `template` when left out.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<MessageKind>)]
    kind: Option<String>,
    /// Routes among the members tagged with this department only.
    department: Option<String>,
}

/// How the pool would route a message now, with each member's reason,
/// without sending.
#[utoipa::path(
    get,
    path = "/api/v1/pools/{id}/route",
    params(("id" = i64, Path, description = "The pool's id"), RouteQuery),
    responses((status = 200, description = "The member that would send (none when no member is eligible) and each member's verdict", body = RoutingAnswer)),
    security(("api_key" = []))
)]
#[get("/api/v1/pools/{id}/route")]
pub async fn route(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>, query: web::Query<RouteQuery>) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Some(pool_id) = pool_id(&path) else { return refusal(Refusal::PoolNotFound) };
    let message = match check_message(route_check_message(query.into_inner())) {
        Ok(message) => message,
        Err(problem) => return Problem::InvalidMessage.answer_saying(&problem),
    };
    let planned = state.run(move |conn| Ok(service::plan(conn, None, &caller, pool_id, &message, None)?)).await;
    let (decision, phones, refused) = match planned {
        Ok(Planned::Send(plan)) => (plan.decision, plan.phones, None),
        Ok(Planned::Refused(Refusal::NeedsTemplate(decision, phones))) => (decision, phones, Some(Problem::SendATemplate.code())),
        Ok(Planned::Refused(Refusal::NoEligibleMember(decision, phones))) => (decision, phones, Some(Problem::NoEligibleNumber.code())),
        Ok(Planned::Refused(refused)) => return refusal(refused),
        Ok(Planned::Replay(answer)) => return HttpResponse::Ok().json(answer),
        Err(failed) => return failure(&failed, None),
    };
    HttpResponse::Ok().json(RoutingAnswer { refusal: refused, ..RoutingAnswer::new(&decision, &phones) })
}

/// A message of the asked type, to see how it would route.
fn route_check_message(query: RouteQuery) -> Value {
    let kind = query.kind.unwrap_or_else(|| "template".into());
    let mut body = json!({ "to": query.to.unwrap_or_default(), "type": kind });
    body[kind.as_str()] = match kind.as_str() {
        "text" => json!({ "body": "route check" }),
        "template" => json!({ "name": "route_check", "language": { "code": "en" } }),
        "interactive" => json!({ "body": { "text": "route check" } }),
        _ => json!({ "id": "route-check" }),
    };
    if let Some(department) = query.department {
        body["department"] = json!(department);
    }
    body
}
