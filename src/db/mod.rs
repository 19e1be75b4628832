//! The database: backend chosen from the URL scheme, an r2d2 pool, embedded
//! migrations per backend, and the write transaction every service uses.

pub mod schema;
pub mod writer;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to whichever backend the URL named.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Which backend a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database URL, read once: `postgres://` or `postgresql://` select
/// PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a bare path select SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Self {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self { backend: Backend::Postgres, target: url.to_owned() };
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        Self { backend: Backend::Sqlite, target: path.to_owned() }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection string handed to the backend driver.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// An r2d2 manager that opens exactly the backend the URL names, so a
/// failure reports the real cause (for example PostgreSQL being down).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("could not prepare the database connection: {0}")]
    Query(#[from] diesel::result::Error),
}

/// What the database layer itself can fail with, apart from the work it
/// runs: the upper layers turn it into their own errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot take the work now: locked past its timeout,
    /// gone, or the writer has stopped.
    #[error(transparent)]
    Unavailable(anyhow::Error),
    /// A fault of this process, such as a job that panicked.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        match self.url.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url.target)?;
                // A statement outside a transaction commits without waiting
                // for the disk; write_transaction turns the wait on for its
                // own (see write_transaction_unflushed).
                conn.batch_execute("SET synchronous_commit TO off")?;
                Ok(DbConnection::Postgres(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url.target)?;
                // busy_timeout first: switching to WAL itself may have to wait.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;"
                ))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(ConnectError::Query)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection handed back mid-transaction (a panic inside a
        // service) must never be reused.
        open_transactions(conn).is_some()
    }
}

/// How many transactions and savepoints `conn` has open; None when none is.
/// A broken transaction manager counts as open, so the connection is dropped.
fn open_transactions(conn: &mut DbConnection) -> Option<u32> {
    match <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth() {
        Ok(depth) => depth.map(std::num::NonZeroU32::get),
        Err(_) => Some(u32::MAX),
    }
}

/// Opens the pool. SQLite gets a parent directory created for its file.
pub fn connect_pool(url: &DatabaseUrl, max_size: u32) -> anyhow::Result<DbPool> {
    if url.backend == Backend::Sqlite
        && let Some(parent) = std::path::Path::new(&url.target).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(5))
        .test_on_check_out(url.backend == Backend::Postgres)
        .build(ConnectionManager::new(url.clone()))?;
    Ok(pool)
}

/// Applies the embedded migrations of the connection's backend.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    let result = match conn {
        DbConnection::Postgres(pg) => pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        DbConnection::Sqlite(lite) => lite.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| anyhow::anyhow!("applying migrations failed: {e}"))
}

/// SQLite has one writer. The writers of this process queue here, in
/// arrival order, rather than in SQLite's busy handler, which sleeps for
/// milliseconds between tries; busy_timeout still covers other processes
/// (the CLI) writing the same file.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How long a SQLite connection waits for another's lock before SQLITE_BUSY.
const BUSY_TIMEOUT_MS: u32 = 5000;

/// Runs `work` in one transaction that writes. On SQLite it begins
/// IMMEDIATE, taking the write lock up front so two writers queue instead
/// of failing on lock upgrade; on PostgreSQL it is a plain READ COMMITTED
/// transaction whose writes lock the rows they touch. Inside a transaction
/// already open (a batch of [`writer::Writer`]) it is a savepoint.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    transaction_that_writes(conn, Commit::Flushed, work)
}

/// [`write_transaction`] whose commit, on PostgreSQL, does not wait for the
/// WAL to reach the disk, like every statement run outside a transaction
/// there (each connection sets `synchronous_commit` off; a flushed
/// transaction sets it on for itself). The rows it locks are free again
/// without a disk flush in between. A crash of the database server may lose
/// such a commit, and only if no flushed commit followed it: PostgreSQL
/// flushes its WAL in order, so a flushed commit made after it on the same
/// server (the one a client is answered after) makes it durable too. For
/// state whose loss in that crash costs nothing a client was told of: the
/// routing's turn, the throughput reserved in the current second, a claim
/// that a flushed commit confirms. On SQLite it is [`write_transaction`].
pub fn write_transaction_unflushed<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    transaction_that_writes(conn, Commit::Unflushed, work)
}

/// Whether a PostgreSQL commit waits for its WAL to be on disk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    Flushed,
    Unflushed,
}

fn transaction_that_writes<T, E, F>(conn: &mut DbConnection, commit_kind: Commit, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if open_transactions(conn).is_some() {
        return savepoint(conn, work).map_err(|failed| match failed {
            Nested::Work(error) => error,
            Nested::Savepoint(error) => error.into(),
        });
    }
    let _writer = match conn {
        DbConnection::Sqlite(lite) => {
            let writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
            Some(writer)
        }
        DbConnection::Postgres(pg) => {
            match commit_kind {
                // One round trip: the setting ends with the transaction.
                Commit::Flushed => AnsiTransactionManager::begin_transaction_sql(pg, "BEGIN; SET LOCAL synchronous_commit TO on")?,
                Commit::Unflushed => AnsiTransactionManager::begin_transaction(pg)?,
            }
            None
        }
    };
    match work(conn) {
        Ok(value) => match commit(conn) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                let _ = rollback(conn);
                Err(commit_error.into())
            }
        },
        Err(error) => {
            rollback(conn)?;
            Err(error)
        }
    }
}

/// Runs `work` in a savepoint of the transaction already open, rolled back
/// when `work` fails.
fn savepoint<T, E>(conn: &mut DbConnection, work: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, Nested<E>> {
    conn.transaction(|conn| work(conn).map_err(Nested::Work))
}

/// A savepoint's failure: the work's own, or the savepoint's itself.
enum Nested<E> {
    Work(E),
    Savepoint(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for Nested<E> {
    fn from(error: diesel::result::Error) -> Self {
        Self::Savepoint(error)
    }
}

fn commit(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(lite) => AnsiTransactionManager::commit_transaction(lite),
        DbConnection::Postgres(pg) => AnsiTransactionManager::commit_transaction(pg),
    }
}

fn rollback(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Sqlite(lite) => AnsiTransactionManager::rollback_transaction(lite),
        DbConnection::Postgres(pg) => AnsiTransactionManager::rollback_transaction(pg),
    }
}

/// Rewrites the one readiness row (for `/readyz`): succeeds only when the
/// write is committed, by the caller's transaction or on its own.
pub fn probe_write(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::ExpressionMethods as _;
    use schema::readiness::dsl::{probes, readiness};
    match write_transaction(conn, |conn| diesel::update(readiness).set(probes.eq(probes + 1)).execute(conn))? {
        1 => Ok(()),
        _ => Err(diesel::result::Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_select_postgres() {
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").backend(), Backend::Postgres);
    }

    #[test]
    fn paths_and_sqlite_urls_select_sqlite() {
        let url = DatabaseUrl::parse("sqlite://data/x.sqlite3");
        assert_eq!(url.backend(), Backend::Sqlite);
        assert_eq!(url.target(), "data/x.sqlite3");
        assert_eq!(DatabaseUrl::parse("data/y.sqlite3").target(), "data/y.sqlite3");
        assert_eq!(DatabaseUrl::parse("sqlite::memory:").target(), ":memory:");
    }
}
