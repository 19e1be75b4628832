//! The application under test: the real app on 127.0.0.1 port 0 with the
//! demo dataset and a Graph sandbox, on a temporary SQLite file or, when
//! `WABAPOOL_TEST_DATABASE_URL` names a PostgreSQL server, on a fresh
//! database dropped after the test.

use diesel::prelude::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use secrecy::SecretString;
use wabapool::config::Settings;
use wabapool::db::schema::{enterprises, numbers, pool_members, pools};
use wabapool::db::{self, DatabaseUrl, DbPool};
use wabapool::meta::sandbox::Sandbox;
use wabapool::startup::Application;

pub const PASSWORD: &str = "wabapool-demo";

pub struct TestApp {
    pub address: String,
    pub db: DbPool,
    _database: TestDatabase,
}

enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { server_url, name } = self {
            let (server_url, name) = (server_url.clone(), name.clone());
            // On a plain thread: the test's runtime may be shutting down.
            let _ = std::thread::spawn(move || {
                if let Ok(mut conn) = PgConnection::establish(&server_url) {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn);
                }
            })
            .join();
        }
    }
}

fn fresh_database() -> (String, TestDatabase) {
    match std::env::var("WABAPOOL_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(server_url) => {
            assert!(DatabaseUrl::parse(&server_url).backend() == db::Backend::Postgres, "WABAPOOL_TEST_DATABASE_URL must be postgres://");
            let name = format!("wabapool_browser_{}", random_suffix());
            let mut conn = PgConnection::establish(&server_url).unwrap_or_else(|e| panic!("PostgreSQL at {server_url} is unreachable: {e}"));
            diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).expect("create test database");
            let (base, _) = server_url.rsplit_once('/').expect("a database URL has a path");
            (format!("{base}/{name}"), TestDatabase::Postgres { server_url, name })
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("browser.sqlite3");
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

/// Starts the app on a fresh database holding the demo dataset, in demo
/// mode as `wabapool demo` runs it (the banner shows).
pub async fn spawn_app() -> TestApp {
    let (url, database) = fresh_database();
    let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").expect("sandbox binds").spawn();
    let mut settings = Settings::for_database(&url);
    settings.meta_graph_url = Some(sandbox.base_url.clone());
    settings.meta_timeout = std::time::Duration::from_millis(1500);
    settings.demo = true;
    let keys = settings.secret_keys.clone();
    let app = Application::build(settings).await.expect("application builds");
    let port = app.port();
    let pool = app.db();
    let seed = pool.clone();
    tokio::task::spawn_blocking(move || {
        wabapool::demo::load(&mut seed.get().expect("connection"), &SecretString::from(PASSWORD), &keys).expect("demo data loads")
    })
    .await
    .expect("seeding finished");
    tokio::spawn(app.run_until_stopped());
    TestApp { address: format!("http://127.0.0.1:{port}"), db: pool, _database: database }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Runs a query on the test database.
    pub async fn with_db<T: Send + 'static>(&self, work: impl FnOnce(&mut db::DbConnection) -> T + Send + 'static) -> T {
        let pool = self.db.clone();
        tokio::task::spawn_blocking(move || work(&mut pool.get().expect("connection"))).await.expect("db task")
    }

    /// How many pools exist, in every enterprise.
    pub async fn pool_count(&self) -> i64 {
        self.with_db(|c| pools::table.count().get_result::<i64>(c).expect("pools counted")).await
    }

    /// How many pools carry this name (in any enterprise).
    pub async fn pools_named(&self, name: &str) -> i64 {
        let name = name.to_owned();
        self.with_db(move |c| pools::table.filter(pools::name.eq(name)).count().get_result::<i64>(c).expect("pools counted")).await
    }

    /// A pool's id by name.
    pub async fn pool_id(&self, name: &str) -> i64 {
        let name = name.to_owned();
        self.with_db(move |c| pools::table.filter(pools::name.eq(name)).select(pools::id).first::<i64>(c).expect("pool exists")).await
    }

    /// Whether a pool is active, read from the database.
    pub async fn pool_active(&self, pool_id: i64) -> bool {
        self.with_db(move |c| pools::table.find(pool_id).select(pools::active).first::<bool>(c).expect("pool exists")).await
    }

    /// The enterprise a pool belongs to, by name.
    pub async fn pool_enterprise(&self, pool_id: i64) -> String {
        self.with_db(move |c| {
            pools::table
                .inner_join(enterprises::table)
                .filter(pools::id.eq(pool_id))
                .select(enterprises::name)
                .first::<String>(c)
                .expect("pool exists")
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

    /// The ids of numbers by display form, as form values.
    pub async fn number_ids(&self, displays: &[&str]) -> Vec<String> {
        let displays: Vec<String> = displays.iter().map(|d| (*d).to_owned()).collect();
        self.with_db(move |c| {
            displays
                .iter()
                .map(|d| {
                    numbers::table
                        .filter(numbers::display_phone_number.eq(d))
                        .select(numbers::id)
                        .first::<i64>(c)
                        .unwrap_or_else(|e| panic!("number {d} exists: {e}"))
                        .to_string()
                })
                .collect()
        })
        .await
    }
}
