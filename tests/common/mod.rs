//! What both test binaries (`api` and `browser`) share: the portal's paths,
//! the demo password, a fresh database per test dropped after it, and the
//! real app started on it with the demo dataset.
//!
//! The database is a temporary SQLite file, or, when
//! `WABAPOOL_TEST_DATABASE_URL` names a PostgreSQL server, a fresh database
//! created for the test and dropped after it.

// Each binary includes this file and uses only part of it.
#![allow(dead_code)]

use diesel::{Connection, PgConnection, RunQueryDsl};
use secrecy::SecretString;
use wabapool::config::Settings;
use wabapool::db::{self, DatabaseUrl, DbPool};
use wabapool::meta::sandbox::Sandbox;
use wabapool::security::secrets::SecretKeys;
use wabapool::startup::Application;

/// The password of every demo user.
pub const PASSWORD: &str = "wabapool-demo";

/// The pool listing, the portal's home.
pub const LISTING: &str = "/channels/whatsapp/pools";
/// The Numbers page.
pub const NUMBERS: &str = "/channels/whatsapp/numbers";
/// The password change page, which every role may read.
pub const SETTINGS: &str = "/settings/password";

pub enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { server_url, name } = self {
            let (server_url, name) = (server_url.clone(), name.clone());
            // Dropped on a plain thread: the test's runtime may be shutting down.
            let _ = std::thread::spawn(move || {
                if let Ok(mut conn) = PgConnection::establish(&server_url) {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn);
                }
            })
            .join();
        }
    }
}

pub fn fresh_database() -> (String, TestDatabase) {
    match std::env::var("WABAPOOL_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(server_url) => {
            assert!(DatabaseUrl::parse(&server_url).backend() == db::Backend::Postgres, "WABAPOOL_TEST_DATABASE_URL must be postgres://");
            let name = format!("wabapool_test_{}", random_suffix());
            let mut conn = PgConnection::establish(&server_url).unwrap_or_else(|e| panic!("PostgreSQL at {server_url} is unreachable: {e}"));
            diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).expect("create test database");
            let (base, _) = server_url.rsplit_once('/').expect("a database URL has a path");
            (format!("{base}/{name}"), TestDatabase::Postgres { server_url, name })
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("test.sqlite3");
            (path.to_string_lossy().into_owned(), TestDatabase::Sqlite(dir))
        }
    }
}

fn random_suffix() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn demo_loaded(conn: &mut db::DbConnection, keys: &SecretKeys) {
    wabapool::demo::load(conn, &SecretString::from(PASSWORD), keys).expect("demo data loads");
}

/// The real app, running on its fresh database with the demo dataset.
pub struct RunningApp {
    pub address: String,
    /// The Graph API sandbox this app talks to, holding the demo WABAs.
    pub sandbox_url: String,
    /// The keys that seal this app's Meta tokens.
    pub keys: SecretKeys,
    pub db: DbPool,
    pub database: TestDatabase,
}

/// Starts the app on 127.0.0.1 port 0 on a fresh database holding the demo
/// dataset, talking to a Graph sandbox, with settings changed first.
pub async fn start_app(customise: impl FnOnce(&mut Settings)) -> RunningApp {
    let (url, database) = fresh_database();
    let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").expect("sandbox binds").spawn();
    let mut settings = Settings::for_database(&url);
    settings.meta_graph_url = Some(sandbox.base_url.clone());
    settings.meta_timeout = std::time::Duration::from_millis(1500);
    customise(&mut settings);
    let keys = settings.secret_keys.clone();
    let seed_keys = keys.clone();
    let app = Application::build(settings).await.expect("application builds");
    let port = app.port();
    let pool = app.db();
    let seed = pool.clone();
    tokio::task::spawn_blocking(move || demo_loaded(&mut seed.get().expect("connection"), &seed_keys)).await.expect("seeding finished");
    tokio::spawn(app.run_until_stopped());
    RunningApp { address: format!("http://127.0.0.1:{port}"), sandbox_url: sandbox.base_url.clone(), keys, db: pool, database }
}
