//! Routing state: a pool's strategy and pointer, its members' settings and
//! health, sticky senders, service windows and the send log.

use diesel::prelude::*;

use super::prepared;
use crate::db::DbConnection;
use crate::db::schema::{messages, numbers, pool_members, pools, service_windows, sticky_senders, wabas};
use crate::domain::{NumberStatus, QualityRating, ThroughputLevel, WabaStatus};

#[derive(Debug, Clone, Queryable)]
pub struct PoolRouting {
    pub id: i64,
    pub enterprise_id: i64,
    pub name: String,
    pub active: bool,
    pub strategy: String,
    pub strict_routing: bool,
    pub rr_pointer: i32,
}

pub fn pool(conn: &mut DbConnection, id: i64) -> QueryResult<Option<PoolRouting>> {
    pools::table
        .find(id)
        .select((pools::id, pools::enterprise_id, pools::name, pools::active, pools::strategy, pools::strict_routing, pools::rr_pointer))
        .get_result(conn)
        .optional()
}

#[derive(Debug, Clone, Queryable)]
pub struct MemberState {
    pub number_id: i64,
    pub slot: i32,
    pub priority: i32,
    pub weight: i32,
    pub region_tags: String,
    pub department_tags: String,
    pub current_weight: i64,
    pub cooldown_until: Option<chrono::NaiveDateTime>,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub status: NumberStatus,
    pub quality_rating: QualityRating,
    pub throughput_level: Option<ThroughputLevel>,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: i64,
    pub waba_status: WabaStatus,
    pub waba_out_of_rotation_until: Option<chrono::NaiveDateTime>,
    /// The second (Unix time) `sent_in_second` counts, and its count.
    pub sent_second: i64,
    pub sent_in_second: i32,
}

impl MemberState {
    /// Sends this member made or reserved in the second `now_second`.
    pub fn sent_during(&self, now_second: i64) -> i64 {
        if self.sent_second == now_second { i64::from(self.sent_in_second) } else { 0 }
    }
}

pub fn members(conn: &mut DbConnection, pool_id: i64) -> QueryResult<Vec<MemberState>> {
    pool_members::table
        .inner_join(numbers::table.inner_join(wabas::table))
        .filter(pool_members::pool_id.eq(pool_id))
        .order(pool_members::slot.asc())
        .select((
            pool_members::number_id,
            pool_members::slot,
            pool_members::priority,
            pool_members::weight,
            pool_members::region_tags,
            pool_members::department_tags,
            pool_members::current_weight,
            pool_members::cooldown_until,
            pool_members::last_used_at,
            numbers::status,
            numbers::quality_rating,
            numbers::throughput_level,
            numbers::phone_number_id,
            numbers::display_phone_number,
            wabas::id,
            wabas::status,
            wabas::out_of_rotation_until,
            pool_members::sent_second,
            pool_members::sent_in_second,
        ))
        .load(conn)
}

/// Counts one send of `number_id` in the second `now_second` if the member
/// has sent fewer than `limit` in it (a new second starts the count again);
/// false when the member is full.
pub fn reserve_send(conn: &mut DbConnection, pool_id: i64, number_id: i64, now_second: i64, limit: i64) -> QueryResult<bool> {
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    prepared::ReserveSend { pool_id: &pool_id, number_id: &number_id, now_second: &now_second, limit: &limit }.execute(conn).map(|rows| rows == 1)
}

pub fn sticky(conn: &mut DbConnection, pool_id: i64, recipient: &str) -> QueryResult<Option<i64>> {
    sticky_senders::table
        .filter(sticky_senders::pool_id.eq(pool_id))
        .filter(sticky_senders::recipient.eq(recipient))
        .select(sticky_senders::number_id)
        .get_result(conn)
        .optional()
}

pub fn set_sticky(conn: &mut DbConnection, pool_id: i64, recipient: &str, number_id: i64) -> QueryResult<()> {
    let moved = diesel::update(sticky_senders::table.filter(sticky_senders::pool_id.eq(pool_id)).filter(sticky_senders::recipient.eq(recipient)))
        .set((sticky_senders::number_id.eq(number_id), sticky_senders::updated_at.eq(super::now())))
        .execute(conn)?;
    if moved > 0 {
        return Ok(());
    }
    insert_sticky(conn, pool_id, recipient, number_id)
}

fn insert_sticky(conn: &mut DbConnection, pool_id: i64, recipient: &str, number_id: i64) -> QueryResult<()> {
    diesel::insert_into(sticky_senders::table)
        .values((
            sticky_senders::pool_id.eq(pool_id),
            sticky_senders::recipient.eq(recipient),
            sticky_senders::number_id.eq(number_id),
            sticky_senders::updated_at.eq(super::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The numbers with an open service window with `recipient`.
pub fn open_windows(conn: &mut DbConnection, recipient: &str) -> QueryResult<Vec<i64>> {
    service_windows::table
        .filter(service_windows::recipient.eq(recipient))
        .filter(service_windows::expires_at.gt(super::now()))
        .select(service_windows::number_id)
        .load(conn)
}

/// Opens (or extends) the 24-hour window a user opened by writing in.
pub fn open_window(conn: &mut DbConnection, number_id: i64, recipient: &str, expires_at: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::delete(service_windows::table.filter(service_windows::number_id.eq(number_id)).filter(service_windows::recipient.eq(recipient)))
        .execute(conn)?;
    diesel::insert_into(service_windows::table)
        .values((service_windows::number_id.eq(number_id), service_windows::recipient.eq(recipient), service_windows::expires_at.eq(expires_at)))
        .execute(conn)
        .map(|_| ())
}

/// Moves the pool's round robin pointer from `expected` to `slot` only if no
/// other send moved it first; false means the caller decided on a stale turn.
pub fn take_turn(conn: &mut DbConnection, pool_id: i64, expected: i32, slot: i32) -> QueryResult<bool> {
    prepared::TakeTurn { pool_id: &pool_id, expected: &expected, slot: &slot }.execute(conn).map(|rows| rows == 1)
}

/// Takes the pool's row lock for the rest of the transaction, so that the
/// routing writes of simultaneous sends on one pool queue instead of
/// deadlocking on its members' rows (SQLite's immediate transactions
/// queue them already).
pub fn lock_pool(conn: &mut DbConnection, pool_id: i64) -> QueryResult<()> {
    diesel::update(pools::table.find(pool_id)).set(pools::rr_pointer.eq(pools::rr_pointer)).execute(conn).map(|_| ())
}

pub fn current_pointer(conn: &mut DbConnection, pool_id: i64) -> QueryResult<i32> {
    pools::table.find(pool_id).select(pools::rr_pointer).get_result(conn)
}

pub fn record_success(conn: &mut DbConnection, pool_id: i64, number_id: i64) -> QueryResult<()> {
    prepared::RecordSuccess { pool_id: &pool_id, number_id: &number_id, at: &super::now() }.execute(conn).map(|_| ())
}

pub fn set_current_weight(conn: &mut DbConnection, pool_id: i64, number_id: i64, weight: i64) -> QueryResult<()> {
    diesel::update(pool_members::table.filter(pool_members::pool_id.eq(pool_id)).filter(pool_members::number_id.eq(number_id)))
        .set(pool_members::current_weight.eq(weight))
        .execute(conn)
        .map(|_| ())
}

pub fn cool_down(conn: &mut DbConnection, pool_id: i64, number_id: i64, until: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::update(pool_members::table.filter(pool_members::pool_id.eq(pool_id)).filter(pool_members::number_id.eq(number_id)))
        .set(pool_members::cooldown_until.eq(Some(until)))
        .execute(conn)
        .map(|_| ())
}

pub fn waba_out_of_rotation(conn: &mut DbConnection, waba_id: i64, until: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::update(wabas::table.find(waba_id)).set(wabas::out_of_rotation_until.eq(Some(until))).execute(conn).map(|_| ())
}

pub struct NewMessage<'a> {
    pub pool_id: i64,
    pub enterprise_id: i64,
    pub api_key_id: Option<i64>,
    pub number_id: Option<i64>,
    pub recipient: &'a str,
    pub message_type: &'a str,
    pub status: &'a str,
    pub wamid: Option<&'a str>,
    pub error_code: Option<i64>,
    pub attempts: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub response: &'a str,
}

pub fn insert_message(conn: &mut DbConnection, m: &NewMessage<'_>) -> QueryResult<i64> {
    let now = super::now();
    diesel::insert_into(messages::table)
        .values((
            messages::pool_id.eq(m.pool_id),
            messages::enterprise_id.eq(m.enterprise_id),
            messages::api_key_id.eq(m.api_key_id),
            messages::number_id.eq(m.number_id),
            messages::recipient.eq(m.recipient),
            messages::message_type.eq(m.message_type),
            messages::status.eq(m.status),
            messages::wamid.eq(m.wamid),
            messages::error_code.eq(m.error_code),
            messages::attempts.eq(m.attempts),
            messages::idempotency_key.eq(m.idempotency_key),
            messages::response.eq(m.response),
            messages::created_at.eq(now),
            messages::updated_at.eq(now),
        ))
        .returning(messages::id)
        .get_result(conn)
}

pub fn set_response(conn: &mut DbConnection, id: i64, response: &str) -> QueryResult<()> {
    diesel::update(messages::table.find(id)).set(messages::response.eq(response)).execute(conn).map(|_| ())
}

/// The stored answer of an earlier request with the same idempotency key.
pub fn idempotent_answer(conn: &mut DbConnection, enterprise_id: i64, key: &str) -> QueryResult<Option<String>> {
    messages::table
        .filter(messages::enterprise_id.eq(enterprise_id))
        .filter(messages::idempotency_key.eq(key))
        .select(messages::response)
        .get_result(conn)
        .optional()
}

/// A delivery status from Meta's webhook, by wamid.
pub fn set_status_by_wamid(conn: &mut DbConnection, wamid: &str, status: &str, error_code: Option<i64>) -> QueryResult<usize> {
    prepared::SetStatusByWamid { wamid, status, error_code: &error_code, at: &super::now() }.execute(conn)
}

/// Stores a pool's strategy and strict flag.
pub fn set_pool_routing(conn: &mut DbConnection, pool_id: i64, strategy: &str, strict: bool) -> QueryResult<()> {
    diesel::update(pools::table.find(pool_id))
        .set((pools::strategy.eq(strategy), pools::strict_routing.eq(strict), pools::updated_at.eq(super::now())))
        .execute(conn)
        .map(|_| ())
}

/// Stores one member's routing settings.
pub fn set_member_routing(
    conn: &mut DbConnection,
    pool_id: i64,
    number_id: i64,
    priority: i32,
    weight: i32,
    regions: &str,
    departments: &str,
) -> QueryResult<()> {
    diesel::update(pool_members::table.filter(pool_members::pool_id.eq(pool_id)).filter(pool_members::number_id.eq(number_id)))
        .set((
            pool_members::priority.eq(priority),
            pool_members::weight.eq(weight),
            pool_members::region_tags.eq(regions),
            pool_members::department_tags.eq(departments),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Sends per member and outcome since a moment.
pub fn sends_since(conn: &mut DbConnection, pool_id: i64, since: chrono::NaiveDateTime) -> QueryResult<Vec<(Option<i64>, String, i64)>> {
    messages::table
        .filter(messages::pool_id.eq(pool_id))
        .filter(messages::created_at.gt(since))
        .group_by((messages::number_id, messages::status))
        .select((messages::number_id, messages::status, diesel::dsl::count_star()))
        .load(conn)
}

#[derive(Debug, Clone, Queryable)]
pub struct FailureRow {
    pub created_at: chrono::NaiveDateTime,
    pub recipient: String,
    pub error_code: Option<i64>,
    pub attempts: String,
}

/// The newest failed sends of a pool.
pub fn recent_failures(conn: &mut DbConnection, pool_id: i64, limit: i64) -> QueryResult<Vec<FailureRow>> {
    messages::table
        .filter(messages::pool_id.eq(pool_id))
        .filter(messages::status.eq("failed"))
        .order(messages::id.desc())
        .limit(limit)
        .select((messages::created_at, messages::recipient, messages::error_code, messages::attempts))
        .load(conn)
}

/// Makes `number_id` the recipient's sticky sender unless a send got there
/// first. One statement when the recipient is new: the insert does nothing
/// where a row is already there, on any instance, and the row there is
/// read then.
pub fn claim_sticky(conn: &mut DbConnection, pool_id: i64, recipient: &str, number_id: i64) -> QueryResult<StickyClaim> {
    let inserted = prepared::ClaimSticky { pool_id: &pool_id, recipient, number_id: &number_id, at: &super::now() }.execute(conn)?;
    if inserted == 1 {
        return Ok(StickyClaim::Claimed);
    }
    Ok(match sticky(conn, pool_id, recipient)? {
        Some(holder) => StickyClaim::HeldBy(holder),
        // Not reached: a claim is never given back.
        None => StickyClaim::HeldBy(number_id),
    })
}

/// What a claim of a recipient found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickyClaim {
    /// The recipient is now this send's member's.
    Claimed,
    /// Another send claimed the recipient first, for this member.
    HeldBy(i64),
}
