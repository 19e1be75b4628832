//! Event endpoints, the outbox of events, their deliveries and each
//! delivery's attempts (DESIGN.md section 14).

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{event_attempts, event_deliveries, event_endpoints, events};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = event_endpoints)]
pub struct EndpointRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub url: String,
    pub description: String,
    pub event_types: String,
    pub pool_ids: String,
    pub secret_ciphertext: Vec<u8>,
    pub secret_key_id: String,
    pub previous_ciphertext: Option<Vec<u8>>,
    pub previous_key_id: Option<String>,
    pub previous_until: Option<chrono::NaiveDateTime>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<chrono::NaiveDateTime>,
    pub created_at: chrono::NaiveDateTime,
}

pub struct NewEndpoint<'a> {
    pub enterprise_id: i64,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a str,
    pub pool_ids: &'a str,
    pub secret_ciphertext: Vec<u8>,
    pub secret_key_id: &'a str,
}

pub fn insert_endpoint(conn: &mut DbConnection, e: NewEndpoint<'_>) -> QueryResult<i64> {
    let now = super::now();
    diesel::insert_into(event_endpoints::table)
        .values((
            event_endpoints::enterprise_id.eq(e.enterprise_id),
            event_endpoints::url.eq(e.url),
            event_endpoints::description.eq(e.description),
            event_endpoints::event_types.eq(e.event_types),
            event_endpoints::pool_ids.eq(e.pool_ids),
            event_endpoints::secret_ciphertext.eq(e.secret_ciphertext),
            event_endpoints::secret_key_id.eq(e.secret_key_id),
            event_endpoints::enabled.eq(true),
            event_endpoints::created_at.eq(now),
            event_endpoints::updated_at.eq(now),
        ))
        .returning(event_endpoints::id)
        .get_result(conn)
}

pub fn find_endpoint(conn: &mut DbConnection, id: i64) -> QueryResult<Option<EndpointRow>> {
    event_endpoints::table.find(id).select(EndpointRow::as_select()).get_result(conn).optional()
}

pub fn endpoints_of(conn: &mut DbConnection, enterprise_ids: &[i64]) -> QueryResult<Vec<EndpointRow>> {
    event_endpoints::table
        .filter(event_endpoints::enterprise_id.eq_any(enterprise_ids))
        .order(event_endpoints::id.asc())
        .select(EndpointRow::as_select())
        .load(conn)
}

/// The enabled endpoints of an enterprise, each with its event types and pool filter.
pub fn subscribers(conn: &mut DbConnection, enterprise_id: i64) -> QueryResult<Vec<(i64, String, String)>> {
    event_endpoints::table
        .filter(event_endpoints::enterprise_id.eq(enterprise_id))
        .filter(event_endpoints::enabled.eq(true))
        .select((event_endpoints::id, event_endpoints::event_types, event_endpoints::pool_ids))
        .load(conn)
}

/// Enables or disables an endpoint; true when that changed it.
pub fn set_enabled(conn: &mut DbConnection, id: i64, enabled: bool, reason: Option<&str>) -> QueryResult<bool> {
    let at = super::now();
    let changed = diesel::update(event_endpoints::table.find(id).filter(event_endpoints::enabled.ne(enabled)))
        .set((
            event_endpoints::enabled.eq(enabled),
            event_endpoints::disabled_reason.eq(reason),
            event_endpoints::failing_since.eq(None::<chrono::NaiveDateTime>),
            event_endpoints::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Points an endpoint at another URL; true when that changed it.
pub fn set_url(conn: &mut DbConnection, id: i64, url: &str) -> QueryResult<bool> {
    let changed = diesel::update(event_endpoints::table.find(id).filter(event_endpoints::url.ne(url)))
        .set((event_endpoints::url.eq(url), event_endpoints::updated_at.eq(super::now())))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Replaces the secret; the one it replaces keeps signing until `previous_until`.
pub fn rotate_secret(
    conn: &mut DbConnection,
    id: i64,
    ciphertext: Vec<u8>,
    key_id: &str,
    previous: (Vec<u8>, String),
    previous_until: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(event_endpoints::table.find(id))
        .set((
            event_endpoints::secret_ciphertext.eq(ciphertext),
            event_endpoints::secret_key_id.eq(key_id),
            event_endpoints::previous_ciphertext.eq(Some(previous.0)),
            event_endpoints::previous_key_id.eq(Some(previous.1)),
            event_endpoints::previous_until.eq(Some(previous_until)),
            event_endpoints::updated_at.eq(super::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Notes a failed attempt: the endpoint's first failure since its last success.
pub fn note_failure(conn: &mut DbConnection, id: i64, at: chrono::NaiveDateTime) -> QueryResult<Option<chrono::NaiveDateTime>> {
    diesel::update(event_endpoints::table.find(id).filter(event_endpoints::failing_since.is_null()))
        .set(event_endpoints::failing_since.eq(Some(at)))
        .execute(conn)?;
    event_endpoints::table.find(id).select(event_endpoints::failing_since).get_result(conn)
}

/// Notes a success: the endpoint is no longer failing.
pub fn note_success(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    diesel::update(event_endpoints::table.find(id).filter(event_endpoints::failing_since.is_not_null()))
        .set(event_endpoints::failing_since.eq(None::<chrono::NaiveDateTime>))
        .execute(conn)
        .map(|_| ())
}

pub struct NewEvent<'a> {
    pub enterprise_id: i64,
    pub event_type: &'a str,
    pub pool_id: Option<i64>,
    pub message_id: Option<i64>,
    pub customer: Option<&'a str>,
    pub body: &'a str,
    pub created_at: chrono::NaiveDateTime,
}

pub fn insert_event(conn: &mut DbConnection, e: &NewEvent<'_>) -> QueryResult<i64> {
    diesel::insert_into(events::table)
        .values((
            events::enterprise_id.eq(e.enterprise_id),
            events::event_type.eq(e.event_type),
            events::pool_id.eq(e.pool_id),
            events::message_id.eq(e.message_id),
            events::customer.eq(e.customer),
            events::body.eq(e.body),
            events::created_at.eq(e.created_at),
        ))
        .returning(events::id)
        .get_result(conn)
}

pub fn insert_delivery(
    conn: &mut DbConnection,
    endpoint_id: i64,
    event_id: i64,
    customer: Option<&str>,
    at: chrono::NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(event_deliveries::table)
        .values((
            event_deliveries::endpoint_id.eq(endpoint_id),
            event_deliveries::event_id.eq(event_id),
            event_deliveries::customer.eq(customer),
            event_deliveries::state.eq("pending"),
            event_deliveries::attempts.eq(0),
            event_deliveries::next_attempt_at.eq(at),
            event_deliveries::created_at.eq(at),
        ))
        .returning(event_deliveries::id)
        .get_result(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub event_type: String,
    pub body: String,
    pub created_at: chrono::NaiveDateTime,
}

/// An enterprise's events after `after`, oldest first.
pub fn events_after(conn: &mut DbConnection, enterprise_id: i64, after: i64, limit: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::enterprise_id.eq(enterprise_id))
        .filter(events::id.gt(after))
        .filter(events::event_type.ne("endpoint.test"))
        .order(events::id.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// The `message.status` events of one message, oldest first.
pub fn events_of_message(conn: &mut DbConnection, message_id: i64) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::message_id.eq(message_id))
        .filter(events::event_type.eq("message.status"))
        .order(events::id.asc())
        .select(EventRow::as_select())
        .load(conn)
}

/// Pending, as a literal, so that the partial indexes of pending
/// deliveries serve the query (a bound value would not match them).
fn pending() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("event_deliveries.state = 'pending'")
}

/// Enabled endpoints with a delivery due now, at most `limit` of them.
pub fn endpoints_due(conn: &mut DbConnection, now: chrono::NaiveDateTime, limit: i64) -> QueryResult<Vec<i64>> {
    event_endpoints::table
        .filter(event_endpoints::enabled.eq(true))
        .filter(diesel::dsl::exists(
            event_deliveries::table
                .filter(event_deliveries::endpoint_id.eq(event_endpoints::id))
                .filter(pending())
                .filter(event_deliveries::next_attempt_at.le(now))
                .filter(event_deliveries::claimed_until.is_null().or(event_deliveries::claimed_until.lt(now))),
        ))
        .order(event_endpoints::id.asc())
        .limit(limit)
        .select(event_endpoints::id)
        .load(conn)
}

/// A delivery as the worker attempts it.
#[derive(Debug, Clone, Queryable)]
pub struct DueDelivery {
    pub id: i64,
    pub event_id: i64,
    pub attempts: i32,
    pub body: String,
    pub event_created_at: chrono::NaiveDateTime,
}

/// Claims up to `limit` of an endpoint's due deliveries until `until`:
/// each the oldest pending one of its customer, so that one customer's
/// events leave in order. On PostgreSQL the rows are locked and skipped by
/// other instances while claimed (`FOR UPDATE SKIP LOCKED`); SQLite's
/// writes run one at a time. Runs inside a write transaction.
pub fn claim(
    conn: &mut DbConnection,
    endpoint_id: i64,
    now: chrono::NaiveDateTime,
    until: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<DueDelivery>> {
    let earlier = diesel::alias!(event_deliveries as earlier);
    let due = event_deliveries::table
        .filter(event_deliveries::endpoint_id.eq(endpoint_id))
        .filter(pending())
        .filter(event_deliveries::next_attempt_at.le(now))
        .filter(event_deliveries::claimed_until.is_null().or(event_deliveries::claimed_until.lt(now)))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            earlier
                .filter(earlier.field(event_deliveries::endpoint_id).eq(endpoint_id))
                .filter(earlier.field(event_deliveries::customer).eq(event_deliveries::customer))
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("earlier.state = 'pending'"))
                .filter(earlier.field(event_deliveries::id).lt(event_deliveries::id)),
        )))
        .order(event_deliveries::id.asc())
        .limit(limit)
        .select(event_deliveries::id);
    let ids: Vec<i64> = match conn {
        DbConnection::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(lite) => due.load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(event_deliveries::table.filter(event_deliveries::id.eq_any(&ids)))
        .set(event_deliveries::claimed_until.eq(Some(until)))
        .execute(conn)?;
    event_deliveries::table
        .inner_join(events::table)
        .filter(event_deliveries::id.eq_any(&ids))
        .order(event_deliveries::id.asc())
        .select((event_deliveries::id, event_deliveries::event_id, event_deliveries::attempts, events::body, events::created_at))
        .load(conn)
}

/// What one attempt found.
pub struct AttemptRecord<'a> {
    pub delivery_id: i64,
    pub at: chrono::NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub answer: &'a str,
}

/// Settles an attempt: the delivery becomes `state` (retried at `next`
/// when pending) and the attempt is kept.
pub fn settle(conn: &mut DbConnection, attempt: &AttemptRecord<'_>, state: &str, next: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::update(event_deliveries::table.find(attempt.delivery_id))
        .set((
            event_deliveries::state.eq(state),
            event_deliveries::attempts.eq(event_deliveries::attempts + 1),
            event_deliveries::next_attempt_at.eq(next),
            event_deliveries::claimed_until.eq(None::<chrono::NaiveDateTime>),
            event_deliveries::last_attempt_at.eq(Some(attempt.at)),
            event_deliveries::last_status.eq(attempt.status_code),
        ))
        .execute(conn)?;
    diesel::insert_into(event_attempts::table)
        .values((
            event_attempts::delivery_id.eq(attempt.delivery_id),
            event_attempts::attempted_at.eq(attempt.at),
            event_attempts::status_code.eq(attempt.status_code),
            event_attempts::latency_ms.eq(attempt.latency_ms),
            event_attempts::answer.eq(attempt.answer),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Gives a delivery back unattempted (the worker stopped before it).
pub fn release(conn: &mut DbConnection, delivery_id: i64) -> QueryResult<()> {
    diesel::update(event_deliveries::table.find(delivery_id))
        .set(event_deliveries::claimed_until.eq(None::<chrono::NaiveDateTime>))
        .execute(conn)
        .map(|_| ())
}

/// Sends a delivery again from now: pending, due at once.
pub fn resend(conn: &mut DbConnection, delivery_id: i64) -> QueryResult<bool> {
    let at = super::now();
    let changed = diesel::update(event_deliveries::table.find(delivery_id).filter(event_deliveries::state.ne("pending")))
        .set((
            event_deliveries::state.eq("pending"),
            event_deliveries::next_attempt_at.eq(at),
            event_deliveries::claimed_until.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// A delivery with its event's type, read from the two joined.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = event_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    #[diesel(select_expression = events::event_type, select_expression_type = events::event_type)]
    pub event_type: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: chrono::NaiveDateTime,
    pub last_attempt_at: Option<chrono::NaiveDateTime>,
    pub last_status: Option<i32>,
    pub created_at: chrono::NaiveDateTime,
}

pub fn find_delivery(conn: &mut DbConnection, id: i64) -> QueryResult<Option<DeliveryRow>> {
    event_deliveries::table.inner_join(events::table).filter(event_deliveries::id.eq(id)).select(DeliveryRow::as_select()).get_result(conn).optional()
}

/// A page of an endpoint's deliveries, newest first, optionally of one
/// event type and one state, with the total that match.
pub fn deliveries_of(
    conn: &mut DbConnection,
    endpoint_id: i64,
    event_type: Option<&str>,
    state: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<DeliveryRow>, i64)> {
    let filtered = || {
        let mut query = event_deliveries::table.inner_join(events::table).filter(event_deliveries::endpoint_id.eq(endpoint_id)).into_boxed();
        if let Some(t) = event_type {
            query = query.filter(events::event_type.eq(t.to_owned()));
        }
        if let Some(s) = state {
            query = query.filter(event_deliveries::state.eq(s.to_owned()));
        }
        query
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered().order(event_deliveries::id.desc()).offset(offset).limit(limit).select(DeliveryRow::as_select()).load(conn)?;
    Ok((rows, total))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = event_attempts)]
pub struct AttemptRow {
    pub delivery_id: i64,
    pub attempted_at: chrono::NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub answer: String,
}

pub fn attempts_of(conn: &mut DbConnection, delivery_ids: &[i64]) -> QueryResult<Vec<AttemptRow>> {
    event_attempts::table
        .filter(event_attempts::delivery_id.eq_any(delivery_ids))
        .order(event_attempts::id.asc())
        .select(AttemptRow::as_select())
        .load(conn)
}

/// The states of a failing delivery once attempted: pending again after a
/// failed attempt, or failed for good. Counted as `state IN (…)` with
/// `attempts > 0`, so that the count walks the endpoint's deliveries of
/// those states only (its index on endpoint, state), never the delivered.
const FAILING_STATES: [&str; 2] = ["failed", "pending"];

/// Deliveries failing on each endpoint given: pending after a failed
/// attempt, or failed for good.
pub fn failing_counts(conn: &mut DbConnection, endpoint_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    event_deliveries::table
        .filter(event_deliveries::endpoint_id.eq_any(endpoint_ids))
        .filter(event_deliveries::state.eq_any(FAILING_STATES))
        .filter(event_deliveries::attempts.gt(0))
        .group_by(event_deliveries::endpoint_id)
        .select((event_deliveries::endpoint_id, diesel::dsl::count_star()))
        .load(conn)
}

/// Failing deliveries per enterprise of `enterprise_ids`, for the aggregator's overview.
pub fn failing_by_enterprise(conn: &mut DbConnection, enterprise_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    event_deliveries::table
        .inner_join(event_endpoints::table)
        .filter(event_endpoints::enterprise_id.eq_any(enterprise_ids))
        .filter(event_deliveries::state.eq_any(FAILING_STATES))
        .filter(event_deliveries::attempts.gt(0))
        .group_by(event_endpoints::enterprise_id)
        .select((event_endpoints::enterprise_id, diesel::dsl::count_star()))
        .load(conn)
}

/// The pools holding a number of `waba_id`, or the one holding `number_id`.
pub fn pools_touched(conn: &mut DbConnection, number_id: Option<i64>, waba_id: Option<i64>) -> QueryResult<Vec<i64>> {
    use crate::db::schema::pool_members;
    let mut query = pool_members::table.select(pool_members::pool_id).distinct().into_boxed();
    if let Some(number_id) = number_id {
        query = query.filter(pool_members::number_id.eq(number_id));
    }
    if let Some(waba_id) = waba_id {
        query = query.filter(pool_members::waba_id.eq(waba_id));
    }
    query.load(conn)
}

/// A pool's enterprise, the health it last reported and its degraded threshold.
pub fn pool_health(conn: &mut DbConnection, pool_id: i64) -> QueryResult<Option<(i64, String, Option<i32>)>> {
    use crate::db::schema::pools;
    pools::table.find(pool_id).select((pools::enterprise_id, pools::health, pools::degraded_below)).get_result(conn).optional()
}

/// Sets a pool's degraded threshold (None: half its members).
pub fn set_degraded_below(conn: &mut DbConnection, pool_id: i64, degraded_below: Option<i32>) -> QueryResult<()> {
    use crate::db::schema::pools;
    diesel::update(pools::table.find(pool_id)).set(pools::degraded_below.eq(degraded_below)).execute(conn).map(|_| ())
}

pub fn set_pool_health(conn: &mut DbConnection, pool_id: i64, health: &str) -> QueryResult<()> {
    use crate::db::schema::pools;
    diesel::update(pools::table.find(pool_id)).set(pools::health.eq(health)).execute(conn).map(|_| ())
}

/// The pools an endpoint's filter may name: the enterprises', by name, at most `limit`.
pub fn pool_choices(conn: &mut DbConnection, enterprise_ids: &[i64], limit: i64) -> QueryResult<Vec<(i64, i64, String)>> {
    use crate::db::schema::pools;
    pools::table
        .filter(pools::enterprise_id.eq_any(enterprise_ids))
        .order((pools::name_key.asc(), pools::id.asc()))
        .limit(limit)
        .select((pools::id, pools::enterprise_id, pools::name))
        .load(conn)
}

/// A message as the pull API shows it.
#[derive(Debug, Clone, Queryable)]
pub struct MessageRow {
    pub id: i64,
    pub pool_id: i64,
    pub enterprise_id: i64,
    pub recipient: String,
    pub status: String,
    pub wamid: Option<String>,
    pub phone_number_id: Option<String>,
    pub attempts: String,
}

pub fn message(conn: &mut DbConnection, id: i64) -> QueryResult<Option<MessageRow>> {
    use crate::db::schema::{messages, numbers};
    messages::table
        .left_join(numbers::table)
        .filter(messages::id.eq(id))
        .select((
            messages::id,
            messages::pool_id,
            messages::enterprise_id,
            messages::recipient,
            messages::status,
            messages::wamid,
            numbers::phone_number_id.nullable(),
            messages::attempts,
        ))
        .get_result(conn)
        .optional()
}

/// The message a wamid names: its id, pool, enterprise and recipient.
pub fn message_by_wamid(conn: &mut DbConnection, wamid: &str) -> QueryResult<Option<(i64, i64, i64, String)>> {
    use crate::db::schema::messages;
    messages::table
        .filter(messages::wamid.eq(wamid))
        .select((messages::id, messages::pool_id, messages::enterprise_id, messages::recipient))
        .get_result(conn)
        .optional()
}

/// The pool membership of a number: its pool, the pool's enterprise and
/// the member's region and department tags.
pub fn membership(conn: &mut DbConnection, number_id: i64) -> QueryResult<Option<(i64, i64, String, String)>> {
    use crate::db::schema::pool_members;
    pool_members::table
        .filter(pool_members::number_id.eq(number_id))
        .select((pool_members::pool_id, pool_members::enterprise_id, pool_members::region_tags, pool_members::department_tags))
        .get_result(conn)
        .optional()
}

/// Forgets up to `limit` events older than `before`, with their deliveries
/// and attempts; the number forgotten.
pub fn prune(conn: &mut DbConnection, before: chrono::NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let old: Vec<i64> =
        events::table.filter(events::created_at.lt(before)).order(events::created_at.asc()).limit(limit).select(events::id).load(conn)?;
    if old.is_empty() {
        return Ok(0);
    }
    diesel::delete(events::table.filter(events::id.eq_any(&old))).execute(conn)
}

/// The activated numbers of a WABA, by id.
pub fn activated_numbers_of_waba(conn: &mut DbConnection, waba_id: i64) -> QueryResult<Vec<i64>> {
    use crate::db::schema::numbers;
    numbers::table
        .filter(numbers::waba_id.eq(waba_id))
        .filter(numbers::status.eq(crate::domain::NumberStatus::Activated.as_str()))
        .order(numbers::id.asc())
        .select(numbers::id)
        .load(conn)
}
