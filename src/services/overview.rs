//! An aggregator's overview: for each of its enterprises the pools, the
//! numbers in and out of rotation, the activated numbers Meta rates RED or
//! YELLOW,
//! the WABAs to reconnect and the last 24 hours' sends and failures.

use std::collections::HashMap;

use super::access::require_channel_admin;
use super::{Actor, ServiceError};
use crate::db::DbConnection;
use crate::domain::Scope;
use crate::domain::rotation::out_of_rotation;
use crate::store::overview as store;

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
}

impl EnterpriseHealth {
    /// Something an admin should look at: numbers out of rotation or
    /// warned about, a WABA to reconnect, or failed sends.
    pub fn needs_attention(&self) -> bool {
        self.trouble() > 0
    }

    /// How much needs looking at, for the order "most trouble first".
    pub fn trouble(&self) -> i64 {
        self.out_of_rotation + self.red + self.yellow + self.reconnect * 10 + self.failed
    }
}

/// Which enterprises, in which order.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct OverviewQuery {
    /// `1` for the enterprises that need attention only.
    pub attention: Option<String>,
    /// `trouble` for most trouble first; by name otherwise.
    pub sort: Option<String>,
}

impl OverviewQuery {
    pub fn attention_only(&self) -> bool {
        self.attention.as_deref() == Some("1")
    }

    pub fn by_trouble(&self) -> bool {
        self.sort.as_deref() == Some("trouble")
    }
}

/// The overview of the actor's aggregator; an enterprise's user has none.
pub fn overview(conn: &mut DbConnection, actor: &Actor, query: &OverviewQuery) -> Result<Vec<EnterpriseHealth>, ServiceError> {
    require_channel_admin(actor)?;
    let Scope::Aggregator(aggregator) = actor.scope else { return Err(ServiceError::NotFound) };
    let aggregator = aggregator.get();
    let mut rows: Vec<EnterpriseHealth> =
        store::enterprises_of(conn, aggregator)?.into_iter().map(|(id, name)| EnterpriseHealth { id, name, ..EnterpriseHealth::default() }).collect();
    let at: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    for (enterprise, count, active) in store::pool_counts(conn, aggregator)? {
        if let Some(row) = at.get(&enterprise).map(|&i| &mut rows[i]) {
            row.pools += count;
            row.inactive_pools += if active { 0 } else { count };
        }
    }
    for (enterprise, status, quality, waba) in store::numbers_of(conn, aggregator)? {
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
    for (enterprise, count) in store::reconnect_counts(conn, aggregator)? {
        if let Some(row) = at.get(&enterprise).map(|&i| &mut rows[i]) {
            row.reconnect = count;
        }
    }
    let since = crate::store::now() - chrono::Duration::hours(24);
    for (enterprise, status, count) in store::send_counts(conn, aggregator, since)? {
        if let Some(row) = at.get(&enterprise).map(|&i| &mut rows[i]) {
            if status == "failed" { row.failed += count } else { row.sent += count }
        }
    }
    if query.attention_only() {
        rows.retain(EnterpriseHealth::needs_attention);
    }
    if query.by_trouble() {
        rows.sort_by_key(|row| std::cmp::Reverse(row.trouble()));
    }
    Ok(rows)
}
