//! `/webhooks/whatsapp`: Meta's verification handshake and its signed
//! deliveries. The signature is checked over the raw body before anything
//! is read; a bad one gets 401 and nothing is stored.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt as _;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq as _;

use super::AppState;
use crate::services::webhooks::{self as service, Receipt};

#[derive(serde::Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Answers the challenge only for `subscribe` with the configured token.
#[get("/webhooks/whatsapp")]
pub async fn verify(state: web::Data<AppState>, query: web::Query<Handshake>) -> HttpResponse {
    let expected = state.webhooks.verify_token.expose_secret().as_bytes();
    let given = query.verify_token.as_deref().unwrap_or_default().as_bytes();
    let token_ok = expected.len() == given.len() && bool::from(expected.ct_eq(given));
    match (&query.mode, &query.challenge) {
        (Some(mode), Some(challenge)) if mode == "subscribe" && token_ok && challenge.len() <= 256 => {
            HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(challenge.clone())
        }
        _ => HttpResponse::Forbidden().content_type("text/plain; charset=utf-8").body("verification failed"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(text)
}

/// The body as sent, refused with 413 past `limit` bytes (declared or sent).
pub(super) async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, HttpResponse> {
    let declared = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(plain(StatusCode::PAYLOAD_TOO_LARGE, "payload too large"));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else { return Err(plain(StatusCode::BAD_REQUEST, "unreadable body")) };
        if body.len() + chunk.len() > limit {
            return Err(plain(StatusCode::PAYLOAD_TOO_LARGE, "payload too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[post("/webhooks/whatsapp")]
pub async fn receive(req: HttpRequest, state: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    let body = match read_body(&req, payload, state.webhooks.max_bytes).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let signature = req.headers().get("X-Hub-Signature-256").and_then(|v| v.to_str().ok());
    match service::receive(&**state, &state.webhooks.app_secret, &body, signature).await {
        Ok(Receipt::Applied(_)) => plain(StatusCode::OK, "EVENT_RECEIVED"),
        Ok(Receipt::BadSignature) => plain(StatusCode::UNAUTHORIZED, "bad signature"),
        Ok(Receipt::NotWaba) => plain(StatusCode::BAD_REQUEST, "not a WhatsApp Business Account payload"),
        Ok(Receipt::Refused) => plain(StatusCode::BAD_REQUEST, "a change lacks required fields"),
        // Meta redelivers for up to 7 days: a temporary failure is a 503, not a loss.
        Ok(Receipt::Failed) => plain(StatusCode::SERVICE_UNAVAILABLE, "try again"),
        Err(error) => {
            tracing::error!(error = ?error, "applying a webhook failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}
