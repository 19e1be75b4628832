//! Settings → Users (super admins) and the signed-in user's own password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use secrecy::SecretString;

use super::form::{FormPost, trimmed};
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, keep_session_at_epoch, session_id, set_flash};
use super::{AppState, htmx, render};
use crate::error::AppError;
use crate::services::users::{self as service, ChangedUser, UserView};
use crate::services::{FieldErrors, ServiceError};

pub const USERS: &str = "/settings/users";

/// The Add a user form. The role and the password policy are the domain's
/// to judge; the service reports them.
#[derive(serde::Deserialize, validator::Validate)]
pub struct NewUserForm {
    #[serde(default, deserialize_with = "trimmed")]
    #[validate(
        length(max = 254, message = "Enter an email address like name@example.com."),
        email(message = "Enter an email address like name@example.com.")
    )]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// A new role for a user; the domain parses it.
#[derive(serde::Deserialize, validator::Validate)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// A new password, set by a super admin or by its owner.
#[derive(serde::Deserialize, validator::Validate)]
pub struct PasswordForm {
    #[serde(default)]
    #[validate(length(min = 1, message = "Enter your current password."))]
    current_password: String,
    #[serde(default)]
    #[validate(length(min = 1, message = "Enter the new password."))]
    new_password: String,
}

/// The password a super admin sets for another user; the password policy
/// judges it.
#[derive(serde::Deserialize, validator::Validate)]
pub struct ResetPasswordForm {
    #[serde(default)]
    password: String,
}

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserView>,
    errors: FieldErrors,
    email: String,
    role: String,
}

async fn users_page(
    state: &AppState,
    user: &CurrentUser,
    errors: FieldErrors,
    email: String,
    role: String,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let users = state.run(move |conn| Ok(service::list(conn, &actor)?)).await?;
    render(status, &UsersPage { chrome: Chrome::new(user, Nav::Users, state.demo), users, errors, email, role })
}

#[get("/settings/users")]
pub async fn index(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    users_page(&state, &user, FieldErrors::default(), String::new(), "agent".into(), StatusCode::OK).await
}

#[post("/settings/users")]
pub async fn create(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, form: FormPost) -> Result<HttpResponse, AppError> {
    let NewUserForm { email, role, password } = match form.decode::<NewUserForm>()? {
        decoded if decoded.errors.is_empty() => decoded.input,
        invalid => return users_page(&state, &user, invalid.errors, invalid.input.email, invalid.input.role, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let password = SecretString::from(password);
    let (actor, typed_email, typed_role) = (user.actor.clone(), email.clone(), role.clone());
    let result = state.run(move |conn| Ok(service::create(conn, &actor, &typed_email, &typed_role, &password))).await?;
    match result {
        Ok(_) => {
            set_flash(&user.session, FlashKind::Success, format!("{} can now sign in.", email.trim().to_lowercase()));
            Ok(htmx::see_other(&req, USERS))
        }
        Err(ServiceError::Invalid(errors)) => users_page(&state, &user, errors, email, role, StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(other) => Err(other.into()),
    }
}

fn user_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<crate::domain::UserId>().map(|id| id.get()).map_err(|_| AppError::NotFound)
}

/// Runs one change on a user and reports it as a flash on the users page.
async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    done: &'static str,
    work: impl FnOnce(&mut crate::db::DbConnection, &crate::services::Actor) -> Result<ChangedUser, ServiceError> + Send + 'static,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    match state.run(move |conn| Ok(work(conn, &actor))).await? {
        Ok(changed) => {
            set_flash(&user.session, FlashKind::Success, format!("{}: {done}.", changed.email));
            Ok(htmx::see_other(&req, USERS))
        }
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.all().iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join(" ");
            set_flash(&user.session, FlashKind::Error, message);
            Ok(htmx::see_other(&req, USERS))
        }
        Err(other) => Err(other.into()),
    }
}

#[post("/settings/users/{id}/role")]
pub async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = user_id(&path)?;
    let wanted = form.decode::<RoleForm>()?.input.role;
    change(req, state, user, "role changed", move |conn, actor| service::change_role(conn, actor, id, &wanted)).await
}

#[post("/settings/users/{id}/disable")]
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = user_id(&path)?;
    change(req, state, user, "disabled and signed out everywhere", move |conn, actor| service::set_disabled(conn, actor, id, true)).await
}

#[post("/settings/users/{id}/enable")]
pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = user_id(&path)?;
    change(req, state, user, "enabled", move |conn, actor| service::set_disabled(conn, actor, id, false)).await
}

#[post("/settings/users/{id}/password")]
pub async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = user_id(&path)?;
    let password = SecretString::from(form.decode::<ResetPasswordForm>()?.input.password);
    change(req, state, user, "password reset and signed out everywhere", move |conn, actor| service::reset_password(conn, actor, id, &password)).await
}

#[derive(Template)]
#[template(path = "settings/password.html")]
struct PasswordPage {
    chrome: Chrome,
    errors: FieldErrors,
}

#[get("/settings/password")]
pub async fn password_page(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, &PasswordPage { chrome: Chrome::new(&user, Nav::Password, state.demo), errors: FieldErrors::default() })
}

#[post("/settings/password")]
pub async fn change_password(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, form: FormPost) -> Result<HttpResponse, AppError> {
    let PasswordForm { current_password, new_password } = match form.decode::<PasswordForm>()? {
        decoded if decoded.errors.is_empty() => decoded.input,
        invalid => {
            let chrome = Chrome::new(&user, Nav::Password, state.demo);
            return render(StatusCode::UNPROCESSABLE_ENTITY, &PasswordPage { chrome, errors: invalid.errors });
        }
    };
    let (current, new) = (SecretString::from(current_password), SecretString::from(new_password));
    let (actor, hasher, this_session) = (user.actor.clone(), state.hasher.clone(), session_id(&user.session));
    match state.run(move |conn| Ok(service::change_own_password(conn, &hasher, &actor, &current, &new, this_session.as_deref()))).await? {
        Ok(epoch) => {
            keep_session_at_epoch(&user.session, epoch);
            set_flash(&user.session, FlashKind::Success, "Your password is changed; your other sessions are signed out.");
            Ok(htmx::see_other(&req, "/settings/password"))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &PasswordPage { chrome: Chrome::new(&user, Nav::Password, state.demo), errors })
        }
        Err(other) => Err(other.into()),
    }
}
