//! The session: who is signed in, their CSRF token and one-shot flash
//! messages; and the `CurrentUser` extractor every portal handler takes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_session::{Session, SessionExt as _};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::error::AppError;
use crate::security::csrf;
use crate::services::Actor;
use crate::services::auth::SessionCache;
pub use crate::services::auth::SessionPolicy;
use crate::services::auth::{SessionCheck, SessionKey, SessionUser, SignedIn, session_user, session_user_at};

const USER_ID: &str = "uid";
const SESSION_ID: &str = "sid";
const EPOCH: &str = "epoch";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";
const SIGNED_IN_AT: &str = "since";
const SEEN_AT: &str = "seen";
const NEW_API_KEY: &str = "new_api_key";

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
        .and_then(|()| session.insert(SESSION_ID, &user.session_id))
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

/// The id of the session's row, if it is signed in.
pub fn session_id(session: &Session) -> Option<String> {
    session.get::<String>(SESSION_ID).ok().flatten()
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

/// Keeps a new API key in the session (a private, encrypted cookie) until
/// its creator says it is stored: the page after the redirect shows it, a
/// refresh shows it again, and nothing creates a second key.
pub fn keep_new_api_key(session: &Session, key: &str) {
    let _ = session.insert(NEW_API_KEY, key);
}

/// The new API key waiting to be stored, if any.
pub fn new_api_key(session: &Session) -> Option<String> {
    session.get::<String>(NEW_API_KEY).ok().flatten()
}

pub fn forget_new_api_key(session: &Session) {
    session.remove(NEW_API_KEY);
}

/// The signed-in user, checked against the database on every request so
/// that an ended session, a disabled user or a newer session epoch takes
/// effect at once. Signed-out
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

/// Who a session cookie names and at which epoch, once its idle and absolute
/// limits are checked, before the database is asked. A handler that visits
/// the database anyway takes this instead of [`CurrentUser`] and checks the
/// user in that same visit ([`SessionClaims::load`]), then calls
/// [`SignedInSession::into_current_user`] or [`SignedInSession::sign_out`]:
/// one blocking hop instead of two.
pub struct SignedInSession {
    claims: SessionClaims,
    session: Session,
    next: String,
    htmx: bool,
}

/// The part of a [`SignedInSession`] that crosses into the blocking pool,
/// with the instance's signed-in users kept in memory.
#[derive(Debug, Clone)]
pub struct SessionClaims {
    key: SessionKey,
    policy: SessionPolicy,
    client_ip: Option<String>,
    kept: Arc<SessionCache>,
}

impl SessionClaims {
    /// The user, if the session is live, they still exist, are enabled and
    /// the session is of their current epoch.
    pub fn load(&self, conn: &mut crate::db::DbConnection) -> Result<Option<SessionUser>, AppError> {
        let found = session_user(conn, &self.kept, &self.key, self.policy)?;
        Ok(self.for_this_request(found))
    }

    /// [`load`](Self::load) under `stamp`, the session stamp just read.
    pub fn load_at(&self, conn: &mut crate::db::DbConnection, stamp: i64) -> Result<Option<SessionUser>, AppError> {
        let found = match session_user_at(conn, &self.kept, &self.key, self.policy, stamp, true)? {
            SessionCheck::SignedIn(user) => Some(user),
            SessionCheck::Ended | SessionCheck::TouchDue => None,
        };
        Ok(self.for_this_request(found))
    }

    /// [`load_at`](Self::load_at) without writing: None when the session's
    /// `last_seen_at` is due to be written, which the caller then does off
    /// the async workers.
    pub fn load_without_writing(&self, conn: &mut crate::db::DbConnection, stamp: i64) -> Result<Option<Option<SessionUser>>, AppError> {
        Ok(match session_user_at(conn, &self.kept, &self.key, self.policy, stamp, false)? {
            SessionCheck::SignedIn(user) => Some(self.for_this_request(Some(user))),
            SessionCheck::Ended => Some(None),
            SessionCheck::TouchDue => None,
        })
    }

    fn for_this_request(&self, found: Option<SessionUser>) -> Option<SessionUser> {
        found.map(|mut user| {
            user.actor.client_ip = self.client_ip.clone();
            user
        })
    }
}

impl SignedInSession {
    pub fn claims(&self) -> SessionClaims {
        self.claims.clone()
    }

    /// The signed-in user [`SessionClaims::load`] found.
    pub fn into_current_user(self, user: SessionUser) -> CurrentUser {
        CurrentUser { actor: user.actor, organisation: user.organisation, session: self.session }
    }

    /// [`SessionClaims::load`] found no such user: the session ends here.
    pub fn sign_out(self) -> AppError {
        self.session.purge();
        AppError::SignedOut { next: self.next, htmx: self.htmx }
    }

    fn from_cookie(req: &HttpRequest) -> Result<Self, AppError> {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))?;
        let asked = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{}", req.path(), q),
        };
        // After signing in again, back to the page: a form's post is not one.
        let next = if req.method() == actix_web::http::Method::GET { asked } else { super::htmx::page_of(req).unwrap_or(asked) };
        let htmx = super::htmx::is_htmx(req);
        let (Some(user_id), Some(id)) = (session.get::<i64>(USER_ID).ok().flatten(), session_id(&session)) else {
            return Err(AppError::SignedOut { next, htmx });
        };
        let epoch = session.get::<i64>(EPOCH).ok().flatten().unwrap_or(-1);
        let now = unix_now();
        let since = session.get::<i64>(SIGNED_IN_AT).ok().flatten().unwrap_or(0);
        let seen = session.get::<i64>(SEEN_AT).ok().flatten().unwrap_or(0);
        let policy = state.sessions;
        if now - since > policy.absolute.as_secs() as i64 || now - seen > policy.idle.as_secs() as i64 {
            session.purge();
            return Err(AppError::SignedOut { next, htmx });
        }
        // Refreshed as often as the session's row (about once a minute),
        // not on every request.
        if now - seen >= policy.touch_every().num_seconds().max(1) {
            let _ = session.insert(SEEN_AT, now);
        }
        let client_ip = super::client_ip(req, &state.trusted_proxies);
        let key = SessionKey { id, user_id, epoch };
        Ok(Self { claims: SessionClaims { key, policy, client_ip, kept: state.signed_in.clone() }, session, next, htmx })
    }
}

impl FromRequest for SignedInSession {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::from_cookie(req))
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let signed_in = SignedInSession::from_cookie(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let signed_in = signed_in?;
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))?;
            let claims = signed_in.claims();
            match state.run(move |conn| claims.load(conn)).await? {
                Some(user) => Ok(signed_in.into_current_user(user)),
                None => Err(signed_in.sign_out()),
            }
        })
    }
}
