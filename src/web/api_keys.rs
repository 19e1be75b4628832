//! Channels → WhatsApp → API keys (super admins): list, create (shown once), revoke.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::form::{FormPost, trimmed};
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, forget_new_api_key, keep_new_api_key, new_api_key, set_flash};
use super::{AppState, htmx, render};
use crate::error::AppError;
use crate::services::api_keys::{self as service, ApiKeyView, KeysPage};
use crate::services::{FieldErrors, ServiceError};

const KEYS: &str = "/channels/whatsapp/api-keys";

/// The Create a key form.
#[derive(serde::Deserialize, validator::Validate)]
pub struct KeyForm {
    #[serde(default, deserialize_with = "trimmed")]
    #[validate(
        length(min = 1, max = 64, message = "Give the key a label of 1 to 64 characters, e.g. the application that uses it."),
        non_control_character(message = "Give the key a label of 1 to 64 characters, e.g. the application that uses it.")
    )]
    label: String,
    /// Aggregators only: the enterprise the key sends for.
    enterprise_id: Option<String>,
}

#[derive(Template)]
#[template(path = "api_keys/index.html")]
struct KeysIndex {
    chrome: Chrome,
    page: KeysPage,
    errors: FieldErrors,
    label: String,
    /// The new key, shown this once.
    new_key: Option<String>,
}

async fn keys_page(
    state: &AppState,
    user: &CurrentUser,
    errors: FieldErrors,
    label: String,
    new_key: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let page = state.run(move |conn| Ok(service::list(conn, &actor)?)).await?;
    render(status, &KeysIndex { chrome: Chrome::new(user, Nav::ApiKeys, state.demo), page, errors, label, new_key })
}

#[get("/channels/whatsapp/api-keys")]
pub async fn index(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let new_key = new_api_key(&user.session);
    keys_page(&state, &user, FieldErrors::default(), String::new(), new_key, StatusCode::OK).await
}

#[post("/channels/whatsapp/api-keys")]
pub async fn create(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, form: FormPost) -> Result<HttpResponse, AppError> {
    let KeyForm { label, enterprise_id } = match form.decode::<KeyForm>()? {
        decoded if decoded.errors.is_empty() => decoded.input,
        invalid => return keys_page(&state, &user, invalid.errors, invalid.input.label, None, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let (actor, typed) = (user.actor.clone(), label.clone());
    match state.write(move |conn| Ok(service::create(conn, &actor, enterprise_id.as_deref(), &typed))).await? {
        // Never stored in clear, never in a URL: the session keeps it until
        // its creator says it is stored, so a refresh creates nothing.
        Ok(key) => {
            keep_new_api_key(&user.session, &key);
            Ok(htmx::see_other(&req, KEYS))
        }
        Err(ServiceError::Invalid(errors)) => keys_page(&state, &user, errors, label, None, StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(other) => Err(other.into()),
    }
}

/// "I have stored it": the new key leaves the session and is never shown again.
#[post("/channels/whatsapp/api-keys/stored")]
pub async fn stored(req: HttpRequest, user: CurrentUser, _form: FormPost) -> Result<HttpResponse, AppError> {
    if new_api_key(&user.session).is_some() {
        forget_new_api_key(&user.session);
        set_flash(&user.session, FlashKind::Success, "The new key is no longer shown; wabapool keeps only its hash.");
    }
    Ok(htmx::see_other(&req, KEYS))
}

fn key_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<crate::domain::UserId>().map(|i| i.get()).map_err(|_| AppError::NotFound)
}

#[derive(Template)]
#[template(path = "api_keys/revoke.html")]
struct RevokePage {
    chrome: Chrome,
    key: ApiKeyView,
}

/// Asks before revoking: a revoked key cannot be brought back.
#[get("/channels/whatsapp/api-keys/{id}/revoke")]
pub async fn confirm_revoke(state: web::Data<AppState>, user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (id, actor) = (key_id(&path)?, user.actor.clone());
    let key = state.run(move |conn| Ok(service::find(conn, &actor, id)?)).await?;
    render(StatusCode::OK, &RevokePage { chrome: Chrome::new(&user, Nav::ApiKeys, state.demo), key })
}

#[post("/channels/whatsapp/api-keys/{id}/revoke")]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (key_id(&path)?, user.actor.clone());
    let key = state.write(move |conn| Ok(service::revoke(conn, &actor, id)?)).await?;
    set_flash(&user.session, FlashKind::Success, format!("The key \u{201c}{}\u{201d} is revoked; requests with it now get 401.", key.label));
    Ok(htmx::see_other(&req, KEYS))
}
