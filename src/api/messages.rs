//! `POST /api/v1/pools/{id}/messages` and `GET /api/v1/pools/{id}/route`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::{error, failure};
use crate::app_state::AppState;
use crate::error::AppError;
use crate::routing::{Decision, ErrorClass, Outcome, classify};
use crate::services::api_keys;
use crate::services::routing::{self as service, Attempt, CheckedMessage, Planned, Refusal, SendEnd, check_message};
use crate::store::api_keys::ApiKeyRow;

/// The largest message body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a retry waits for the send that holds its Idempotency-Key
/// before it is told to come back (409 `idempotency_in_progress`).
const KEY_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);
const KEY_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(100);

async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<ApiKeyRow, HttpResponse> {
    let Some(presented) = presented_key(req) else { return Err(unauthorized()) };
    match state.run(move |conn| Ok(api_keys::authenticate(conn, &presented)?)).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(unauthorized()),
        Err(failed) => Err(failure(&failed, None)),
    }
}

fn pool_id(raw: &str) -> Option<i64> {
    raw.parse::<crate::domain::PoolId>().ok().map(|id| id.get())
}

fn decision_json(decision: &Decision, numbers: &[(i64, String)]) -> Value {
    let phone = |id: i64| numbers.iter().find(|(n, _)| *n == id).map(|(_, p)| p.clone()).unwrap_or_default();
    let chosen = match &decision.outcome {
        Outcome::Send(order) => order.first().map(|id| phone(*id)),
        _ => None,
    };
    json!({
        "phone_number_id": chosen,
        "members": decision.verdicts.iter().map(|v| json!({ "phone_number_id": phone(v.number_id), "eligible": v.eligible, "reason": v.reason })).collect::<Vec<_>>(),
    })
}

fn refusal(refused: Refusal) -> HttpResponse {
    match refused {
        Refusal::PoolNotFound => error(StatusCode::NOT_FOUND, "pool_not_found", "There is no such pool for this API key's enterprise."),
        Refusal::IdempotencyInProgress => HttpResponse::Conflict().insert_header(("Retry-After", "1")).json(json!({ "error": {
            "code": "idempotency_in_progress",
            "message": "A request with this Idempotency-Key is being sent; retry shortly to get its answer.",
        } })),
        Refusal::IdempotencyKeyReused => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "This Idempotency-Key was used for another message or pool; use a new key for a new message.",
        ),
        Refusal::PoolInactive => error(StatusCode::CONFLICT, "pool_inactive", "The pool is deactivated; activate it in the portal to send."),
        Refusal::UnknownDepartment => error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_department", "No member of this pool serves that department."),
        Refusal::NeedsTemplate(decision, phones) => {
            let mut body = json!({ "error": { "code": "send_a_template", "message": service::failure_message("send_a_template") } });
            body["routing"] = decision_json(&decision, &phones);
            HttpResponse::UnprocessableEntity().json(body)
        }
        Refusal::NoEligibleMember(decision, phones) => {
            let reasons: Vec<&str> = decision.verdicts.iter().map(|v| v.reason.as_ref()).collect();
            tracing::warn!(code = "no_eligible_number", ?reasons, "no member of the pool can send");
            let mut body = json!({ "error": { "code": "no_eligible_number", "message": "No member of this pool can send now." } });
            body["routing"] = decision_json(&decision, &phones);
            HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "30")).json(body)
        }
    }
}

async fn read_json(req: &HttpRequest, mut payload: web::Payload) -> Result<Value, HttpResponse> {
    let is_json = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Send the message as application/json."));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| error(StatusCode::BAD_REQUEST, "unreadable_body", "The body could not be read."))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "A message body holds at most 64 KiB."));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| error(StatusCode::BAD_REQUEST, "invalid_json", "The body is not valid JSON."))
}

/// The bearer key a request presents, if any.
/// The key after the `Bearer` scheme, whose name is case-insensitive (RFC 9110 §11.1).
fn presented_key(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("Authorization")?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then(|| key.trim().to_owned())
}

fn unauthorized() -> HttpResponse {
    error(StatusCode::UNAUTHORIZED, "unauthorized", "Send a valid API key as Authorization: Bearer wbp_….")
}

/// A send request whose body, pool id and message passed their checks.
type SendRequest = (i64, CheckedMessage, Option<String>);

async fn check_send(req: &HttpRequest, path: &str, payload: web::Payload) -> Result<SendRequest, HttpResponse> {
    let body = read_json(req, payload).await?;
    let Some(pool_id) = pool_id(path) else { return Err(refusal(Refusal::PoolNotFound)) };
    let message = check_message(body).map_err(|problem| error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_message", &problem))?;
    let idempotency_key = req.headers().get("Idempotency-Key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_idempotency_key", "An Idempotency-Key holds 1 to 255 characters."));
    }
    Ok((pool_id, message, idempotency_key))
}

#[post("/api/v1/pools/{id}/messages")]
pub async fn send(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>, payload: web::Payload) -> HttpResponse {
    let Some(presented) = presented_key(&req) else { return unauthorized() };
    // The body is checked before the key so that the key and the plan share
    // one database visit; its problems are answered only to a valid key.
    let checked = check_send(&req, &path, payload).await;
    let request = checked.as_ref().ok().cloned();
    let keys = state.secrets.clone();
    // The key check and the plan's turn, and later the outcome, are writes
    // that commit together with concurrent sends' (see AppState::write).
    let visited = state
        .write(move |conn| {
            let Some(key) = api_keys::authenticate(conn, &presented)? else { return Ok(None) };
            let planned = match &request {
                Some((pool_id, message, idempotency_key)) => {
                    Some(service::plan(conn, Some(&keys), &key, *pool_id, message, idempotency_key.as_deref())?)
                }
                None => None,
            };
            Ok(Some((key, planned)))
        })
        .await;
    let (key, planned) = match visited {
        Ok(Some(visit)) => visit,
        Ok(None) => return unauthorized(),
        Err(failed) => return failure(&failed, None),
    };
    let (pool_id, message, idempotency_key) = match checked {
        Ok(request) => request,
        Err(response) => return response,
    };
    let plan = match planned {
        Some(Planned::Send(plan)) => plan,
        Some(Planned::Replay(answer)) => return replay(answer),
        Some(Planned::Refused(Refusal::IdempotencyInProgress)) => {
            let hash = service::request_hash(pool_id, &message);
            return wait_for_first_answer(&state, key.enterprise_id, idempotency_key.unwrap_or_default(), hash).await;
        }
        Some(Planned::Refused(refused)) => return refusal(refused),
        None => return failure(&AppError::Internal(anyhow::anyhow!("a checked send request was not planned")), None),
    };
    let mut attempts = Vec::new();
    let mut end_index: Option<(usize, String)> = None;
    let mut failed: (Option<i64>, &'static str) = (None, "all_members_failed");
    // Attempts Meta never answered (timeouts, unreachable).
    let mut unanswered = 0;
    for (index, target) in plan.targets.iter().enumerate() {
        match state.graph.send_message(&target.phone_number_id, &target.token, &message.body).await {
            Ok(answer) => {
                attempts.push(Attempt {
                    number_id: target.number_id,
                    phone_number_id: target.phone_number_id.clone(),
                    error_code: None,
                    class: None,
                });
                end_index = Some((index, answer.messages.first().map(|m| m.id.clone()).unwrap_or_default()));
                break;
            }
            Err(graph_error) => {
                let status = match &graph_error {
                    crate::meta::GraphError::Api { status, .. } => Some(*status),
                    _ => None,
                };
                let class = classify(graph_error.code(), status);
                unanswered += usize::from(matches!(graph_error, crate::meta::GraphError::Timeout | crate::meta::GraphError::Unreachable));
                attempts.push(Attempt {
                    number_id: target.number_id,
                    phone_number_id: target.phone_number_id.clone(),
                    error_code: graph_error.code(),
                    class: Some(class),
                });
                failed = (
                    graph_error.code(),
                    match class {
                        ErrorClass::TryNextMember => continue,
                        ErrorClass::CoolDownMember => "number_cooling_down",
                        ErrorClass::WabaOutOfRotation => "waba_out_of_rotation",
                        ErrorClass::RecipientRejected => "recipient_rejected",
                        ErrorClass::NeedsTemplate => "send_a_template",
                        ErrorClass::Other => "meta_refused",
                    },
                );
                break;
            }
        }
    }
    if end_index.is_none() && failed.1 == "all_members_failed" && unanswered > 0 && unanswered == attempts.len() {
        failed.1 = "meta_unreachable";
    }
    if end_index.is_none() {
        // A send that failed at Meta is answered from the send log; the cause goes to the log once.
        let codes: Vec<Option<i64>> = attempts.iter().map(|a| a.error_code).collect();
        tracing::warn!(code = failed.1, pool_id = plan.pool.id, meta_error_code = ?failed.0, attempts = ?codes, "send failed at Meta");
    }
    let end = match &end_index {
        Some((index, wamid)) => SendEnd::Sent { target: &plan.targets[*index], wamid: wamid.clone() },
        None => SendEnd::Failed { error_code: failed.0, problem: failed.1 },
    };
    let status = match &end {
        SendEnd::Sent { .. } => StatusCode::CREATED,
        SendEnd::Failed { problem: "recipient_rejected" | "send_a_template", .. } => StatusCode::UNPROCESSABLE_ENTITY,
        SendEnd::Failed { problem: "meta_refused", .. } => StatusCode::BAD_GATEWAY,
        SendEnd::Failed { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    state.metrics.record_send(plan.pool.id, if end_index.is_some() { "sent" } else { failed.1 });
    let (end_owned, plan_owned) = (
        match end {
            SendEnd::Sent { target, wamid } => (Some(target.clone()), wamid, None),
            SendEnd::Failed { error_code, problem } => (None, String::new(), Some((error_code, problem))),
        },
        plan,
    );
    let recorded = state
        .write(move |conn| {
            let (target, wamid, failed) = end_owned;
            let end = match (&target, failed) {
                (Some(target), _) => SendEnd::Sent { target, wamid },
                (None, Some((error_code, problem))) => SendEnd::Failed { error_code, problem },
                (None, None) => SendEnd::Failed { error_code: None, problem: "all_members_failed" },
            };
            Ok(service::record(conn, &key, &plan_owned, &message, &attempts, &end, idempotency_key.as_deref())?)
        })
        .await;
    match recorded {
        Ok((_, answer)) => {
            let mut response = HttpResponse::build(status);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response.insert_header(("Retry-After", "30"));
            }
            response.json(answer)
        }
        Err(not_stored) => failure(&not_stored, Some("The message outcome could not be stored; check the send log before retrying.")),
    }
}

/// Answers a retry whose Idempotency-Key another request holds: that
/// request's answer once it is stored, if within [`KEY_WAIT`], else 409.
async fn wait_for_first_answer(state: &AppState, enterprise_id: i64, key: String, hash: String) -> HttpResponse {
    let started = std::time::Instant::now();
    while started.elapsed() < KEY_WAIT {
        tokio::time::sleep(KEY_WAIT_STEP).await;
        let (key, hash) = (key.clone(), hash.clone());
        match state.run(move |conn| Ok(service::settled_answer(conn, enterprise_id, &key, &hash)?)).await {
            Ok(Some(Planned::Replay(answer))) => return replay(answer),
            Ok(Some(Planned::Refused(refused))) => return refusal(refused),
            Ok(_) => {}
            Err(failed) => return failure(&failed, None),
        }
    }
    refusal(Refusal::IdempotencyInProgress)
}

/// The stored answer of the first request with this Idempotency-Key.
fn replay(answer: Value) -> HttpResponse {
    let status = if answer.get("error").is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CREATED };
    HttpResponse::build(status).insert_header(("Idempotent-Replayed", "true")).json(answer)
}

#[derive(serde::Deserialize)]
pub struct RouteQuery {
    to: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    department: Option<String>,
}

#[get("/api/v1/pools/{id}/route")]
pub async fn route(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>, query: web::Query<RouteQuery>) -> HttpResponse {
    let key = match authenticate(&req, &state).await {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(pool_id) = pool_id(&path) else { return refusal(Refusal::PoolNotFound) };
    let query = query.into_inner();
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
    let message = match check_message(body) {
        Ok(message) => message,
        Err(problem) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_message", &problem),
    };
    let planned = state.run(move |conn| Ok(service::plan(conn, None, &key, pool_id, &message, None)?)).await;
    match planned {
        Ok(Planned::Send(plan)) => HttpResponse::Ok().json(decision_json(&plan.decision, &plan.phones)),
        Ok(Planned::Refused(Refusal::NeedsTemplate(decision, phones))) => {
            let mut body = decision_json(&decision, &phones);
            body["refusal"] = json!("send_a_template");
            HttpResponse::Ok().json(body)
        }
        Ok(Planned::Refused(Refusal::NoEligibleMember(decision, phones))) => {
            let mut body = decision_json(&decision, &phones);
            body["refusal"] = json!("no_eligible_number");
            HttpResponse::Ok().json(body)
        }
        Ok(Planned::Refused(refused)) => refusal(refused),
        Ok(Planned::Replay(answer)) => HttpResponse::Ok().json(answer),
        Err(failed) => failure(&failed, None),
    }
}
