//! WABAs and their links to enterprises.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{waba_links, wabas};
use crate::domain::WabaStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = wabas)]
pub struct WabaRow {
    pub id: i64,
    pub meta_waba_id: String,
    pub business_id: Option<String>,
    pub name: String,
    pub status: WabaStatus,
    pub last_synced_at: Option<chrono::NaiveDateTime>,
    /// The moment the status is known true as of: the Meta time of the
    /// event that set it, or the sync that read it.
    pub status_as_of: Option<chrono::NaiveDateTime>,
}

pub struct NewWaba<'a> {
    pub meta_waba_id: &'a str,
    pub business_id: Option<&'a str>,
    pub name: &'a str,
    pub status: WabaStatus,
}

pub fn insert(conn: &mut DbConnection, waba: &NewWaba<'_>) -> QueryResult<i64> {
    diesel::insert_into(wabas::table)
        .values((
            wabas::meta_waba_id.eq(waba.meta_waba_id),
            wabas::business_id.eq(waba.business_id),
            wabas::name.eq(waba.name),
            wabas::status.eq(waba.status.as_str()),
            wabas::status_as_of.eq(Some(super::now())),
            wabas::created_at.eq(super::now()),
        ))
        .returning(wabas::id)
        .get_result(conn)
}

/// Links a WABA to an enterprise; the access token arrives with the numbers
/// issue's Verify flow, encrypted.
pub fn link(conn: &mut DbConnection, waba_id: i64, enterprise_id: i64) -> QueryResult<()> {
    diesel::insert_into(waba_links::table)
        .values((waba_links::waba_id.eq(waba_id), waba_links::enterprise_id.eq(enterprise_id), waba_links::linked_at.eq(super::now())))
        .execute(conn)
        .map(|_| ())
}

/// The WABAs linked to an enterprise, by name.
pub fn of_enterprise(conn: &mut DbConnection, enterprise_id: i64) -> QueryResult<Vec<WabaRow>> {
    wabas::table
        .inner_join(waba_links::table)
        .filter(waba_links::enterprise_id.eq(enterprise_id))
        .order((wabas::name.asc(), wabas::id.asc()))
        .select(WabaRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<WabaRow>> {
    wabas::table.find(id).select(WabaRow::as_select()).get_result(conn).optional()
}

pub fn find_by_meta_id(conn: &mut DbConnection, meta_waba_id: &str) -> QueryResult<Option<WabaRow>> {
    wabas::table.filter(wabas::meta_waba_id.eq(meta_waba_id)).select(WabaRow::as_select()).get_result(conn).optional()
}

/// Stores what a sync read from Meta: the name, and the status Meta's
/// answer shows, known true as of now, so older webhooks change nothing.
pub fn record_sync(conn: &mut DbConnection, id: i64, name: &str, status: WabaStatus) -> QueryResult<()> {
    let now = super::now();
    diesel::update(wabas::table.find(id))
        .set((wabas::name.eq(name), wabas::last_synced_at.eq(Some(now)), wabas::status_as_of.eq(Some(now))))
        .execute(conn)?;
    let reason = (!status.is_active()).then_some("Meta reports the WABA cannot send");
    let status = status.as_str();
    diesel::update(wabas::table.find(id).filter(wabas::status.ne(status)))
        .set((wabas::status.eq(status), wabas::status_changed_at.eq(Some(now)), wabas::status_reason.eq(reason)))
        .execute(conn)
        .map(|_| ())
}

/// Changes a WABA's status, noting when and why.
pub fn set_status(conn: &mut DbConnection, id: i64, status: WabaStatus, reason: Option<&str>) -> QueryResult<()> {
    let status = status.as_str();
    diesel::update(wabas::table.find(id).filter(wabas::status.ne(status)))
        .set((wabas::status.eq(status), wabas::status_changed_at.eq(Some(super::now())), wabas::status_reason.eq(reason)))
        .execute(conn)
        .map(|_| ())
}

/// Applies the status a webhook event dated `as_of` leads to; answers
/// whether the status changed. The caller has checked the event is not older.
pub fn set_status_as_of(
    conn: &mut DbConnection,
    id: i64,
    status: WabaStatus,
    reason: Option<&str>,
    as_of: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    let status = status.as_str();
    let changed = diesel::update(wabas::table.find(id).filter(wabas::status.ne(status)))
        .set((
            wabas::status.eq(status),
            wabas::status_changed_at.eq(Some(super::now())),
            wabas::status_reason.eq(reason),
            wabas::status_as_of.eq(Some(as_of)),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::update(wabas::table.find(id)).set(wabas::status_as_of.eq(Some(as_of))).execute(conn)?;
    }
    Ok(changed > 0)
}

/// A WABA's link to one enterprise, with the sealed token.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = waba_links)]
pub struct LinkRow {
    pub id: i64,
    pub waba_id: i64,
    pub enterprise_id: i64,
    pub access_token_ciphertext: Option<Vec<u8>>,
    pub access_token_key_id: Option<String>,
}

pub fn find_link(conn: &mut DbConnection, waba_id: i64, enterprise_id: i64) -> QueryResult<Option<LinkRow>> {
    waba_links::table
        .filter(waba_links::waba_id.eq(waba_id))
        .filter(waba_links::enterprise_id.eq(enterprise_id))
        .select(LinkRow::as_select())
        .get_result(conn)
        .optional()
}

/// Stores a sealed token on a link, creating the link when it is new.
pub fn store_token(conn: &mut DbConnection, waba_id: i64, enterprise_id: i64, ciphertext: &[u8], key_id: &str) -> QueryResult<bool> {
    match find_link(conn, waba_id, enterprise_id)? {
        Some(link) => {
            diesel::update(waba_links::table.find(link.id))
                .set((waba_links::access_token_ciphertext.eq(Some(ciphertext)), waba_links::access_token_key_id.eq(Some(key_id))))
                .execute(conn)?;
            Ok(false)
        }
        None => {
            diesel::insert_into(waba_links::table)
                .values((
                    waba_links::waba_id.eq(waba_id),
                    waba_links::enterprise_id.eq(enterprise_id),
                    waba_links::access_token_ciphertext.eq(Some(ciphertext)),
                    waba_links::access_token_key_id.eq(Some(key_id)),
                    waba_links::linked_at.eq(super::now()),
                ))
                .execute(conn)?;
            Ok(true)
        }
    }
}

/// Every link that holds a token, for the background sync.
pub fn links_with_tokens(conn: &mut DbConnection) -> QueryResult<Vec<LinkRow>> {
    waba_links::table.filter(waba_links::access_token_ciphertext.is_not_null()).order(waba_links::id.asc()).select(LinkRow::as_select()).load(conn)
}

/// The enterprises a WABA is linked to.
pub fn linked_enterprises(conn: &mut DbConnection, waba_id: i64) -> QueryResult<Vec<i64>> {
    waba_links::table.filter(waba_links::waba_id.eq(waba_id)).select(waba_links::enterprise_id).load(conn)
}

/// Replaces a link's sealed token (key rotation).
pub fn replace_token(conn: &mut DbConnection, link_id: i64, ciphertext: &[u8], key_id: &str) -> QueryResult<()> {
    diesel::update(waba_links::table.find(link_id))
        .set((waba_links::access_token_ciphertext.eq(Some(ciphertext)), waba_links::access_token_key_id.eq(Some(key_id))))
        .execute(conn)
        .map(|_| ())
}

/// Every link of a WABA (with sealed tokens).
pub fn links_of_waba(conn: &mut DbConnection, waba_id: i64) -> QueryResult<Vec<LinkRow>> {
    waba_links::table.filter(waba_links::waba_id.eq(waba_id)).select(LinkRow::as_select()).load(conn)
}
