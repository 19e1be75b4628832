//! The figures of an aggregator's overview, each read in one grouped
//! statement: for a page of its enterprises, or for all of them when the
//! page is chosen by the figures themselves.

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{enterprises, messages, numbers, pools, waba_links, wabas};
use crate::domain::{NumberStatus, QualityRating, WabaStatus};

/// Which of the aggregator's enterprises the figures are read for.
#[derive(Debug, Clone, Copy)]
pub enum Among<'a> {
    All,
    /// These ids only: a page's.
    Only(&'a [i64]),
}

/// `limit` of the aggregator's enterprises from `offset` on, by name, or
/// all of them when `limit` is None.
pub fn enterprises_of(conn: &mut DbConnection, aggregator_id: i64, offset: i64, limit: Option<i64>) -> QueryResult<Vec<(i64, String)>> {
    let query = enterprises::table
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .order((enterprises::name.asc(), enterprises::id.asc()))
        .select((enterprises::id, enterprises::name))
        .into_boxed();
    match limit {
        Some(limit) => query.offset(offset).limit(limit).load(conn),
        None => query.load(conn),
    }
}

/// How many enterprises the aggregator has.
pub fn enterprise_count(conn: &mut DbConnection, aggregator_id: i64) -> QueryResult<i64> {
    enterprises::table.filter(enterprises::aggregator_id.eq(aggregator_id)).count().get_result(conn)
}

/// Pools per enterprise, active or not.
pub fn pool_counts(conn: &mut DbConnection, aggregator_id: i64, among: Among<'_>) -> QueryResult<Vec<(i64, i64, bool)>> {
    let mut query = pools::table
        .inner_join(enterprises::table)
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .group_by((pools::enterprise_id, pools::active))
        .select((pools::enterprise_id, count_star(), pools::active))
        .into_boxed();
    if let Among::Only(ids) = among {
        query = query.filter(enterprises::id.eq_any(ids.to_vec()));
    }
    query.load(conn)
}

/// A number's enterprise, status, quality and its WABA's status.
pub type NumberHealth = (Option<i64>, NumberStatus, QualityRating, WabaStatus);

/// Each number of the aggregator's enterprises.
pub fn numbers_of(conn: &mut DbConnection, aggregator_id: i64, among: Among<'_>) -> QueryResult<Vec<NumberHealth>> {
    let mut query =
        numbers::table.inner_join(enterprises::table).inner_join(wabas::table).filter(enterprises::aggregator_id.eq(aggregator_id)).into_boxed();
    if let Among::Only(ids) = among {
        query = query.filter(enterprises::id.eq_any(ids.to_vec()));
    }
    query.select((numbers::enterprise_id, numbers::status, numbers::quality_rating, wabas::status)).load(conn)
}

/// WABAs per enterprise whose token Meta refused.
pub fn reconnect_counts(conn: &mut DbConnection, aggregator_id: i64, among: Among<'_>) -> QueryResult<Vec<(i64, i64)>> {
    let mut query = waba_links::table
        .inner_join(enterprises::table)
        .inner_join(wabas::table)
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .filter(wabas::status.eq(WabaStatus::ReconnectNeeded.as_str()))
        .group_by(waba_links::enterprise_id)
        .select((waba_links::enterprise_id, count_star()))
        .into_boxed();
    if let Among::Only(ids) = among {
        query = query.filter(enterprises::id.eq_any(ids.to_vec()));
    }
    query.load(conn)
}

/// Messages per enterprise and status since `since`.
pub fn send_counts(
    conn: &mut DbConnection,
    aggregator_id: i64,
    among: Among<'_>,
    since: chrono::NaiveDateTime,
) -> QueryResult<Vec<(i64, String, i64)>> {
    let query = messages::table
        .filter(messages::created_at.ge(since))
        .group_by((messages::enterprise_id, messages::status))
        .select((messages::enterprise_id, messages::status, count_star()))
        .into_boxed();
    match among {
        Among::All => query
            .filter(messages::enterprise_id.eq_any(enterprises::table.filter(enterprises::aggregator_id.eq(aggregator_id)).select(enterprises::id))),
        // The page's ids are the aggregator's already.
        Among::Only(ids) => query.filter(messages::enterprise_id.eq_any(ids.to_vec())),
    }
    .load(conn)
}
