//! Settings → Events (super admins): the endpoints that receive an
//! enterprise's events (DESIGN.md section 14). Adding one shows its signing
//! secret once; an endpoint's page lists its deliveries with each attempt,
//! and sends a test event, disables, enables, rotates the secret (shown
//! once too) and resends a delivery.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::form::{FormPost, one_or_many, trimmed};
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, set_flash};
use super::{AppState, htmx, render};
use crate::domain::events::EventType;
use crate::error::AppError;
use crate::services::events::delivery::{AUTO_DISABLE_REASON, resolve};
use crate::services::events::endpoints::{
    self as service, DeliveryFilter, DeliveryView, EndpointDetail, EndpointView, EndpointsPage, NewEndpointInput, TEST_EVENT,
};
use crate::services::events::wake_deliveries;
use crate::services::{FieldErrors, ServiceError};

const EVENTS: &str = "/settings/events";
/// Where the session keeps a signing secret until it is shown.
const NEW_SECRET: &str = "new_event_secret";
/// How long the add form waits for a host name to resolve.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

fn endpoint_page(id: i64) -> String {
    format!("{EVENTS}/{id}")
}

/// An id in a path: digits only, positive; anything else names nothing.
fn id_of(raw: &str) -> Result<i64, AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::NotFound);
    }
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or(AppError::NotFound)
}

/// A signing secret waiting to be shown: never stored in clear, never in a
/// URL. The session (a private, encrypted cookie) carries it from the post
/// to its endpoint's page, the redirect's target, which shows it and
/// forgets it, so a refresh neither shows it again nor creates anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NewSecret {
    endpoint_id: i64,
    secret: String,
    /// A rotation's, not a new endpoint's.
    rotated: bool,
}

fn keep_secret(user: &CurrentUser, endpoint_id: i64, secret: &SecretString, rotated: bool) {
    let kept = NewSecret { endpoint_id, secret: secret.expose_secret().to_owned(), rotated };
    let _ = user.session.insert(NEW_SECRET, kept);
}

/// The secret waiting to be shown on the page of `endpoint_id`, taken out of the session.
fn take_secret(user: &CurrentUser, endpoint_id: i64) -> Option<NewSecret> {
    let kept = user.session.get::<NewSecret>(NEW_SECRET).ok().flatten().filter(|s| s.endpoint_id == endpoint_id)?;
    user.session.remove(NEW_SECRET);
    Some(kept)
}

/// The Add an endpoint form.
#[derive(Debug, Clone, Default, Deserialize, validator::Validate)]
pub struct EndpointForm {
    /// Aggregators only: whose events.
    enterprise_id: Option<String>,
    #[serde(default, deserialize_with = "trimmed")]
    url: String,
    #[serde(default, deserialize_with = "trimmed")]
    description: String,
    #[serde(default, deserialize_with = "one_or_many")]
    event_types: Vec<String>,
    /// None: every pool's events.
    #[serde(default, deserialize_with = "one_or_many")]
    pool_ids: Vec<String>,
}

impl EndpointForm {
    fn input(&self) -> NewEndpointInput {
        NewEndpointInput {
            enterprise_id: self.enterprise_id.clone(),
            url: self.url.clone(),
            description: self.description.clone(),
            event_types: self.event_types.clone(),
            pool_ids: self.pool_ids.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/events.html")]
struct EventsIndex {
    chrome: Chrome,
    page: EndpointsPage,
    errors: FieldErrors,
    /// The form as typed (empty, or kept after a refusal).
    form: EndpointForm,
    event_types: [EventType; 5],
    /// This installation also sends to loopback and private addresses.
    allow_private: bool,
}

impl EventsIndex {
    fn is_type_chosen(&self, kind: &EventType) -> bool {
        self.form.event_types.iter().any(|t| t == kind.as_str())
    }

    fn is_pool_chosen(&self, id: &i64) -> bool {
        self.form.pool_ids.iter().any(|p| p.trim() == id.to_string())
    }

    fn is_enterprise_chosen(&self, id: &i64) -> bool {
        self.form.enterprise_id.as_deref().map(str::trim) == Some(id.to_string().as_str())
    }

    fn enterprise_name(&self, id: &i64) -> &str {
        self.page.enterprises.iter().find(|e| e.id == *id).map_or("", |e| e.name.as_str())
    }

    fn disabled_by_wabapool(&self, endpoint: &EndpointView) -> bool {
        disabled_by_wabapool(endpoint)
    }

    fn event_words(&self, kind: &str) -> &'static str {
        event_words(kind)
    }
}

fn disabled_by_wabapool(endpoint: &EndpointView) -> bool {
    !endpoint.enabled && endpoint.disabled_reason.as_deref() == Some(AUTO_DISABLE_REASON)
}

/// What an event type reports, for a tooltip beside its name.
fn event_words(kind: &str) -> &'static str {
    match EventType::parse(kind) {
        Some(known) => known.describe(),
        None if kind == TEST_EVENT => "A test event sent from this page",
        None => "",
    }
}

async fn index_page(
    state: &AppState,
    user: &CurrentUser,
    errors: FieldErrors,
    form: EndpointForm,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let page = state.run(move |conn| Ok(service::list(conn, &actor)?)).await?;
    let chrome = Chrome::new(user, Nav::Events, state.demo);
    let allow_private = state.allow_private_event_urls;
    render(status, &EventsIndex { chrome, page, errors, form, event_types: EventType::ALL, allow_private })
}

#[get("/settings/events")]
pub async fn index(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    if !user.actor.role.manages_users() {
        return Err(AppError::Forbidden);
    }
    index_page(&state, &user, FieldErrors::default(), EndpointForm::default(), StatusCode::OK).await
}

/// Why events may not go to the URL's host, when it is a name: it does not
/// resolve, or only to addresses events are not sent to (no request from
/// wabapool into its own network).
async fn refused_host(url: &str, allow_private: bool) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let Some(url::Host::Domain(host)) = parsed.host() else { return None };
    match tokio::time::timeout(LOOKUP_TIMEOUT, resolve(host, allow_private)).await {
        Ok(Ok(_)) => None,
        Ok(Err(cause)) if cause.is::<std::io::Error>() => Some(format!("The host {host} could not be found. Check the URL.")),
        Ok(Err(_)) => Some(format!("{host} points to a private, loopback or link-local address, which events are not sent to.")),
        Err(_) => Some(format!("Looking up {host} took too long. Check the URL and try again.")),
    }
}

#[post("/settings/events")]
pub async fn create(req: HttpRequest, state: web::Data<AppState>, user: CurrentUser, form: FormPost) -> Result<HttpResponse, AppError> {
    // Before anything is looked up on the network for this request.
    if !user.actor.role.manages_users() {
        return Err(AppError::Forbidden);
    }
    let form = form.decode::<EndpointForm>()?.input;
    let input = form.input();
    let allow_private = state.allow_private_event_urls;
    // The enterprise first, as the form asks for it, so that one answer
    // names everything to fix.
    let mut errors = FieldErrors::default();
    if user.actor.scope.is_aggregator() && input.enterprise_id.as_deref().is_none_or(|e| e.trim().is_empty()) {
        errors.add("enterprise_id", "Choose the enterprise whose events this endpoint receives.");
    }
    for (field, message) in service::check_input(&input, allow_private).all() {
        errors.add(field.clone(), message.clone());
    }
    if errors.get("url").is_none()
        && let Some(refusal) = refused_host(input.url.trim(), allow_private).await
    {
        errors.add("url", refusal);
    }
    if !errors.is_empty() {
        return index_page(&state, &user, errors, form, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let (actor, keys) = (user.actor.clone(), state.secrets.clone());
    match state.write(move |conn| Ok(service::create(conn, &actor, &keys, &input, allow_private))).await? {
        Ok((id, secret)) => {
            keep_secret(&user, id, &secret, false);
            set_flash(&user.session, FlashKind::Success, "The endpoint is added. Store its signing secret, then send it a test event.");
            Ok(htmx::see_other(&req, &endpoint_page(id)))
        }
        Err(ServiceError::Invalid(errors)) => index_page(&state, &user, errors, form, StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(other) => Err(other.into()),
    }
}

/// "I have stored it": the secret, if still waiting, is never shown.
#[post("/settings/events/secret-stored")]
pub async fn secret_stored(req: HttpRequest, user: CurrentUser, _form: FormPost) -> Result<HttpResponse, AppError> {
    let back = match user.session.get::<NewSecret>(NEW_SECRET).ok().flatten() {
        Some(kept) => endpoint_page(kept.endpoint_id),
        None => htmx::page_of(&req).filter(|p| p.starts_with(EVENTS)).unwrap_or_else(|| EVENTS.to_owned()),
    };
    user.session.remove(NEW_SECRET);
    set_flash(&user.session, FlashKind::Success, "The signing secret is no longer shown; wabapool keeps it sealed.");
    Ok(htmx::see_other(&req, &back))
}

/// The filter of an endpoint's deliveries, as the query gives it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeliveryQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    state: Option<String>,
    page: Option<String>,
}

impl DeliveryQuery {
    fn filter(&self) -> DeliveryFilter {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        DeliveryFilter {
            event_type: given(&self.event_type),
            state: given(&self.state),
            page: self.page.as_deref().and_then(|p| p.trim().parse::<i64>().ok()).filter(|p| (1..=1_000_000).contains(p)).unwrap_or(1),
        }
    }
}

/// The delivery states the filter offers, with their words.
const STATES: [(&str, &str); 3] = [("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")];

#[derive(Template)]
#[template(path = "settings/event_endpoint.html")]
struct EndpointPage {
    chrome: Chrome,
    detail: EndpointDetail,
    query: DeliveryFilter,
    new_secret: Option<NewSecret>,
    event_types: [EventType; 5],
    states: [(&'static str, &'static str); 3],
    test_event: &'static str,
}

impl EndpointPage {
    fn is_type_filtered(&self, kind: &str) -> bool {
        self.query.event_type.as_deref() == Some(kind)
    }

    fn is_state_filtered(&self, state: &str) -> bool {
        self.query.state.as_deref() == Some(state)
    }

    fn is_filtered(&self) -> bool {
        self.query.event_type.is_some() || self.query.state.is_some()
    }

    fn disabled_by_wabapool(&self) -> bool {
        disabled_by_wabapool(&self.detail.endpoint)
    }

    /// Whether a delivery of this page waits for its first attempt, which
    /// the page then shows as soon as it is made.
    fn awaits_first_attempt(&self) -> bool {
        self.detail.endpoint.enabled && self.detail.deliveries.iter().any(|d| d.row.state == "pending" && d.row.attempts == 0)
    }

    fn event_words(&self, kind: &str) -> &'static str {
        event_words(kind)
    }

    fn state_words(&self, delivery: &DeliveryView) -> &'static str {
        match delivery.row.state.as_str() {
            "delivered" => "Delivered",
            "failed" => "Failed",
            _ if delivery.row.attempts > 0 => "Retrying",
            _ => "Pending",
        }
    }

    fn state_badge(&self, delivery: &DeliveryView) -> &'static str {
        match delivery.row.state.as_str() {
            "delivered" => "badge-active",
            "failed" => "badge-red",
            _ if delivery.row.attempts > 0 => "badge-warning",
            _ => "badge-pending",
        }
    }

    /// This page of the deliveries, as it is filtered.
    fn this_page_href(&self) -> String {
        self.page_href(self.detail.page)
    }

    /// Another page of the deliveries under the same filter.
    fn page_href(&self, page: i64) -> String {
        let mut parts: Vec<(&str, String)> = Vec::new();
        if let Some(kind) = &self.query.event_type {
            parts.push(("type", kind.clone()));
        }
        if let Some(state) = &self.query.state {
            parts.push(("state", state.clone()));
        }
        parts.push(("page", page.to_string()));
        format!("{}?{}", endpoint_page(self.detail.endpoint.id), serde_urlencoded::to_string(parts).unwrap_or_default())
    }
}

#[get("/settings/events/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id_of(&path)?, user.actor.clone());
    let filter = query.filter();
    let asked = filter.clone();
    let detail = state.run(move |conn| Ok(service::detail(conn, &actor, id, &asked)?)).await?;
    let new_secret = take_secret(&user, id);
    let page = EndpointPage {
        chrome: Chrome::new(&user, Nav::Events, state.demo),
        detail,
        query: filter,
        new_secret,
        event_types: EventType::ALL,
        states: STATES,
        test_event: TEST_EVENT,
    };
    render(StatusCode::OK, &page)
}

#[post("/settings/events/{id}/test")]
pub async fn send_test(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id_of(&path)?, user.actor.clone());
    state.write(move |conn| Ok(service::send_test(conn, &actor, id)?)).await?;
    wake_deliveries();
    set_flash(&user.session, FlashKind::Success, "A test event is on its way; its attempt appears below within seconds.");
    Ok(htmx::see_other(&req, &endpoint_page(id)))
}

async fn set_enabled(req: &HttpRequest, state: &AppState, user: &CurrentUser, raw: &str, enabled: bool) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id_of(raw)?, user.actor.clone());
    let endpoint = state.write(move |conn| Ok(service::set_enabled(conn, &actor, id, enabled)?)).await?;
    let message = if enabled {
        wake_deliveries();
        format!("{} is enabled: new events reach it, and the deliveries that waited go out now.", endpoint.url)
    } else {
        format!("{} is disabled: it receives nothing until it is enabled again; its deliveries wait.", endpoint.url)
    };
    set_flash(&user.session, FlashKind::Success, message);
    Ok(htmx::see_other(req, &endpoint_page(id)))
}

#[post("/settings/events/{id}/disable")]
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    set_enabled(&req, &state, &user, &path, false).await
}

#[post("/settings/events/{id}/enable")]
pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    set_enabled(&req, &state, &user, &path, true).await
}

#[post("/settings/events/{id}/rotate-secret")]
pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let (id, actor, keys) = (id_of(&path)?, user.actor.clone(), state.secrets.clone());
    let secret = state.write(move |conn| Ok(service::rotate_secret(conn, &actor, &keys, id)?)).await?;
    keep_secret(&user, id, &secret, true);
    set_flash(&user.session, FlashKind::Success, "The signing secret is replaced. The old one keeps verifying for 24 hours.");
    Ok(htmx::see_other(&req, &endpoint_page(id)))
}

#[post("/settings/events/deliveries/{id}/resend")]
pub async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    _form: FormPost,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (id_of(&path)?, user.actor.clone());
    let endpoint_id = state.write(move |conn| Ok(service::resend(conn, &actor, id)?)).await?;
    wake_deliveries();
    set_flash(&user.session, FlashKind::Success, format!("Delivery #{id} is sent again now, with the same webhook-id."));
    // Back to the page of deliveries it was sent from, filter and all.
    let page = endpoint_page(endpoint_id);
    let back = htmx::page_of(&req).filter(|p| *p == page || p.starts_with(&format!("{page}?"))).unwrap_or(page);
    Ok(htmx::see_other(&req, &back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths_are_positive_digits_only() {
        assert_eq!(id_of("42").ok(), Some(42));
        for bad in ["0", "-1", "+1", "1e3", "", "abc", "9999999999999999999"] {
            assert!(id_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_filter_keeps_what_was_given_and_pages_from_one() {
        let query = DeliveryQuery { event_type: Some(" message.status ".into()), state: Some(String::new()), page: Some("x".into()) };
        let filter = query.filter();
        assert_eq!(filter.event_type.as_deref(), Some("message.status"));
        assert_eq!(filter.state, None);
        assert_eq!(filter.page, 1);
    }
}
