//! Pool changes: create, update, deactivate and activate, each with its
//! checks (R3–R11) and its audit entry in one transaction.

use std::collections::BTreeSet;

use serde_json::json;

use super::pool_in_scope;
use crate::db::{DbConnection, write_transaction};
use crate::domain::pool::{MembershipCheck, SelectionError, check_membership, free_slots, too_few_activated_numbers};
use crate::domain::pool_name::PoolNameError;
use crate::domain::{EnterpriseId, NumberId, NumberSelection, PoolCandidate, PoolId, PoolName, WabaId};
use crate::services::access::{chosen_enterprise, require_channel_admin};
use crate::services::{Actor, FieldErrors, ServiceError};
use crate::store::audit::{self, NewAuditEntry};
use crate::store::numbers;
use crate::store::orgs::EnterpriseRow;
use crate::store::pools::{self, PoolRow};

/// A pool form's fields, parsed into domain types; parse failures are kept
/// so that every problem is reported at once, after tenancy is checked.
#[derive(Debug, Clone)]
pub struct PoolDraft {
    pub name: Result<PoolName, PoolNameError>,
    pub numbers: Result<NumberSelection, SelectionError>,
}

impl PoolDraft {
    pub fn parse(name: &str, phone_number_ids: &[String]) -> Self {
        Self { name: PoolName::parse(name), numbers: NumberSelection::parse(phone_number_ids.iter().map(String::as_str)) }
    }
}

/// What a successful write reports back for the flash message.
#[derive(Debug, Clone)]
pub struct PoolChanged {
    pub id: i64,
    pub name: String,
}

fn check_numbers(
    conn: &mut DbConnection,
    enterprise: &EnterpriseRow,
    pool: Option<&PoolRow>,
    selection: &NumberSelection,
    current_members: &[NumberId],
    errors: &mut FieldErrors,
) -> Result<Option<WabaId>, ServiceError> {
    let ids: Vec<i64> = selection.ids().iter().map(|id| id.get()).collect();
    let candidates: Vec<PoolCandidate> = numbers::candidates(conn, &ids)?
        .into_iter()
        .map(|row| PoolCandidate {
            id: NumberId(row.id),
            display: row.display_phone_number,
            enterprise_id: row.enterprise_id.map(EnterpriseId),
            waba_id: WabaId(row.waba_id),
            status: row.status,
            pool: row.pool_id.map(|p| (PoolId(p), row.pool_name.unwrap_or_default())),
        })
        .collect();
    let pool_id = pool.map(|p| PoolId(p.id));
    let waba = pool.map(|p| WabaId(p.waba_id));
    match check_membership(EnterpriseId(enterprise.id), pool_id, waba, selection, &candidates, current_members) {
        MembershipCheck::Foreign(_) => Err(ServiceError::NotFound),
        MembershipCheck::Invalid(messages) => {
            for message in messages {
                errors.add("phone_number_ids", message);
            }
            Ok(None)
        }
        MembershipCheck::Valid => Ok(waba.or_else(|| candidates.first().map(|c| c.waba_id))),
    }
}

fn check_three_numbers(conn: &mut DbConnection, enterprise: &EnterpriseRow, errors: &mut FieldErrors) -> Result<(), ServiceError> {
    let activated = numbers::count_activated(conn, enterprise.id)?;
    if let Some(message) = too_few_activated_numbers(&enterprise.name, activated) {
        errors.add("phone_number_ids", message);
    }
    Ok(())
}

fn check_name(
    conn: &mut DbConnection,
    enterprise: &EnterpriseRow,
    name: &PoolName,
    except: Option<i64>,
    errors: &mut FieldErrors,
) -> Result<(), ServiceError> {
    if pools::name_taken(conn, enterprise.id, name.key(), except)? {
        errors.add("name", format!("{} already has a pool named \u{201c}{}\u{201d}.", enterprise.name, name));
    }
    Ok(())
}

fn audit_entry(actor: &Actor, enterprise_id: i64, action: &'static str, pool_id: i64) -> NewAuditEntry {
    NewAuditEntry {
        actor_user_id: Some(actor.user_id.get()),
        actor_email: Some(actor.email.clone()),
        enterprise_id: Some(enterprise_id),
        action,
        subject_type: "pool",
        subject_id: Some(pool_id.to_string()),
        client_ip: actor.client_ip.clone(),
        ..NewAuditEntry::default()
    }
}

/// Adds a pool (R3–R7, R10, R11): every check and the write in one
/// transaction, so a rejected request leaves nothing behind.
pub fn create_pool(conn: &mut DbConnection, actor: &Actor, enterprise_id: Option<&str>, draft: PoolDraft) -> Result<PoolChanged, ServiceError> {
    require_channel_admin(actor)?;
    write_transaction(conn, |conn| {
        let mut errors = FieldErrors::default();
        let Some(enterprise) = chosen_enterprise(conn, actor, enterprise_id)? else {
            errors.add("enterprise_id", "Choose the enterprise the pool belongs to.");
            return Err(ServiceError::Invalid(errors));
        };
        let mut waba = None;
        if let Ok(selection) = &draft.numbers {
            // Tenancy first: another tenant's number is a 404 whatever else is wrong.
            waba = check_numbers(conn, &enterprise, None, selection, &[], &mut errors)?;
        }
        check_three_numbers(conn, &enterprise, &mut errors)?;
        match &draft.name {
            Ok(name) => check_name(conn, &enterprise, name, None, &mut errors)?,
            Err(e) => errors.add("name", e.to_string()),
        }
        if let Err(e) = &draft.numbers {
            errors.add("phone_number_ids", e.to_string());
        }
        errors.into_result()?;
        let (Ok(name), Ok(selection), Some(waba)) = (draft.name, draft.numbers, waba) else {
            return Err(ServiceError::invalid("phone_number_ids", "Choose at least one number."));
        };
        let id =
            pools::insert(conn, &pools::NewPool { enterprise_id: enterprise.id, waba_id: waba.get(), name: name.as_str(), name_key: name.key() })
                .map_err(write_conflict)?;
        let pool = pools::find(conn, id)?.ok_or(ServiceError::NotFound)?;
        let mut members: Vec<(i64, i32)> = selection.ids().iter().zip(1..).map(|(n, slot)| (n.get(), slot)).collect();
        // Rows go in by number id, so that concurrent writers take the unique
        // index's entries in one order and cannot deadlock on PostgreSQL.
        members.sort_unstable();
        pools::insert_members(conn, &pool, &members).map_err(write_conflict)?;
        crate::services::events::pool_health(conn, id)?;
        let mut entry = audit_entry(actor, enterprise.id, "pool.create", id);
        entry.after = Some(json!({ "name": name.as_str(), "active": true, "numbers": pools::member_displays(conn, id)? }));
        audit::record(conn, &entry)?;
        Ok(PoolChanged { id, name: name.to_string() })
    })
}

/// Edits a pool's name and numbers at the version the form was loaded at (R9).
pub fn update_pool(conn: &mut DbConnection, actor: &Actor, id: PoolId, version: Option<&str>, draft: PoolDraft) -> Result<PoolChanged, ServiceError> {
    require_channel_admin(actor)?;
    write_transaction(conn, |conn| {
        let (pool, enterprise) = pool_in_scope(conn, actor, id)?;
        let version: i64 = version
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ServiceError::invalid("version", "This form is missing its version; reload the page and edit again."))?;
        if version != pool.version {
            return Err(ServiceError::Stale);
        }
        let slots = pools::member_slots(conn, pool.id)?;
        let current: Vec<NumberId> = slots.iter().map(|m| NumberId(m.number_id)).collect();
        let mut errors = FieldErrors::default();
        if let Ok(selection) = &draft.numbers {
            check_numbers(conn, &enterprise, Some(&pool), selection, &current, &mut errors)?;
            let chosen: BTreeSet<NumberId> = selection.ids().iter().copied().collect();
            let before: BTreeSet<NumberId> = current.iter().copied().collect();
            if chosen != before {
                check_three_numbers(conn, &enterprise, &mut errors)?;
            }
        }
        match &draft.name {
            Ok(name) => check_name(conn, &enterprise, name, Some(pool.id), &mut errors)?,
            Err(e) => errors.add("name", e.to_string()),
        }
        if let Err(e) = &draft.numbers {
            errors.add("phone_number_ids", e.to_string());
        }
        errors.into_result()?;
        let (Ok(name), Ok(selection)) = (draft.name, draft.numbers) else {
            return Err(ServiceError::invalid("phone_number_ids", "Choose at least one number."));
        };
        let before_numbers: Vec<&str> = slots.iter().map(|m| m.display_phone_number.as_str()).collect();
        if !pools::update_if_current(conn, pool.id, version, name.as_str(), name.key()).map_err(write_conflict)? {
            return Err(ServiceError::Stale);
        }
        let removed: Vec<i64> = current.iter().filter(|n| !selection.contains(**n)).map(|n| n.get()).collect();
        pools::delete_members(conn, pool.id, &removed)?;
        let added: Vec<i64> = selection.ids().iter().filter(|n| !current.contains(n)).map(|n| n.get()).collect();
        if !added.is_empty() {
            let taken: Vec<i32> = slots.iter().filter(|m| !removed.contains(&m.number_id)).map(|m| m.slot).collect();
            let free =
                free_slots(&taken, added.len()).ok_or_else(|| ServiceError::invalid("phone_number_ids", "A WABA Pool holds at most 10 numbers."))?;
            let mut members: Vec<(i64, i32)> = added.into_iter().zip(free).collect();
            members.sort_unstable();
            pools::insert_members(conn, &pool, &members).map_err(write_conflict)?;
        }
        crate::services::events::pool_health(conn, pool.id)?;
        let mut entry = audit_entry(actor, enterprise.id, "pool.update", pool.id);
        entry.before = Some(json!({ "name": pool.name, "numbers": before_numbers, "version": pool.version }));
        entry.after = Some(json!({ "name": name.as_str(), "numbers": pools::member_displays(conn, pool.id)?, "version": version + 1 }));
        audit::record(conn, &entry)?;
        Ok(PoolChanged { id: pool.id, name: name.to_string() })
    })
}

/// Deactivates a pool (R8). An inactive pool stays listed and routes nothing.
pub fn deactivate_pool(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<PoolChanged, ServiceError> {
    require_channel_admin(actor)?;
    write_transaction(conn, |conn| {
        let (pool, enterprise) = pool_in_scope(conn, actor, id)?;
        if pool.active {
            pools::set_active(conn, pool.id, false)?;
            let mut entry = audit_entry(actor, enterprise.id, "pool.deactivate", pool.id);
            entry.before = Some(json!({ "active": true }));
            entry.after = Some(json!({ "active": false }));
            audit::record(conn, &entry)?;
        }
        Ok(PoolChanged { id: pool.id, name: pool.name })
    })
}

/// Reactivates a pool, checking R3–R6 again.
pub fn activate_pool(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<PoolChanged, ServiceError> {
    require_channel_admin(actor)?;
    write_transaction(conn, |conn| {
        let (pool, enterprise) = pool_in_scope(conn, actor, id)?;
        if pool.active {
            return Ok(PoolChanged { id: pool.id, name: pool.name });
        }
        let mut errors = FieldErrors::default();
        check_three_numbers(conn, &enterprise, &mut errors)?;
        let members = pools::members_of(conn, &[pool.id])?;
        if members.is_empty() {
            errors.add("phone_number_ids", "This pool has no numbers; edit it to add at least one.");
        }
        for member in members.iter().filter(|m| !m.status.is_activated()) {
            errors.add(
                "phone_number_ids",
                format!("{} is {}; activate it or remove it from the pool first.", member.display_phone_number, member.status),
            );
        }
        errors.into_result()?;
        pools::set_active(conn, pool.id, true)?;
        let mut entry = audit_entry(actor, enterprise.id, "pool.activate", pool.id);
        entry.before = Some(json!({ "active": false }));
        entry.after = Some(json!({ "active": true }));
        audit::record(conn, &entry)?;
        Ok(PoolChanged { id: pool.id, name: pool.name })
    })
}

/// A unique index refused a write that the checks above passed: another
/// request got there first. Say what, so the user can choose again.
fn write_conflict(error: diesel::result::Error) -> ServiceError {
    use diesel::result::{DatabaseErrorKind, Error};
    match &error {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let what = format!("{} {}", info.message(), info.constraint_name().unwrap_or_default());
            if what.contains("name_key") {
                ServiceError::invalid("name", "Another pool of this enterprise has just taken that name.")
            } else if what.contains("slot") {
                ServiceError::invalid("phone_number_ids", "A WABA Pool holds at most 10 numbers.")
            } else {
                ServiceError::invalid("phone_number_ids", "One of the chosen numbers has just been added to another pool; choose again.")
            }
        }
        // Should two writers still lock each other out, PostgreSQL breaks the
        // tie by failing one of them: the user chooses again, as above.
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            ServiceError::invalid("phone_number_ids", "Another change to these numbers happened at the same moment; choose again.")
        }
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) if info.message().contains("deadlock") => {
            ServiceError::invalid("phone_number_ids", "Another change to these numbers happened at the same moment; choose again.")
        }
        _ => ServiceError::Database(error),
    }
}
