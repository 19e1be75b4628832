//! The session: who is signed in, their CSRF token and one-shot flash
//! messages; and the `CurrentUser` extractor every portal handler takes.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt as _};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::error::AppError;
use crate::security::csrf;
use crate::services::Actor;
use crate::services::auth::{SessionUser, SignedIn, session_user};

const USER_ID: &str = "uid";
const EPOCH: &str = "epoch";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";
const SIGNED_IN_AT: &str = "since";
const SEEN_AT: &str = "seen";

/// How long sessions last: idle and absolute limits (ASVS 7.3).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: std::time::Duration,
    pub absolute: std::time::Duration,
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF) {
        return token;
    }
    let token = csrf::new_token();
    let _ = session.insert(CSRF, &token);
    token
}

/// The session's token if it has one (verification never creates one).
pub fn existing_csrf_token(session: &Session) -> Option<String> {
    session.get::<String>(CSRF).ok().flatten()
}

/// Starts a signed-in session under a new id (no fixation) with a new CSRF token.
pub fn sign_in(session: &Session, user: &SignedIn) -> Result<(), AppError> {
    session.renew();
    session.clear();
    let stored = session
        .insert(USER_ID, user.user_id.get())
        .and_then(|()| session.insert(EPOCH, user.session_epoch))
        .and_then(|()| session.insert(CSRF, csrf::new_token()))
        .and_then(|()| session.insert(SIGNED_IN_AT, unix_now()))
        .and_then(|()| session.insert(SEEN_AT, unix_now()));
    stored.map_err(|e| AppError::Internal(anyhow::anyhow!("storing the session failed: {e}")))
}

/// Keeps the current session valid after its user moved to a new epoch
/// (their own password change ends only their other sessions).
pub fn keep_session_at_epoch(session: &Session, epoch: i64) {
    session.renew();
    let _ = session.insert(EPOCH, epoch);
}

/// A one-shot message shown on the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Error,
    Info,
}

impl FlashKind {
    pub fn css(self) -> &'static str {
        match self {
            Self::Success => "flash-success",
            Self::Error => "flash-error",
            Self::Info => "flash-info",
        }
    }
}

pub fn set_flash(session: &Session, kind: FlashKind, message: impl Into<String>) {
    let _ = session.insert(FLASH, Flash { kind, message: message.into() });
}

pub fn take_flash(session: &Session) -> Option<Flash> {
    let flash = session.get::<Flash>(FLASH).ok().flatten();
    if flash.is_some() {
        session.remove(FLASH);
    }
    flash
}

/// The signed-in user, loaded from the database on every request so that a
/// disabled user or a newer session epoch takes effect at once. Signed-out
/// requests are sent to the login page with `next` set to where they were going.
pub struct CurrentUser {
    pub actor: Actor,
    pub organisation: String,
    pub session: Session,
}

impl CurrentUser {
    pub fn csrf_token(&self) -> String {
        csrf_token(&self.session)
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let next = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{}", req.path(), q),
        };
        let client_ip = state.as_ref().and_then(|s| super::client_ip(req, &s.trusted_proxies));
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))?;
            let signed_out = || AppError::SignedOut { next: next.clone() };
            let user_id = session.get::<i64>(USER_ID).ok().flatten().ok_or_else(signed_out)?;
            let epoch = session.get::<i64>(EPOCH).ok().flatten().unwrap_or(-1);
            let now = unix_now();
            let since = session.get::<i64>(SIGNED_IN_AT).ok().flatten().unwrap_or(0);
            let seen = session.get::<i64>(SEEN_AT).ok().flatten().unwrap_or(0);
            let policy = state.sessions;
            if now - since > policy.absolute.as_secs() as i64 || now - seen > policy.idle.as_secs() as i64 {
                session.purge();
                return Err(signed_out());
            }
            // Refreshing at most once a minute keeps cookies from being rewritten on every request.
            if now - seen >= 60 {
                let _ = session.insert(SEEN_AT, now);
            }
            let found: Option<SessionUser> = state.run(move |conn| Ok(session_user(conn, user_id, epoch)?)).await?;
            let Some(user) = found else {
                session.purge();
                return Err(signed_out());
            };
            let mut actor = user.actor;
            actor.client_ip = client_ip;
            Ok(Self { actor, organisation: user.organisation, session })
        })
    }
}
