//! What both test binaries (`api` and `browser`) share: the portal's paths,
//! the demo password and numbers, a fresh database per test dropped after
//! it, the real app started on it with the demo dataset, and the queries
//! tests read that database with.
//!
//! The database is a temporary SQLite file, or, when
//! `WABAPOOL_TEST_DATABASE_URL` names a PostgreSQL server, a fresh database
//! created for the test and dropped after it.

// Each binary includes this file and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

use diesel::prelude::*;
use secrecy::SecretString;
use wabapool::config::Settings;
use wabapool::db::schema::{enterprises, numbers, pool_members, pools};
use wabapool::db::{self, DatabaseUrl, DbPool};
use wabapool::meta::sandbox::Sandbox;
use wabapool::security::secrets::SecretKeys;
use wabapool::startup::Application;

/// The password of every demo user.
pub const PASSWORD: &str = "wabapool-demo";

/// The pool listing, the portal's home.
pub const LISTING: &str = "/channels/whatsapp/pools";
/// The Add Pool page.
pub const ADD_POOL: &str = "/channels/whatsapp/pools/new";
/// The Numbers page.
pub const NUMBERS: &str = "/channels/whatsapp/numbers";
/// The password change page, which every role may read.
pub const SETTINGS: &str = "/settings/password";

/// The eleven activated numbers of Initech Bank's "Initech Retail Banking"
/// WABA in the demo dataset: one more than a pool may hold.
pub const RETAIL_BANKING: [&str; 11] = [
    "+1 555-030-0301",
    "+1 555-030-0302",
    "+1 555-030-0303",
    "+1 555-030-0304",
    "+1 555-030-0305",
    "+1 555-030-0306",
    "+1 555-030-0307",
    "+1 555-030-0308",
    "+1 555-030-0309",
    "+1 555-030-0310",
    "+1 555-030-0311",
];

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

/// A fresh database, migrated and holding the demo dataset sealed with new
/// keys, for tests that start their own instances on it.
pub async fn seeded_database() -> (String, TestDatabase, SecretKeys) {
    let (url, database) = fresh_database();
    let keys = SecretKeys::random();
    let (seed_url, seed_keys) = (url.clone(), keys.clone());
    tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&DatabaseUrl::parse(&seed_url), 1).expect("database reachable");
        let mut conn = pool.get().expect("connection");
        db::run_migrations(&mut conn).expect("migrations run");
        demo_loaded(&mut conn, &seed_keys);
    })
    .await
    .expect("seeding finished");
    (url, database, keys)
}

/// The real app, running on its fresh database with the demo dataset.
pub struct RunningApp {
    pub address: String,
    /// The Graph API sandbox this app talks to, holding the demo WABAs.
    pub sandbox_url: String,
    /// The keys that seal this app's Meta tokens.
    pub keys: SecretKeys,
    pub database: AppDatabase,
}

/// The database a running app uses, with the queries tests read it with.
/// Clones share it; it is dropped with the last one.
#[derive(Clone)]
pub struct AppDatabase {
    pub db: DbPool,
    _database: Arc<TestDatabase>,
}

impl AppDatabase {
    /// Runs `work` on a connection, off the test's async threads.
    pub async fn with_db<T: Send + 'static>(&self, work: impl FnOnce(&mut db::DbConnection) -> T + Send + 'static) -> T {
        with_pool(&self.db, work).await
    }

    /// How many pools exist, in every enterprise.
    pub async fn pool_count(&self) -> i64 {
        self.with_db(|c| pools::table.count().get_result::<i64>(c).expect("pools counted")).await
    }

    /// A pool's id by name.
    pub async fn pool_id(&self, name: &str) -> i64 {
        let name = name.to_owned();
        self.with_db(move |c| pools::table.filter(pools::name.eq(name)).select(pools::id).first::<i64>(c).expect("pool exists")).await
    }

    /// The members of a pool, as display numbers in slot order.
    pub async fn pool_numbers(&self, pool_id: i64) -> Vec<String> {
        self.with_db(move |c| {
            pool_members::table
                .inner_join(numbers::table)
                .filter(pool_members::pool_id.eq(pool_id))
                .order(pool_members::slot)
                .select(numbers::display_phone_number)
                .load(c)
                .expect("members load")
        })
        .await
    }

    /// An enterprise's id by name.
    pub async fn enterprise_id(&self, name: &str) -> i64 {
        let name = name.to_owned();
        self.with_db(move |c| {
            enterprises::table.filter(enterprises::name.eq(name)).select(enterprises::id).first::<i64>(c).expect("enterprise exists")
        })
        .await
    }

    /// A number's id by its display form.
    pub async fn number_id(&self, display: &str) -> i64 {
        let display = display.to_owned();
        self.with_db(move |c| number_id(c, &display)).await
    }

    /// The ids of numbers by display form, as form values.
    pub async fn number_ids(&self, displays: &[&str]) -> Vec<String> {
        let displays: Vec<String> = displays.iter().map(|d| (*d).to_owned()).collect();
        self.with_db(move |c| displays.iter().map(|d| number_id(c, d).to_string()).collect()).await
    }
}

/// Runs `work` on a connection of `db`, off the test's async threads.
pub async fn with_pool<T: Send + 'static>(db: &DbPool, work: impl FnOnce(&mut db::DbConnection) -> T + Send + 'static) -> T {
    let pool = db.clone();
    tokio::task::spawn_blocking(move || work(&mut pool.get().expect("connection"))).await.expect("db task")
}

fn number_id(c: &mut db::DbConnection, display: &str) -> i64 {
    numbers::table
        .filter(numbers::display_phone_number.eq(display))
        .select(numbers::id)
        .first::<i64>(c)
        .unwrap_or_else(|e| panic!("number {display} exists: {e}"))
}

/// Starts the app on 127.0.0.1 port 0 on a fresh database holding the demo
/// dataset, talking to a Graph sandbox, with settings changed first.
pub async fn start_app(customise: impl FnOnce(&mut Settings)) -> RunningApp {
    let (url, database) = fresh_database();
    let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").expect("sandbox binds").spawn();
    let mut settings = Settings::for_database(&url);
    settings.meta_graph_url = Some(sandbox.base_url.clone());
    settings.meta_timeout = std::time::Duration::from_millis(1500);
    settings.allow_private_event_urls = true;
    customise(&mut settings);
    let keys = settings.secret_keys.clone();
    let seed_keys = keys.clone();
    let app = Application::build(settings).await.expect("application builds");
    let port = app.port();
    let pool = app.db();
    let seed = pool.clone();
    tokio::task::spawn_blocking(move || demo_loaded(&mut seed.get().expect("connection"), &seed_keys)).await.expect("seeding finished");
    tokio::spawn(app.run_until_stopped());
    let database = AppDatabase { db: pool, _database: Arc::new(database) };
    RunningApp { address: format!("http://127.0.0.1:{port}"), sandbox_url: sandbox.base_url.clone(), keys, database }
}
