//! `AppError`: the one error type at the HTTP edge. The user sees a plain
//! sentence on an error page; the log gets the whole cause chain.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::services::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No session, or one that ended: to the sign-in page, then back to
    /// `next`. An htmx request (`htmx`) is sent there as a whole page.
    #[error("not signed in")]
    SignedOut { next: String, htmx: bool },
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A stored Meta access token cannot be opened (see `ServiceError::TokenUnreadable`).
    #[error("the stored access token (sealed under key {key_id}) cannot be opened: {cause}")]
    TokenUnreadable { key_id: String, cause: crate::security::secrets::SecretError },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl AppError {
    /// The page's title and its sentence for a person.
    pub fn title_and_message(&self) -> (&'static str, String) {
        match self {
            Self::SignedOut { .. } => ("Sign in required", "Please sign in to continue.".into()),
            Self::NotFound => ("Not found", "There is nothing here. It may have been removed, or the link is wrong.".into()),
            Self::Forbidden => ("Not allowed", "Your role does not allow this page. Ask an admin of your organisation if you need it.".into()),
            Self::Csrf => ("Form expired", "This form is out of date or was not sent from wabapool. Go back, reload the page and try again.".into()),
            Self::BadRequest(message) => ("Bad request", message.clone()),
            Self::PayloadTooLarge => ("Too large", "What was sent is larger than wabapool accepts.".into()),
            Self::UnsupportedMediaType => ("Unsupported form", "Send this form as application/x-www-form-urlencoded.".into()),
            Self::Conflict(message) => ("Changed elsewhere", message.clone()),
            Self::Unprocessable(message) => ("Not possible", message.clone()),
            Self::Unavailable(_) => ("Temporarily unavailable", "The database is not answering. Try again in a moment.".into()),
            Self::TokenUnreadable { .. } => ("Reconnect the WABA", TOKEN_UNREADABLE.into()),
            Self::Internal(_) => ("Something went wrong", "An unexpected error happened; it has been logged. Try again.".into()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignedOut { .. } => StatusCode::SEE_OTHER,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::TokenUnreadable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignedOut { next, htmx } => {
                let location = format!("/login?next={}", urlencode(next));
                // htmx would follow a 303 inside its request and swap the
                // sign-in page into the form; HX-Redirect loads it whole.
                if *htmx {
                    return HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish();
                }
                return HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish();
            }
            Self::Unavailable(cause) | Self::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed: {self}");
            }
            Self::TokenUnreadable { key_id, .. } => tracing::error!(key_id = %key_id, "request failed: {self}"),
            _ => tracing::info!("request refused: {self}"),
        }
        let status = self.status_code();
        let (title, message) = self.title_and_message();
        let page = ErrorPage { status: status.as_u16(), title, message: &message };
        let body = page.render().unwrap_or_else(|_| message.clone());
        let mut response = HttpResponse::build(status);
        response.content_type("text/html; charset=utf-8");
        if matches!(self, Self::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        response.body(body)
    }
}

/// What a person is told when a WABA's stored token cannot be opened.
pub const TOKEN_UNREADABLE: &str = "The WABA's stored access token cannot be opened with this server's encryption keys \
     (the key it was sealed with is missing). Reconnect the WABA in the portal (Numbers, Reconnect) with a new token.";

pub fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)]).map(|s| s[1..].to_owned()).unwrap_or_default()
}

impl From<ServiceError> for AppError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound => Self::NotFound,
            ServiceError::Forbidden => Self::Forbidden,
            ServiceError::Invalid(errors) => Self::Unprocessable(errors.all().iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join(" ")),
            ServiceError::Stale => Self::Conflict("This was changed by someone else meanwhile. Reload the page to see the current state.".into()),
            ServiceError::TokenUnreadable { key_id, cause } => Self::TokenUnreadable { key_id, cause },
            ServiceError::Database(e) => database_error(e),
            ServiceError::Db(e) => e.into(),
            ServiceError::Internal(e) => Self::Internal(e),
        }
    }
}

fn database_error(error: diesel::result::Error) -> AppError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) | Error::BrokenTransactionManager => {
            AppError::Unavailable(error.into())
        }
        other => AppError::Internal(other.into()),
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(error: crate::db::DbError) -> Self {
        match error {
            crate::db::DbError::Unavailable(cause) => Self::Unavailable(cause),
            crate::db::DbError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(error.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_paths_are_url_encoded() {
        assert_eq!(urlencode("/channels/whatsapp/pools?q=a b&x=1"), "%2Fchannels%2Fwhatsapp%2Fpools%3Fq%3Da+b%26x%3D1");
    }

    #[test]
    fn other_tenants_and_unknown_ids_get_the_same_answer() {
        let a: AppError = ServiceError::NotFound.into();
        assert_eq!(a.status_code(), StatusCode::NOT_FOUND);
    }
}
