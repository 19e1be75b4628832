//! The figures of an aggregator's overview, each read for all of its
//! enterprises in one grouped statement.

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{enterprises, messages, numbers, pools, waba_links, wabas};
use crate::domain::{NumberStatus, QualityRating, WabaStatus};

/// The aggregator's enterprises, by name.
pub fn enterprises_of(conn: &mut DbConnection, aggregator_id: i64) -> QueryResult<Vec<(i64, String)>> {
    enterprises::table
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .order((enterprises::name.asc(), enterprises::id.asc()))
        .select((enterprises::id, enterprises::name))
        .load(conn)
}

/// Pools per enterprise, active or not.
pub fn pool_counts(conn: &mut DbConnection, aggregator_id: i64) -> QueryResult<Vec<(i64, i64, bool)>> {
    pools::table
        .inner_join(enterprises::table)
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .group_by((pools::enterprise_id, pools::active))
        .select((pools::enterprise_id, count_star(), pools::active))
        .load(conn)
}

/// A number's enterprise, status, quality and its WABA's status.
pub type NumberHealth = (Option<i64>, NumberStatus, QualityRating, WabaStatus);

/// Each number of the aggregator's enterprises.
pub fn numbers_of(conn: &mut DbConnection, aggregator_id: i64) -> QueryResult<Vec<NumberHealth>> {
    numbers::table
        .inner_join(enterprises::table)
        .inner_join(wabas::table)
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .select((numbers::enterprise_id, numbers::status, numbers::quality_rating, wabas::status))
        .load(conn)
}

/// WABAs per enterprise whose token Meta refused.
pub fn reconnect_counts(conn: &mut DbConnection, aggregator_id: i64) -> QueryResult<Vec<(i64, i64)>> {
    waba_links::table
        .inner_join(enterprises::table)
        .inner_join(wabas::table)
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .filter(wabas::status.eq(WabaStatus::ReconnectNeeded.as_str()))
        .group_by(waba_links::enterprise_id)
        .select((waba_links::enterprise_id, count_star()))
        .load(conn)
}

/// Messages per enterprise and status since `since`.
pub fn send_counts(conn: &mut DbConnection, aggregator_id: i64, since: chrono::NaiveDateTime) -> QueryResult<Vec<(i64, String, i64)>> {
    let ours = enterprises::table.filter(enterprises::aggregator_id.eq(aggregator_id)).select(enterprises::id);
    messages::table
        .filter(messages::enterprise_id.eq_any(ours))
        .filter(messages::created_at.ge(since))
        .group_by((messages::enterprise_id, messages::status))
        .select((messages::enterprise_id, messages::status, count_star()))
        .load(conn)
}
