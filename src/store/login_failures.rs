//! Failed sign-ins, for throttling across every instance.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::login_failures;

/// How many failures a key has since a moment, and the latest one.
pub struct FailureCount {
    pub count: i64,
    pub latest: Option<chrono::NaiveDateTime>,
}

pub fn for_email(conn: &mut DbConnection, email_key: &str, since: chrono::NaiveDateTime) -> QueryResult<FailureCount> {
    let rows = login_failures::table.filter(login_failures::email_key.eq(email_key)).filter(login_failures::occurred_at.gt(since));
    let count = rows.count().get_result(conn)?;
    let latest = rows.select(diesel::dsl::max(login_failures::occurred_at)).get_result(conn)?;
    Ok(FailureCount { count, latest })
}

pub fn for_client(conn: &mut DbConnection, client_ip: &str, since: chrono::NaiveDateTime) -> QueryResult<FailureCount> {
    let rows = login_failures::table.filter(login_failures::client_ip.eq(client_ip)).filter(login_failures::occurred_at.gt(since));
    let count = rows.count().get_result(conn)?;
    let latest = rows.select(diesel::dsl::max(login_failures::occurred_at)).get_result(conn)?;
    Ok(FailureCount { count, latest })
}

pub fn record(conn: &mut DbConnection, email_key: &str, client_ip: Option<&str>) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((login_failures::occurred_at.eq(super::now()), login_failures::email_key.eq(email_key), login_failures::client_ip.eq(client_ip)))
        .execute(conn)
        .map(|_| ())
}

/// A successful sign-in clears the account's failures.
pub fn clear_email(conn: &mut DbConnection, email_key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::email_key.eq(email_key))).execute(conn).map(|_| ())
}

/// Drops failures older than the window.
pub fn prune(conn: &mut DbConnection, before: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::occurred_at.lt(before))).execute(conn).map(|_| ())
}
