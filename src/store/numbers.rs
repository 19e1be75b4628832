//! WhatsApp numbers under WABAs.
//!
//! Joins to a number's pool are written flat (`numbers ⟕ pool_members ⟕ pools`):
//! SQLite materialises a parenthesised left join and scans it once per row.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{numbers, pool_members, pools, wabas};
use crate::domain::{NumberStatus, QualityRating, ThroughputLevel};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = numbers)]
pub struct NumberRow {
    pub id: i64,
    pub waba_id: i64,
    pub enterprise_id: Option<i64>,
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub verified_name: String,
    pub status: NumberStatus,
    pub meta_status: Option<String>,
    pub code_verification_status: Option<String>,
    pub quality_rating: QualityRating,
    pub messaging_limit_tier: Option<String>,
    pub throughput_level: Option<ThroughputLevel>,
    pub last_synced_at: Option<chrono::NaiveDateTime>,
}

impl NumberRow {
    /// Meta reports the number ready to send: connected or linked, and verified.
    pub fn is_ready_at_meta(&self) -> bool {
        let status = self.meta_status.as_deref().unwrap_or_default().to_ascii_uppercase();
        let verified = self.code_verification_status.as_deref().unwrap_or_default().to_ascii_uppercase();
        matches!(status.as_str(), "CONNECTED" | "LINKED") && verified == "VERIFIED"
    }
}

pub struct NewNumber<'a> {
    pub waba_id: i64,
    pub enterprise_id: Option<i64>,
    pub phone_number_id: &'a str,
    pub display_phone_number: &'a str,
    pub e164: &'a str,
    pub verified_name: &'a str,
    pub status: NumberStatus,
    pub meta_status: Option<&'a str>,
    pub code_verification_status: Option<&'a str>,
    pub quality_rating: &'a QualityRating,
    pub messaging_limit_tier: Option<&'a str>,
    pub throughput_level: Option<&'a ThroughputLevel>,
}

pub fn insert(conn: &mut DbConnection, number: &NewNumber<'_>) -> QueryResult<i64> {
    let now = super::now();
    diesel::insert_into(numbers::table)
        .values((
            numbers::waba_id.eq(number.waba_id),
            numbers::enterprise_id.eq(number.enterprise_id),
            numbers::phone_number_id.eq(number.phone_number_id),
            numbers::display_phone_number.eq(number.display_phone_number),
            numbers::e164.eq(number.e164),
            numbers::verified_name.eq(number.verified_name),
            numbers::status.eq(number.status.as_str()),
            numbers::meta_status.eq(number.meta_status),
            numbers::code_verification_status.eq(number.code_verification_status),
            numbers::quality_rating.eq(number.quality_rating.as_str()),
            numbers::messaging_limit_tier.eq(number.messaging_limit_tier),
            numbers::throughput_level.eq(number.throughput_level.map(ThroughputLevel::as_str)),
            numbers::last_synced_at.eq(Some(now)),
            numbers::health_as_of.eq(Some(now)),
            numbers::created_at.eq(now),
            numbers::updated_at.eq(now),
        ))
        .returning(numbers::id)
        .get_result(conn)
}

/// How many activated numbers an enterprise has (R3).
pub fn count_activated(conn: &mut DbConnection, enterprise_id: i64) -> QueryResult<i64> {
    numbers::table
        .filter(numbers::enterprise_id.eq(enterprise_id))
        .filter(numbers::status.eq(NumberStatus::Activated.as_str()))
        .count()
        .get_result(conn)
}

/// A number offered as a checkbox on the Add and Edit pages.
#[derive(Debug, Clone, Queryable)]
pub struct NumberChoiceRow {
    pub id: i64,
    pub waba_id: i64,
    pub waba_name: String,
    pub display_phone_number: String,
    pub verified_name: String,
    pub status: NumberStatus,
    pub quality_rating: QualityRating,
    pub pool_id: Option<i64>,
}

/// The enterprise's activated numbers in no pool, plus (when editing) the
/// numbers of `pool_id`, whatever their status; `waba_id` narrows to one WABA.
pub fn pool_choices(conn: &mut DbConnection, enterprise_id: i64, waba_id: Option<i64>, pool_id: Option<i64>) -> QueryResult<Vec<NumberChoiceRow>> {
    let mut query =
        numbers::table.inner_join(wabas::table).left_join(pool_members::table).filter(numbers::enterprise_id.eq(enterprise_id)).into_boxed();
    if let Some(waba) = waba_id {
        query = query.filter(numbers::waba_id.eq(waba));
    }
    let free = numbers::status.eq(NumberStatus::Activated.as_str()).and(pool_members::pool_id.is_null());
    query = match pool_id {
        Some(pool) => query.filter(free.or(pool_members::pool_id.eq(pool))),
        None => query.filter(free),
    };
    query
        .order((wabas::name.asc(), wabas::id.asc(), numbers::display_phone_number.asc(), numbers::id.asc()))
        .select((
            numbers::id,
            numbers::waba_id,
            wabas::name,
            numbers::display_phone_number,
            numbers::verified_name,
            numbers::status,
            numbers::quality_rating,
            pool_members::pool_id.nullable(),
        ))
        .load(conn)
}

/// What the pool rules need to know about chosen numbers, with the pool
/// each already sits in.
#[derive(Debug, Clone, Queryable)]
pub struct CandidateRow {
    pub id: i64,
    pub display_phone_number: String,
    pub enterprise_id: Option<i64>,
    pub waba_id: i64,
    pub status: NumberStatus,
    pub pool_id: Option<i64>,
    pub pool_name: Option<String>,
}

pub fn candidates(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<CandidateRow>> {
    numbers::table
        .left_join(pool_members::table)
        .left_join(pools::table.on(pools::id.eq(pool_members::pool_id)))
        .filter(numbers::id.eq_any(ids.to_vec()))
        .select((
            numbers::id,
            numbers::display_phone_number,
            numbers::enterprise_id,
            numbers::waba_id,
            numbers::status,
            pool_members::pool_id.nullable(),
            pools::name.nullable(),
        ))
        .load(conn)
}

/// A number with its WABA's name and the pool it sits in, for the Numbers page.
#[derive(Debug, Clone, Queryable)]
pub struct NumberListRow {
    pub number: NumberRow,
    pub waba_name: String,
    pub pool_name: Option<String>,
}

pub fn of_enterprise(conn: &mut DbConnection, enterprise_id: i64) -> QueryResult<Vec<NumberListRow>> {
    numbers::table
        .inner_join(wabas::table)
        .left_join(pool_members::table)
        .left_join(pools::table.on(pools::id.eq(pool_members::pool_id)))
        .filter(numbers::enterprise_id.eq(enterprise_id))
        .order((wabas::name.asc(), wabas::id.asc(), numbers::display_phone_number.asc()))
        .select((NumberRow::as_select(), wabas::name, pools::name.nullable()))
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<NumberRow>> {
    numbers::table.find(id).select(NumberRow::as_select()).get_result(conn).optional()
}

pub fn find_by_phone_number_id(conn: &mut DbConnection, phone_number_id: &str) -> QueryResult<Option<NumberRow>> {
    numbers::table.filter(numbers::phone_number_id.eq(phone_number_id)).select(NumberRow::as_select()).get_result(conn).optional()
}

/// What Meta reports of a number.
pub struct MetaFields<'a> {
    pub display_phone_number: &'a str,
    pub e164: &'a str,
    pub verified_name: &'a str,
    pub meta_status: Option<&'a str>,
    pub code_verification_status: Option<&'a str>,
    pub quality_rating: QualityRating,
    pub messaging_limit_tier: Option<&'a str>,
    pub throughput_level: Option<ThroughputLevel>,
}

pub fn update_from_meta(conn: &mut DbConnection, id: i64, fields: &MetaFields<'_>) -> QueryResult<()> {
    let now = super::now();
    diesel::update(numbers::table.find(id))
        .set((
            numbers::display_phone_number.eq(fields.display_phone_number),
            numbers::e164.eq(fields.e164),
            numbers::verified_name.eq(fields.verified_name),
            numbers::meta_status.eq(fields.meta_status),
            numbers::code_verification_status.eq(fields.code_verification_status),
            numbers::quality_rating.eq(fields.quality_rating.as_str()),
            numbers::messaging_limit_tier.eq(fields.messaging_limit_tier),
            numbers::throughput_level.eq(fields.throughput_level.as_ref().map(ThroughputLevel::as_str)),
            numbers::last_synced_at.eq(Some(now)),
            numbers::health_as_of.eq(Some(now)),
            numbers::updated_at.eq(now),
        ))
        .execute(conn)?;
    refresh_rotation_since(conn, id)
}

pub fn insert_from_meta(
    conn: &mut DbConnection,
    waba_id: i64,
    enterprise_id: i64,
    phone_number_id: &str,
    fields: &MetaFields<'_>,
) -> QueryResult<i64> {
    let now = super::now();
    diesel::insert_into(numbers::table)
        .values((
            numbers::waba_id.eq(waba_id),
            numbers::enterprise_id.eq(Some(enterprise_id)),
            numbers::phone_number_id.eq(phone_number_id),
            numbers::display_phone_number.eq(fields.display_phone_number),
            numbers::e164.eq(fields.e164),
            numbers::verified_name.eq(fields.verified_name),
            numbers::status.eq(NumberStatus::Pending.as_str()),
            numbers::meta_status.eq(fields.meta_status),
            numbers::code_verification_status.eq(fields.code_verification_status),
            numbers::quality_rating.eq(fields.quality_rating.as_str()),
            numbers::messaging_limit_tier.eq(fields.messaging_limit_tier),
            numbers::throughput_level.eq(fields.throughput_level.as_ref().map(ThroughputLevel::as_str)),
            numbers::last_synced_at.eq(Some(now)),
            numbers::health_as_of.eq(Some(now)),
            numbers::created_at.eq(now),
            numbers::updated_at.eq(now),
        ))
        .returning(numbers::id)
        .get_result(conn)
}

/// Takes an unowned number into an enterprise (R13: the first to link it).
pub fn claim(conn: &mut DbConnection, id: i64, enterprise_id: i64) -> QueryResult<()> {
    diesel::update(numbers::table.find(id).filter(numbers::enterprise_id.is_null()))
        .set(numbers::enterprise_id.eq(Some(enterprise_id)))
        .execute(conn)
        .map(|_| ())
}

pub fn set_status(conn: &mut DbConnection, id: i64, status: NumberStatus) -> QueryResult<()> {
    diesel::update(numbers::table.find(id)).set((numbers::status.eq(status.as_str()), numbers::updated_at.eq(super::now()))).execute(conn)?;
    refresh_rotation_since(conn, id)
}

/// Every number of the WABAs linked to an enterprise, including numbers
/// another enterprise owns (shown as unavailable, R13).
pub fn of_linked_wabas(conn: &mut DbConnection, enterprise_id: i64) -> QueryResult<Vec<NumberListRow>> {
    use crate::db::schema::waba_links;
    numbers::table
        .inner_join(wabas::table.inner_join(waba_links::table))
        .left_join(pool_members::table)
        .left_join(pools::table.on(pools::id.eq(pool_members::pool_id)))
        .filter(waba_links::enterprise_id.eq(enterprise_id))
        .order((wabas::name.asc(), wabas::id.asc(), numbers::display_phone_number.asc()))
        .select((NumberRow::as_select(), wabas::name, pools::name.nullable()))
        .load(conn)
}

/// `limit` of an enterprise's own numbers from `offset` on, in its linked
/// WABAs, in the Numbers page's order: one chunk of its CSV export.
pub fn own_in_linked_wabas(conn: &mut DbConnection, enterprise_id: i64, offset: i64, limit: i64) -> QueryResult<Vec<NumberListRow>> {
    use crate::db::schema::waba_links;
    numbers::table
        .inner_join(wabas::table.inner_join(waba_links::table))
        .left_join(pool_members::table)
        .left_join(pools::table.on(pools::id.eq(pool_members::pool_id)))
        .filter(waba_links::enterprise_id.eq(enterprise_id))
        .filter(numbers::enterprise_id.eq(enterprise_id))
        .order((wabas::name.asc(), wabas::id.asc(), numbers::display_phone_number.asc(), numbers::id.asc()))
        .select((NumberRow::as_select(), wabas::name, pools::name.nullable()))
        .offset(offset)
        .limit(limit)
        .load(conn)
}

/// Activated numbers per enterprise, for several enterprises, in one
/// fixed-shape statement per batch of enterprises (see `pools::each_of`).
pub fn activated_counts(conn: &mut DbConnection, enterprise_ids: &[i64]) -> QueryResult<Vec<(Option<i64>, i64)>> {
    let mut counts = Vec::new();
    for batch in super::pools::each_of(enterprise_ids) {
        let mut query = numbers::table.group_by(numbers::enterprise_id).select((numbers::enterprise_id, diesel::dsl::count_star())).into_boxed();
        for id in batch {
            query = query.or_filter(numbers::enterprise_id.eq(id));
        }
        counts.extend(query.filter(numbers::status.eq(NumberStatus::Activated.as_str())).load::<(Option<i64>, i64)>(conn)?);
    }
    Ok(counts)
}

/// A WABA's number by the digits of its E.164 form (webhooks name numbers that way).
pub fn find_in_waba_by_e164(conn: &mut DbConnection, waba_id: i64, e164: &str) -> QueryResult<Option<NumberRow>> {
    numbers::table.filter(numbers::waba_id.eq(waba_id)).filter(numbers::e164.eq(e164)).select(NumberRow::as_select()).get_result(conn).optional()
}

/// Stores the health Meta reported for a number.
/// Stores a number's health from a webhook event dated `as_of`.
pub fn set_health(
    conn: &mut DbConnection,
    id: i64,
    quality_rating: &QualityRating,
    messaging_limit_tier: Option<&str>,
    throughput_level: Option<&ThroughputLevel>,
    as_of: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(numbers::table.find(id))
        .set((
            numbers::quality_rating.eq(quality_rating.as_str()),
            numbers::messaging_limit_tier.eq(messaging_limit_tier),
            numbers::throughput_level.eq(throughput_level.map(ThroughputLevel::as_str)),
            numbers::health_as_of.eq(Some(as_of)),
            numbers::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    refresh_rotation_since(conn, id)
}

/// The moment a number's health is known true as of (see `set_health`).
pub fn health_as_of(conn: &mut DbConnection, id: i64) -> QueryResult<Option<chrono::NaiveDateTime>> {
    numbers::table.find(id).select(numbers::health_as_of).get_result(conn)
}

/// Notes that an event dated `as_of` confirmed the health already stored.
pub fn confirm_health(conn: &mut DbConnection, id: i64, as_of: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::update(numbers::table.find(id)).set(numbers::health_as_of.eq(Some(as_of))).execute(conn).map(|_| ())
}

/// Keeps `out_of_rotation_since` in step with the number's own state: set
/// when it leaves rotation (not activated, or quality RED), cleared when it
/// returns; a WABA keeps its own `status_changed_at`. Written in SQL, so it
/// knows RED by its exact text only: Meta sends it so.
pub fn refresh_rotation_since(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
    let activated = NumberStatus::Activated.as_str();
    let red = QualityRating::Red.as_str();
    let out = numbers::status.ne(activated).or(numbers::quality_rating.eq(red));
    diesel::update(numbers::table.find(id).filter(numbers::out_of_rotation_since.is_null()).filter(out))
        .set(numbers::out_of_rotation_since.eq(Some(super::now())))
        .execute(conn)?;
    diesel::update(numbers::table.find(id).filter(numbers::status.eq(activated)).filter(numbers::quality_rating.ne(red)))
        .set(numbers::out_of_rotation_since.eq(None::<chrono::NaiveDateTime>))
        .execute(conn)?;
    Ok(())
}
