//! What a request must be before any work is done for it: a method from the
//! closed set wabapool answers, and a body that arrives whole soon after its
//! headers.
//!
//! Any other method is answered 405 at once, before routing, sessions or a
//! metric series are made for it. A body still arriving when its deadline
//! passes ends the request with 408 and the connection is closed, so a
//! client trickling bytes cannot hold a connection (and a file descriptor)
//! open for ever. Requests without a body pay one header check.

use std::cell::Cell;
use std::future::Future as _;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, Method, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage as _, HttpResponse};
use futures_util::Stream;
use tokio::time::Sleep;

/// The methods wabapool answers, as they appear in the `Allow` header.
pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// The method's name when it is one wabapool answers; None for any other,
/// which must never become a label, a log field or a route lookup.
pub fn known_method(method: &Method) -> Option<&'static str> {
    match method.as_str() {
        "GET" => Some("GET"),
        "HEAD" => Some("HEAD"),
        "POST" => Some("POST"),
        "PUT" => Some("PUT"),
        "PATCH" => Some("PATCH"),
        "DELETE" => Some("DELETE"),
        "OPTIONS" => Some("OPTIONS"),
        _ => None,
    }
}

/// How long a request's body may take to arrive, counted from its headers.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub body_timeout: Duration,
}

/// The middleware (see the module's documentation).
pub async fn enforce(
    limits: RequestLimits,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if known_method(req.method()).is_none() {
        let refused = HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, ALLOWED_METHODS)).finish();
        return Ok(req.into_response(refused).map_into_right_body());
    }
    if !has_body(&req) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let late = Rc::new(Cell::new(false));
    let body = Deadline { body: req.take_payload(), timer: Box::pin(tokio::time::sleep(limits.body_timeout)), late: late.clone(), ended: false };
    req.set_payload(Payload::from(Box::pin(body) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>));
    let response = next.call(req).await?;
    if !late.get() {
        return Ok(response.map_into_left_body());
    }
    tracing::info!(
        timeout_ms = limits.body_timeout.as_millis() as u64,
        "request body did not arrive in time; answered 408 and closed the connection"
    );
    let (req, _) = response.into_parts();
    let mut timed_out = HttpResponse::RequestTimeout().content_type("text/plain; charset=utf-8").body("The request body did not arrive in time.");
    timed_out.head_mut().set_connection_type(ConnectionType::Close);
    Ok(ServiceResponse::new(req, timed_out).map_into_right_body())
}

/// Whether the request announces a body (a length above zero, or chunks).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.get(header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0") || headers.contains_key(header::TRANSFER_ENCODING)
}

/// A body that fails with a timeout once its deadline has passed.
struct Deadline {
    body: Payload,
    timer: Pin<Box<Sleep>>,
    late: Rc<Cell<bool>>,
    ended: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        // What has arrived is handed on first: a body complete in time is never cut.
        if let Poll::Ready(chunk) = Pin::new(&mut this.body).poll_next(cx) {
            this.ended = chunk.is_none();
            return Poll::Ready(chunk);
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            this.late.set(true);
            this.ended = true;
            let timeout = std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body did not arrive in time");
            return Poll::Ready(Some(Err(PayloadError::Io(timeout))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_seven_common_methods_are_known() {
        assert_eq!(known_method(&Method::GET), Some("GET"));
        assert_eq!(known_method(&Method::OPTIONS), Some("OPTIONS"));
        assert_eq!(known_method(&Method::TRACE), None);
        assert_eq!(known_method(&Method::from_bytes(b"XYZZY").unwrap()), None);
    }
}
