//! Passwords, CSRF tokens and response headers.

pub mod csrf;
pub mod event_signing;
pub mod headers;
pub mod password;
pub mod request_limits;
pub mod secrets;
