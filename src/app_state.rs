//! What the portal's and the API's handlers share: the database pool and the
//! ways to run work on it, the Graph client, the caches and the settings read
//! at start-up. Both `web` and `api` import it; it imports neither.

use actix_web::web;
use secrecy::SecretString;

use crate::db::{DbConnection, DbError, DbPool};
use crate::error::AppError;
use crate::meta::GraphClient;
use crate::security::password::PasswordHasher;
use crate::security::secrets::SecretKeys;
use crate::services::ServiceError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: DbPool,
    pub hasher: PasswordHasher,
    pub demo: bool,
    pub graph: GraphClient,
    pub secrets: SecretKeys,
    pub metrics: std::sync::Arc<crate::telemetry::Metrics>,
    pub trusted_proxies: std::sync::Arc<Vec<std::net::IpAddr>>,
    /// Client addresses `/metrics` is served to.
    pub metrics_allow: std::sync::Arc<Vec<ipnet::IpNet>>,
    pub webhooks: std::sync::Arc<WebhookSettings>,
    pub sessions: crate::services::auth::SessionPolicy,
    pub listings: std::sync::Arc<crate::services::pools::ListingCache>,
    /// Signed-in users, checked against the session stamp on each request.
    pub signed_in: std::sync::Arc<crate::services::auth::SessionCache>,
    /// Whether short reads may run on an async worker (see [`AppState::try_quick`]).
    pub quick_reads: bool,
    /// SQLite's batching writer (see [`AppState::write`]); None on PostgreSQL.
    pub writer: Option<crate::db::writer::Writer>,
    /// Event endpoints may be on loopback and private addresses.
    pub allow_private_event_urls: bool,
}

/// What Meta's webhook endpoint needs: the app secret the deliveries are
/// signed with, the token of the verification handshake and the body limit.
pub struct WebhookSettings {
    pub app_secret: SecretString,
    pub verify_token: SecretString,
    pub max_bytes: usize,
}

impl AppState {
    /// Runs blocking database work (one service call, one transaction) on
    /// actix's blocking pool, never on an async worker.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    {
        self.on_blocking_pool(work).await
    }

    /// [`Self::run`] for work with any error the database layer's own
    /// failures turn into.
    async fn on_blocking_pool<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let db = self.db.clone();
        web::block(move || {
            crate::worker_placement::free_this_thread();
            let mut conn = db.get().map_err(|cause| DbError::Unavailable(cause.into()))?;
            work(&mut conn)
        })
        .await
        .map_err(|error| DbError::Internal(anyhow::anyhow!("blocking task failed: {error}")))?
    }

    /// Runs database work that writes, in one transaction, where writes are
    /// cheapest: on SQLite in the writer's next batch, committed together
    /// with the writes queued beside it; on PostgreSQL, whose writers run
    /// side by side, like [`Self::run`]. `work`'s own write transactions
    /// become savepoints in the batch.
    pub async fn write<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(work).await,
            None => self.run(work).await,
        }
    }

    /// Runs a few short reads on this async worker, sparing the two thread
    /// switches of the blocking pool, where they cannot wait: on SQLite (a
    /// local file read, no round trip) and only when a pooled connection is
    /// free at once. `work` answers None when it finds it needs more than
    /// short reads. None, also when a connection is not free or the database
    /// is PostgreSQL, means nothing was done: the caller goes to [`Self::run`].
    pub fn try_quick<T>(&self, work: impl FnOnce(&mut DbConnection) -> Result<Option<T>, AppError>) -> Result<Option<T>, AppError> {
        if !self.quick_reads {
            return Ok(None);
        }
        match self.db.try_get() {
            Some(mut conn) => work(&mut conn),
            None => Ok(None),
        }
    }
}

/// The use cases that talk to Meta between two pieces of database work
/// run that work the way the handlers do.
impl crate::services::DatabaseRunner for AppState {
    async fn run<T, F>(&self, work: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ServiceError> + Send + 'static,
    {
        self.on_blocking_pool(work).await
    }

    async fn write<T, F>(&self, work: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ServiceError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(work).await,
            None => self.on_blocking_pool(work).await,
        }
    }
}
