//! Every problem the API answers, each with its stable snake_case code, its
//! HTTP status, its sentence and its Retry-After in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::bodies::{ErrorAnswer, ErrorDetail};
use crate::services::routing::{Refusal, SendFailure};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    PoolNotFound,
    MessageNotFound,
    InvalidCursor,
    PoolInactive,
    UnsupportedMediaType,
    UnreadableBody,
    BodyTooLarge,
    InvalidJson,
    InvalidMessage,
    InvalidIdempotencyKey,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    UnknownDepartment,
    SendATemplate,
    NoEligibleNumber,
    RecipientRejected,
    NumberCoolingDown,
    WabaOutOfRotation,
    AllMembersFailed,
    MetaUnreachable,
    MetaRefused,
    DatabaseUnavailable,
    TokenUnreadable,
    Internal,
}

impl Problem {
    /// Every problem, for the API's documents.
    pub const ALL: [Problem; 27] = [
        Self::Unauthorized,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::PoolNotFound,
        Self::MessageNotFound,
        Self::InvalidCursor,
        Self::PoolInactive,
        Self::UnsupportedMediaType,
        Self::UnreadableBody,
        Self::BodyTooLarge,
        Self::InvalidJson,
        Self::InvalidMessage,
        Self::InvalidIdempotencyKey,
        Self::IdempotencyInProgress,
        Self::IdempotencyKeyReused,
        Self::UnknownDepartment,
        Self::SendATemplate,
        Self::NoEligibleNumber,
        Self::RecipientRejected,
        Self::NumberCoolingDown,
        Self::WabaOutOfRotation,
        Self::AllMembersFailed,
        Self::MetaUnreachable,
        Self::MetaRefused,
        Self::DatabaseUnavailable,
        Self::TokenUnreadable,
        Self::Internal,
    ];

    /// The code, the status and the sentence.
    fn describe(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::Unauthorized => ("unauthorized", S::UNAUTHORIZED, "Send a valid API key as Authorization: Bearer wbp_…."),
            Self::NotFound => ("not_found", S::NOT_FOUND, "There is no such API path; see /api/v1/openapi.json."),
            Self::MethodNotAllowed => ("method_not_allowed", S::METHOD_NOT_ALLOWED, "This API path does not take this method; see the Allow header."),
            Self::PoolNotFound => ("pool_not_found", S::NOT_FOUND, "There is no such pool for this API key's enterprise."),
            Self::MessageNotFound => ("message_not_found", S::NOT_FOUND, "There is no such message for this API key's enterprise."),
            Self::InvalidCursor => {
                ("invalid_cursor", S::BAD_REQUEST, "Pass `after` as the `next` of the previous page (or leave it out) and `limit` from 1 to 500.")
            }
            Self::PoolInactive => ("pool_inactive", S::CONFLICT, "The pool is deactivated; activate it in the portal to send."),
            Self::UnsupportedMediaType => ("unsupported_media_type", S::UNSUPPORTED_MEDIA_TYPE, "Send the message as application/json."),
            Self::UnreadableBody => ("unreadable_body", S::BAD_REQUEST, "The body could not be read."),
            Self::BodyTooLarge => ("body_too_large", S::PAYLOAD_TOO_LARGE, "A message body holds at most 64 KiB."),
            Self::InvalidJson => ("invalid_json", S::BAD_REQUEST, "The body is not valid JSON."),
            Self::InvalidMessage => ("invalid_message", S::UNPROCESSABLE_ENTITY, "The message breaks one of Meta's limits."),
            Self::InvalidIdempotencyKey => ("invalid_idempotency_key", S::BAD_REQUEST, "An Idempotency-Key holds 1 to 255 characters."),
            Self::IdempotencyInProgress => {
                ("idempotency_in_progress", S::CONFLICT, "A request with this Idempotency-Key is being sent; retry shortly to get its answer.")
            }
            Self::IdempotencyKeyReused => (
                "idempotency_key_reused",
                S::UNPROCESSABLE_ENTITY,
                "This Idempotency-Key was used for another message or pool; use a new key for a new message.",
            ),
            Self::UnknownDepartment => ("unknown_department", S::UNPROCESSABLE_ENTITY, "No member of this pool serves that department."),
            Self::SendATemplate => {
                ("send_a_template", S::UNPROCESSABLE_ENTITY, "More than 24 hours since the recipient last wrote: send a template.")
            }
            Self::NoEligibleNumber => ("no_eligible_number", S::SERVICE_UNAVAILABLE, "No member of this pool can send now."),
            Self::RecipientRejected => {
                ("recipient_rejected", S::UNPROCESSABLE_ENTITY, "Meta will not deliver this message to this recipient; it was not retried.")
            }
            Self::NumberCoolingDown => (
                "number_cooling_down",
                S::SERVICE_UNAVAILABLE,
                "The number hit Meta's spam rate limit and is cooling down; the message was not resent.",
            ),
            Self::WabaOutOfRotation => {
                ("waba_out_of_rotation", S::SERVICE_UNAVAILABLE, "Meta blocked or rate-limited the WABA; it is out of rotation for a while.")
            }
            Self::AllMembersFailed => {
                ("all_members_failed", S::SERVICE_UNAVAILABLE, "Every eligible member failed; Meta is limiting or unavailable. Try again shortly.")
            }
            Self::MetaUnreachable => {
                ("meta_unreachable", S::SERVICE_UNAVAILABLE, "Meta's Graph API did not answer for any member; try again shortly.")
            }
            Self::MetaRefused => ("meta_refused", S::BAD_GATEWAY, "Meta refused the message."),
            Self::DatabaseUnavailable => ("database_unavailable", S::SERVICE_UNAVAILABLE, "The database is not answering; try again."),
            Self::TokenUnreadable => ("token_unreadable", S::SERVICE_UNAVAILABLE, crate::error::TOKEN_UNREADABLE),
            Self::Internal => ("internal", S::INTERNAL_SERVER_ERROR, "An unexpected error happened; it was logged with this request's X-Request-Id."),
        }
    }

    pub fn code(self) -> &'static str {
        self.describe().0
    }

    pub fn status(self) -> StatusCode {
        self.describe().1
    }

    pub fn message(self) -> &'static str {
        self.describe().2
    }

    /// Seconds a client should wait before trying again, where waiting helps.
    pub fn retry_after(self) -> Option<&'static str> {
        match self {
            Self::IdempotencyInProgress => Some("1"),
            Self::DatabaseUnavailable | Self::TokenUnreadable => Some("5"),
            Self::NoEligibleNumber | Self::NumberCoolingDown | Self::WabaOutOfRotation | Self::AllMembersFailed | Self::MetaUnreachable => Some("30"),
            _ => None,
        }
    }

    /// The problem's `error` object, with its own sentence or a more precise one.
    pub fn detail(self, message: Option<&str>) -> ErrorDetail {
        ErrorDetail { code: self.code(), message: message.unwrap_or(self.message()).to_owned() }
    }

    /// A response of the problem's status, with its Retry-After if any.
    pub fn response(self) -> HttpResponseBuilder {
        let mut response = HttpResponse::build(self.status());
        if let Some(seconds) = self.retry_after() {
            response.insert_header(("Retry-After", seconds));
        }
        response
    }

    /// The answer `{"error": {"code", "message"}}`.
    pub fn answer(self) -> HttpResponse {
        self.answer_saying(self.message())
    }

    /// The answer with a more precise sentence than the problem's own.
    pub fn answer_saying(self, message: &str) -> HttpResponse {
        self.response().json(ErrorAnswer { error: self.detail(Some(message)) })
    }
}

impl From<SendFailure> for Problem {
    fn from(failure: SendFailure) -> Self {
        match failure {
            SendFailure::NumberCoolingDown => Self::NumberCoolingDown,
            SendFailure::WabaOutOfRotation => Self::WabaOutOfRotation,
            SendFailure::RecipientRejected => Self::RecipientRejected,
            SendFailure::NeedsTemplate => Self::SendATemplate,
            SendFailure::MetaRefused => Self::MetaRefused,
            SendFailure::AllMembersFailed => Self::AllMembersFailed,
            SendFailure::MetaUnreachable => Self::MetaUnreachable,
        }
    }
}

impl From<&Refusal> for Problem {
    fn from(refusal: &Refusal) -> Self {
        match refusal {
            Refusal::PoolNotFound => Self::PoolNotFound,
            Refusal::IdempotencyInProgress => Self::IdempotencyInProgress,
            Refusal::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            Refusal::PoolInactive => Self::PoolInactive,
            Refusal::UnknownDepartment => Self::UnknownDepartment,
            Refusal::NeedsTemplate(..) => Self::SendATemplate,
            Refusal::NoEligibleMember(..) => Self::NoEligibleNumber,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_has_its_own_snake_case_code() {
        let mut codes: Vec<&str> = Problem::ALL.iter().map(|p| p.code()).collect();
        assert!(codes.iter().all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Problem::ALL.len());
    }
}
