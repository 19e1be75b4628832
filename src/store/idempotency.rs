//! Idempotency-Keys of the send API: reserved with a hash of their request
//! before Meta is called, linked to the stored message once it is written.

use diesel::prelude::*;

use super::prepared;
use crate::db::DbConnection;
use crate::db::schema::{idempotency_keys, messages};

/// A key as stored: the request it was first used for, when it was
/// reserved, and the stored answer once its send ended.
#[derive(Debug, Clone, Queryable)]
pub struct KeyState {
    pub request_hash: String,
    pub reserved_at: chrono::NaiveDateTime,
    pub response: Option<String>,
}

pub fn find(conn: &mut DbConnection, enterprise_id: i64, key: &str) -> QueryResult<Option<KeyState>> {
    idempotency_keys::table
        .left_join(messages::table)
        .filter(idempotency_keys::enterprise_id.eq(enterprise_id))
        .filter(idempotency_keys::idempotency_key.eq(key))
        .select((idempotency_keys::request_hash, idempotency_keys::reserved_at, messages::response.nullable()))
        .get_result(conn)
        .optional()
}

/// Reserves the key for a request; false when another request holds it.
pub fn reserve(conn: &mut DbConnection, enterprise_id: i64, key: &str, request_hash: &str) -> QueryResult<bool> {
    prepared::ReserveIdempotencyKey { enterprise_id: &enterprise_id, key, request_hash, at: &super::now() }.execute(conn).map(|rows| rows == 1)
}

/// Takes over a reservation that never got an outcome, only if nobody else
/// took it since it was read at `read_at`.
pub fn take_over(conn: &mut DbConnection, enterprise_id: i64, key: &str, request_hash: &str, read_at: chrono::NaiveDateTime) -> QueryResult<bool> {
    prepared::TakeOverIdempotencyKey { enterprise_id: &enterprise_id, key, request_hash, read_at: &read_at, at: &super::now() }
        .execute(conn)
        .map(|rows| rows == 1)
}

/// Links the key to the message its send stored: from now on it replays.
pub fn settle(conn: &mut DbConnection, enterprise_id: i64, key: &str, message_id: i64) -> QueryResult<()> {
    prepared::SettleIdempotencyKey { enterprise_id: &enterprise_id, key, message_id: &message_id }.execute(conn).map(|_| ())
}
