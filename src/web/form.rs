//! `FormPost`: the extractor for every portal POST. It accepts only
//! url-encoded bodies of modest size, decodes repeated keys (which
//! serde_urlencoded cannot put into a struct's Vec), and checks the CSRF
//! token before any handler runs.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt as _;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt as _;

use super::session::existing_csrf_token;
use crate::error::AppError;
use crate::security::csrf;

/// The largest form body accepted.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// The most fields a form may carry.
pub const MAX_FORM_FIELDS: usize = 64;
/// The longest single value accepted, in bytes.
pub const MAX_FIELD_BYTES: usize = 2 * 1024;

#[derive(Debug, Clone, Default)]
pub struct FormPost {
    pairs: Vec<(String, String)>,
}

impl FormPost {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

/// Decodes an url-encoded body into pairs, within the limits above.
pub fn decode_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| AppError::BadRequest("The form could not be read; reload the page and try again.".into()))?;
    if pairs.len() > MAX_FORM_FIELDS {
        return Err(AppError::BadRequest("The form has more fields than wabapool accepts.".into()));
    }
    if pairs.iter().any(|(k, v)| k.len() > 64 || v.len() > MAX_FIELD_BYTES) {
        return Err(AppError::BadRequest("A form field is longer than wabapool accepts.".into()));
    }
    Ok(pairs)
}

fn is_form_content_type(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

impl FromRequest for FormPost {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let header_token = req.headers().get(csrf::HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let is_form = is_form_content_type(req);
        let has_body = req.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v != "0") || req.headers().contains_key(header::TRANSFER_ENCODING);
        let declared_too_large = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > MAX_FORM_BYTES);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_too_large {
                return Err(AppError::PayloadTooLarge);
            }
            if has_body && !is_form {
                return Err(AppError::UnsupportedMediaType);
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
                if body.len() + chunk.len() > MAX_FORM_BYTES {
                    return Err(AppError::PayloadTooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            let pairs = if body.is_empty() { Vec::new() } else { decode_pairs(&body)? };
            let form = FormPost { pairs };
            let submitted = header_token.or_else(|| form.get(csrf::FORM_FIELD).map(str::to_owned)).unwrap_or_default();
            let expected = existing_csrf_token(&session).unwrap_or_default();
            if !csrf::tokens_match(&expected, &submitted) {
                return Err(AppError::Csrf);
            }
            Ok(form)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repeated_keys_are_kept_in_order() {
        let pairs = decode_pairs(b"name=A+B&phone_number_ids=3&phone_number_ids=1").unwrap();
        let form = FormPost::from_pairs(pairs);
        assert_eq!(form.get("name"), Some("A B"));
        assert_eq!(form.all("phone_number_ids"), vec!["3", "1"]);
    }

    #[test]
    fn oversized_fields_are_refused() {
        let body = format!("name={}", "a".repeat(MAX_FIELD_BYTES + 1));
        assert!(matches!(decode_pairs(body.as_bytes()), Err(AppError::BadRequest(_))));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_pairs(&body);
        }
    }
}
