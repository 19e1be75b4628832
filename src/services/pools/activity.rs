//! A pool's detail page: the pool with its members, and each member's sends
//! over the last 24 hours with the recent failures.

use super::listing::{MemberView, PoolSummary};
use super::pool_in_scope;
use crate::db::DbConnection;
use crate::domain::PoolId;
use crate::services::access::require_channel_admin;
use crate::services::{Actor, ServiceError};
use crate::store::numbers;
use crate::store::pools;

/// Sends of one member over the last 24 hours.
#[derive(Debug, Clone)]
pub struct MemberSends {
    pub display: String,
    pub sent: i64,
    pub failed: i64,
    /// Bar length out of 100, against the busiest member.
    pub bar: i64,
}

/// The detail page's send figures: per member over 24 hours, and recent failures.
pub struct PoolActivity {
    pub per_member: Vec<MemberSends>,
    pub failures: Vec<crate::store::routing::FailureRow>,
    /// The most messages one member sent: the chart's scale.
    pub busiest: i64,
}

impl PoolActivity {
    /// No member sent or failed anything in the 24 hours.
    pub fn is_empty(&self) -> bool {
        self.per_member.iter().all(|m| m.sent == 0 && m.failed == 0)
    }
}

pub fn pool_activity(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<PoolActivity, ServiceError> {
    let summary = pool_detail(conn, actor, id)?;
    let since = crate::store::now() - chrono::Duration::hours(24);
    let counts = crate::store::routing::sends_since(conn, summary.id, since)?;
    let mut per_member: Vec<MemberSends> = summary
        .members
        .iter()
        .map(|m| {
            let count = |status: &str| {
                counts
                    .iter()
                    .filter(|(n, s, _)| *n == Some(m.number_id) && (s == status || (status == "sent" && s != "failed")))
                    .map(|(_, _, c)| *c)
                    .sum()
            };
            MemberSends { display: m.display.clone(), sent: count("sent"), failed: count("failed"), bar: 0 }
        })
        .collect();
    let busiest = per_member.iter().map(|m| m.sent).max().unwrap_or(0);
    for m in &mut per_member {
        m.bar = m.sent * 100 / busiest.max(1);
    }
    let failures = crate::store::routing::recent_failures(conn, summary.id, 10)?;
    Ok(PoolActivity { per_member, failures, busiest })
}

/// The detail page: the pool, its enterprise and members.
pub fn pool_detail(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<PoolSummary, ServiceError> {
    require_channel_admin(actor)?;
    let (pool, enterprise) = pool_in_scope(conn, actor, id)?;
    let members = pools::members_of(conn, &[pool.id])?.into_iter().map(MemberView::from_row).collect();
    let enterprise_activated = numbers::count_activated(conn, enterprise.id)?;
    Ok(PoolSummary {
        id: pool.id,
        name: pool.name,
        enterprise_id: enterprise.id,
        enterprise_name: enterprise.name,
        active: pool.active,
        version: pool.version,
        members,
        enterprise_activated,
    })
}
