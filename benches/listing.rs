//! The pool listing on the large-tenant dataset (20 aggregators, 1,000
//! enterprises, 20 numbers and 5 pools each, filled with
//! `wabapool::bench_data::fill` into a temporary SQLite file), as
//! `admin@aggregator-1.bench` sees it (50 enterprises, 250 pools):
//!
//! - `list_pools`: `services::pools::list_pools` for page 1 of 50 pools, and
//!   with the search `q=Pool 03`, on one pooled connection (its statement
//!   cache warm, as a serving connection's is); and `list_pools_cached` when
//!   nothing changed since the listing was read (the stamp read and the
//!   cache lookup);
//! - `render`: the listing template the handler renders (`pools/index.html`
//!   in its base layout) from that page's listing, with its table drawn
//!   anew (a listing's first request) and drawn before (every later one).
//!
//! - `overview`: an aggregator's overview over 1,000 enterprises (a second
//!   dataset, one aggregator holding them all): `services::overview` and
//!   the page drawn from it.
//!
//!   cargo bench --bench listing
//!   cargo bench --bench listing -- render
//!   cargo bench --bench listing -- overview

use std::sync::Arc;

use askama::Template;
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use wabapool::bench_data::{Shape, fill};
use wabapool::db::{self, DatabaseUrl, DbConnection};
use wabapool::security::secrets::SecretKeys;
use wabapool::services::Actor;
use wabapool::services::auth::{SessionKey, SessionPolicy, session_user};
use wabapool::services::caches::listing::{CachedListing, ListingCache};
use wabapool::services::caches::sessions::SessionCache;
use wabapool::services::overview::{OverviewQuery, overview};
use wabapool::services::pools::{ListQuery, PAGE_SIZE, list_pools, list_pools_cached};
use wabapool::store::{sessions, stamps, users};
use wabapool::web::layout::{Chrome, Nav};
use wabapool::web::pools::PoolsIndex;

const SHAPE: Shape = Shape { aggregators: 20, enterprises: 1_000, numbers_per_enterprise: 20, pools_per_enterprise: 5 };
const ADMIN: &str = "admin@aggregator-1.bench";

const POLICY: SessionPolicy = SessionPolicy { idle: std::time::Duration::from_secs(30 * 60), absolute: std::time::Duration::from_secs(12 * 60 * 60) };

/// The aggregator admin, signed in under a session row of their own.
fn aggregator_admin(conn: &mut DbConnection) -> (Actor, String, SessionKey) {
    let user = users::find_by_email(conn, ADMIN).unwrap().expect("bench-data creates the aggregator admin");
    let key = SessionKey { id: "bench-session".to_owned(), user_id: user.id, epoch: user.session_epoch };
    sessions::create(conn, &key.id, user.id, wabapool::store::now()).unwrap();
    let signed_in = session_user(conn, &SessionCache::default(), &key, POLICY).unwrap().expect("the admin is enabled");
    (signed_in.actor, signed_in.organisation, key)
}

fn chrome(actor: &Actor, organisation: &str) -> Chrome {
    Chrome {
        email: actor.email.clone(),
        organisation: organisation.to_owned(),
        role_label: actor.role.label(),
        is_aggregator: actor.scope.is_aggregator(),
        manages_channels: actor.role.manages_channels(),
        manages_users: actor.role.manages_users(),
        current: Nav::Pools,
        flash: None,
        demo: true,
        csrf_token: "bench-csrf-token-0123456789abcdef0123456789abcdef".to_owned(),
    }
}

/// A temporary SQLite file filled with a dataset of `shape`, and one
/// pooled connection to it (kept with the directory that holds the file).
fn dataset(shape: Shape) -> (tempfile::TempDir, db::PooledConnection) {
    let dir = tempfile::tempdir().unwrap();
    let pool = db::connect_pool(&DatabaseUrl::parse(&dir.path().join("bench.sqlite3").to_string_lossy()), 1).unwrap();
    let mut conn = pool.get().unwrap();
    db::run_migrations(&mut conn).unwrap();
    fill(&mut conn, shape, &SecretString::from("wabapool-demo"), &SecretKeys::random()).unwrap();
    (dir, conn)
}

fn listing(c: &mut Criterion) {
    let (_dir, mut conn) = dataset(SHAPE);
    let (actor, organisation, key) = aggregator_admin(&mut conn);

    let page_one = ListQuery::default();
    let search = ListQuery { q: Some("Pool 03".to_owned()), ..ListQuery::default() };
    let first = list_pools(&mut conn, &actor, &page_one).unwrap();
    assert_eq!(first.pools.len() as i64, PAGE_SIZE, "page 1 is full");
    assert_eq!(first.total, 250, "aggregator 1 has 50 enterprises of 5 pools");
    assert!(!list_pools(&mut conn, &actor, &search).unwrap().pools.is_empty(), "the search finds pools");

    let mut group = c.benchmark_group("list_pools");
    group.bench_function("aggregator view, page 1 of 50", |b| b.iter(|| list_pools(&mut conn, &actor, &page_one).unwrap()));
    group.bench_function("aggregator view, q=Pool 03", |b| b.iter(|| list_pools(&mut conn, &actor, &search).unwrap()));
    let cache = ListingCache::default();
    group.bench_function("aggregator view, page 1 of 50, cached and unchanged", |b| {
        b.iter(|| {
            let stamp = stamps::listing(&mut conn).unwrap();
            list_pools_cached(&mut conn, &cache, &actor, &page_one, stamp).unwrap()
        })
    });
    group.finish();

    // The check every signed-in request makes of its session and user.
    let mut group = c.benchmark_group("session_user");
    group.bench_function("read from the database", |b| {
        b.iter_batched(
            SessionCache::default,
            |kept| session_user(&mut conn, &kept, &key, POLICY).unwrap().expect("signed in"),
            criterion::BatchSize::SmallInput,
        )
    });
    let kept = SessionCache::default();
    group.bench_function("kept, session stamp unchanged", |b| b.iter(|| session_user(&mut conn, &kept, &key, POLICY).unwrap().expect("signed in")));
    group.finish();

    let mut group = c.benchmark_group("render");
    group.bench_function("listing page, 50 pools, table drawn anew", |b| {
        b.iter_batched(
            || Arc::new(CachedListing::new(first.clone())),
            |listing| PoolsIndex::new(chrome(&actor, &organisation), listing).unwrap().render().unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    let drawn = Arc::new(CachedListing::new(first.clone()));
    group.bench_function("listing page, 50 pools, table drawn before", |b| {
        b.iter(|| PoolsIndex::new(chrome(&actor, &organisation), drawn.clone()).unwrap().render().unwrap())
    });
    group.finish();
}

/// One aggregator holding all 1,000 enterprises of the dataset's size.
const ONE_AGGREGATOR: Shape = Shape { aggregators: 1, ..SHAPE };

fn aggregator_overview(c: &mut Criterion) {
    let (_dir, mut conn) = dataset(ONE_AGGREGATOR);
    let (actor, organisation, _) = aggregator_admin(&mut conn);
    let query = OverviewQuery::default();
    assert_eq!(overview(&mut conn, &actor, &query).unwrap().total, 1_000);

    let mut group = c.benchmark_group("overview");
    group.bench_function("1,000 enterprises, a page's figures", |b| b.iter(|| overview(&mut conn, &actor, &query).unwrap()));
    group.bench_function("1,000 enterprises, a page's figures and its markup", |b| {
        b.iter(|| {
            let page = overview(&mut conn, &actor, &query).unwrap();
            wabapool::web::overview::draw(chrome(&actor, &organisation), page, query.clone()).unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = listing, aggregator_overview
}
criterion_main!(benches);
