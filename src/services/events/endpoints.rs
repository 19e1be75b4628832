//! Event endpoints (super admins of an enterprise, and of an aggregator
//! for its enterprises): add with a URL, event types and an optional pool
//! filter, the signing secret shown once and stored sealed (R12); disable,
//! enable, rotate the secret (the old one keeps signing for 24 hours), send
//! a test event, resend a delivery; each change audited (R10).

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use super::super::access::{chosen_enterprise, enterprise_choices, enterprise_in_scope, enterprises_in_scope};
use super::super::{Actor, FieldErrors, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::EnterpriseId;
use crate::domain::events::{EventType, check_endpoint_url};
use crate::security::event_signing;
use crate::security::secrets::{Sealed, SecretKeys};
use crate::store::audit::{self, NewAuditEntry};
use crate::store::events::{self as store, DeliveryRow, EndpointRow, NewEndpoint};
use crate::store::orgs::EnterpriseRow;

/// Endpoints an enterprise may have.
pub const MAX_ENDPOINTS: usize = 20;
/// Pools a filter may name, and pools the form offers.
pub const MAX_FILTER_POOLS: usize = 10;
const POOL_CHOICES: i64 = 200;
/// Deliveries per page of an endpoint's deliveries.
pub const DELIVERIES_PAGE: i64 = 50;
/// How long a rotated secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

fn require_super_admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role.manages_users() { Ok(()) } else { Err(ServiceError::Forbidden) }
}

/// An endpoint as its pages show it: never its secret.
#[derive(Debug, Clone)]
pub struct EndpointView {
    pub id: i64,
    pub enterprise_name: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub pool_names: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<chrono::NaiveDateTime>,
    /// Deliveries failing now: pending after a failed attempt, or failed.
    pub failing: i64,
    /// While a rotated secret still signs.
    pub previous_until: Option<chrono::NaiveDateTime>,
}

impl EndpointView {
    fn new(row: &EndpointRow, enterprise_name: String, pools: &[(i64, i64, String)], failing: i64) -> Self {
        let named: Vec<i64> = row.pool_ids.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        Self {
            id: row.id,
            enterprise_name,
            url: row.url.clone(),
            description: row.description.clone(),
            event_types: row.event_types.split_whitespace().map(str::to_owned).collect(),
            pool_names: named.iter().map(|id| pools.iter().find(|p| p.0 == *id).map_or_else(|| format!("pool {id}"), |p| p.2.clone())).collect(),
            enabled: row.enabled,
            disabled_reason: row.disabled_reason.clone(),
            failing_since: row.failing_since,
            failing,
            previous_until: row.previous_until.filter(|until| *until > crate::store::now()),
        }
    }
}

/// Settings → Events: the endpoints and what the add form offers.
pub struct EndpointsPage {
    pub endpoints: Vec<EndpointView>,
    /// Aggregators' users choose the enterprise (empty for an enterprise's user).
    pub enterprises: Vec<EnterpriseRow>,
    /// Pools the filter may name: id, enterprise id, name.
    pub pools: Vec<(i64, i64, String)>,
}

pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<EndpointsPage, ServiceError> {
    require_super_admin(actor)?;
    let enterprises = enterprises_in_scope(conn, actor)?;
    let ids: Vec<i64> = enterprises.iter().map(|e| e.id).collect();
    let rows = store::endpoints_of(conn, &ids)?;
    let pools = store::pool_choices(conn, &ids, POOL_CHOICES)?;
    let failing = store::failing_counts(conn, &rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
    let endpoints = rows
        .iter()
        .map(|row| {
            let name = enterprises.iter().find(|e| e.id == row.enterprise_id).map(|e| e.name.clone()).unwrap_or_default();
            EndpointView::new(row, name, &pools, failing.iter().find(|f| f.0 == row.id).map_or(0, |f| f.1))
        })
        .collect();
    let choices = enterprise_choices(conn, actor, None)?;
    Ok(EndpointsPage { endpoints, enterprises: choices.offered, pools })
}

/// The add form as typed.
#[derive(Debug, Clone, Default)]
pub struct NewEndpointInput {
    pub enterprise_id: Option<String>,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub pool_ids: Vec<String>,
}

/// What can be checked of the form without the database or the network.
pub fn check_input(input: &NewEndpointInput, allow_private: bool) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if let Err(problem) = check_endpoint_url(input.url.trim(), allow_private) {
        errors.add("url", problem.message());
    }
    if input.description.chars().count() > 200 || input.description.chars().any(char::is_control) {
        errors.add("description", "Use at most 200 characters, on one line.");
    }
    if input.event_types.is_empty() || input.event_types.iter().any(|t| EventType::parse(t).is_none()) {
        errors.add("event_types", "Choose at least one of the event types listed.");
    }
    if input.pool_ids.len() > MAX_FILTER_POOLS {
        errors.add("pool_ids", "Name at most 10 pools, or none for every pool.");
    }
    errors
}

/// Adds an endpoint; its signing secret is returned this once.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    keys: &SecretKeys,
    input: &NewEndpointInput,
    allow_private: bool,
) -> Result<(i64, SecretString), ServiceError> {
    require_super_admin(actor)?;
    check_input(input, allow_private).into_result()?;
    write_transaction(conn, |conn| {
        let enterprise = chosen_enterprise(conn, actor, input.enterprise_id.as_deref())?
            .ok_or_else(|| ServiceError::invalid("enterprise_id", "Choose the enterprise whose events this endpoint receives."))?;
        if store::endpoints_of(conn, &[enterprise.id])?.len() >= MAX_ENDPOINTS {
            return Err(ServiceError::invalid(
                "url",
                format!("{} has {MAX_ENDPOINTS} endpoints, the most it may have; disable or reuse one.", enterprise.name),
            ));
        }
        let own_pools = store::pool_choices(conn, &[enterprise.id], i64::MAX)?;
        let mut pool_ids = Vec::new();
        for raw in &input.pool_ids {
            match raw.trim().parse::<i64>().ok().filter(|id| own_pools.iter().any(|p| p.0 == *id)) {
                Some(id) if !pool_ids.contains(&id) => pool_ids.push(id),
                Some(_) => {}
                None => return Err(ServiceError::invalid("pool_ids", format!("Choose pools of {}.", enterprise.name))),
            }
        }
        let mut types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).filter(|t| input.event_types.iter().any(|i| i == t)).collect();
        types.dedup();
        let secret = event_signing::new_secret();
        let sealed = keys.seal(&secret);
        let url = input.url.trim();
        let id = store::insert_endpoint(
            conn,
            NewEndpoint {
                enterprise_id: enterprise.id,
                url,
                description: input.description.trim(),
                event_types: &types.join(" "),
                pool_ids: &pool_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" "),
                secret_ciphertext: sealed.ciphertext,
                secret_key_id: &sealed.key_id,
            },
        )?;
        audit_change(
            conn,
            actor,
            enterprise.id,
            "event_endpoint.create",
            id,
            None,
            Some(json!({ "url": url, "event_types": types, "pool_ids": pool_ids })),
        )?;
        Ok((id, secret))
    })
}

fn audit_change(
    conn: &mut DbConnection,
    actor: &Actor,
    enterprise_id: i64,
    action: &'static str,
    id: i64,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), ServiceError> {
    audit::record(
        conn,
        &NewAuditEntry {
            actor_user_id: Some(actor.user_id.get()),
            actor_email: Some(actor.email.clone()),
            enterprise_id: Some(enterprise_id),
            action,
            subject_type: "event_endpoint",
            subject_id: Some(id.to_string()),
            before,
            after,
            client_ip: actor.client_ip.clone(),
        },
    )?;
    Ok(())
}

/// The endpoint, if the actor may manage it; NotFound as for an unknown id (R2).
fn endpoint_in_scope(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<(EndpointRow, EnterpriseRow), ServiceError> {
    require_super_admin(actor)?;
    let row = store::find_endpoint(conn, id)?.ok_or(ServiceError::NotFound)?;
    let enterprise = enterprise_in_scope(conn, actor, EnterpriseId(row.enterprise_id))?;
    Ok((row, enterprise))
}

/// Which deliveries the endpoint's page lists.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub event_type: Option<String>,
    pub state: Option<String>,
    pub page: i64,
}

/// One delivery and its attempts, newest attempt last.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    pub row: DeliveryRow,
    pub attempts: Vec<store::AttemptRow>,
}

/// An endpoint's page: the endpoint, a page of its deliveries and how many match.
pub struct EndpointDetail {
    pub endpoint: EndpointView,
    pub deliveries: Vec<DeliveryView>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

pub fn detail(conn: &mut DbConnection, actor: &Actor, id: i64, filter: &DeliveryFilter) -> Result<EndpointDetail, ServiceError> {
    let (row, enterprise) = endpoint_in_scope(conn, actor, id)?;
    let pools = store::pool_choices(conn, &[enterprise.id], POOL_CHOICES)?;
    let event_type = filter.event_type.as_deref().filter(|t| EventType::parse(t).is_some() || *t == TEST_EVENT);
    let state = filter.state.as_deref().filter(|s| matches!(*s, "pending" | "delivered" | "failed"));
    let page = filter.page.max(1);
    let (rows, total) = store::deliveries_of(conn, id, event_type, state, (page - 1).saturating_mul(DELIVERIES_PAGE), DELIVERIES_PAGE)?;
    let attempts = store::attempts_of(conn, &rows.iter().map(|r| r.id).collect::<Vec<_>>())?;
    let failing = store::failing_counts(conn, &[id])?.first().map_or(0, |f| f.1);
    let deliveries = rows
        .into_iter()
        .map(|row| {
            let attempts = attempts.iter().filter(|a| a.delivery_id == row.id).cloned().collect();
            DeliveryView { row, attempts }
        })
        .collect();
    Ok(EndpointDetail {
        endpoint: EndpointView::new(&row, enterprise.name, &pools, failing),
        deliveries,
        total,
        page,
        pages: ((total + DELIVERIES_PAGE - 1) / DELIVERIES_PAGE).max(1),
    })
}

/// Disables or enables an endpoint; a disabled one is skipped by new events
/// and its pending deliveries wait until it is enabled again.
pub fn set_enabled(conn: &mut DbConnection, actor: &Actor, id: i64, enabled: bool) -> Result<EndpointView, ServiceError> {
    write_transaction(conn, |conn| {
        let (row, enterprise) = endpoint_in_scope(conn, actor, id)?;
        let reason = (!enabled).then(|| format!("Disabled by {}", actor.email));
        if store::set_enabled(conn, id, enabled, reason.as_deref())? {
            let action = if enabled { "event_endpoint.enable" } else { "event_endpoint.disable" };
            audit_change(conn, actor, enterprise.id, action, id, Some(json!({ "enabled": row.enabled })), Some(json!({ "enabled": enabled })))?;
        }
        Ok(EndpointView::new(&row, enterprise.name, &[], 0))
    })
}

/// A new signing secret, returned this once; the old one keeps signing
/// beside it for [`ROTATION_OVERLAP`].
pub fn rotate_secret(conn: &mut DbConnection, actor: &Actor, keys: &SecretKeys, id: i64) -> Result<SecretString, ServiceError> {
    write_transaction(conn, |conn| {
        let (row, enterprise) = endpoint_in_scope(conn, actor, id)?;
        let secret = event_signing::new_secret();
        let sealed = keys.seal(&secret);
        let until = crate::store::now() + ROTATION_OVERLAP;
        store::rotate_secret(conn, id, sealed.ciphertext, &sealed.key_id, (row.secret_ciphertext, row.secret_key_id), until)?;
        audit_change(
            conn,
            actor,
            enterprise.id,
            "event_endpoint.rotate_secret",
            id,
            None,
            Some(json!({ "previous_secret_until": until.to_string() })),
        )?;
        Ok(secret)
    })
}

/// The type of the event "send a test event" sends: to that endpoint only,
/// never to the pull API.
pub const TEST_EVENT: &str = "endpoint.test";

/// Sends the endpoint a test event now.
pub fn send_test(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<(), ServiceError> {
    write_transaction(conn, |conn| {
        let (row, enterprise) = endpoint_in_scope(conn, actor, id)?;
        let at = crate::store::now();
        let body = json!({
            "type": TEST_EVENT,
            "timestamp": at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": { "endpoint_id": row.id, "message": "A test event from wabapool." },
        })
        .to_string();
        let event_id = store::insert_event(
            conn,
            &store::NewEvent {
                enterprise_id: enterprise.id,
                event_type: TEST_EVENT,
                pool_id: None,
                message_id: None,
                customer: None,
                body: &body,
                created_at: at,
            },
        )?;
        store::insert_delivery(conn, id, event_id, None, at)?;
        super::WRITTEN.store(true, std::sync::atomic::Ordering::Release);
        audit_change(conn, actor, enterprise.id, "event_endpoint.test", id, None, None)?;
        Ok(())
    })
}

/// Sends one delivery again; answers its endpoint's id.
pub fn resend(conn: &mut DbConnection, actor: &Actor, delivery_id: i64) -> Result<i64, ServiceError> {
    write_transaction(conn, |conn| {
        let delivery = store::find_delivery(conn, delivery_id)?.ok_or(ServiceError::NotFound)?;
        let (_, enterprise) = endpoint_in_scope(conn, actor, delivery.endpoint_id)?;
        if store::resend(conn, delivery_id)? {
            super::WRITTEN.store(true, std::sync::atomic::Ordering::Release);
            audit::record(
                conn,
                &NewAuditEntry {
                    actor_user_id: Some(actor.user_id.get()),
                    actor_email: Some(actor.email.clone()),
                    enterprise_id: Some(enterprise.id),
                    action: "event_delivery.resend",
                    subject_type: "event_endpoint",
                    subject_id: Some(delivery.endpoint_id.to_string()),
                    before: Some(json!({ "delivery": delivery_id, "state": delivery.state })),
                    after: Some(json!({ "delivery": delivery_id, "state": "pending" })),
                    client_ip: actor.client_ip.clone(),
                },
            )?;
        }
        Ok(delivery.endpoint_id)
    })
}

/// The secrets an endpoint signs with now: its own and, while a rotation's
/// overlap lasts, the one before.
pub fn signing_secrets(keys: &SecretKeys, row: &EndpointRow) -> Result<Vec<SecretString>, ServiceError> {
    let open = |ciphertext: &[u8], key_id: &str| {
        keys.open(&Sealed { ciphertext: ciphertext.to_vec(), key_id: key_id.to_owned() })
            .map_err(|cause| ServiceError::Internal(anyhow::anyhow!("the signing secret of event endpoint {} cannot be opened: {cause}", row.id)))
    };
    let mut secrets = vec![open(&row.secret_ciphertext, &row.secret_key_id)?];
    if let (Some(ciphertext), Some(key_id), Some(until)) = (&row.previous_ciphertext, &row.previous_key_id, row.previous_until)
        && until > crate::store::now()
    {
        secrets.push(open(ciphertext, key_id)?);
    }
    debug_assert!(secrets.iter().all(|s| s.expose_secret().starts_with("whsec_")));
    Ok(secrets)
}
