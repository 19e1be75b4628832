//! Permission and tenancy checks (R1, R2), shared by every use case.

use diesel::QueryResult;

use super::{Actor, ServiceError};
use crate::db::DbConnection;
use crate::domain::{AggregatorId, EnterpriseId, Scope};
use crate::store::orgs::{self, EnterpriseRow};

/// R1: only admins and super admins manage pools, numbers and routing.
pub fn require_channel_admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role.manages_channels() { Ok(()) } else { Err(ServiceError::Forbidden) }
}

/// R2: the enterprise, if the actor may act on it; otherwise NotFound,
/// exactly as for an id that does not exist.
pub fn enterprise_in_scope(conn: &mut DbConnection, actor: &Actor, id: EnterpriseId) -> Result<EnterpriseRow, ServiceError> {
    let enterprise = orgs::find_enterprise(conn, id.get())?.ok_or(ServiceError::NotFound)?;
    if actor.scope.covers(EnterpriseId(enterprise.id), enterprise.aggregator_id.map(AggregatorId)) {
        Ok(enterprise)
    } else {
        Err(ServiceError::NotFound)
    }
}

/// The enterprises the actor may act on, by name.
pub fn enterprises_in_scope(conn: &mut DbConnection, actor: &Actor) -> QueryResult<Vec<EnterpriseRow>> {
    match actor.scope {
        Scope::Enterprise(id) => Ok(orgs::find_enterprise(conn, id.get())?.into_iter().collect()),
        Scope::Aggregator(id) => orgs::enterprises_of_aggregator(conn, id.get()),
    }
}

/// Enterprises a filter's picker offers at most: an aggregator of thousands
/// of enterprises gets the first of them by name and the one chosen, so the
/// page's size does not grow with the tenant.
pub const ENTERPRISE_CHOICES: i64 = 100;

/// The enterprises a filter offers, and whether the aggregator has more.
#[derive(Debug, Clone, Default)]
pub struct EnterpriseChoices {
    pub offered: Vec<EnterpriseRow>,
    pub more: bool,
}

/// The aggregator actor's first [`ENTERPRISE_CHOICES`] enterprises by
/// name, with `chosen` added when it is not among them; none for an
/// enterprise's user, who has no enterprise filter.
pub fn enterprise_choices(conn: &mut DbConnection, actor: &Actor, chosen: Option<&EnterpriseRow>) -> QueryResult<EnterpriseChoices> {
    let Scope::Aggregator(id) = actor.scope else { return Ok(EnterpriseChoices::default()) };
    let mut offered = orgs::first_enterprises_of_aggregator(conn, id.get(), ENTERPRISE_CHOICES + 1)?;
    let more = offered.len() as i64 > ENTERPRISE_CHOICES;
    offered.truncate(ENTERPRISE_CHOICES as usize);
    if let Some(chosen) = chosen.filter(|c| !offered.iter().any(|e| e.id == c.id)) {
        offered.insert(0, chosen.clone());
    }
    Ok(EnterpriseChoices { offered, more })
}

/// Resolves the enterprise a form names. Enterprise users act on their own
/// (a different id is another tenant's: NotFound); aggregator users must
/// pick one of theirs.
pub fn chosen_enterprise(conn: &mut DbConnection, actor: &Actor, raw: Option<&str>) -> Result<Option<EnterpriseRow>, ServiceError> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty());
    match (actor.scope, raw) {
        (Scope::Enterprise(own), None) => enterprise_in_scope(conn, actor, own).map(Some),
        (_, Some(raw)) => {
            let id: EnterpriseId = raw.parse().map_err(|_| ServiceError::NotFound)?;
            enterprise_in_scope(conn, actor, id).map(Some)
        }
        (Scope::Aggregator(_), None) => Ok(None),
    }
}
