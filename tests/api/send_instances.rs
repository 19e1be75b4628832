//! The send API on two instances sharing one database: turns, sticky
//! senders and Idempotency-Keys hold across them, and a database that goes
//! away under load sends nothing twice while both instances recover by
//! themselves (PostgreSQL only: SQLite has no server to lose).

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};
use wabapool::db::schema::{messages, pools};
use wabapool::db::{self, DatabaseUrl};
use wabapool::meta::sandbox::Sandbox;

use crate::helpers::{seeded_database, with_pool};
use crate::instances::{Instance, Outage, shared_settings, start};

/// Acme Support's members' Meta ids, in slot order.
const ACME_SUPPORT: [&str; 2] = ["1015550100101", "1015550100102"];

/// Two instances on one seeded database (reached through `url`), both
/// sending through one sandbox; Acme Support's id and an API key of Acme.
struct TwoInstances {
    a: Instance,
    b: Instance,
    sandbox: Sandbox,
    pool: i64,
    key: String,
    db: db::DbPool,
    client: reqwest::Client,
}

impl TwoInstances {
    async fn start(database_url: &str, instances_url: &str, keys: wabapool::security::secrets::SecretKeys) -> Self {
        let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").unwrap().spawn();
        let settings = || {
            let mut settings = shared_settings(instances_url);
            settings.secret_keys = keys.clone();
            settings.meta_graph_url = Some(sandbox.base_url.clone());
            settings
        };
        let (a, b) = (start(settings()).await, start(settings()).await);
        let url = database_url.to_owned();
        let db = tokio::task::spawn_blocking(move || db::connect_pool(&DatabaseUrl::parse(&url), 2).unwrap()).await.unwrap();
        let pool = with_pool(&db, |c| pools::table.filter(pools::name.eq("Acme Support")).select(pools::id).first(c).unwrap()).await;
        let key = with_pool(&db, |c| crate::helpers::acme_api_key(c, "two instances")).await;
        Self { a, b, sandbox, pool, key, db, client: reqwest::Client::new() }
    }

    /// The address of instance `i % 2`.
    fn address(&self, i: usize) -> &str {
        if i.is_multiple_of(2) { &self.a.address } else { &self.b.address }
    }

    /// Sends a template to `to` through instance `i % 2`: the status, the
    /// Retry-After header and the body.
    async fn send(&self, i: usize, to: &str, idempotency_key: Option<&str>) -> (u16, Option<String>, Value) {
        let body = json!({ "to": to, "type": "template", "template": { "name": "order_update", "language": { "code": "en" } } });
        let mut request = self.client.post(format!("{}/api/v1/pools/{}/messages", self.address(i), self.pool)).bearer_auth(&self.key).json(&body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, retry_after, response.json().await.unwrap_or(Value::Null))
    }

    /// The messages Meta was asked to send, by recipient.
    async fn sandbox_sent(&self) -> Vec<String> {
        let sent: Vec<Value> = self.client.get(format!("{}/_sandbox/sent", self.sandbox.base_url)).send().await.unwrap().json().await.unwrap();
        sent.iter().filter_map(|m| m["message"]["to"].as_str().map(str::to_owned)).collect()
    }

    async fn sandbox_delay(&self, ms: u64) {
        let answer = self.client.post(format!("{}/_sandbox/delay", self.sandbox.base_url)).json(&json!({ "ms": ms })).send().await.unwrap();
        assert!(answer.status().is_success());
    }

    /// The send log's recipients of sent messages.
    async fn logged(&self) -> Vec<String> {
        with_pool(&self.db, |c| messages::table.filter(messages::status.eq("sent")).select(messages::recipient).load(c).unwrap()).await
    }

    async fn stop(self) {
        self.a.server.stop(true).await;
        self.b.server.stop(true).await;
    }
}

#[tokio::test]
async fn turns_sticky_senders_and_idempotency_keys_hold_across_two_instances() {
    let (url, _database, keys) = seeded_database().await;
    let two = TwoInstances::start(&url, &url, keys).await;

    // Sixteen sends to new recipients, alternating instances: each takes the
    // next turn of the one pool, so its two members share them evenly.
    let sends = (0..16).map(|i| {
        let to = format!("4477009004{i:02}");
        let two = &two;
        async move { two.send(i, &to, None).await }
    });
    let mut used = std::collections::BTreeMap::<String, usize>::new();
    for (status, _, body) in futures_util::future::join_all(sends).await {
        assert_eq!(status, 201, "{body}");
        *used.entry(body["phone_number_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(used.values().copied().collect::<Vec<_>>(), vec![8, 8], "both members took turns: {used:?}");

    // Twelve first messages to one recipient through both instances: one member.
    let firsts = futures_util::future::join_all((0..12).map(|i| two.send(i, "447700900450", None))).await;
    let members: std::collections::BTreeSet<String> = firsts
        .iter()
        .map(|(status, _, body)| {
            assert_eq!(*status, 201, "{body}");
            body["phone_number_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(members.len(), 1, "one recipient, one member: {members:?}");
    assert!(ACME_SUPPORT.contains(&members.first().unwrap().as_str()));

    // Ten requests with one Idempotency-Key through both instances: Meta is
    // asked once; every answer is that send's or "in progress".
    let before = two.sandbox_sent().await.len();
    let retries = futures_util::future::join_all((0..10).map(|i| two.send(i, "447700900451", Some("order-7-shipped")))).await;
    assert_eq!(two.sandbox_sent().await.len(), before + 1, "one send for one key");
    let ids: std::collections::BTreeSet<String> =
        retries.iter().filter(|(status, _, _)| *status == 201).map(|(_, _, body)| body["message_id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "every replay names the one message: {retries:?}");
    assert!(retries.iter().all(|(status, _, _)| *status == 201 || *status == 409), "{retries:?}");
    two.stop().await;
}

#[tokio::test]
async fn a_database_lost_under_send_load_sends_nothing_twice_and_both_instances_recover() {
    let (url, _database, keys) = seeded_database().await;
    if DatabaseUrl::parse(&url).backend() != db::Backend::Postgres {
        eprintln!("database outage under send load: runs against PostgreSQL (WABAPOOL_TEST_DATABASE_URL); SQLite has no server to lose");
        return;
    }
    let (outage, proxied) = Outage::in_front_of(&url).await;
    let two = TwoInstances::start(&url, &proxied, keys).await;
    // Meta answers after 300 ms, so sends are in every phase when the database goes.
    two.sandbox_delay(300).await;

    let load = (0..64).map(|i| {
        let two = &two;
        async move {
            tokio::time::sleep(Duration::from_millis(40 * i as u64)).await;
            let started = std::time::Instant::now();
            let answer = two.send(i, &format!("4477009005{i:02}"), None).await;
            (format!("4477009005{i:02}"), answer, started.elapsed())
        }
    });
    let cut = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        outage.cut();
        // Longer than a pooled connection is waited for (5 s): sends that
        // arrive meanwhile are told to come back.
        tokio::time::sleep(Duration::from_secs(7)).await;
        outage.restore();
    };
    let (answers, ()) = tokio::join!(futures_util::future::join_all(load), cut);

    let mut sent = Vec::new();
    for (to, (status, retry_after, body), _) in &answers {
        match status {
            201 => sent.push(to.clone()),
            503 => {
                assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
                assert!(retry_after.is_some(), "a 503 says when to come back");
            }
            other => panic!("{to}: {other} {body}"),
        }
    }
    assert!(answers.iter().any(|(_, (status, _, _), _)| *status == 503), "the outage was felt: {answers:?}");
    assert!(
        answers.iter().any(|(_, (status, _, _), took)| *status == 201 && *took > Duration::from_secs(6)),
        "a send Meta took during the outage was stored once the database came back, and answered 201"
    );
    let mut asked = two.sandbox_sent().await;
    let mut logged = two.logged().await;
    asked.sort();
    logged.sort();
    sent.sort();
    assert_eq!(asked, sent, "Meta was asked once for each 201 and never for a 503");
    assert_eq!(logged, sent, "every send Meta took is in the send log");

    // Both instances send again by themselves.
    two.sandbox_delay(0).await;
    for i in 0..2 {
        let mut status = 0;
        for attempt in 0..40 {
            status = two.send(i, &format!("44770090059{i}{attempt:02}"), None).await.0;
            if status == 201 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(status, 201, "instance {i} recovered");
    }
    two.stop().await;
}

#[tokio::test]
async fn an_instance_killed_under_send_load_leaves_the_other_sending() {
    use base64::Engine as _;
    let (url, _database) = crate::common::fresh_database();
    if DatabaseUrl::parse(&url).backend() != db::Backend::Postgres {
        eprintln!("an instance killed under send load: runs against PostgreSQL (WABAPOOL_TEST_DATABASE_URL), where instances share a server");
        return;
    }
    // Arrange: instance A in this process, instance B a `wabapool serve`
    // process of its own, both with the same encryption key.
    let raw = [5u8; 32];
    let keys = wabapool::security::secrets::SecretKeys::new(&raw, &[]).unwrap();
    let (seed_url, seed_keys) = (url.clone(), keys.clone());
    tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&DatabaseUrl::parse(&seed_url), 1).unwrap();
        let mut conn = pool.get().unwrap();
        db::run_migrations(&mut conn).unwrap();
        crate::common::demo_loaded(&mut conn, &seed_keys);
    })
    .await
    .unwrap();
    let two = TwoInstances::start(&url, &url, keys).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let mut b = std::process::Command::new(env!("CARGO_BIN_EXE_wabapool"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &url])
        .env("WABAPOOL_ENCRYPTION_KEY", base64::engine::general_purpose::STANDARD.encode(raw))
        .env("WABAPOOL_META_GRAPH_URL", &two.sandbox.base_url)
        .env("WABAPOOL_DATA_DIR", data.path())
        .env("WABAPOOL_LOG", "warn")
        .env_remove("DATABASE_URL")
        .spawn()
        .unwrap();
    let b_address = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if two.client.get(format!("{b_address}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the second instance started");
    let body = |to: String| json!({ "to": to, "type": "template", "template": { "name": "order_update", "language": { "code": "en" } } });
    let send_to_b = |to: String| {
        let request = two.client.post(format!("{b_address}/api/v1/pools/{}/messages", two.pool)).bearer_auth(&two.key).json(&body(to));
        async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };

    // Act: four clients keep sending through B; B is killed mid-load.
    let load = futures_util::future::join_all((0..4).map(|client| {
        let send_to_b = &send_to_b;
        async move {
            let mut answers = Vec::new();
            for n in 0..200 {
                let to = format!("44770090{client}{n:03}");
                answers.push((to.clone(), send_to_b(to).await));
            }
            answers
        }
    }));
    let kill = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        b.kill().unwrap();
        b.wait().unwrap();
    };
    let (answered, ()) = tokio::join!(load, kill);

    // Assert: A sends on (once the second B filled its members' 80 in is
    // over), and nothing B answered 201 for is missing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for n in 0..20 {
        let (status, _, body) = two.send(0, &format!("4477009006{n:02}"), None).await;
        assert_eq!(status, 201, "instance A sends after B was killed: {body}");
    }
    let logged = two.logged().await;
    let asked = two.sandbox_sent().await;
    let sent_by_b: Vec<&String> = answered.iter().flatten().filter(|(_, status)| *status == 201).map(|(to, _)| to).collect();
    assert!(!sent_by_b.is_empty(), "B sent before it was killed");
    assert!(sent_by_b.iter().all(|to| logged.contains(to)), "every send B answered 201 for is in the send log");
    assert!(answered.iter().flatten().any(|(_, status)| *status == 0), "B's clients saw it die");
    // Sends B had asked Meta for when it died, and never stored: at most one a client.
    let unlogged = asked.iter().filter(|to| !logged.contains(to)).count();
    eprintln!("sends Meta took that B never stored: {unlogged}");
    assert!(unlogged <= 4, "{unlogged} sends lost from the log");
    two.stop().await;
}
