//! Background work: the periodic sync of every linked WABA with Meta, and
//! forgetting webhook deliveries older than Meta's redelivery window.
//! One sync costs two Graph calls per WABA (more for WABAs over 100
//! numbers); the interval is at least five minutes, far inside Meta's
//! budget of about 200 management calls an hour per WABA.

use std::time::Duration;

use crate::db::DbPool;
use crate::meta::GraphClient;
use crate::security::secrets::SecretKeys;
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
            let db = self.db.clone();
            let pruned =
                tokio::task::spawn_blocking(move || crate::services::webhooks::prune_deliveries(&mut *db.get()?).map_err(anyhow::Error::from)).await;
            match pruned {
                Ok(Ok(count)) => tracing::debug!(count, "remembered webhook deliveries pruned"),
                Ok(Err(error)) => tracing::warn!(error = %error, "pruning remembered webhook deliveries failed"),
                Err(error) => tracing::warn!(error = %error, "pruning remembered webhook deliveries failed"),
            }
        }
    }

    /// One pass over every linked WABA.
    pub async fn sync_all(&self) -> anyhow::Result<usize> {
        let (db, keys) = (self.db.clone(), self.keys.clone());
        let targets =
            tokio::task::spawn_blocking(move || service::background_sync_targets(&mut *db.get()?, &keys).map_err(anyhow::Error::from)).await??;
        let mut synced = 0;
        for target in targets {
            match self.graph.waba_with_numbers(&target.waba.meta_waba_id, &target.token).await {
                Ok(meta) => {
                    let db = self.db.clone();
                    let stored =
                        tokio::task::spawn_blocking(move || service::store_sync(&mut *db.get()?, None, &target, &meta).map_err(anyhow::Error::from))
                            .await?;
                    match stored {
                        Ok(_) => synced += 1,
                        Err(error) => tracing::warn!(error = %error, "storing a background sync failed"),
                    }
                }
                Err(error) => {
                    tracing::warn!(waba = %target.waba.meta_waba_id, error = %error, "background sync: Meta refused");
                    if error.is_token_invalid() {
                        let db = self.db.clone();
                        tokio::task::spawn_blocking(move || {
                            service::mark_reconnect_needed(&mut *db.get()?, None, &target.waba, target.enterprise.id).map_err(anyhow::Error::from)
                        })
                        .await??;
                    }
                }
            }
        }
        Ok(synced)
    }
}
