//! An aggregator's overview: for each of its enterprises the pools, the
//! numbers in and out of rotation, the activated numbers Meta rates RED or
//! YELLOW,
//! the WABAs to reconnect, the last 24 hours' sends and failures, and the
//! event deliveries failing to reach its endpoints.

use std::collections::HashMap;

use super::access::require_channel_admin;
use super::{Actor, ServiceError};
use crate::db::DbConnection;
use crate::domain::Scope;
use crate::domain::rotation::out_of_rotation;
use crate::store::overview::{self as store, Among};

/// One enterprise's figures.
#[derive(Debug, Clone, Default)]
pub struct EnterpriseHealth {
    pub id: i64,
    pub name: String,
    pub pools: i64,
    pub inactive_pools: i64,
    pub in_rotation: i64,
    pub out_of_rotation: i64,
    pub red: i64,
    pub yellow: i64,
    pub reconnect: i64,
    pub sent: i64,
    pub failed: i64,
    /// Event deliveries failing now: retrying after a failed attempt, or failed.
    pub failing_events: i64,
}

impl EnterpriseHealth {
    /// Something an admin should look at: numbers out of rotation or
    /// warned about, a WABA to reconnect, failed sends or failing events.
    pub fn needs_attention(&self) -> bool {
        self.trouble() > 0
    }

    /// How much needs looking at, for the order "most trouble first".
    pub fn trouble(&self) -> i64 {
        self.out_of_rotation + self.red + self.yellow + self.reconnect * 10 + self.failed + self.failing_events
    }
}

/// Which enterprises, in which order.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct OverviewQuery {
    /// `1` for the enterprises that need attention only.
    pub attention: Option<String>,
    /// `trouble` for most trouble first; by name otherwise.
    pub sort: Option<String>,
    pub page: Option<String>,
}

impl OverviewQuery {
    pub fn attention_only(&self) -> bool {
        self.attention.as_deref() == Some("1")
    }

    pub fn by_trouble(&self) -> bool {
        self.sort.as_deref() == Some("trouble")
    }

    /// The page asked for; 1 when none or nonsense.
    pub fn page(&self) -> i64 {
        self.page.as_deref().and_then(|p| p.trim().parse::<i64>().ok()).filter(|p| (1..=1_000_000).contains(p)).unwrap_or(1)
    }
}

/// Enterprises shown per overview page.
pub const PAGE_SIZE: i64 = 50;

/// One page of the overview.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub enterprises: Vec<EnterpriseHealth>,
    /// How many enterprises the whole overview has, with its filter.
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

/// One page of the overview of the actor's aggregator; an enterprise's
/// user has none. By name, a page's enterprises are read and only their
/// figures gathered. Most trouble first, or trouble only, the order depends
/// on every enterprise's figures, so those are gathered for all and the
/// page cut from them.
pub fn overview(conn: &mut DbConnection, actor: &Actor, query: &OverviewQuery) -> Result<Overview, ServiceError> {
    require_channel_admin(actor)?;
    let Scope::Aggregator(aggregator) = actor.scope else { return Err(ServiceError::NotFound) };
    let aggregator = aggregator.get();
    let page = query.page();
    let offset = (page - 1) * PAGE_SIZE;
    let (enterprises, total) = if query.attention_only() || query.by_trouble() {
        let named = store::enterprises_of(conn, aggregator, 0, None)?;
        let mut rows = figures(conn, aggregator, named, Among::All)?;
        if query.attention_only() {
            rows.retain(EnterpriseHealth::needs_attention);
        }
        if query.by_trouble() {
            rows.sort_by_key(|row| std::cmp::Reverse(row.trouble()));
        }
        let total = rows.len() as i64;
        (rows.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX)).take(PAGE_SIZE as usize).collect(), total)
    } else {
        let named = store::enterprises_of(conn, aggregator, offset, Some(PAGE_SIZE))?;
        let ids: Vec<i64> = named.iter().map(|(id, _)| *id).collect();
        (figures(conn, aggregator, named, Among::Only(&ids))?, store::enterprise_count(conn, aggregator)?)
    };
    Ok(Overview { enterprises, total, page, pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1) })
}

/// The figures of `named` enterprises, read `among` them.
fn figures(conn: &mut DbConnection, aggregator: i64, named: Vec<(i64, String)>, among: Among<'_>) -> Result<Vec<EnterpriseHealth>, ServiceError> {
    let mut rows: Vec<EnterpriseHealth> = named.into_iter().map(|(id, name)| EnterpriseHealth { id, name, ..EnterpriseHealth::default() }).collect();
    let at: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    for (enterprise, count, active) in store::pool_counts(conn, aggregator, among)? {
        if let Some(row) = at.get(&enterprise).map(|&i| &mut rows[i]) {
            row.pools += count;
            row.inactive_pools += if active { 0 } else { count };
        }
    }
    for (enterprise, status, quality, waba) in store::numbers_of(conn, aggregator, among)? {
        let Some(row) = enterprise.and_then(|e| at.get(&e)).map(|&i| &mut rows[i]) else { continue };
        match out_of_rotation(status, &quality, waba) {
            None => row.in_rotation += 1,
            // A deactivated number is the admin's choice, not trouble.
            Some(_) if !status.is_activated() => {}
            Some(_) => row.out_of_rotation += 1,
        }
        if status.is_activated() {
            row.red += i64::from(quality.is_red());
            row.yellow += i64::from(quality.is_yellow());
        }
    }
    for (enterprise, count) in store::reconnect_counts(conn, aggregator, among)? {
        if let Some(row) = at.get(&enterprise).map(|&i| &mut rows[i]) {
            row.reconnect = count;
        }
    }
    let since = crate::store::now() - chrono::Duration::hours(24);
    for (enterprise, status, count) in store::send_counts(conn, aggregator, among, since)? {
        if let Some(row) = at.get(&enterprise).map(|&i| &mut rows[i]) {
            if status == "failed" { row.failed += count } else { row.sent += count }
        }
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    for (enterprise, count) in crate::store::events::failing_by_enterprise(conn, &ids)? {
        if let Some(row) = at.get(&enterprise).map(|&i| &mut rows[i]) {
            row.failing_events = count;
        }
    }
    Ok(rows)
}
