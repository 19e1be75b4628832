//! Signed-in sessions: one row each, named by the random id the encrypted
//! cookie carries. Ending a session sets `ended_at`, which a trigger turns
//! into a move of the session stamp (see `store::stamps`); creating one and
//! noting it was seen do not.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::sessions;

/// A session as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

pub fn create(conn: &mut DbConnection, id: &str, user_id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((sessions::id.eq(id), sessions::user_id.eq(user_id), sessions::created_at.eq(now), sessions::last_seen_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SessionRow>> {
    sessions::table.find(id).select(SessionRow::as_select()).get_result(conn).optional()
}

/// Notes that a live session was used at `now`, if it is still live: not
/// ended, seen after `idle_since` and created after `created_since`. Says
/// whether it was; the database decides, whichever instance saw it last.
pub fn touch(conn: &mut DbConnection, id: &str, now: NaiveDateTime, idle_since: NaiveDateTime, created_since: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::ended_at.is_null())
            .filter(sessions::last_seen_at.gt(idle_since))
            .filter(sessions::created_at.gt(created_since)),
    )
    .set(sessions::last_seen_at.eq(now))
    .execute(conn)
    .map(|rows| rows == 1)
}

/// Ends one session (signing out).
pub fn end(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(sessions::table.find(id).filter(sessions::ended_at.is_null())).set(sessions::ended_at.eq(super::now())).execute(conn).map(|_| ())
}

/// Ends every live session of a user but `except` (the one that asked, if it stays).
pub fn end_for_user(conn: &mut DbConnection, user_id: i64, except: Option<&str>) -> QueryResult<()> {
    let live = sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::ended_at.is_null());
    match except {
        Some(id) => diesel::update(live.filter(sessions::id.ne(id))).set(sessions::ended_at.eq(super::now())).execute(conn),
        None => diesel::update(live).set(sessions::ended_at.eq(super::now())).execute(conn),
    }
    .map(|_| ())
}

/// Drops sessions created before `before`: past the absolute limit, dead either way.
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::created_at.lt(before))).execute(conn).map(|_| ())
}
