//! Sign in and sign out.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use secrecy::SecretString;

use super::form::FormPost;
use super::session::{CurrentUser, csrf_token, session_id, sign_in};
use super::{AppState, htmx, render};
use crate::error::AppError;
use crate::services::auth::{LOGIN_FAILED, begin_login, end_every_session, end_session, finish_login};

pub const HOME: &str = "/channels/whatsapp/pools";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf_token: String,
    email: String,
    next: String,
    error: Option<&'static str>,
    demo: bool,
    notice: Option<String>,
}

/// The sign-in form. Nothing is checked before the password: every failed
/// sign-in, a malformed email too, gets [`LOGIN_FAILED`] and counts
/// towards the throttle.
#[derive(serde::Deserialize, validator::Validate)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only a local path may follow sign-in: "/x", never "//host" or "/\host".
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 512
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => HOME.to_owned(),
    }
}

#[get("/login")]
pub async fn login_page(state: web::Data<AppState>, session: Session, query: web::Query<LoginQuery>) -> Result<HttpResponse, AppError> {
    let notice = super::session::take_flash(&session).map(|f| f.message);
    let page = LoginPage {
        csrf_token: csrf_token(&session),
        email: String::new(),
        next: safe_next(query.next.as_deref()),
        error: None,
        demo: state.demo,
        notice,
    };
    render(StatusCode::OK, &page)
}

#[post("/login")]
pub async fn login_submit(req: HttpRequest, state: web::Data<AppState>, session: Session, form: FormPost) -> Result<HttpResponse, AppError> {
    let form = form.decode::<SignInForm>()?.input;
    let email: String = form.email.chars().take(320).collect();
    let password = SecretString::from(form.password);
    let next = safe_next(form.next.as_deref());
    let client_ip = super::client_ip(&req, &state.trusted_proxies);
    let typed = email.clone();
    // Two database visits around the password check, so that no pooled
    // connection waits on argon2.
    let attempt = state.run(move |conn| Ok(begin_login(conn, &typed, client_ip)?)).await?;
    let verified = state.hasher.verify(attempt.stored_hash(), password, attempt.signs_in_on_match()).await;
    let (policy, previous) = (state.sessions, session_id(&session));
    let signed_in = state
        .run(move |conn| {
            let signed_in = finish_login(conn, attempt, verified, policy)?;
            // Signing in again in the same browser ends the session it had.
            if let (Some(_), Some(previous)) = (&signed_in, previous) {
                end_session(conn, &previous)?;
            }
            Ok(signed_in)
        })
        .await?;
    match signed_in {
        Some(user) => {
            sign_in(&session, &user)?;
            // Agents have no pool pages: their home is their own settings;
            // an aggregator's admins start from the overview of their enterprises.
            let next = match (next == HOME, user.role.manages_channels(), user.aggregator) {
                (true, false, _) => "/settings/password".to_owned(),
                (true, true, true) => super::overview::OVERVIEW.to_owned(),
                _ => next,
            };
            Ok(htmx::see_other(&req, &next))
        }
        None => {
            let page = LoginPage { csrf_token: csrf_token(&session), email, next, error: Some(LOGIN_FAILED), demo: state.demo, notice: None };
            render(StatusCode::UNAUTHORIZED, &page)
        }
    }
}

/// Ends this session on the server, so that a copy of its cookie is
/// refused on every instance, and clears the cookie.
#[post("/logout")]
pub async fn logout(req: HttpRequest, state: web::Data<AppState>, session: Session, _form: FormPost) -> Result<HttpResponse, AppError> {
    // The cookie is cleared even if ending the row fails (that failure is answered and logged).
    let id = session_id(&session);
    session.purge();
    if let Some(id) = id {
        state.run(move |conn| Ok(end_session(conn, &id)?)).await?;
    }
    Ok(htmx::see_other(&req, "/login"))
}

/// Ends every session of the signed-in user, on every instance.
#[post("/logout/everywhere")]
pub async fn logout_everywhere(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, _form: FormPost) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    state.run(move |conn| Ok(end_every_session(conn, &actor)?)).await?;
    user.session.purge();
    Ok(htmx::see_other(&req, "/login"))
}

#[get("/")]
pub async fn root() -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", HOME)).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_follow_sign_in() {
        assert_eq!(safe_next(Some("/channels/whatsapp/numbers?x=1")), "/channels/whatsapp/numbers?x=1");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", "", "/a\nb"] {
            assert_eq!(safe_next(Some(bad)), HOME, "{bad:?}");
        }
        assert_eq!(safe_next(None), HOME);
    }
}
