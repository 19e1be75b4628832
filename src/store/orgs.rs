//! Aggregators and enterprises.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{aggregators, enterprises};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = enterprises)]
pub struct EnterpriseRow {
    pub id: i64,
    pub name: String,
    pub aggregator_id: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = aggregators)]
pub struct AggregatorRow {
    pub id: i64,
    pub name: String,
}

pub fn insert_aggregator(conn: &mut DbConnection, name: &str) -> QueryResult<i64> {
    diesel::insert_into(aggregators::table)
        .values((aggregators::name.eq(name), aggregators::created_at.eq(super::now())))
        .returning(aggregators::id)
        .get_result(conn)
}

pub fn insert_enterprise(conn: &mut DbConnection, name: &str, aggregator_id: Option<i64>) -> QueryResult<i64> {
    diesel::insert_into(enterprises::table)
        .values((enterprises::name.eq(name), enterprises::aggregator_id.eq(aggregator_id), enterprises::created_at.eq(super::now())))
        .returning(enterprises::id)
        .get_result(conn)
}

pub fn find_aggregator_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<AggregatorRow>> {
    aggregators::table.filter(aggregators::name.eq(name)).select(AggregatorRow::as_select()).get_result(conn).optional()
}

pub fn find_aggregator(conn: &mut DbConnection, id: i64) -> QueryResult<Option<AggregatorRow>> {
    aggregators::table.find(id).select(AggregatorRow::as_select()).get_result(conn).optional()
}

pub fn find_enterprise_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<EnterpriseRow>> {
    enterprises::table.filter(enterprises::name.eq(name)).select(EnterpriseRow::as_select()).get_result(conn).optional()
}

pub fn find_enterprise(conn: &mut DbConnection, id: i64) -> QueryResult<Option<EnterpriseRow>> {
    enterprises::table.find(id).select(EnterpriseRow::as_select()).get_result(conn).optional()
}

/// An aggregator's enterprises, by name.
pub fn enterprises_of_aggregator(conn: &mut DbConnection, aggregator_id: i64) -> QueryResult<Vec<EnterpriseRow>> {
    enterprises::table
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .order((enterprises::name.asc(), enterprises::id.asc()))
        .select(EnterpriseRow::as_select())
        .load(conn)
}

/// The first `limit` of an aggregator's enterprises, by name, read from
/// the index on (aggregator, name).
pub fn first_enterprises_of_aggregator(conn: &mut DbConnection, aggregator_id: i64, limit: i64) -> QueryResult<Vec<EnterpriseRow>> {
    enterprises::table
        .filter(enterprises::aggregator_id.eq(aggregator_id))
        .order((enterprises::name.asc(), enterprises::id.asc()))
        .select(EnterpriseRow::as_select())
        .limit(limit)
        .load(conn)
}

/// Whether the database holds any tenant yet (the demo loads only into an empty one).
pub fn is_empty(conn: &mut DbConnection) -> QueryResult<bool> {
    let aggregators: i64 = aggregators::table.count().get_result(conn)?;
    let enterprises: i64 = enterprises::table.count().get_result(conn)?;
    Ok(aggregators == 0 && enterprises == 0)
}
