//! WABA Pools and their members.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{enterprises, numbers, pool_members, pools, wabas};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pools)]
pub struct PoolRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub waba_id: i64,
    pub name: String,
    pub active: bool,
    pub version: i64,
}

pub struct NewPool<'a> {
    pub enterprise_id: i64,
    pub waba_id: i64,
    pub name: &'a str,
    pub name_key: &'a str,
}

pub fn insert(conn: &mut DbConnection, pool: &NewPool<'_>) -> QueryResult<i64> {
    let now = super::now();
    diesel::insert_into(pools::table)
        .values((
            pools::enterprise_id.eq(pool.enterprise_id),
            pools::waba_id.eq(pool.waba_id),
            pools::name.eq(pool.name),
            pools::name_key.eq(pool.name_key),
            pools::active.eq(true),
            pools::version.eq(1_i64),
            pools::created_at.eq(now),
            pools::updated_at.eq(now),
        ))
        .returning(pools::id)
        .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<PoolRow>> {
    pools::table.find(id).select(PoolRow::as_select()).get_result(conn).optional()
}

/// Whether another pool of the enterprise already has this name key (R7).
pub fn name_taken(conn: &mut DbConnection, enterprise_id: i64, name_key: &str, except: Option<i64>) -> QueryResult<bool> {
    let mut query = pools::table.filter(pools::enterprise_id.eq(enterprise_id)).filter(pools::name_key.eq(name_key)).into_boxed();
    if let Some(id) = except {
        query = query.filter(pools::id.ne(id));
    }
    let count: i64 = query.count().get_result(conn)?;
    Ok(count > 0)
}

/// Renames a pool and moves it to the next version, only if it is still
/// at `expected_version` (R9). Returns whether it was.
pub fn update_if_current(conn: &mut DbConnection, id: i64, expected_version: i64, name: &str, name_key: &str) -> QueryResult<bool> {
    let changed = diesel::update(pools::table.filter(pools::id.eq(id)).filter(pools::version.eq(expected_version)))
        .set((pools::name.eq(name), pools::name_key.eq(name_key), pools::version.eq(expected_version + 1), pools::updated_at.eq(super::now())))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Switches a pool on or off and moves it to the next version.
pub fn set_active(conn: &mut DbConnection, id: i64, active: bool) -> QueryResult<()> {
    diesel::update(pools::table.find(id))
        .set((pools::active.eq(active), pools::version.eq(pools::version + 1_i64), pools::updated_at.eq(super::now())))
        .execute(conn)
        .map(|_| ())
}

/// The display numbers of one pool's members in slot order: one fixed
/// statement, so the connection's statement cache keeps it prepared.
pub fn member_displays(conn: &mut DbConnection, pool_id: i64) -> QueryResult<Vec<String>> {
    pool_members::table
        .inner_join(numbers::table)
        .filter(pool_members::pool_id.eq(pool_id))
        .order(pool_members::slot.asc())
        .select(numbers::display_phone_number)
        .load(conn)
}

/// A pool's member as an edit sees it.
#[derive(Debug, Clone, Queryable)]
pub struct MemberSlot {
    pub number_id: i64,
    pub slot: i32,
    pub display_phone_number: String,
}

/// The member numbers, their slots and display numbers, in slot order.
pub fn member_slots(conn: &mut DbConnection, pool_id: i64) -> QueryResult<Vec<MemberSlot>> {
    pool_members::table
        .inner_join(numbers::table)
        .filter(pool_members::pool_id.eq(pool_id))
        .order(pool_members::slot.asc())
        .select((pool_members::number_id, pool_members::slot, numbers::display_phone_number))
        .load(conn)
}

/// Inserts members row by row: at most ten, and the multi-backend
/// connection has no batch insert.
pub fn insert_members(conn: &mut DbConnection, pool: &PoolRow, members: &[(i64, i32)]) -> QueryResult<()> {
    let now = super::now();
    for (number_id, slot) in members {
        diesel::insert_into(pool_members::table)
            .values((
                pool_members::pool_id.eq(pool.id),
                pool_members::number_id.eq(*number_id),
                pool_members::waba_id.eq(pool.waba_id),
                pool_members::enterprise_id.eq(pool.enterprise_id),
                pool_members::slot.eq(*slot),
                pool_members::added_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete_members(conn: &mut DbConnection, pool_id: i64, number_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(pool_members::table.filter(pool_members::pool_id.eq(pool_id)).filter(pool_members::number_id.eq_any(number_ids.to_vec())))
        .execute(conn)
        .map(|_| ())
}

/// Which enterprises a listing covers.
#[derive(Debug, Clone, Copy)]
pub enum ListScope {
    Enterprise(i64),
    Aggregator(i64),
}

/// The listing's filters, already checked.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub enterprise_id: Option<i64>,
    pub name_contains: Option<String>,
    pub active: Option<bool>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Queryable)]
pub struct PoolListRow {
    pub pool: PoolRow,
    pub enterprise_name: String,
}

/// One page of pools and the total that match.
pub fn list(conn: &mut DbConnection, scope: ListScope, filter: &ListFilter) -> QueryResult<(Vec<PoolListRow>, i64)> {
    let build = || {
        let mut query = pools::table.inner_join(enterprises::table).into_boxed();
        query = match scope {
            ListScope::Enterprise(id) => query.filter(pools::enterprise_id.eq(id)),
            ListScope::Aggregator(id) => query.filter(enterprises::aggregator_id.eq(id)),
        };
        if let Some(id) = filter.enterprise_id {
            query = query.filter(pools::enterprise_id.eq(id));
        }
        if let Some(needle) = &filter.name_contains {
            query = query.filter(pools::name_key.like(super::like_pattern(&needle.to_lowercase())).escape('\\'));
        }
        if let Some(active) = filter.active {
            query = query.filter(pools::active.eq(active));
        }
        query
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows = build()
        .order((pools::name_key.asc(), pools::id.asc()))
        .offset(filter.offset)
        .limit(filter.limit)
        .select((PoolRow::as_select(), enterprises::name))
        .load(conn)?;
    Ok((rows, total))
}

/// A member number as the listing and pages show it.
#[derive(Debug, Clone, Queryable)]
pub struct MemberRow {
    pub pool_id: i64,
    pub number_id: i64,
    pub display_phone_number: String,
    pub verified_name: String,
    pub status: String,
    pub quality_rating: String,
    pub out_of_rotation_since: Option<chrono::NaiveDateTime>,
    pub waba_status: String,
    pub waba_status_changed_at: Option<chrono::NaiveDateTime>,
    pub waba_status_reason: Option<String>,
}

/// The members of several pools in one query, by pool and slot.
pub fn members_of(conn: &mut DbConnection, pool_ids: &[i64]) -> QueryResult<Vec<MemberRow>> {
    if pool_ids.is_empty() {
        return Ok(Vec::new());
    }
    pool_members::table
        .inner_join(numbers::table.inner_join(wabas::table))
        .filter(pool_members::pool_id.eq_any(pool_ids.to_vec()))
        .order((pool_members::pool_id.asc(), pool_members::slot.asc()))
        .select((
            pool_members::pool_id,
            pool_members::number_id,
            numbers::display_phone_number,
            numbers::verified_name,
            numbers::status,
            numbers::quality_rating,
            numbers::out_of_rotation_since,
            wabas::status,
            wabas::status_changed_at,
            wabas::status_reason,
        ))
        .load(conn)
}

/// The pool a number sits in, if any (R6: at most one).
pub fn pool_of_number(conn: &mut DbConnection, number_id: i64) -> QueryResult<Option<i64>> {
    pool_members::table.filter(pool_members::number_id.eq(number_id)).select(pool_members::pool_id).get_result(conn).optional()
}
