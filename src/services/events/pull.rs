//! Events for applications that cannot receive webhooks: a page of the
//! enterprise's events after a cursor, and one message with its status
//! history (DESIGN.md section 14).

use serde_json::{Value, json};

use super::super::ServiceError;
use crate::db::DbConnection;
use crate::store::events as store;

/// The most events one page holds.
pub const MAX_LIMIT: i64 = 500;

/// A page of events, oldest first, and the cursor of the next page (the
/// same cursor again when there is nothing newer yet).
pub struct EventsPage {
    pub data: Vec<Value>,
    pub next: String,
}

/// Reads a cursor: the id of the last event seen, or nothing for the first.
pub fn cursor(raw: Option<&str>) -> Result<i64, ServiceError> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ServiceError::invalid("after", "Pass the `next` cursor of the previous page, or none for the first page.")),
    }
}

pub fn events_after(conn: &mut DbConnection, enterprise_id: i64, after: i64, limit: i64) -> Result<EventsPage, ServiceError> {
    let rows = store::events_after(conn, enterprise_id, after, limit.clamp(1, MAX_LIMIT))?;
    let next = rows.last().map_or(after, |r| r.id).to_string();
    let data = rows
        .into_iter()
        .map(|row| {
            let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
            json!({ "id": row.id.to_string(), "type": row.event_type, "timestamp": body["timestamp"], "data": body["data"] })
        })
        .collect();
    Ok(EventsPage { data, next })
}

/// One of the enterprise's messages with its status history; NotFound for
/// another enterprise's (R2).
pub fn message(conn: &mut DbConnection, enterprise_id: i64, id: i64) -> Result<Value, ServiceError> {
    let row = store::message(conn, id)?.filter(|m| m.enterprise_id == enterprise_id).ok_or(ServiceError::NotFound)?;
    let history: Vec<Value> = store::events_of_message(conn, id)?
        .into_iter()
        .filter_map(|event| serde_json::from_str::<Value>(&event.body).ok())
        .map(|body| json!({ "status": body["data"]["status"], "at": body["data"]["at"], "error_code": body["data"]["error_code"] }))
        .collect();
    let attempts: Value = serde_json::from_str(&row.attempts).unwrap_or_else(|_| json!([]));
    Ok(json!({
        "id": row.id.to_string(),
        "pool_id": row.pool_id.to_string(),
        "to": row.recipient,
        "status": row.status,
        "wamid": row.wamid,
        "phone_number_id": row.phone_number_id,
        "attempts": attempts,
        "history": history,
    }))
}
