//! WABA Pools and their members.

use diesel::prelude::*;

use crate::db::schema::{enterprises, numbers, pool_members, pools, wabas};
use crate::db::{DbConnection, MultiBackend};
use crate::domain::{NumberStatus, QualityRating, WabaStatus};

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
    let statement = super::prepared::RenamePoolIfCurrent {
        id: &id,
        expected_version: &expected_version,
        next_version: &(expected_version + 1),
        name,
        name_key,
        at: &super::now(),
    };
    let changed = statement.execute(conn)?;
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
    /// Digits of a phone number: a pool also matches when one of its
    /// members' E.164 numbers holds them.
    pub phone_digits: Option<String>,
    pub active: Option<bool>,
    pub order: ListOrder,
}

/// The listing's order: by name unless a column is chosen; ties by name, then id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    #[default]
    Name,
    NameDescending,
    Enterprise,
    EnterpriseDescending,
    ActiveFirst,
    InactiveFirst,
}

#[derive(Debug, Clone, Queryable)]
pub struct PoolListRow {
    pub pool: PoolRow,
    pub enterprise_name: String,
}

/// How many ids one fixed-shape statement takes (see [`each_of`]): a listing page.
pub const BATCH: usize = 50;

/// Splits ids into batches of exactly [`BATCH`], the last one padded with 0,
/// which no row has. diesel writes `eq_any` as `IN (?, …)` with one parameter
/// per value and never caches that statement, so SQLite would compile it anew
/// for every page; a statement of `BATCH` parameters has one SQL text and
/// stays prepared in the connection's cache.
pub(super) fn each_of(ids: &[i64]) -> impl Iterator<Item = [i64; BATCH]> + '_ {
    ids.chunks(BATCH).map(|chunk| {
        let mut batch = [0_i64; BATCH];
        batch[..chunk.len()].copy_from_slice(chunk);
        batch
    })
}

/// The pools joined to their enterprises, as the listing filters them.
type Listed<'a> = diesel::dsl::IntoBoxed<'a, diesel::dsl::InnerJoin<pools::table, enterprises::table>, MultiBackend>;

/// How the database is to find an aggregator's pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// From the aggregator's enterprises: right for a count.
    FromEnterprises,
    /// Along the pools in name order, checking each one's enterprise, so
    /// that a page stops after its rows. SQLite, without statistics, would
    /// otherwise start from the aggregator's enterprises and sort all of
    /// its pools for every page; `+ 0` keeps it off that index.
    ByName,
}

/// The pools that the scope and filters match, in no order yet.
fn matching(scope: ListScope, filter: &ListFilter, walk: Walk) -> Listed<'static> {
    let mut query = pools::table.inner_join(enterprises::table).into_boxed();
    query = match (scope, walk) {
        (ListScope::Enterprise(id), _) => query.filter(pools::enterprise_id.eq(id)),
        (ListScope::Aggregator(id), Walk::FromEnterprises) => query.filter(enterprises::aggregator_id.eq(id)),
        (ListScope::Aggregator(id), Walk::ByName) => query.filter((enterprises::aggregator_id + 0_i64).eq(id)),
    };
    if let Some(id) = filter.enterprise_id {
        query = query.filter(pools::enterprise_id.eq(id));
    }
    match (&filter.name_contains, &filter.phone_digits) {
        (Some(needle), Some(digits)) => {
            let by_phone =
                pool_members::table.inner_join(numbers::table).filter(numbers::e164.like(format!("%{digits}%"))).select(pool_members::pool_id);
            query = query.filter(pools::name_key.like(super::like_pattern(&needle.to_lowercase())).escape('\\').or(pools::id.eq_any(by_phone)));
        }
        (Some(needle), None) => query = query.filter(pools::name_key.like(super::like_pattern(&needle.to_lowercase())).escape('\\')),
        (None, _) => {}
    }
    if let Some(active) = filter.active {
        query = query.filter(pools::active.eq(active));
    }
    query
}

/// How many pools the scope and filters match: the listing's total.
pub fn count_matching(conn: &mut DbConnection, scope: ListScope, filter: &ListFilter) -> QueryResult<i64> {
    matching(scope, filter, Walk::FromEnterprises).count().get_result(conn)
}

/// The ids of `limit` matching pools from `offset` on, in listing order
/// (the chosen column, then name, then id): one page, read by the database
/// from the indexes on the order's columns, never every match.
pub fn page_of_ids(conn: &mut DbConnection, scope: ListScope, filter: &ListFilter, offset: i64, limit: i64) -> QueryResult<Vec<i64>> {
    let by_name = matches!(filter.order, ListOrder::Name | ListOrder::NameDescending);
    let walk = if by_name && matches!(conn, DbConnection::Sqlite(_)) { Walk::ByName } else { Walk::FromEnterprises };
    let query = matching(scope, filter, walk);
    let query = match filter.order {
        ListOrder::Name => query.order((pools::name_key.asc(), pools::id.asc())),
        ListOrder::NameDescending => query.order((pools::name_key.desc(), pools::id.desc())),
        ListOrder::Enterprise => query.order((enterprises::name.asc(), pools::name_key.asc(), pools::id.asc())),
        ListOrder::EnterpriseDescending => query.order((enterprises::name.desc(), pools::name_key.asc(), pools::id.asc())),
        ListOrder::ActiveFirst => query.order((pools::active.desc(), pools::name_key.asc(), pools::id.asc())),
        ListOrder::InactiveFirst => query.order((pools::active.asc(), pools::name_key.asc(), pools::id.asc())),
    };
    query.select(pools::id).offset(offset).limit(limit).load(conn)
}

/// The listed pools with their enterprise's name, in the order of `ids`.
pub fn listed(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<PoolListRow>> {
    let mut rows: Vec<PoolListRow> = Vec::with_capacity(ids.len());
    for batch in each_of(ids) {
        let mut query = pools::table.inner_join(enterprises::table).select((PoolRow::as_select(), enterprises::name)).into_boxed();
        for id in batch {
            query = query.or_filter(pools::id.eq(id));
        }
        rows.extend(query.load::<PoolListRow>(conn)?);
    }
    let position = |id: i64| ids.iter().position(|i| *i == id).unwrap_or(usize::MAX);
    rows.sort_by_key(|row| position(row.pool.id));
    Ok(rows)
}

/// A member number as the listing and pages show it.
#[derive(Debug, Clone, Queryable)]
pub struct MemberRow {
    pub pool_id: i64,
    pub number_id: i64,
    pub display_phone_number: String,
    pub verified_name: String,
    pub status: NumberStatus,
    pub quality_rating: QualityRating,
    pub out_of_rotation_since: Option<chrono::NaiveDateTime>,
    pub waba_status: WabaStatus,
    pub waba_status_changed_at: Option<chrono::NaiveDateTime>,
    pub waba_status_reason: Option<String>,
}

/// The members of several pools, by pool and slot, in one fixed-shape
/// statement per [`BATCH`] pools.
pub fn members_of(conn: &mut DbConnection, pool_ids: &[i64]) -> QueryResult<Vec<MemberRow>> {
    let mut members = Vec::new();
    for batch in each_of(pool_ids) {
        let mut query = pool_members::table
            .inner_join(numbers::table)
            .inner_join(wabas::table.on(wabas::id.eq(numbers::waba_id)))
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
            .into_boxed();
        for id in batch {
            query = query.or_filter(pool_members::pool_id.eq(id));
        }
        members.extend(query.order((pool_members::pool_id.asc(), pool_members::slot.asc())).load::<MemberRow>(conn)?);
    }
    Ok(members)
}

/// The pool a number sits in, if any (R6: at most one).
pub fn pool_of_number(conn: &mut DbConnection, number_id: i64) -> QueryResult<Option<i64>> {
    pool_members::table.filter(pool_members::number_id.eq(number_id)).select(pool_members::pool_id).get_result(conn).optional()
}

/// Every pool's id, enterprise, name and name key, by id: for re-keying names.
pub fn all_name_keys(conn: &mut DbConnection) -> QueryResult<Vec<(i64, i64, String, String)>> {
    pools::table.order(pools::id.asc()).select((pools::id, pools::enterprise_id, pools::name, pools::name_key)).load(conn)
}

/// Replaces one pool's name key.
pub fn set_name_key(conn: &mut DbConnection, id: i64, name_key: &str) -> QueryResult<()> {
    diesel::update(pools::table.find(id)).set(pools::name_key.eq(name_key)).execute(conn).map(|_| ())
}

/// Takes a one-off upgrade step left by a migration; answers whether it
/// was still pending (so exactly one instance of many does it).
pub fn take_pending_upgrade(conn: &mut DbConnection, name: &str) -> QueryResult<bool> {
    use crate::db::schema::pending_upgrades;
    diesel::delete(pending_upgrades::table.filter(pending_upgrades::name.eq(name))).execute(conn).map(|taken| taken > 0)
}

#[cfg(test)]
mod tests {
    use super::{BATCH, each_of};

    #[test]
    fn ids_go_in_whole_batches_padded_with_an_id_no_row_has() {
        let ids: Vec<i64> = (1..=(BATCH as i64 + 3)).collect();

        let batches: Vec<[i64; BATCH]> = each_of(&ids).collect();

        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].to_vec(), ids[..BATCH].to_vec());
        assert_eq!(batches[1][..3], ids[BATCH..]);
        assert!(batches[1][3..].iter().all(|id| *id == 0));
    }

    #[test]
    fn no_ids_make_no_batch() {
        assert_eq!(each_of(&[]).count(), 0);
    }
}
