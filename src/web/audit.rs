//! Settings → Audit log, with filters and a CSV export.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::audit_words::{Entry, Sentence, action_words};
use super::csv;
use super::layout::{Chrome, Nav};
use super::session::CurrentUser;
use super::{AppState, ok};
use crate::error::AppError;
use crate::services::audit_log::{self as service, ACTIONS, AuditPage, AuditQuery, AuditRow};

#[derive(Template)]
#[template(path = "settings/audit.html")]
struct AuditIndex {
    chrome: Chrome,
    log: AuditPage,
    actions: &'static [&'static str],
    /// Each entry of the page in words.
    sentences: Vec<Sentence>,
}

impl AuditIndex {
    fn value<'a>(&self, raw: &'a Option<String>) -> &'a str {
        raw.as_deref().unwrap_or_default()
    }

    fn is_enterprise_chosen(&self, id: &i64) -> bool {
        self.log.query.enterprise_id.as_deref() == Some(id.to_string().as_str())
    }

    fn action_label(&self, action: &str) -> &'static str {
        action_words(action).0
    }

    fn is_action_chosen(&self, action: &str) -> bool {
        self.log.query.action.as_deref() == Some(action)
    }

    fn href(&self, page: i64, csv: bool) -> String {
        let q = &self.log.query;
        let mut parts: Vec<(&str, String)> = Vec::new();
        for (key, value) in [("actor", &q.actor), ("enterprise_id", &q.enterprise_id), ("action", &q.action), ("from", &q.from), ("until", &q.until)]
        {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                parts.push((key, v.to_owned()));
            }
        }
        if !csv {
            parts.push(("page", page.to_string()));
        }
        let base = if csv { "/audit.csv" } else { "/audit" };
        format!("{base}?{}", serde_urlencoded::to_string(parts).unwrap_or_default())
    }
}

#[get("/audit")]
pub async fn index(state: web::Data<AppState>, user: CurrentUser, query: web::Query<AuditQuery>) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let query = query.into_inner();
    let log = state.run(move |conn| Ok(service::audit_page(conn, &actor, query)?)).await?;
    let aggregator = user.actor.scope.is_aggregator();
    let sentences = log
        .entries
        .iter()
        .map(|(e, _)| {
            let entry = Entry {
                actor_email: e.actor_email.as_deref(),
                action: &e.action,
                subject_type: &e.subject_type,
                subject_id: e.subject_id.as_deref(),
                enterprise_id: e.enterprise_id,
                before: e.before_state.as_deref(),
                after: e.after_state.as_deref(),
            };
            Sentence::new(entry, aggregator)
        })
        .collect();
    ok(&AuditIndex { chrome: Chrome::new(&user, Nav::Audit, state.demo), log, actions: ACTIONS, sentences })
}

/// The audit log as CSV: every entry its filters match, newest first, read
/// and sent a chunk at a time.
#[get("/audit.csv")]
pub async fn export(state: web::Data<AppState>, user: CurrentUser, query: web::Query<AuditQuery>) -> Result<HttpResponse, AppError> {
    let (actor, query) = (user.actor.clone(), query.into_inner());
    let read = move |offset: i64| {
        let (state, actor, query) = (state.clone(), actor.clone(), query.clone());
        async move { state.run(move |conn| Ok(service::audit_export(conn, &actor, &query, offset)?)).await }
    };
    let first = read(0).await?;
    let header = "occurred_at,actor,enterprise,action,subject_type,subject_id,before,after";
    Ok(csv::stream("wabapool-audit.csv", header, service::EXPORT_CHUNK, first, read, entry_cells))
}

/// One entry's cells in the audit CSV.
fn entry_cells((row, enterprise): (AuditRow, String)) -> Vec<String> {
    vec![
        row.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        row.actor_email.unwrap_or_default(),
        enterprise,
        row.action,
        row.subject_type,
        row.subject_id.unwrap_or_default(),
        row.before_state.unwrap_or_default(),
        row.after_state.unwrap_or_default(),
    ]
}
