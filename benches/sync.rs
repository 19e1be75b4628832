//! Syncing a WABA of 100 numbers from the Graph API sandbox over a real
//! socket: the Graph calls (WABA + one page of 100) and storing every
//! number in one SQLite transaction. Target: under 1 s.

use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use wabapool::db::{self, DatabaseUrl};
use wabapool::domain::{EnterpriseId, Role, Scope, UserId};
use wabapool::meta::GraphClient;
use wabapool::meta::sandbox::{Fixture, FixtureWaba, Sandbox};
use wabapool::meta::types::{PhoneNumberInfo, Throughput};
use wabapool::security::secrets::SecretKeys;
use wabapool::services::Actor;
use wabapool::services::numbers::store_link;
use wabapool::services::tenants::{UserHome, create_enterprise, create_user};
use wabapool::store::orgs;

const WABA: &str = "777000000000001";
const TOKEN: &str = "EAAGbenchTokenBenchToken";

fn fixture() -> Fixture {
    let phone_numbers = (0..100)
        .map(|i| PhoneNumberInfo {
            id: format!("88{i:08}"),
            display_phone_number: format!("+1 555-077-{i:04}"),
            verified_name: Some("Bench Co".into()),
            status: Some("CONNECTED".into()),
            quality_rating: Some(if i % 7 == 0 { "YELLOW" } else { "GREEN" }.into()),
            code_verification_status: Some("VERIFIED".into()),
            messaging_limit_tier: Some("TIER_10K".into()),
            throughput: Some(Throughput { level: Some("STANDARD".into()) }),
        })
        .collect();
    Fixture { wabas: vec![FixtureWaba { id: WABA.into(), name: "Bench Co".into(), access_token: TOKEN.into(), phone_numbers }] }
}

fn sync_100_numbers(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(async { Sandbox::bind(fixture(), "127.0.0.1:0").unwrap().spawn() });
    let graph = GraphClient::new(&sandbox.base_url, "v23.0", std::time::Duration::from_secs(5)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pool = db::connect_pool(&DatabaseUrl::parse(&dir.path().join("bench.sqlite3").to_string_lossy()), 2).unwrap();
    let mut conn = pool.get().unwrap();
    db::run_migrations(&mut conn).unwrap();
    create_enterprise(&mut conn, "Bench Co", None).unwrap();
    let user =
        create_user(&mut conn, "bench@bench.example", Role::Admin, UserHome::Enterprise("Bench Co"), &SecretString::from("bench password 1234"))
            .unwrap();
    let enterprise = orgs::find_enterprise_by_name(&mut conn, "Bench Co").unwrap().unwrap();
    let actor = Actor {
        user_id: UserId(user),
        email: "bench@bench.example".into(),
        role: Role::Admin,
        scope: Scope::Enterprise(EnterpriseId(enterprise.id)),
        client_ip: None,
    };
    let keys = SecretKeys::random();
    let token = SecretString::from(TOKEN.to_owned());
    let sealed = keys.seal(&token);

    c.bench_function("sync a WABA of 100 numbers from the sandbox", |b| {
        b.iter(|| {
            let meta = runtime.block_on(graph.waba_with_numbers(WABA, &token)).unwrap();
            assert_eq!(meta.numbers.len(), 100);
            store_link(&mut conn, &actor, &enterprise, &meta, &sealed).unwrap();
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = sync_100_numbers
}
criterion_main!(benches);
