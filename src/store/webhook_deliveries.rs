//! Webhook deliveries already applied, by the SHA-256 of their body, so a
//! redelivery of the same bytes is recognised; pruned after Meta's window.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::webhook_deliveries;

/// Notes a delivery; answers false when the same body was noted before.
pub fn note(conn: &mut DbConnection, body_sha256: &str, at: chrono::NaiveDateTime) -> QueryResult<bool> {
    super::prepared::NoteWebhookDelivery { body_sha256, at: &at }.execute(conn).map(|inserted| inserted > 0)
}

/// Forgets deliveries received before `before`; answers how many.
pub fn prune(conn: &mut DbConnection, before: chrono::NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::received_at.lt(before))).execute(conn)
}
