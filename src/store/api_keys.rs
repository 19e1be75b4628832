//! API keys: stored as SHA-256 hashes, never in clear.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::api_keys;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: i64,
    pub enterprise_id: i64,
    pub label: String,
    pub key_prefix: String,
    pub created_at: chrono::NaiveDateTime,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub revoked_at: Option<chrono::NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, enterprise_id: i64, label: &str, key_hash: &str, key_prefix: &str, created_by: i64) -> QueryResult<i64> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::enterprise_id.eq(enterprise_id),
            api_keys::label.eq(label),
            api_keys::key_hash.eq(key_hash),
            api_keys::key_prefix.eq(key_prefix),
            api_keys::created_by.eq(Some(created_by)),
            api_keys::created_at.eq(super::now()),
        ))
        .returning(api_keys::id)
        .get_result(conn)
}

pub fn of_enterprises(conn: &mut DbConnection, enterprise_ids: &[i64]) -> QueryResult<Vec<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::enterprise_id.eq_any(enterprise_ids.to_vec()))
        .order(api_keys::id.desc())
        .select(ApiKeyRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table.find(id).select(ApiKeyRow::as_select()).get_result(conn).optional()
}

/// A key that is not revoked, by its hash.
pub fn find_active_by_hash(conn: &mut DbConnection, key_hash: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .get_result(conn)
        .optional()
}

/// Notes a key's use, at most once a minute so a busy key does not write on every call.
pub fn touch(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    let now = super::now();
    let stale = now - chrono::Duration::minutes(1);
    diesel::update(api_keys::table.find(id).filter(api_keys::last_used_at.is_null().or(api_keys::last_used_at.lt(stale))))
        .set(api_keys::last_used_at.eq(Some(now)))
        .execute(conn)
        .map(|_| ())
}

pub fn revoke(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id).filter(api_keys::revoked_at.is_null()))
        .set(api_keys::revoked_at.eq(Some(super::now())))
        .execute(conn)
        .map(|_| ())
}
