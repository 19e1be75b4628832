//! Events to the business's own systems (DESIGN.md section 14). What
//! happens is written as an event in the same transaction as the change
//! it reports (an outbox), with one delivery per enabled endpoint that
//! wants it, so a crash never loses one and a rolled-back change never
//! emits one. [`delivery`] sends them; [`endpoints`] manages where;
//! [`pull`] serves them to applications that ask instead.

pub mod delivery;
pub mod endpoints;
pub mod pull;

use serde_json::{Value, json};

use crate::db::DbConnection;
use crate::domain::events::{EventType, PoolHealth};
use crate::domain::out_of_rotation;
use crate::store::events::{self as store, NewEvent};

/// Wakes the delivery workers of this process: events were committed.
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Set when a delivery was written since the worker was last woken.
static WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tells this process's delivery worker that deliveries are due, if any
/// was written since it was last told; call after the transaction that
/// emitted them commits. Other instances find them on their next poll.
pub fn wake_deliveries() {
    if WRITTEN.swap(false, std::sync::atomic::Ordering::AcqRel) {
        wake_now();
    }
}

/// Wakes the workers whether or not a delivery was written: every one
/// waiting (a process may run several apps, as tests do), and the next to
/// wait when all are busy.
fn wake_now() {
    WAKE.notify_waiters();
    WAKE.notify_one();
}

/// How long events, their deliveries and attempts are kept: the pull
/// API's window, and the deliveries page's.
pub const KEEP_EVENTS_FOR: chrono::Duration = chrono::Duration::days(30);

/// Forgets events older than [`KEEP_EVENTS_FOR`], a thousand at a time so
/// that no write holds the database long; run periodically.
pub fn prune(conn: &mut DbConnection) -> Result<usize, super::ServiceError> {
    let before = crate::store::now() - KEEP_EVENTS_FOR;
    let mut forgotten = 0;
    loop {
        let batch = crate::db::write_transaction(conn, |conn| store::prune(conn, before, 1_000))?;
        forgotten += batch;
        if batch < 1_000 {
            return Ok(forgotten);
        }
    }
}

/// One event to write.
pub struct Event<'a> {
    pub enterprise_id: i64,
    pub kind: EventType,
    pub pool_id: Option<i64>,
    pub message_id: Option<i64>,
    /// The customer (wa_id) whose events an endpoint receives in order.
    pub customer: Option<&'a str>,
    pub data: Value,
}

/// Writes `event` and a delivery for each enabled endpoint of its
/// enterprise that takes its type and, when the endpoint names pools, its
/// pool (an event of no pool reaches only endpoints that name none). Call
/// inside the transaction of the change it reports.
pub fn emit(conn: &mut DbConnection, event: Event<'_>) -> diesel::QueryResult<i64> {
    let at = crate::store::now();
    let body = json!({
        "type": event.kind.as_str(),
        "timestamp": at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": event.data,
    })
    .to_string();
    let id = store::insert_event(
        conn,
        &NewEvent {
            enterprise_id: event.enterprise_id,
            event_type: event.kind.as_str(),
            pool_id: event.pool_id,
            message_id: event.message_id,
            customer: event.customer,
            body: &body,
            created_at: at,
        },
    )?;
    for (endpoint_id, types, pools) in store::subscribers(conn, event.enterprise_id)? {
        if wants(&types, &pools, event.kind, event.pool_id) {
            store::insert_delivery(conn, endpoint_id, id, event.customer, at)?;
            WRITTEN.store(true, std::sync::atomic::Ordering::Release);
        }
    }
    Ok(id)
}

/// Whether an endpoint with these event types and pool filter takes an event.
fn wants(types: &str, pools: &str, kind: EventType, pool_id: Option<i64>) -> bool {
    let pools_named = pools.split_whitespace().filter_map(|p| p.parse::<i64>().ok()).collect::<Vec<_>>();
    types.split_whitespace().any(|t| t == kind.as_str()) && (pools_named.is_empty() || pool_id.is_some_and(|p| pools_named.contains(&p)))
}

/// `message.status` of one of our messages.
#[allow(clippy::too_many_arguments)]
pub fn message_status(
    conn: &mut DbConnection,
    enterprise_id: i64,
    message_id: i64,
    pool_id: i64,
    phone_number_id: Option<&str>,
    to: &str,
    wamid: Option<&str>,
    status: &str,
    error: Option<(i64, Option<&str>)>,
) -> diesel::QueryResult<i64> {
    emit(
        conn,
        Event {
            enterprise_id,
            kind: EventType::MessageStatus,
            pool_id: Some(pool_id),
            message_id: Some(message_id),
            customer: Some(to),
            data: json!({
                "message_id": message_id,
                "pool_id": pool_id,
                "phone_number_id": phone_number_id,
                "to": to,
                "wamid": wamid,
                "status": status,
                "error_code": error.map(|e| e.0),
                "error_title": error.and_then(|e| e.1),
                "at": crate::store::now().and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
        },
    )
}

/// `number.health` of a number whose quality, limit, throughput or
/// rotation changed, as it is now; then `pool.health` of its pool if that
/// crossed a line. A number no enterprise owns reports nothing.
pub fn number_health(conn: &mut DbConnection, number_id: i64, reason: Option<&str>) -> diesel::QueryResult<()> {
    let Some(number) = crate::store::numbers::find(conn, number_id)? else { return Ok(()) };
    if let Some(enterprise_id) = number.enterprise_id {
        let waba = crate::store::wabas::find(conn, number.waba_id)?;
        let in_rotation = waba.is_some_and(|w| out_of_rotation(number.status, &number.quality_rating, w.status).is_none());
        let pool_id = crate::store::pools::pool_of_number(conn, number.id)?;
        emit(
            conn,
            Event {
                enterprise_id,
                kind: EventType::NumberHealth,
                pool_id,
                message_id: None,
                customer: None,
                data: json!({
                    "phone_number_id": number.phone_number_id,
                    "display_phone_number": number.display_phone_number,
                    "quality": number.quality_rating,
                    "messaging_limit": number.messaging_limit_tier,
                    "throughput": number.throughput_level,
                    "in_rotation": in_rotation,
                    "reason": reason,
                }),
            },
        )?;
    }
    pools_health_after(conn, Some(number_id), None)
}

/// `waba.status` to each enterprise linked to a WABA whose status
/// changed, `number.health` of each of its activated numbers (whose
/// rotation follows the WABA's), then `pool.health` of the pools it moved.
pub fn waba_status(conn: &mut DbConnection, waba_id: i64, status: &str, reason: Option<&str>) -> diesel::QueryResult<()> {
    let Some(waba) = crate::store::wabas::find(conn, waba_id)? else { return Ok(()) };
    for enterprise_id in crate::store::wabas::linked_enterprises(conn, waba_id)? {
        emit(
            conn,
            Event {
                enterprise_id,
                kind: EventType::WabaStatus,
                pool_id: None,
                message_id: None,
                customer: None,
                data: json!({ "waba_id": waba.meta_waba_id, "status": status, "reason": reason }),
            },
        )?;
    }
    for number_id in store::activated_numbers_of_waba(conn, waba_id)? {
        number_health(conn, number_id, reason)?;
    }
    pools_health_after(conn, None, Some(waba_id))
}

/// Re-reads the health of the pools a change may have moved (those holding
/// `number_id`, or a number of `waba_id`) and emits `pool.health` for each
/// that crossed between healthy, degraded and down.
pub fn pools_health_after(conn: &mut DbConnection, number_id: Option<i64>, waba_id: Option<i64>) -> diesel::QueryResult<()> {
    for pool_id in store::pools_touched(conn, number_id, waba_id)? {
        pool_health(conn, pool_id)?;
    }
    Ok(())
}

/// Emits `pool.health` when a pool's members in rotation put it across a
/// line since it last reported; call when its members or their health change.
pub fn pool_health(conn: &mut DbConnection, pool_id: i64) -> diesel::QueryResult<()> {
    let Some((enterprise_id, was, degraded_below)) = store::pool_health(conn, pool_id)? else { return Ok(()) };
    let members = crate::store::routing::members(conn, pool_id)?;
    let in_rotation = members.iter().filter(|m| out_of_rotation(m.status, &m.quality_rating, m.waba_status).is_none()).count();
    let threshold = degraded_below.and_then(|t| usize::try_from(t).ok());
    let now = PoolHealth::of(members.len(), in_rotation, threshold);
    if now.as_str() == was {
        return Ok(());
    }
    store::set_pool_health(conn, pool_id, now.as_str())?;
    emit(
        conn,
        Event {
            enterprise_id,
            kind: EventType::PoolHealth,
            pool_id: Some(pool_id),
            message_id: None,
            customer: None,
            data: json!({ "pool_id": pool_id, "members": members.len(), "in_rotation": in_rotation, "degraded_below": threshold, "state": now.as_str() }),
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_take_their_types_and_pools_only() {
        assert!(wants("message.received message.status", "", EventType::MessageStatus, Some(3)));
        assert!(!wants("message.received", "", EventType::MessageStatus, Some(3)));
        assert!(wants("message.status", "3 4", EventType::MessageStatus, Some(3)));
        assert!(!wants("message.status", "4", EventType::MessageStatus, Some(3)));
        assert!(!wants("waba.status", "4", EventType::WabaStatus, None), "an event of no pool skips an endpoint that names pools");
        assert!(wants("waba.status", "", EventType::WabaStatus, None));
    }
}
