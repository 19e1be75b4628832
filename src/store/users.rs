//! Portal users.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::users;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub enterprise_id: Option<i64>,
    pub aggregator_id: Option<i64>,
    pub disabled: bool,
    pub session_epoch: i64,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub enterprise_id: Option<i64>,
    pub aggregator_id: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, user: &NewUser<'_>) -> QueryResult<i64> {
    diesel::insert_into(users::table)
        .values((
            users::email.eq(user.email),
            users::password_hash.eq(user.password_hash),
            users::role.eq(user.role),
            users::enterprise_id.eq(user.enterprise_id),
            users::aggregator_id.eq(user.aggregator_id),
            users::created_at.eq(super::now()),
        ))
        .returning(users::id)
        .get_result(conn)
}

/// Emails are stored lower-case; lookups lower-case their input too.
pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::email.eq(email.trim().to_lowercase())).select(UserRow::as_select()).get_result(conn).optional()
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<UserRow>> {
    users::table.find(id).select(UserRow::as_select()).get_result(conn).optional()
}

/// Moves a user to a new session epoch: every session of the old epoch,
/// on every instance, stops working at its next request.
pub fn bump_session_epoch(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id)).set(users::session_epoch.eq(users::session_epoch + 1_i64)).execute(conn).map(|_| ())
}

/// The users of one enterprise or one aggregator, by email.
pub fn in_scope(conn: &mut DbConnection, enterprise_id: Option<i64>, aggregator_id: Option<i64>) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table.into_boxed();
    query = match (enterprise_id, aggregator_id) {
        (Some(e), _) => query.filter(users::enterprise_id.eq(e)),
        (None, Some(a)) => query.filter(users::aggregator_id.eq(a)),
        (None, None) => return Ok(Vec::new()),
    };
    query.order(users::email.asc()).select(UserRow::as_select()).load(conn)
}

pub fn set_role(conn: &mut DbConnection, id: i64, role: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id)).set(users::role.eq(role)).execute(conn).map(|_| ())
}

/// Disables or enables a user; either way their sessions end.
pub fn set_disabled(conn: &mut DbConnection, id: i64, disabled: bool) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::disabled.eq(disabled), users::session_epoch.eq(users::session_epoch + 1_i64)))
        .execute(conn)
        .map(|_| ())
}

/// Stores a new password hash and ends every session of the user.
pub fn set_password_hash(conn: &mut DbConnection, id: i64, hash: &str) -> QueryResult<i64> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::session_epoch.eq(users::session_epoch + 1_i64)))
        .returning(users::session_epoch)
        .get_result(conn)
}

/// Replaces a user's hash with one of the same password at the current
/// cost. Sessions go on: the password did not change. Nothing happens if
/// the hash changed since `old` was read; says whether it was replaced.
pub fn renew_password_hash(conn: &mut DbConnection, id: i64, old: &str, renewed: &str) -> QueryResult<bool> {
    diesel::update(users::table.find(id).filter(users::password_hash.eq(old)))
        .set(users::password_hash.eq(renewed))
        .execute(conn)
        .map(|rows| rows == 1)
}
