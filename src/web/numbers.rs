//! Channels → WhatsApp → Numbers: each linked WABA with its numbers, the
//! link (and reconnect) form, "Sync numbers", and a number's status toggle.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::form::FormPost;
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, set_flash};
use super::{AppState, htmx, render};
use crate::domain::MIN_ACTIVATED_NUMBERS;
use crate::error::AppError;
use crate::services::numbers::{self as service, LinkRequest, NumbersPage, SyncTarget};
use crate::services::{FieldErrors, ServiceError};

pub const NUMBERS: &str = "/channels/whatsapp/numbers";

#[derive(Template)]
#[template(path = "numbers/index.html")]
struct NumbersIndex {
    chrome: Chrome,
    page: NumbersPage,
    min_activated: i64,
    link: LinkForm,
    /// What to paste into Meta's app settings for webhooks.
    callback_url: String,
    verify_token: String,
}

/// The link form's state: what was typed (never the token) and what went wrong.
#[derive(Default)]
struct LinkForm {
    waba_id: String,
    errors: FieldErrors,
    problem: Option<String>,
}

impl NumbersIndex {
    fn is_enterprise_chosen(&self, id: &i64) -> bool {
        self.page.enterprise.as_ref().is_some_and(|e| e.id == *id)
    }
}

#[derive(serde::Deserialize)]
pub struct NumbersQuery {
    enterprise_id: Option<String>,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    enterprise: Option<String>,
    link_form: LinkForm,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let page = state.run(move |conn| Ok(service::numbers_page(conn, &actor, enterprise.as_deref())?)).await?;
    let info = req.connection_info();
    let callback_url = format!("{}://{}/webhooks/whatsapp", info.scheme(), info.host());
    let verify_token = secrecy::ExposeSecret::expose_secret(&state.webhooks.verify_token).to_owned();
    render(
        status,
        &NumbersIndex {
            chrome: Chrome::new(user, Nav::Numbers, state.demo),
            page,
            min_activated: MIN_ACTIVATED_NUMBERS,
            link: link_form,
            callback_url,
            verify_token,
        },
    )
}

#[get("/channels/whatsapp/numbers")]
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<NumbersQuery>,
) -> Result<HttpResponse, AppError> {
    page(&req, &state, &user, query.into_inner().enterprise_id, LinkForm::default(), StatusCode::OK).await
}

fn back(enterprise_id: Option<&str>, is_aggregator: bool) -> String {
    match enterprise_id.map(str::trim).filter(|e| is_aggregator && !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())) {
        Some(id) => format!("{NUMBERS}?enterprise_id={id}"),
        None => NUMBERS.to_owned(),
    }
}

#[post("/channels/whatsapp/wabas")]
pub async fn link(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, form: FormPost) -> Result<HttpResponse, AppError> {
    let enterprise_raw = form.get("enterprise_id").map(str::to_owned);
    let typed_waba = form.get("waba_id").unwrap_or_default().chars().take(64).collect::<String>();
    let actor = user.actor.clone();
    let chosen = enterprise_raw.clone();
    let enterprise = state.run(move |conn| Ok(service::link_target(conn, &actor, chosen.as_deref()))).await?;
    let enterprise = match enterprise {
        Ok(e) => e,
        Err(ServiceError::Invalid(errors)) => {
            let link = LinkForm { waba_id: typed_waba, errors, problem: None };
            return page(&req, &state, &user, enterprise_raw, link, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(other) => return Err(other.into()),
    };
    let request = match LinkRequest::parse(&typed_waba, form.get("access_token").unwrap_or_default()) {
        Ok(request) => request,
        Err(errors) => {
            let link = LinkForm { waba_id: typed_waba, errors, problem: None };
            return page(&req, &state, &user, enterprise_raw, link, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let meta = match state.graph.waba_with_numbers(&request.waba_id, &request.access_token).await {
        Ok(meta) => meta,
        Err(error) => {
            tracing::info!(waba = %request.waba_id, error = %error, "linking a WABA failed at Meta");
            let link = LinkForm { waba_id: typed_waba, errors: FieldErrors::default(), problem: Some(error.explain()) };
            return page(&req, &state, &user, enterprise_raw, link, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let sealed = state.secrets.seal(&request.access_token);
    let actor = user.actor.clone();
    let stored = {
        let (enterprise, meta) = (enterprise.clone(), meta.clone());
        state.run(move |conn| Ok(service::store_link(conn, &actor, &enterprise, &meta, &sealed))).await?
    };
    match stored {
        Ok(waba) => {
            set_flash(
                &user.session,
                FlashKind::Success,
                format!("{} is linked to {} with {} numbers.", waba.name, enterprise.name, meta.numbers.len()),
            );
            Ok(htmx::see_other(&req, &back(enterprise_raw.as_deref(), user.actor.scope.is_aggregator())))
        }
        Err(ServiceError::Invalid(errors)) => {
            let problem = errors.all().first().map(|(_, m)| m.clone());
            let link = LinkForm { waba_id: typed_waba, errors: FieldErrors::default(), problem };
            page(&req, &state, &user, enterprise_raw, link, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(other) => Err(other.into()),
    }
}

fn id_of(raw: &str) -> Result<i64, AppError> {
    raw.parse::<crate::domain::WabaId>().map(|id| id.get()).map_err(|_| AppError::NotFound)
}

#[post("/channels/whatsapp/wabas/{id}/sync")]
pub async fn sync(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    let waba_id = id_of(&path)?;
    let enterprise_raw = form.get("enterprise_id").map(str::to_owned);
    let back_to = back(enterprise_raw.as_deref(), user.actor.scope.is_aggregator());
    let (actor, keys, chosen) = (user.actor.clone(), state.secrets.clone(), enterprise_raw.clone());
    let target: Result<SyncTarget, ServiceError> =
        state.run(move |conn| Ok(service::sync_target(conn, &actor, &keys, waba_id, chosen.as_deref()))).await?;
    let target = match target {
        Ok(target) => target,
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.all().first().map(|(_, m)| m.clone()).unwrap_or_default();
            set_flash(&user.session, FlashKind::Error, message);
            return Ok(htmx::see_other(&req, &back_to));
        }
        Err(unreadable @ ServiceError::TokenUnreadable { .. }) => {
            if let ServiceError::TokenUnreadable { key_id, .. } = &unreadable {
                tracing::error!(key_id = %key_id, "sync refused: {unreadable}");
            }
            set_flash(&user.session, FlashKind::Error, crate::error::TOKEN_UNREADABLE.to_owned());
            return Ok(htmx::see_other(&req, &back_to));
        }
        Err(other) => return Err(other.into()),
    };
    let meta = state.graph.waba_with_numbers(&target.waba.meta_waba_id, &target.token).await;
    let actor = user.actor.clone();
    let waba_name = target.waba.name.clone();
    match meta {
        Ok(meta) => {
            let count = meta.numbers.len();
            let stored = state.run(move |conn| Ok(service::store_sync(conn, Some(&actor), &target, &meta))).await?;
            match stored {
                Ok(changed) => {
                    set_flash(&user.session, FlashKind::Success, format!("{waba_name} synced: {count} numbers from Meta, {changed} changed."))
                }
                Err(ServiceError::Invalid(errors)) => {
                    let message = errors.all().first().map(|(_, m)| m.clone()).unwrap_or_default();
                    set_flash(&user.session, FlashKind::Error, format!("{waba_name} was not synced. {message}"));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(error) => {
            if error.is_token_invalid() {
                let (waba, enterprise_id) = (target.waba.clone(), target.enterprise.id);
                state.run(move |conn| Ok(service::mark_reconnect_needed(conn, Some(&actor), &waba, enterprise_id)?)).await?;
            }
            set_flash(&user.session, FlashKind::Error, format!("{waba_name} was not synced. {}", error.explain()));
        }
    }
    Ok(htmx::see_other(&req, &back_to))
}

async fn set_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    raw: &str,
    form: FormPost,
    activating: bool,
) -> Result<HttpResponse, AppError> {
    let number_id = id_of(raw)?;
    let actor = user.actor.clone();
    let back_to = back(form.get("enterprise_id"), user.actor.scope.is_aggregator());
    let result = state.write(move |conn| Ok(service::set_number_status(conn, &actor, number_id, activating))).await?;
    match result {
        Ok(number) => {
            let verb = if activating { "activated" } else { "deactivated" };
            set_flash(&user.session, FlashKind::Success, format!("{} is {verb}.", number.display_phone_number));
        }
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.all().first().map(|(_, m)| m.clone()).unwrap_or_default();
            return Err(AppError::Unprocessable(message));
        }
        Err(other) => return Err(other.into()),
    }
    Ok(htmx::see_other(&req, &back_to))
}

#[post("/channels/whatsapp/numbers/{id}/activate")]
pub async fn activate(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    set_status(req, state, user, &path, form, true).await
}

#[post("/channels/whatsapp/numbers/{id}/deactivate")]
pub async fn deactivate(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    set_status(req, state, user, &path, form, false).await
}
