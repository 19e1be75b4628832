//! Channels → WhatsApp → Numbers: each linked WABA with its numbers, the
//! link (and reconnect) form, "Sync numbers", and a number's status toggle.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::csv;
use super::form::{FormPost, trimmed};
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, set_flash};
use super::{AppState, htmx, render};
use crate::domain::{MIN_ACTIVATED_NUMBERS, ThroughputLevel};
use crate::error::AppError;
use crate::services::numbers::{self as service, Deactivation, LinkOutcome, NumberSwitch, NumberView, NumbersPage, SyncOutcome};
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

    /// Meta's messaging limit tier in words; the code itself otherwise.
    fn limit_words(&self, tier: &str) -> String {
        match tier {
            "TIER_50" => "50 customers a day".into(),
            "TIER_250" => "250 customers a day".into(),
            "TIER_1K" => "1,000 customers a day".into(),
            "TIER_2K" => "2,000 customers a day".into(),
            "TIER_10K" => "10,000 customers a day".into(),
            "TIER_100K" => "100,000 customers a day".into(),
            "TIER_UNLIMITED" => "Unlimited customers".into(),
            other => other.to_owned(),
        }
    }

    /// Meta's throughput level in words; the code itself otherwise.
    fn throughput_words(&self, level: &str) -> String {
        match level {
            "STANDARD" => format!("{} messages/s", ThroughputLevel::STANDARD_MESSAGES_PER_SECOND),
            "HIGH" => "1,000 messages/s".into(),
            other => other.to_owned(),
        }
    }

    /// Meta's status of a number in words; the code itself otherwise.
    fn meta_status_words(&self, status: &str) -> String {
        let mut words = status.replace('_', " ").to_lowercase();
        if let Some(first) = words.get(0..1) {
            words = first.to_uppercase() + &words[1..];
        }
        words
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

/// The Numbers page as CSV: the chosen enterprise's numbers, WABA by WABA,
/// read and sent a chunk at a time.
#[get("/channels/whatsapp/numbers.csv")]
pub async fn export(state: web::Data<AppState>, user: CurrentUser, query: web::Query<NumbersQuery>) -> Result<HttpResponse, AppError> {
    let (actor, enterprise) = (user.actor.clone(), query.into_inner().enterprise_id);
    let read = move |offset: i64| {
        let (state, actor, enterprise) = (state.clone(), actor.clone(), enterprise.clone());
        async move { state.run(move |conn| Ok(service::export_numbers(conn, &actor, enterprise.as_deref(), offset)?)).await }
    };
    let first = read(0).await?;
    let header = "waba,number,verified_name,status,meta_status,quality,messaging_limit,throughput,pool";
    Ok(csv::stream("wabapool-numbers.csv", header, service::EXPORT_CHUNK, first, read, number_cells))
}

/// One number's cells in the Numbers CSV.
fn number_cells((waba, n): (String, NumberView)) -> Vec<String> {
    vec![
        waba,
        n.display,
        n.verified_name,
        n.status.label().to_owned(),
        n.meta_status,
        n.quality.label().into_owned(),
        n.messaging_limit,
        n.throughput,
        n.pool_name.unwrap_or_default(),
    ]
}

fn back(enterprise_id: Option<&str>, is_aggregator: bool) -> String {
    match enterprise_id.map(str::trim).filter(|e| is_aggregator && !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())) {
        Some(id) => format!("{NUMBERS}?enterprise_id={id}"),
        None => NUMBERS.to_owned(),
    }
}

/// The Link a WABA form. The formats of the id and the token are checked
/// by the use case, which parses them into its link request.
#[derive(serde::Deserialize, validator::Validate)]
pub struct LinkWabaForm {
    #[serde(default, deserialize_with = "trimmed")]
    #[validate(length(min = 1, message = "Enter the WABA ID from WhatsApp Manager."))]
    waba_id: String,
    #[serde(default, deserialize_with = "trimmed")]
    #[validate(length(min = 1, message = "Enter the access token (a system user token with whatsapp_business_management)."))]
    access_token: String,
    /// Aggregators only: the enterprise the WABA belongs to.
    enterprise_id: Option<String>,
}

/// The enterprise an aggregator's action on the Numbers page returns to.
#[derive(serde::Deserialize, validator::Validate)]
pub struct ReturnTo {
    enterprise_id: Option<String>,
}

#[post("/channels/whatsapp/wabas")]
pub async fn link(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, form: FormPost) -> Result<HttpResponse, AppError> {
    let decoded = form.decode::<LinkWabaForm>()?;
    let LinkWabaForm { waba_id, access_token, enterprise_id: enterprise_raw } = decoded.input;
    let typed_waba = waba_id.chars().take(64).collect::<String>();
    let outcome = match decoded.errors.into_result() {
        Ok(()) => service::link_waba(&**state, &state.graph, &state.secrets, &user.actor, enterprise_raw.clone(), &typed_waba, &access_token).await?,
        Err(ServiceError::Invalid(errors)) => LinkOutcome::Invalid(errors),
        Err(other) => return Err(other.into()),
    };
    let (errors, problem) = match outcome {
        LinkOutcome::Linked { waba_name, enterprise_name, numbers } => {
            set_flash(&user.session, FlashKind::Success, format!("{waba_name} is linked to {enterprise_name} with {numbers} numbers."));
            return Ok(htmx::see_other(&req, &back(enterprise_raw.as_deref(), user.actor.scope.is_aggregator())));
        }
        LinkOutcome::Invalid(errors) => (errors, None),
        LinkOutcome::MetaFailed(error) => (FieldErrors::default(), Some(error.explain())),
        LinkOutcome::NotStored(errors) => (FieldErrors::default(), errors.all().first().map(|(_, m)| m.clone())),
    };
    let link = LinkForm { waba_id: typed_waba, errors, problem };
    page(&req, &state, &user, enterprise_raw, link, StatusCode::UNPROCESSABLE_ENTITY).await
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
    let enterprise_raw = form.decode::<ReturnTo>()?.input.enterprise_id;
    let back_to = back(enterprise_raw.as_deref(), user.actor.scope.is_aggregator());
    let outcome = service::sync_waba(&**state, &state.graph, &state.secrets, &user.actor, waba_id, enterprise_raw).await?;
    let (kind, message) = sync_message(outcome)?;
    set_flash(&user.session, kind, message);
    Ok(htmx::see_other(&req, &back_to))
}

/// What a person is told about a sync they started.
fn sync_message(outcome: SyncOutcome) -> Result<(FlashKind, String), AppError> {
    Ok(match outcome {
        SyncOutcome::Synced { waba_name, from_meta, changed } => {
            (FlashKind::Success, format!("{waba_name} synced: {from_meta} numbers from Meta, {changed} changed."))
        }
        SyncOutcome::TooSoon { waba_name, seconds_ago } => (
            FlashKind::Error,
            format!("{waba_name} was synced {seconds_ago} seconds ago; wait a minute between syncs to stay inside Meta's call budget."),
        ),
        SyncOutcome::NoToken => (FlashKind::Error, "This WABA has no access token yet; reconnect it with a token.".to_owned()),
        SyncOutcome::TokenUnreadable => (FlashKind::Error, crate::error::TOKEN_UNREADABLE.to_owned()),
        SyncOutcome::NotStored { waba_name, problem: ServiceError::Invalid(errors) } => {
            let message = errors.all().first().map(|(_, m)| m.clone()).unwrap_or_default();
            (FlashKind::Error, format!("{waba_name} was not synced. {message}"))
        }
        SyncOutcome::NotStored { problem, .. } => return Err(problem.into()),
        SyncOutcome::MetaFailed { waba_name, error } => (FlashKind::Error, format!("{waba_name} was not synced. {}", error.explain())),
    })
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
    let back_to = back(form.decode::<ReturnTo>()?.input.enterprise_id.as_deref(), user.actor.scope.is_aggregator());
    let result = state.write(move |conn| Ok(service::set_number_status(conn, &actor, number_id, activating))).await?;
    match result? {
        NumberSwitch::Switched { display } => {
            let verb = if activating { "activated" } else { "deactivated" };
            set_flash(&user.session, FlashKind::Success, format!("{display} is {verb}."));
            Ok(htmx::see_other(&req, &back_to))
        }
        NumberSwitch::NotReadyAtMeta { display, meta_status, code_verification_status } => Err(AppError::Unprocessable(format!(
            "{display} cannot be activated: Meta reports it {} and its code {}. It must be connected and verified at Meta first.",
            meta_status.as_deref().unwrap_or("without a status"),
            code_verification_status.as_deref().unwrap_or("unverified")
        ))),
    }
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

#[derive(Template)]
#[template(path = "numbers/deactivate.html")]
struct DeactivatePage {
    chrome: Chrome,
    number: Deactivation,
    /// Where Cancel and the form lead back to.
    back_to: String,
    enterprise_id: Option<String>,
}

/// Asks before deactivating a number, naming the pool it leaves short.
#[get("/channels/whatsapp/numbers/{id}/deactivate")]
pub async fn confirm_deactivate(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<NumbersQuery>,
) -> Result<HttpResponse, AppError> {
    let (number_id, actor) = (id_of(&path)?, user.actor.clone());
    let number = state.run(move |conn| Ok(service::deactivation(conn, &actor, number_id)?)).await?;
    let enterprise_id = query.into_inner().enterprise_id.filter(|_| user.actor.scope.is_aggregator());
    let back_to = back(enterprise_id.as_deref(), user.actor.scope.is_aggregator());
    render(StatusCode::OK, &DeactivatePage { chrome: Chrome::new(&user, Nav::Numbers, state.demo), number, back_to, enterprise_id })
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
