//! `/webhooks/whatsapp`: Meta's verification handshake and its signed
//! deliveries. The signature is checked over the raw body before anything
//! is read; a bad one gets 401 and nothing is stored.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt as _;
use secrecy::ExposeSecret;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::AppState;
use crate::meta::{signature, webhook};
use crate::services::{ServiceError, webhooks as service};

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

fn plain(status: actix_web::http::StatusCode, text: &'static str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(text)
}

#[post("/webhooks/whatsapp")]
pub async fn receive(req: HttpRequest, state: web::Data<AppState>, mut payload: web::Payload) -> HttpResponse {
    use actix_web::http::StatusCode;
    let limit = state.webhooks.max_bytes;
    let declared = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else { return plain(StatusCode::BAD_REQUEST, "unreadable body") };
        if body.len() + chunk.len() > limit {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
        }
        body.extend_from_slice(&chunk);
    }
    let header = req.headers().get("X-Hub-Signature-256").and_then(|v| v.to_str().ok());
    if !signature::verify(state.webhooks.app_secret.expose_secret().as_bytes(), &body, header) {
        tracing::warn!("webhook with a missing or wrong signature refused");
        return plain(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let envelope = match webhook::parse(&body) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::info!(%error, "webhook payload refused");
            return plain(StatusCode::BAD_REQUEST, "not a WhatsApp Business Account payload");
        }
    };
    let body_sha256 = hex::encode(Sha256::digest(&body));
    let result = state.write(move |conn| Ok(service::apply(conn, &envelope, &body_sha256))).await;
    match result {
        Ok(Ok(outcome)) => {
            tracing::info!(
                applied = outcome.applied,
                unchanged = outcome.unchanged,
                ignored = outcome.ignored,
                stale = outcome.stale,
                redelivered = outcome.redelivered,
                "webhook applied"
            );
            plain(StatusCode::OK, "EVENT_RECEIVED")
        }
        Ok(Err(ServiceError::Invalid(errors))) => {
            tracing::info!(problem = ?errors.all(), "webhook change refused");
            plain(StatusCode::BAD_REQUEST, "a change lacks required fields")
        }
        // Meta redelivers for up to 7 days: a temporary failure is a 503, not a loss.
        Ok(Err(error)) => {
            tracing::error!(error = ?error, "applying a webhook failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
        Err(error) => {
            tracing::error!(error = ?error, "applying a webhook failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}
