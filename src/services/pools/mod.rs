//! WABA Pool use cases: list, add, edit, deactivate and activate, under
//! rules R1–R11.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use super::access::{chosen_enterprise, enterprise_in_scope, enterprises_in_scope, require_channel_admin};
use super::caches::listing::{CachedListing, ListingCache, ListingKey};
use super::{Actor, FieldErrors, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::pool::{MembershipCheck, SelectionError, check_membership, free_slots, too_few_activated_numbers};
use crate::domain::pool_name::PoolNameError;
use crate::domain::{EnterpriseId, NumberId, NumberSelection, NumberStatus, PoolCandidate, PoolId, PoolName, QualityRating, Scope, WabaId};
use crate::store::audit::{self, NewAuditEntry};
use crate::store::numbers::{self, NumberChoiceRow};
use crate::store::orgs::EnterpriseRow;
use crate::store::pools::{self, ListFilter, ListScope, MemberRow, PoolRow};
use crate::store::stamps;

/// Pools shown per listing page.
pub const PAGE_SIZE: i64 = 50;

// ---------------------------------------------------------------- listing

/// The listing's query string, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListQuery {
    pub enterprise_id: Option<String>,
    pub q: Option<String>,
    pub status: Option<String>,
    pub page: Option<String>,
}

/// A member number as pages show it.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub number_id: i64,
    pub display: String,
    pub verified_name: String,
    pub status: NumberStatus,
    pub quality: QualityRating,
    pub waba_status: String,
    /// Why the member is out of rotation and since when, if it is.
    pub out_of_rotation: Option<(String, Option<chrono::NaiveDateTime>)>,
}

impl MemberView {
    fn from_row(row: MemberRow) -> Self {
        let status = NumberStatus::parse(&row.status).unwrap_or(NumberStatus::Pending);
        let quality = QualityRating::parse(&row.quality_rating);
        let out_of_rotation = if row.waba_status != "active" {
            let why = match row.waba_status.as_str() {
                "reconnect_needed" => "WABA needs reconnecting".to_owned(),
                "suspended" => format!("WABA suspended by Meta{}", row.waba_status_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()),
                other => format!("WABA {other}"),
            };
            Some((why, row.waba_status_changed_at))
        } else if status != NumberStatus::Activated {
            Some((format!("Number {}", status.as_str()), row.out_of_rotation_since))
        } else if !quality.is_healthy() {
            Some(("Quality RED at Meta".to_owned(), row.out_of_rotation_since))
        } else {
            None
        };
        Self {
            number_id: row.number_id,
            display: row.display_phone_number,
            verified_name: row.verified_name,
            status,
            quality,
            waba_status: row.waba_status,
            out_of_rotation,
        }
    }

    /// In rotation: activated, not RED, and its WABA active.
    pub fn is_healthy(&self) -> bool {
        self.out_of_rotation.is_none()
    }

    /// "Quality RED at Meta since 2026-11-22 14:05 UTC".
    pub fn out_of_rotation_text(&self) -> Option<String> {
        self.out_of_rotation.as_ref().map(|(why, since)| match since {
            Some(at) => format!("{why} since {}", at.format("%Y-%m-%d %H:%M UTC")),
            None => why.clone(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PoolSummary {
    pub id: i64,
    pub name: String,
    pub enterprise_id: i64,
    pub enterprise_name: String,
    pub active: bool,
    pub version: i64,
    pub members: Vec<MemberView>,
    /// The enterprise's activated numbers: below three, R3 blocks changes and the pages warn.
    pub enterprise_activated: i64,
}

impl PoolSummary {
    /// R3's warning when the enterprise has dropped below three activated numbers.
    pub fn warning(&self) -> Option<String> {
        too_few_activated_numbers(&self.enterprise_name, self.enterprise_activated)
            .map(|m| format!("{m} This pool cannot be changed or reactivated until it has."))
    }

    pub fn healthy_count(&self) -> usize {
        self.members.iter().filter(|m| m.is_healthy()).count()
    }

    pub fn all_healthy(&self) -> bool {
        self.healthy_count() == self.members.len()
    }

    pub fn out_of_rotation_count(&self) -> usize {
        self.members.len() - self.healthy_count()
    }
}

#[derive(Debug, Clone, Default)]
pub struct PoolListing {
    pub pools: Vec<PoolSummary>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// The enterprises an aggregator user can filter by (empty for enterprise users).
    pub enterprises: Vec<EnterpriseRow>,
    pub enterprise_filter: Option<i64>,
    pub q: String,
    pub status: String,
}

/// The listing, from `cache` while nothing it shows has changed since it
/// was read (see [`super::caches::listing`]). `stamp` is the listing stamp,
/// read before this call, so a listing is never older than the stamp it is
/// kept under.
pub fn list_pools_cached(
    conn: &mut DbConnection,
    cache: &ListingCache,
    actor: &Actor,
    query: &ListQuery,
    stamp: i64,
) -> Result<Arc<CachedListing>, ServiceError> {
    if let Some(listing) = cached_listing(cache, actor, query, stamp)? {
        return Ok(listing);
    }
    let listing = Arc::new(CachedListing::new(list_pools(conn, actor, query)?));
    cache.put(ListingKey::new(actor.scope, query), stamp, listing.clone());
    Ok(listing)
}

/// The listing's and the session's stamps, read together: an unchanged
/// listing for a user already seen needs nothing else from the database.
pub fn listing_and_session_stamps(conn: &mut DbConnection) -> Result<stamps::Stamps, ServiceError> {
    Ok(stamps::both(conn)?)
}

/// The listing kept in `cache` under `stamp`, the listing stamp just read;
/// None when it must be read.
pub fn cached_listing(cache: &ListingCache, actor: &Actor, query: &ListQuery, stamp: i64) -> Result<Option<Arc<CachedListing>>, ServiceError> {
    require_channel_admin(actor)?;
    Ok(cache.get(&ListingKey::new(actor.scope, query), stamp))
}

pub fn list_pools(conn: &mut DbConnection, actor: &Actor, query: &ListQuery) -> Result<PoolListing, ServiceError> {
    require_channel_admin(actor)?;
    let mut filter = ListFilter::default();
    let enterprise_filter = match query.enterprise_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let id: EnterpriseId = raw.parse().map_err(|_| ServiceError::NotFound)?;
            Some(enterprise_in_scope(conn, actor, id)?.id)
        }
        None => None,
    };
    filter.enterprise_id = enterprise_filter;
    let q = query.q.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if q.chars().count() > 100 || q.chars().any(char::is_control) {
        return Err(ServiceError::invalid("q", "Search text must be at most 100 characters, without control characters."));
    }
    filter.name_contains = (!q.is_empty()).then(|| crate::domain::pool_name::key_of(&q));
    let status = query.status.as_deref().map(str::trim).unwrap_or_default().to_owned();
    filter.active = match status.as_str() {
        "" | "all" => None,
        "active" => Some(true),
        "inactive" => Some(false),
        _ => {
            return Err(ServiceError::invalid("status", "Status must be active, inactive or all."));
        }
    };
    let page = match query.page.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(raw) => match raw.parse::<i64>() {
            Ok(p) if (1..=1_000_000).contains(&p) => p,
            _ => {
                return Err(ServiceError::invalid("page", "Page must be a whole number from 1."));
            }
        },
    };
    let scope = match actor.scope {
        Scope::Enterprise(id) => ListScope::Enterprise(id.get()),
        Scope::Aggregator(id) => ListScope::Aggregator(id.get()),
    };
    let matching = pools::matching_ids(conn, scope, &filter)?;
    let total = matching.len() as i64;
    let start = usize::try_from((page - 1) * PAGE_SIZE).unwrap_or(usize::MAX).min(matching.len());
    let page_ids = &matching[start..(start + PAGE_SIZE as usize).min(matching.len())];
    let rows = pools::listed(conn, page_ids)?;
    let mut summaries = Vec::with_capacity(rows.len());
    // Members come ordered by pool id; rows in listing order: gather per pool.
    let mut by_pool: std::collections::HashMap<i64, Vec<MemberView>> = std::collections::HashMap::with_capacity(rows.len());
    for member in pools::members_of(conn, page_ids)? {
        by_pool.entry(member.pool_id).or_default().push(MemberView::from_row(member));
    }
    for row in rows {
        summaries.push(PoolSummary {
            id: row.pool.id,
            name: row.pool.name,
            enterprise_id: row.pool.enterprise_id,
            enterprise_name: row.enterprise_name,
            active: row.pool.active,
            version: row.pool.version,
            members: by_pool.remove(&row.pool.id).unwrap_or_default(),
            enterprise_activated: 0,
        });
    }
    let mut listed: Vec<i64> = summaries.iter().map(|p| p.enterprise_id).collect();
    listed.sort_unstable();
    listed.dedup();
    let counts = numbers::activated_counts(conn, &listed)?;
    for summary in &mut summaries {
        summary.enterprise_activated = counts.iter().find(|(e, _)| *e == Some(summary.enterprise_id)).map(|(_, n)| *n).unwrap_or_default();
    }
    let enterprises = if actor.scope.is_aggregator() { enterprises_in_scope(conn, actor)? } else { Vec::new() };
    Ok(PoolListing { pools: summaries, total, page, pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1), enterprises, enterprise_filter, q, status })
}

// ------------------------------------------------------------- the form

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
            status: NumberStatus::parse(&row.status).unwrap_or(NumberStatus::Pending),
            quality: QualityRating::parse(&row.quality_rating),
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
}

pub fn edit_pool_context(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<EditPoolContext, ServiceError> {
    require_channel_admin(actor)?;
    let (pool, enterprise) = pool_in_scope(conn, actor, id)?;
    let member_ids = pools::member_slots(conn, pool.id)?.into_iter().map(|m| m.number_id).collect();
    let form = form_context(conn, actor, Some(enterprise), Some(&pool))?;
    Ok(EditPoolContext { pool, member_ids, form })
}

fn pool_in_scope(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<(PoolRow, EnterpriseRow), ServiceError> {
    let pool = pools::find(conn, id.get())?.ok_or(ServiceError::NotFound)?;
    let enterprise = enterprise_in_scope(conn, actor, EnterpriseId(pool.enterprise_id))?;
    Ok((pool, enterprise))
}

// ---------------------------------------------------------------- writes

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
            status: NumberStatus::parse(&row.status).unwrap_or(NumberStatus::Pending),
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
        for member in members.iter().filter(|m| m.status != NumberStatus::Activated.as_str()) {
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

/// Sends of one member over the last 24 hours.
#[derive(Debug, Clone)]
pub struct MemberSends {
    pub display: String,
    pub sent: i64,
    pub failed: i64,
    /// Bar length out of 100, against the busiest member.
    pub bar: i64,
}

/// The detail page's send figures: per member over 24 hours, and recent failures.
pub struct PoolActivity {
    pub per_member: Vec<MemberSends>,
    pub failures: Vec<crate::store::routing::FailureRow>,
}

pub fn pool_activity(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<PoolActivity, ServiceError> {
    let summary = pool_detail(conn, actor, id)?;
    let since = crate::store::now() - chrono::Duration::hours(24);
    let counts = crate::store::routing::sends_since(conn, summary.id, since)?;
    let mut per_member: Vec<MemberSends> = summary
        .members
        .iter()
        .map(|m| {
            let count = |status: &str| {
                counts
                    .iter()
                    .filter(|(n, s, _)| *n == Some(m.number_id) && (s == status || (status == "sent" && s != "failed")))
                    .map(|(_, _, c)| *c)
                    .sum()
            };
            MemberSends { display: m.display.clone(), sent: count("sent"), failed: count("failed"), bar: 0 }
        })
        .collect();
    let busiest = per_member.iter().map(|m| m.sent).max().unwrap_or(0).max(1);
    for m in &mut per_member {
        m.bar = m.sent * 100 / busiest;
    }
    let failures = crate::store::routing::recent_failures(conn, summary.id, 10)?;
    Ok(PoolActivity { per_member, failures })
}

/// The detail page: the pool, its enterprise and members.
pub fn pool_detail(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<PoolSummary, ServiceError> {
    require_channel_admin(actor)?;
    let (pool, enterprise) = pool_in_scope(conn, actor, id)?;
    let members = pools::members_of(conn, &[pool.id])?.into_iter().map(MemberView::from_row).collect();
    let enterprise_activated = numbers::count_activated(conn, enterprise.id)?;
    Ok(PoolSummary {
        id: pool.id,
        name: pool.name,
        enterprise_id: enterprise.id,
        enterprise_name: enterprise.name,
        active: pool.active,
        version: pool.version,
        members,
        enterprise_activated,
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

/// Re-keys the pool names stored before keys were NFKC-normalised, once
/// after the upgrade that asks for it, in one transaction. Two old names
/// that now share a key both stay; the later one gets a key of its own
/// (its key, a U+0001 no name can hold, and its id), and a warning names it.
pub fn rekey_names_if_pending(conn: &mut DbConnection) -> Result<usize, ServiceError> {
    write_transaction(conn, |conn| {
        if !pools::take_pending_upgrade(conn, "pool_name_keys")? {
            return Ok(0);
        }
        let rows = pools::all_name_keys(conn)?;
        let mut taken: std::collections::HashSet<(i64, String)> = std::collections::HashSet::new();
        let mut changed = 0;
        for (id, enterprise_id, name, old_key) in rows {
            let mut key = crate::domain::pool_name::key_of(&name);
            if key.chars().count() > crate::domain::pool_name::MAX_KEY_CHARS || taken.contains(&(enterprise_id, key.clone())) {
                tracing::warn!(pool = id, enterprise = enterprise_id, %name, "pool name looks like another of its enterprise; kept under its own key");
                key = format!("{}\u{1}{id}", key.chars().take(200).collect::<String>());
            }
            if key != old_key {
                pools::set_name_key(conn, id, &key)?;
                changed += 1;
            }
            taken.insert((enterprise_id, key));
        }
        Ok(changed)
    })
}
