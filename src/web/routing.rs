//! A pool's routing settings page.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::form::{FormPost, one_or_many};
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, set_flash};
use super::{AppState, htmx, render};
use crate::error::AppError;
use crate::services::routing_settings::{self as service, MemberInput, RoutingSettings};
use crate::services::{FieldErrors, ServiceError};

#[derive(Template)]
#[template(path = "pools/routing.html")]
struct RoutingPage {
    chrome: Chrome,
    settings: RoutingSettings,
    /// What the form shows: the saved settings, or the input sent back
    /// with its errors.
    strategy: String,
    strict: bool,
    degraded_below: String,
    members: Vec<MemberFields>,
    errors: FieldErrors,
}

/// One member's inputs as the form shows them.
struct MemberFields {
    number_id: i64,
    display: String,
    priority: String,
    weight: String,
    regions: String,
    departments: String,
}

impl MemberFields {
    /// The message for one of this member's inputs, shown beside it.
    fn error<'a>(&self, errors: &'a FieldErrors, field: &str) -> Option<&'a str> {
        errors.get(&format!("{field}_{}", self.number_id))
    }
}

/// The strategies, as the form offers them.
const STRATEGIES: [(&str, &str); 4] = [
    ("round_robin", "Round robin: each member in turn"),
    ("priority", "Priority: highest first, in turn among equals"),
    ("weighted", "Weighted: in proportion to each member's weight"),
    ("least_recently_used", "Least recently used"),
];

/// A saved strategy in words.
pub fn strategy_label(value: &str) -> &'static str {
    STRATEGIES.iter().find(|(v, _)| *v == value).map_or("Round robin: each member in turn", |(_, label)| label)
}

impl RoutingPage {
    fn strategies(&self) -> [(&'static str, &'static str); 4] {
        STRATEGIES
    }
}

/// The routing settings form. The strategy and each member's settings are
/// checked by the use case, which knows the members' phone numbers for its
/// messages.
#[derive(serde::Deserialize, validator::Validate)]
pub struct RoutingForm {
    #[serde(default)]
    strategy: String,
    /// A checkbox, sent only when ticked.
    strict: Option<String>,
    /// Empty for half the members.
    #[serde(default)]
    degraded_below: String,
    /// The number ids of the members on the page.
    #[serde(default, deserialize_with = "one_or_many")]
    member: Vec<String>,
    /// Each member's `priority_{id}`, `weight_{id}`, `regions_{id}` and `departments_{id}`.
    #[serde(flatten)]
    per_member: HashMap<String, String>,
}

impl RoutingForm {
    fn is_strict(&self) -> bool {
        self.strict.as_deref().is_some_and(|v| v == "on" || v == "true")
    }

    fn members(&self) -> Vec<MemberInput> {
        let field = |name: &str, n: i64| self.per_member.get(&format!("{name}_{n}")).cloned().unwrap_or_default();
        self.member
            .iter()
            .filter_map(|raw| raw.parse::<i64>().ok())
            .map(|n| MemberInput {
                number_id: n,
                priority: field("priority", n),
                weight: field("weight", n),
                regions: field("regions", n),
                departments: field("departments", n),
            })
            .collect()
    }
}

fn pool_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<crate::domain::PoolId>().map(|id| id.get()).map_err(|_| AppError::NotFound)
}

/// The page with the saved settings, or with `sent` and its errors.
async fn page(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    sent: Option<(RoutingForm, FieldErrors)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let settings = state.run(move |conn| Ok(service::load(conn, &actor, id)?)).await?;
    let mut members: Vec<MemberFields> = settings
        .members
        .iter()
        .map(|m| MemberFields {
            number_id: m.number_id,
            display: m.display_phone_number.clone(),
            priority: m.priority.to_string(),
            weight: m.weight.to_string(),
            regions: m.region_tags.clone(),
            departments: m.department_tags.clone(),
        })
        .collect();
    let (strategy, strict, degraded_below, errors) = match sent {
        None => (
            settings.pool.strategy.clone(),
            settings.pool.strict_routing,
            settings.degraded_below.map(|n| n.to_string()).unwrap_or_default(),
            FieldErrors::default(),
        ),
        Some((form, errors)) => {
            for input in form.members() {
                if let Some(shown) = members.iter_mut().find(|m| m.number_id == input.number_id) {
                    (shown.priority, shown.weight, shown.regions, shown.departments) =
                        (input.priority, input.weight, input.regions, input.departments);
                }
            }
            (form.strategy.clone(), form.is_strict(), form.degraded_below.clone(), errors)
        }
    };
    let chrome = Chrome::new(user, Nav::Pools, state.demo);
    render(status, &RoutingPage { chrome, settings, strategy, strict, degraded_below, members, errors })
}

#[get("/channels/whatsapp/pools/{id}/routing")]
pub async fn show(state: web::Data<AppState>, user: CurrentUser, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    page(&state, &user, pool_id(&path)?, None, StatusCode::OK).await
}

#[post("/channels/whatsapp/pools/{id}/routing")]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    let id = pool_id(&path)?;
    let form = form.decode::<RoutingForm>()?.input;
    let (strict, inputs, strategy, degraded_below) = (form.is_strict(), form.members(), form.strategy.clone(), form.degraded_below.clone());
    let actor = user.actor.clone();
    match state.write(move |conn| Ok(service::update(conn, &actor, id, &strategy, strict, &degraded_below, &inputs))).await? {
        Ok(()) => {
            set_flash(&user.session, FlashKind::Success, "Routing settings saved.");
            Ok(htmx::see_other(&req, &format!("/channels/whatsapp/pools/{id}")))
        }
        Err(ServiceError::Invalid(errors)) => page(&state, &user, id, Some((form, errors)), StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(other) => Err(other.into()),
    }
}
