//! Hot writes as fixed statements that the connection keeps prepared.
//!
//! Diesel never caches an `UPDATE` it builds (a changeset's shape can vary
//! with its values), so every `diesel::update` is parsed and planned anew
//! by SQLite on each call: about as much CPU as running it, and more once
//! triggers hang on the table. The writes made on every send, every
//! delivery status and every pool edit are written here instead as
//! statements whose SQL never changes, with a static query id, so each
//! pooled connection prepares them once.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;
use diesel::{QueryResult, RunQueryDsl};

/// Declares a statement: its binds as typed fields, and its SQL as a list
/// of literal pieces and `(field as SqlType)` binds.
macro_rules! fixed_statement {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $(pub $field:ident: $ty:ty),* $(,)? }
        sql: [$($piece:tt),* $(,)?]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name<'a> {
            $(pub $field: $ty,)*
        }

        // One statement type, one SQL text: the cache may key it by type.
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl<'a, DB> QueryFragment<DB> for $name<'a>
        where
            DB: Backend
                + HasSqlType<diesel::sql_types::BigInt>
                + HasSqlType<diesel::sql_types::Integer>
                + HasSqlType<diesel::sql_types::Text>
                + HasSqlType<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>
                + HasSqlType<diesel::sql_types::Timestamp>,
            i64: ToSql<diesel::sql_types::BigInt, DB>,
            i32: ToSql<diesel::sql_types::Integer, DB>,
            str: ToSql<diesel::sql_types::Text, DB>,
            Option<i64>: ToSql<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, DB>,
            chrono::NaiveDateTime: ToSql<diesel::sql_types::Timestamp, DB>,
        {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
                $(fixed_statement!(@piece self, out, $piece);)*
                Ok(())
            }
        }

        impl<'a, C> RunQueryDsl<C> for $name<'a> {}
    };
    (@piece $self:ident, $out:ident, $sql:literal) => {
        $out.push_sql($sql);
    };
    (@piece $self:ident, $out:ident, ($field:ident as $st:ty)) => {
        $out.push_bind_param::<$st, _>($self.$field)?;
    };
}

use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

fixed_statement! {
    /// Moves a pool's round robin pointer only from the value a decision read.
    pub struct TakeTurn { pub pool_id: &'a i64, pub expected: &'a i32, pub slot: &'a i32 }
    sql: ["UPDATE pools SET rr_pointer = ", (slot as Integer), " WHERE id = ", (pool_id as BigInt), " AND rr_pointer = ", (expected as Integer)]
}

fixed_statement! {
    /// Counts one send in a member's current second while it is under its limit.
    pub struct ReserveSend { pub pool_id: &'a i64, pub number_id: &'a i64, pub now_second: &'a i64, pub limit: &'a i32 }
    sql: [
        "UPDATE pool_members SET sent_in_second = CASE WHEN sent_second = ", (now_second as BigInt),
        " THEN sent_in_second + 1 ELSE 1 END, sent_second = ", (now_second as BigInt),
        " WHERE pool_id = ", (pool_id as BigInt), " AND number_id = ", (number_id as BigInt),
        " AND (sent_second <> ", (now_second as BigInt), " OR sent_in_second < ", (limit as Integer), ")",
    ]
}

fixed_statement! {
    /// Notes when a member last served a send.
    pub struct RecordSuccess { pub pool_id: &'a i64, pub number_id: &'a i64, pub at: &'a chrono::NaiveDateTime }
    sql: ["UPDATE pool_members SET last_used_at = ", (at as Timestamp), " WHERE pool_id = ", (pool_id as BigInt), " AND number_id = ", (number_id as BigInt)]
}

fixed_statement! {
    /// Reserves an Idempotency-Key unless a request holds it already.
    pub struct ReserveIdempotencyKey { pub enterprise_id: &'a i64, pub key: &'a str, pub request_hash: &'a str, pub at: &'a chrono::NaiveDateTime }
    sql: [
        "INSERT INTO idempotency_keys (enterprise_id, idempotency_key, request_hash, reserved_at) VALUES (",
        (enterprise_id as BigInt), ", ", (key as Text), ", ", (request_hash as Text), ", ", (at as Timestamp),
        ") ON CONFLICT (enterprise_id, idempotency_key) DO NOTHING",
    ]
}

fixed_statement! {
    /// Makes a member a recipient's sticky sender unless one is already there.
    pub struct ClaimSticky { pub pool_id: &'a i64, pub recipient: &'a str, pub number_id: &'a i64, pub at: &'a chrono::NaiveDateTime }
    sql: [
        "INSERT INTO sticky_senders (pool_id, recipient, number_id, updated_at) VALUES (",
        (pool_id as BigInt), ", ", (recipient as Text), ", ", (number_id as BigInt), ", ", (at as Timestamp),
        ") ON CONFLICT (pool_id, recipient) DO NOTHING",
    ]
}

fixed_statement! {
    /// Takes over a reservation whose send never stored an outcome, only
    /// from the moment it was read at.
    pub struct TakeOverIdempotencyKey {
        pub enterprise_id: &'a i64,
        pub key: &'a str,
        pub request_hash: &'a str,
        pub read_at: &'a chrono::NaiveDateTime,
        pub at: &'a chrono::NaiveDateTime,
    }
    sql: [
        "UPDATE idempotency_keys SET reserved_at = ", (at as Timestamp), ", request_hash = ", (request_hash as Text),
        " WHERE enterprise_id = ", (enterprise_id as BigInt), " AND idempotency_key = ", (key as Text),
        " AND message_id IS NULL AND reserved_at = ", (read_at as Timestamp),
    ]
}

fixed_statement! {
    /// Links a reserved Idempotency-Key to the message its send stored.
    pub struct SettleIdempotencyKey { pub enterprise_id: &'a i64, pub key: &'a str, pub message_id: &'a i64 }
    sql: [
        "UPDATE idempotency_keys SET message_id = ", (message_id as BigInt),
        " WHERE enterprise_id = ", (enterprise_id as BigInt), " AND idempotency_key = ", (key as Text),
    ]
}

fixed_statement! {
    /// A delivery status from Meta, by wamid. Meta may deliver statuses out
    /// of order and more than once; a message only moves forward: sent,
    /// then delivered, then read, and failed (from sent or delivered) is
    /// final. A status that would not move it forward changes nothing.
    pub struct SetStatusByWamid { pub wamid: &'a str, pub status: &'a str, pub error_code: &'a Option<i64>, pub at: &'a chrono::NaiveDateTime }
    sql: [
        "UPDATE messages SET status = ", (status as Text), ", error_code = ", (error_code as Nullable<BigInt>),
        ", updated_at = ", (at as Timestamp), " WHERE wamid = ", (wamid as Text),
        " AND (CASE status WHEN 'read' THEN 3 WHEN 'failed' THEN 3 WHEN 'delivered' THEN 2 ELSE 1 END)",
        " < (CASE ", (status as Text), " WHEN 'read' THEN 3 WHEN 'failed' THEN 3 WHEN 'delivered' THEN 2 ELSE 1 END)",
    ]
}

fixed_statement! {
    /// Renames a pool and moves it to the next version, only from the version the form was read at.
    pub struct RenamePoolIfCurrent {
        pub id: &'a i64,
        pub expected_version: &'a i64,
        pub next_version: &'a i64,
        pub name: &'a str,
        pub name_key: &'a str,
        pub at: &'a chrono::NaiveDateTime,
    }
    sql: [
        "UPDATE pools SET name = ", (name as Text), ", name_key = ", (name_key as Text), ", version = ", (next_version as BigInt),
        ", updated_at = ", (at as Timestamp), " WHERE id = ", (id as BigInt), " AND version = ", (expected_version as BigInt),
    ]
}

fixed_statement! {
    /// Remembers a webhook delivery's body; a body remembered before inserts nothing.
    pub struct NoteWebhookDelivery { pub body_sha256: &'a str, pub at: &'a chrono::NaiveDateTime }
    sql: [
        "INSERT INTO webhook_deliveries (body_sha256, received_at) VALUES (", (body_sha256 as Text), ", ", (at as Timestamp),
        ") ON CONFLICT DO NOTHING",
    ]
}
