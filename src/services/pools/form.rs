//! The Add and Edit pool forms: the numbers offered, grouped by WABA, and
//! what each page needs besides the user's input.

use super::pool_in_scope;
use crate::db::DbConnection;
use crate::domain::pool::too_few_activated_numbers;
use crate::domain::{NumberStatus, PoolId, QualityRating};
use crate::services::access::{chosen_enterprise, enterprises_in_scope, require_channel_admin};
use crate::services::{Actor, ServiceError};
use crate::store::audit;
use crate::store::numbers::{self, NumberChoiceRow};
use crate::store::orgs::EnterpriseRow;
use crate::store::pools::{self, PoolRow};

/// A number offered as a checkbox.
#[derive(Debug, Clone)]
pub struct NumberChoice {
    pub id: i64,
    pub display: String,
    pub verified_name: String,
    pub status: NumberStatus,
    pub quality: QualityRating,
}

/// The numbers of one WABA, shown as one fieldset.
#[derive(Debug, Clone)]
pub struct WabaChoices {
    pub waba_id: i64,
    pub waba_name: String,
    pub numbers: Vec<NumberChoice>,
}

/// What the Add and Edit pages need besides the user's input.
#[derive(Debug, Clone, Default)]
pub struct PoolFormContext {
    /// Aggregator users pick from these; empty for enterprise users.
    pub enterprises: Vec<EnterpriseRow>,
    pub enterprise: Option<EnterpriseRow>,
    pub activated_count: i64,
    /// R3's message when the enterprise has too few activated numbers.
    pub blocked: Option<String>,
    pub groups: Vec<WabaChoices>,
}

fn group_choices(rows: Vec<NumberChoiceRow>) -> Vec<WabaChoices> {
    let mut groups: Vec<WabaChoices> = Vec::new();
    for row in rows {
        let choice = NumberChoice {
            id: row.id,
            display: row.display_phone_number,
            verified_name: row.verified_name,
            status: row.status,
            quality: row.quality_rating,
        };
        match groups.last_mut() {
            Some(group) if group.waba_id == row.waba_id => group.numbers.push(choice),
            _ => groups.push(WabaChoices { waba_id: row.waba_id, waba_name: row.waba_name, numbers: vec![choice] }),
        }
    }
    groups
}

fn form_context(
    conn: &mut DbConnection,
    actor: &Actor,
    enterprise: Option<EnterpriseRow>,
    pool: Option<&PoolRow>,
) -> Result<PoolFormContext, ServiceError> {
    let enterprises = if actor.scope.is_aggregator() && pool.is_none() { enterprises_in_scope(conn, actor)? } else { Vec::new() };
    let Some(enterprise) = enterprise else {
        return Ok(PoolFormContext { enterprises, ..PoolFormContext::default() });
    };
    let activated_count = numbers::count_activated(conn, enterprise.id)?;
    let blocked = too_few_activated_numbers(&enterprise.name, activated_count);
    let rows = numbers::pool_choices(conn, enterprise.id, pool.map(|p| p.waba_id), pool.map(|p| p.id))?;
    Ok(PoolFormContext { enterprises, enterprise: Some(enterprise), activated_count, blocked, groups: group_choices(rows) })
}

/// The Add Pool page for the chosen enterprise (aggregators may not have chosen yet).
pub fn add_pool_context(conn: &mut DbConnection, actor: &Actor, enterprise_id: Option<&str>) -> Result<PoolFormContext, ServiceError> {
    require_channel_admin(actor)?;
    let enterprise = chosen_enterprise(conn, actor, enterprise_id)?;
    form_context(conn, actor, enterprise, None)
}

/// The Edit page: the pool, its member ids and the choices.
pub struct EditPoolContext {
    pub pool: PoolRow,
    pub member_ids: Vec<i64>,
    pub form: PoolFormContext,
    /// The newest recorded change of the pool: who (none for the system) and when.
    pub last_change: Option<(Option<String>, chrono::NaiveDateTime)>,
}

pub fn edit_pool_context(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<EditPoolContext, ServiceError> {
    require_channel_admin(actor)?;
    let (pool, enterprise) = pool_in_scope(conn, actor, id)?;
    let member_ids = pools::member_slots(conn, pool.id)?.into_iter().map(|m| m.number_id).collect();
    let form = form_context(conn, actor, Some(enterprise), Some(&pool))?;
    let last_change = audit::last_about(conn, "pool", &pool.id.to_string())?;
    Ok(EditPoolContext { pool, member_ids, form, last_change })
}
