//! Background work: the periodic sync of every linked WABA with Meta,
//! forgetting webhook deliveries older than Meta's redelivery window, and
//! events older than 30 days.
//! One sync costs two Graph calls per WABA (more for WABAs over 100
//! numbers); the interval is at least five minutes, far inside Meta's
//! budget of about 200 management calls an hour per WABA.

use std::time::Duration;

use crate::db::DbPool;
use crate::meta::GraphClient;
use crate::security::secrets::SecretKeys;
use crate::services::DatabaseRunner as _;
use crate::services::numbers as service;

pub struct SyncLoop {
    pub db: DbPool,
    pub graph: GraphClient,
    pub keys: SecretKeys,
    pub interval: Duration,
}

impl SyncLoop {
    /// Syncs every WABA each interval, forever; errors are logged and retried next time.
    pub async fn run(self) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(error) = self.sync_all().await {
                tracing::warn!(error = %error, "background sync failed");
            }
            match self.db.run(crate::services::webhooks::prune_deliveries).await {
                Ok(count) => tracing::debug!(count, "remembered webhook deliveries pruned"),
                Err(error) => tracing::warn!(error = %error, "pruning remembered webhook deliveries failed"),
            }
            match self.db.run(crate::services::events::prune).await {
                Ok(count) => tracing::debug!(count, "events older than 30 days pruned"),
                Err(error) => tracing::warn!(error = %error, "pruning old events failed"),
            }
        }
    }

    /// One pass over every linked WABA.
    pub async fn sync_all(&self) -> anyhow::Result<usize> {
        Ok(service::sync_every_waba(&self.db, &self.graph, &self.keys).await?)
    }
}
