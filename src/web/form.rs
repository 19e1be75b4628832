//! `FormPost`: the extractor for every portal POST. It accepts only
//! url-encoded bodies of modest size, checks the CSRF token before any
//! handler runs, and turns the form into the handler's typed struct,
//! checked by that struct's `validator` rules ([`FormPost::decode`]).

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt as _;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use validator::Validate;

use super::session::existing_csrf_token;
use crate::error::AppError;
use crate::security::csrf;
use crate::services::FieldErrors;

/// The largest form body accepted.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// The most fields a form may carry.
pub const MAX_FORM_FIELDS: usize = 64;
/// The longest single value accepted, in bytes: a little above the longest
/// value a form takes (an event endpoint's URL, 2,048 characters), so that
/// the form's own rule answers beside its field.
pub const MAX_FIELD_BYTES: usize = 2 * 1024 + 512;

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

    /// The form as `T`, then checked by `T`'s `validator` rules.
    ///
    /// A key sent once is a string; a key sent more than once is the list
    /// of its values in order, which a `Vec` field takes through
    /// [`one_or_many`]. A form that does not fit `T` (a list where one
    /// value belongs, a missing field without a default) is a 400. The
    /// rules' messages come back as field errors in the order of `T`'s
    /// fields, each field's in the order of its rules.
    pub fn decode<T: DeserializeOwned + Validate>(&self) -> Result<Decoded<T>, AppError> {
        let input: T = serde_json::from_value(Value::Object(self.grouped())).map_err(|_| unreadable())?;
        let errors = match input.validate() {
            Ok(()) => FieldErrors::default(),
            Err(found) => FieldErrors::from_validation(serde_aux::serde_introspection::serde_introspect::<T>(), &found),
        };
        Ok(Decoded { input, errors })
    }

    /// Each key once: its value, or the list of its values when repeated.
    fn grouped(&self) -> Map<String, Value> {
        let mut grouped = Map::new();
        for (key, value) in &self.pairs {
            let value = Value::String(value.clone());
            match grouped.get_mut(key) {
                None => {
                    grouped.insert(key.clone(), value);
                }
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
            }
        }
        grouped
    }
}

/// A form decoded into its struct, with what its rules found wrong.
#[derive(Debug)]
pub struct Decoded<T> {
    pub input: T,
    /// Empty when every rule holds.
    pub errors: FieldErrors,
}

/// For a text field whose surrounding white space means nothing: the
/// value trimmed, so that its rules count what is kept.
pub fn trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(String::deserialize(deserializer)?.trim().to_owned())
}

/// For a `Vec<String>` field fed by a repeated key such as
/// `phone_number_ids`: one value or many (with `#[serde(default)]`, none).
pub fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(value) => vec![value],
        OneOrMany::Many(values) => values,
    })
}

fn unreadable() -> AppError {
    AppError::BadRequest("The form could not be read; reload the page and try again.".into())
}

/// Decodes an url-encoded body into pairs, within the limits above.
pub fn decode_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| unreadable())?;
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

    #[derive(Debug, Deserialize, Validate)]
    struct Sample {
        #[serde(default)]
        #[validate(length(min = 1, max = 5, message = "Enter 1 to 5 characters."), non_control_character(message = "No tabs."))]
        name: String,
        #[serde(default, deserialize_with = "one_or_many")]
        #[validate(length(max = 2, message = "Choose at most 2."))]
        phone_number_ids: Vec<String>,
        #[validate(email(message = "Enter an email address."))]
        email: Option<String>,
    }

    fn decoded(body: &str) -> Result<Decoded<Sample>, AppError> {
        FormPost::from_pairs(decode_pairs(body.as_bytes()).unwrap()).decode::<Sample>()
    }

    #[test]
    fn a_repeated_key_fills_a_list_in_order() {
        let form = decoded("csrf_token=t&name=A+B&phone_number_ids=3&phone_number_ids=1").unwrap();
        assert_eq!(form.input.name, "A B");
        assert_eq!(form.input.phone_number_ids, vec!["3", "1"]);
        assert!(form.errors.is_empty());
    }

    #[test]
    fn one_value_is_a_list_of_one_and_none_is_empty() {
        assert_eq!(decoded("name=A&phone_number_ids=7").unwrap().input.phone_number_ids, vec!["7"]);
        let form = decoded("name=A").unwrap();
        assert!(form.input.phone_number_ids.is_empty());
        assert_eq!(form.input.email, None);
        assert!(form.errors.is_empty());
    }

    #[test]
    fn rules_answer_with_their_messages_in_field_order() {
        let form = decoded("email=nobody&phone_number_ids=1&phone_number_ids=2&phone_number_ids=3").unwrap();
        let listed = |errors: &FieldErrors| errors.all().iter().map(|(f, m)| (f.to_string(), m.clone())).collect::<Vec<_>>();
        let pair = |f: &str, m: &str| (f.to_owned(), m.to_owned());
        assert_eq!(
            listed(&form.errors),
            vec![pair("name", "Enter 1 to 5 characters."), pair("phone_number_ids", "Choose at most 2."), pair("email", "Enter an email address.")]
        );
        let both = vec![pair("name", "Enter 1 to 5 characters."), pair("name", "No tabs.")];
        assert_eq!(listed(&decoded("name=a%09bcdef").unwrap().errors), both);
    }

    #[test]
    fn a_form_that_does_not_fit_is_a_bad_request() {
        assert!(matches!(decoded("name=a&name=b"), Err(AppError::BadRequest(_))));
    }

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
