//! Events for applications that cannot receive webhooks: a page of the
//! enterprise's events after a cursor, and one message with its status
//! history (DESIGN.md section 14).

use serde_json::Value;

use super::super::ServiceError;
use crate::db::DbConnection;
use crate::store::events as store;

/// The most events one page holds.
pub const MAX_LIMIT: i64 = 500;

/// One event as delivered: its id (`evt_` + number, the `webhook-id` of its
/// deliveries), type, time and data.
pub struct PulledEvent {
    pub id: String,
    pub event_type: String,
    pub timestamp: Value,
    pub data: Value,
}

/// A page of events, oldest first, and the cursor of the next page (the
/// same cursor again when there is nothing newer yet).
pub struct EventsPage {
    pub data: Vec<PulledEvent>,
    pub next: String,
}

/// Reads a cursor: the `next` of the previous page, or nothing for the first.
pub fn cursor(raw: Option<&str>) -> Option<i64> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Some(0),
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0),
    }
}

pub fn events_after(conn: &mut DbConnection, enterprise_id: i64, after: i64, limit: i64) -> Result<EventsPage, ServiceError> {
    let rows = store::events_after(conn, enterprise_id, after, limit.clamp(1, MAX_LIMIT))?;
    let next = rows.last().map_or(after, |r| r.id).to_string();
    let data = rows
        .into_iter()
        .map(|row| {
            let mut body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
            PulledEvent { id: format!("evt_{}", row.id), event_type: row.event_type, timestamp: body["timestamp"].take(), data: body["data"].take() }
        })
        .collect();
    Ok(EventsPage { data, next })
}

/// One status a message reached.
pub struct StatusChange {
    pub status: Value,
    pub at: Value,
    pub error_code: Value,
}

/// A message and its status history.
pub struct MessageHistory {
    pub message: store::MessageRow,
    pub attempts: Value,
    pub history: Vec<StatusChange>,
}

/// One of the enterprise's messages with its status history; NotFound for
/// another enterprise's (R2).
pub fn message(conn: &mut DbConnection, enterprise_id: i64, id: i64) -> Result<MessageHistory, ServiceError> {
    let message = store::message(conn, id)?.filter(|m| m.enterprise_id == enterprise_id).ok_or(ServiceError::NotFound)?;
    let history = store::events_of_message(conn, id)?
        .into_iter()
        .filter_map(|event| serde_json::from_str::<Value>(&event.body).ok())
        .map(|mut body| StatusChange {
            status: body["data"]["status"].take(),
            at: body["data"]["at"].take(),
            error_code: body["data"]["error_code"].take(),
        })
        .collect();
    let attempts = serde_json::from_str(&message.attempts).unwrap_or(Value::Array(Vec::new()));
    Ok(MessageHistory { message, attempts, history })
}
