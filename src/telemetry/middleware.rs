//! The request middleware: a request id (the caller's `X-Request-Id` when it
//! is sane, else a new one) on a tracing span around the whole request, so
//! every log line carries it; one access-log line per request; metrics.
//! Every label comes from a closed set: the method (any unknown one is
//! `OTHER`), the matched route's pattern (or `unmatched`) and the status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use rand::RngCore as _;
use tracing::Instrument as _;

use super::Metrics;
use crate::security::request_limits::known_method;

pub const REQUEST_ID: &str = "x-request-id";

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            rand::rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        })
}

pub async fn observe(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = request_id(&req);
    let method = known_method(req.method()).unwrap_or("OTHER");
    let path = req.path().to_owned();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (status, route) = match &result {
        Ok(response) => (response.status().as_u16(), response.request().match_pattern()),
        Err(error) => (error.as_response_error().status_code().as_u16(), None),
    };
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    span.in_scope(|| tracing::info!(status, route = %route, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request"));
    if let Some(metrics) = metrics {
        metrics.record_request(method, route, status, elapsed);
    }
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID), value);
    }
    Ok(response)
}
