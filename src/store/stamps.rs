//! The change stamps that in-memory copies are checked against. Triggers
//! move each one in the transaction that changes what it covers, whichever
//! instance or process writes, so reading a stamp (one row) tells whether a
//! copy read under an earlier value is still what the database holds.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{listing_stamp, session_stamp};

/// Both stamps, read in one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamps {
    pub listing: i64,
    pub session: i64,
}

/// Moves with every change to what the pool listing shows.
pub fn listing(conn: &mut DbConnection) -> QueryResult<i64> {
    listing_stamp::table.select(listing_stamp::stamp).get_result(conn)
}

/// Moves with every change to what a signed-in session is checked against:
/// a user's role, organisation, disabled flag or session epoch, a user
/// removed, an organisation renamed.
pub fn session(conn: &mut DbConnection) -> QueryResult<i64> {
    session_stamp::table.select(session_stamp::stamp).get_result(conn)
}

/// Both stamps with one statement, for a page that needs both.
pub fn both(conn: &mut DbConnection) -> QueryResult<Stamps> {
    listing_stamp::table
        .inner_join(session_stamp::table.on(session_stamp::id.eq(listing_stamp::id)))
        .select((listing_stamp::stamp, session_stamp::stamp))
        .get_result::<(i64, i64)>(conn)
        .map(|(listing, session)| Stamps { listing, session })
}
