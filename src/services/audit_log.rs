//! The audit log page (R10): every change with who, when, which enterprise,
//! what, before and after; filtered, paged, and exported as CSV. Super
//! admins see their enterprise; aggregator super admins their enterprises.

use super::access::{EnterpriseChoices, enterprise_choices, enterprise_in_scope};
use super::{Actor, ServiceError};
use crate::db::DbConnection;
use crate::domain::{EnterpriseId, Scope};
pub use crate::store::audit::AuditRow;
use crate::store::audit::{self, AuditFilter, AuditScope};

pub const PAGE_SIZE: i64 = 100;
/// Entries one read of a CSV export holds: the export streams chunk after chunk.
pub const EXPORT_CHUNK: i64 = 1_000;

/// The actions an entry can record, for the filter.
pub const ACTIONS: &[&str] = &[
    "login.success",
    "login.failure",
    "pool.create",
    "pool.update",
    "pool.activate",
    "pool.deactivate",
    "pool.routing_update",
    "api_key.create",
    "api_key.revoke",
    "number.activate",
    "number.deactivate",
    "number.sync",
    "number.quality_update",
    "waba.link",
    "waba.token_change",
    "waba.reconnect_needed",
    "waba.account_update",
    "user.create",
    "user.role_change",
    "user.disable",
    "user.enable",
    "user.password_reset",
    "user.password_change",
    "user.sessions_ended",
    "event_endpoint.create",
    "event_endpoint.disable",
    "event_endpoint.enable",
    "event_endpoint.rotate_secret",
    "event_endpoint.test",
    "event_endpoint.update",
    "event_endpoint.auto_disable",
    "event_delivery.resend",
];

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub enterprise_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
    pub page: Option<String>,
}

pub struct AuditPage {
    pub entries: Vec<(AuditRow, String)>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// The enterprises the filter offers: a bounded few.
    pub enterprises: EnterpriseChoices,
    pub query: AuditQuery,
}

fn date(raw: Option<&str>, field: &'static str) -> Result<Option<chrono::NaiveDate>, ServiceError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| ServiceError::invalid(field, "Dates are written YYYY-MM-DD."))
        }
    }
}

fn filter(conn: &mut DbConnection, actor: &Actor, query: &AuditQuery) -> Result<(AuditFilter, EnterpriseChoices, i64), ServiceError> {
    if !actor.role.manages_users() {
        return Err(ServiceError::Forbidden);
    }
    let mut f = AuditFilter { limit: PAGE_SIZE, ..AuditFilter::default() };
    let chosen = match query.enterprise_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let id: EnterpriseId = raw.parse().map_err(|_| ServiceError::NotFound)?;
            Some(enterprise_in_scope(conn, actor, id)?)
        }
        None => None,
    };
    f.scope = match (&chosen, actor.scope) {
        (Some(enterprise), _) => AuditScope::Enterprise(enterprise.id),
        (None, Scope::Enterprise(id)) => AuditScope::Enterprise(id.get()),
        (None, Scope::Aggregator(id)) => AuditScope::Aggregator(id.get()),
    };
    let enterprises = enterprise_choices(conn, actor, chosen.as_ref())?;
    if let Some(actor_text) = query.actor.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if actor_text.chars().count() > 254 || actor_text.chars().any(char::is_control) {
            return Err(ServiceError::invalid("actor", "Search at most 254 characters, without control characters."));
        }
        f.actor_contains = Some(actor_text.to_owned());
    }
    if let Some(action) = query.action.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if !ACTIONS.contains(&action) {
            return Err(ServiceError::invalid("action", "Choose an action from the list."));
        }
        f.action = Some(action.to_owned());
    }
    f.from = date(query.from.as_deref(), "from")?.and_then(|d| d.and_hms_opt(0, 0, 0));
    f.until = date(query.until.as_deref(), "until")?.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0));
    let page = match query.page.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| ServiceError::invalid("page", "Page must be a whole number from 1."))?,
    };
    f.offset = (page - 1) * PAGE_SIZE;
    Ok((f, enterprises, page))
}

pub fn audit_page(conn: &mut DbConnection, actor: &Actor, query: AuditQuery) -> Result<AuditPage, ServiceError> {
    let (f, enterprises, page) = filter(conn, actor, &query)?;
    let total = audit::count(conn, &f)?;
    Ok(AuditPage { entries: audit::page(conn, &f)?, total, page, pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1), enterprises, query })
}

/// The entries the filters match from `offset` on, newest first, at most
/// [`EXPORT_CHUNK`] of them, each with its enterprise's name: one chunk of
/// the CSV export. A chunk shorter than that is the last.
pub fn audit_export(conn: &mut DbConnection, actor: &Actor, query: &AuditQuery, offset: i64) -> Result<Vec<(AuditRow, String)>, ServiceError> {
    let (mut f, _, _) = filter(conn, actor, query)?;
    f.offset = offset;
    f.limit = EXPORT_CHUNK;
    Ok(audit::page(conn, &f)?)
}
