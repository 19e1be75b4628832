//! The application under test: the real app in demo mode, started as the
//! API tests start it (see `common`), with the queries the browser tests
//! check the database with.

use diesel::prelude::*;
use wabapool::db::schema::{enterprises, numbers, pool_members, pools};
use wabapool::db::{self, DbPool};

pub use crate::common::{LISTING, PASSWORD};
use crate::common::{TestDatabase, start_app};

pub struct TestApp {
    pub address: String,
    pub db: DbPool,
    _database: TestDatabase,
}

/// Starts the app on a fresh database holding the demo dataset, in demo
/// mode as `wabapool demo` runs it (the banner shows).
pub async fn spawn_app() -> TestApp {
    let app = start_app(|settings| settings.demo = true).await;
    TestApp { address: app.address, db: app.db, _database: app.database }
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
