//! The audit trail (R10): who changed what, when, before and after.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{audit_entries, enterprises};

/// One audit entry, written in the same transaction as the change it records.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub actor_user_id: Option<i64>,
    pub actor_email: Option<String>,
    pub enterprise_id: Option<i64>,
    pub action: &'static str,
    pub subject_type: &'static str,
    pub subject_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_entries)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: chrono::NaiveDateTime,
    pub actor_email: Option<String>,
    pub enterprise_id: Option<i64>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Option<String>,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
}

pub fn record(conn: &mut DbConnection, entry: &NewAuditEntry) -> QueryResult<()> {
    diesel::insert_into(audit_entries::table)
        .values((
            audit_entries::occurred_at.eq(super::now()),
            audit_entries::actor_user_id.eq(entry.actor_user_id),
            audit_entries::actor_email.eq(entry.actor_email.as_deref()),
            audit_entries::enterprise_id.eq(entry.enterprise_id),
            audit_entries::action.eq(entry.action),
            audit_entries::subject_type.eq(entry.subject_type),
            audit_entries::subject_id.eq(entry.subject_id.as_deref()),
            audit_entries::before_state.eq(entry.before.as_ref().map(|v| v.to_string())),
            audit_entries::after_state.eq(entry.after.as_ref().map(|v| v.to_string())),
            audit_entries::client_ip.eq(entry.client_ip.as_deref()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The newest entries for a set of enterprises (None: every enterprise).
/// Who made the newest entry about a subject, and when.
pub fn last_about(conn: &mut DbConnection, subject_type: &str, subject_id: &str) -> QueryResult<Option<(Option<String>, chrono::NaiveDateTime)>> {
    let newest: Option<i64> = audit_entries::table
        .filter(audit_entries::subject_type.eq(subject_type))
        .filter(audit_entries::subject_id.eq(subject_id))
        .select(diesel::dsl::max(audit_entries::id))
        .get_result(conn)?;
    let Some(id) = newest else { return Ok(None) };
    audit_entries::table.find(id).select((audit_entries::actor_email, audit_entries::occurred_at)).get_result(conn).optional()
}

pub fn recent(conn: &mut DbConnection, enterprise_ids: Option<&[i64]>, limit: i64) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_entries::table.into_boxed();
    if let Some(ids) = enterprise_ids {
        query = query.filter(audit_entries::enterprise_id.eq_any(ids.to_vec()));
    }
    query.order(audit_entries::id.desc()).limit(limit).select(AuditRow::as_select()).load(conn)
}

/// Whose entries: one enterprise's, or those of every enterprise of an
/// aggregator, found through the enterprises table rather than a list of
/// ids that grows with the aggregator.
#[derive(Debug, Clone, Copy)]
pub enum AuditScope {
    Enterprise(i64),
    Aggregator(i64),
}

impl Default for AuditScope {
    /// No enterprise has id 0: nothing matches.
    fn default() -> Self {
        Self::Enterprise(0)
    }
}

/// The audit log's filters, already checked.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub scope: AuditScope,
    pub actor_contains: Option<String>,
    pub action: Option<String>,
    pub from: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
    pub offset: i64,
    pub limit: i64,
}

type Matching<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::InnerJoinOn<
        audit_entries::table,
        enterprises::table,
        diesel::dsl::Eq<audit_entries::enterprise_id, diesel::dsl::Nullable<enterprises::id>>,
    >,
    crate::db::MultiBackend,
>;

/// How many entries match.
pub fn count(conn: &mut DbConnection, filter: &AuditFilter) -> QueryResult<i64> {
    matching(filter).count().get_result(conn)
}

/// `filter.limit` matching entries from `filter.offset` on, newest first,
/// each with its enterprise's name.
pub fn page(conn: &mut DbConnection, filter: &AuditFilter) -> QueryResult<Vec<(AuditRow, String)>> {
    matching(filter)
        .order(audit_entries::id.desc())
        .offset(filter.offset)
        .limit(filter.limit)
        .select((AuditRow::as_select(), enterprises::name))
        .load(conn)
}

/// The entries the filter matches, in no order yet.
fn matching(filter: &AuditFilter) -> Matching<'static> {
    let mut query = audit_entries::table.inner_join(enterprises::table.on(audit_entries::enterprise_id.eq(enterprises::id.nullable()))).into_boxed();
    query = match filter.scope {
        AuditScope::Enterprise(id) => query.filter(audit_entries::enterprise_id.eq(id)),
        AuditScope::Aggregator(id) => query.filter(enterprises::aggregator_id.eq(id)),
    };
    if let Some(actor) = &filter.actor_contains {
        query = query.filter(audit_entries::actor_email.like(super::like_pattern(&actor.to_lowercase())).escape('\\'));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_entries::action.eq(action.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_entries::occurred_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_entries::occurred_at.lt(until));
    }
    query
}
