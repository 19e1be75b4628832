//! The application under test: the real app in demo mode, started as the
//! API tests start it (see `common`), with the queries the browser tests
//! check the database with (those of `common::AppDatabase` and a few more).

use std::ops::Deref;

use diesel::prelude::*;
use wabapool::db::schema::{enterprises, pools};

pub use crate::common::{ADD_POOL, LISTING, NUMBERS, PASSWORD};
use crate::common::{AppDatabase, start_app};

pub struct TestApp {
    pub address: String,
    database: AppDatabase,
}

/// Starts the app on a fresh database holding the demo dataset, in demo
/// mode as `wabapool demo` runs it (the banner shows).
pub async fn spawn_app() -> TestApp {
    let app = start_app(|settings| settings.demo = true).await;
    TestApp { address: app.address, database: app.database }
}

/// The app's database and its queries: `app.pool_id(…)`, `app.with_db(…)`.
impl Deref for TestApp {
    type Target = AppDatabase;

    fn deref(&self) -> &AppDatabase {
        &self.database
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// How many pools carry this name (in any enterprise).
    pub async fn pools_named(&self, name: &str) -> i64 {
        let name = name.to_owned();
        self.with_db(move |c| pools::table.filter(pools::name.eq(name)).count().get_result::<i64>(c).expect("pools counted")).await
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
}
