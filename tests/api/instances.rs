//! Several instances on one database (DESIGN.md §12): sessions, sign-outs,
//! rules, the pool listing and the send limits hold across instances; one instance stopping leaves the other
//! serving; a database outage is a clear 503 and recovery needs no restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use wabapool::config::Settings;
use wabapool::db::schema::{pool_members, users};
use wabapool::db::{self, DatabaseUrl};
use wabapool::startup::Application;

use crate::helpers::{PASSWORD, TestDatabase, browser, csrf_of, seeded_database, sign_in, with_pool};

/// One running instance and its server handle.
pub(crate) struct Instance {
    pub(crate) address: String,
    pub(crate) server: actix_web::dev::ServerHandle,
}

/// Settings both instances share, as a deployment does: the database and
/// the session key (a fixed test key here).
pub(crate) fn shared_settings(url: &str) -> Settings {
    let mut settings = Settings::for_database(url);
    settings.session_key = secrecy::SecretSlice::from(vec![42u8; 64]);
    settings
}

pub(crate) async fn start(settings: Settings) -> Instance {
    let app = Application::build(settings).await.expect("instance builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.server_handle();
    tokio::spawn(app.run_until_stopped());
    Instance { address, server }
}

/// Two instances on one fresh seeded database, each with a browser signed in as `email`.
async fn two_instances_signed_in(email: &str) -> (String, TestDatabase, (Instance, reqwest::Client), (Instance, reqwest::Client)) {
    let (url, database, _keys) = seeded_database().await;
    let a = start(shared_settings(&url)).await;
    let b = start(shared_settings(&url)).await;
    let (ca, cb) = (browser(), browser());
    sign_in(&ca, &a.address, email).await;
    sign_in(&cb, &b.address, email).await;
    (url, database, (a, ca), (b, cb))
}

/// The first number an Add Pool page offers.
fn first_number_offered(page: &str) -> String {
    let doc = scraper::Html::parse_document(page);
    let selector = scraper::Selector::parse("input[name=phone_number_ids]").unwrap();
    doc.select(&selector).next().unwrap().value().attr("value").unwrap().to_owned()
}

async fn status_of(client: &reqwest::Client, url: String) -> u16 {
    client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_the_other_and_ends_everywhere_at_once() {
    let (url, _database, _keys) = seeded_database().await;
    let a = start(shared_settings(&url)).await;
    let b = start(shared_settings(&url)).await;
    let client = browser();
    sign_in(&client, &a.address, "admin@acme.example").await;

    assert_eq!(status_of(&client, format!("{}/channels/whatsapp/pools", b.address)).await, 200);

    // A second browser signs out everywhere through instance B.
    let other = browser();
    sign_in(&other, &b.address, "admin@acme.example").await;
    let page = other.get(format!("{}/channels/whatsapp/pools", b.address)).send().await.unwrap().text().await.unwrap();
    let token = csrf_of(&page);
    let ended = other.post(format!("{}/logout/everywhere", b.address)).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
    assert_eq!(ended.status().as_u16(), 303);

    assert_eq!(status_of(&client, format!("{}/channels/whatsapp/pools", a.address)).await, 303);
    assert_eq!(status_of(&client, format!("{}/channels/whatsapp/pools", b.address)).await, 303);
}

#[tokio::test]
async fn disabling_a_user_signs_them_out_on_every_instance() {
    let (url, _database, _keys) = seeded_database().await;
    let a = start(shared_settings(&url)).await;
    let b = start(shared_settings(&url)).await;
    let client = browser();
    sign_in(&client, &a.address, "admin@acme.example").await;
    let disable_url = url.clone();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&DatabaseUrl::parse(&disable_url), 1).unwrap();
        diesel::update(users::table.filter(users::email.eq("admin@acme.example")))
            .set(users::disabled.eq(true))
            .execute(&mut pool.get().unwrap())
            .unwrap();
    })
    .await
    .unwrap();

    assert_eq!(status_of(&client, format!("{}/channels/whatsapp/pools", a.address)).await, 303);
    assert_eq!(status_of(&client, format!("{}/channels/whatsapp/pools", b.address)).await, 303);
}

#[tokio::test]
async fn concurrent_edits_through_two_instances_keep_one_number_in_one_pool() {
    let (url, _database, (a, ca), (b, cb)) = two_instances_signed_in("admin@initech.example").await;
    let page_a = ca.get(format!("{}/channels/whatsapp/pools/new", a.address)).send().await.unwrap().text().await.unwrap();
    let page_b = cb.get(format!("{}/channels/whatsapp/pools/new", b.address)).send().await.unwrap().text().await.unwrap();
    let number = first_number_offered(&page_a);
    let post = |client: reqwest::Client, address: String, page: String, name: &'static str, number: String| async move {
        let token = csrf_of(&page);
        client
            .post(format!("{address}/channels/whatsapp/pools"))
            .form(&[("csrf_token", token.as_str()), ("name", name), ("phone_number_ids", number.as_str())])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };

    let (first, second) = tokio::join!(
        post(ca.clone(), a.address.clone(), page_a, "Through A", number.clone()),
        post(cb.clone(), b.address.clone(), page_b, "Through B", number.clone())
    );

    let mut statuses = [first, second];
    statuses.sort();
    assert_eq!(statuses, [303, 422]);
    let check_url = url.clone();
    let holders: i64 = tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&DatabaseUrl::parse(&check_url), 1).unwrap();
        let id: i64 = number.parse().unwrap();
        pool_members::table.filter(pool_members::number_id.eq(id)).count().get_result(&mut pool.get().unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(holders, 1);
}

#[tokio::test]
async fn a_pool_added_through_one_instance_is_listed_at_once_by_the_other() {
    // Arrange: instance A has served (and so keeps) the listing.
    let (_url, _database, (a, ca), (b, cb)) = two_instances_signed_in("admin@initech.example").await;
    let listing = |client: reqwest::Client, address: String| async move {
        client.get(format!("{address}/channels/whatsapp/pools")).send().await.unwrap().text().await.unwrap()
    };
    assert!(!listing(ca.clone(), a.address.clone()).await.contains("Added on B"));

    // Act: a pool added through instance B.
    let form = cb.get(format!("{}/channels/whatsapp/pools/new", b.address)).send().await.unwrap().text().await.unwrap();
    let number = first_number_offered(&form);
    let token = csrf_of(&form);
    let added = cb
        .post(format!("{}/channels/whatsapp/pools", b.address))
        .form(&[("csrf_token", token.as_str()), ("name", "Added on B"), ("phone_number_ids", number.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status().as_u16(), 303);

    // Assert: A lists it on its next request.
    assert!(listing(ca, a.address.clone()).await.contains("Added on B"));
}

#[tokio::test]
async fn when_one_instance_stops_the_other_keeps_serving() {
    let (url, _database, _keys) = seeded_database().await;
    let a = start(shared_settings(&url)).await;
    let b = start(shared_settings(&url)).await;
    let client = browser();
    sign_in(&client, &a.address, "admin@acme.example").await;

    a.server.stop(false).await;

    assert!(browser().get(format!("{}/healthz", a.address)).send().await.is_err(), "instance A still answers");
    assert_eq!(status_of(&client, format!("{}/channels/whatsapp/pools", b.address)).await, 200);
}

/// A TCP proxy in front of PostgreSQL that can cut every connection.
pub(crate) struct Outage {
    pub(crate) port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Outage {
    async fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (flag, tasks) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown().await;
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target_port)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        });
        Self { port, up, connections }
    }

    /// A proxy in front of the PostgreSQL server of `url`, and the URL through it.
    pub(crate) async fn in_front_of(url: &str) -> (Self, String) {
        let server_port: u16 = url.rsplit_once('@').and_then(|(_, rest)| rest.split(['/', ':']).nth(1)).and_then(|p| p.parse().ok()).unwrap_or(5432);
        let outage = Self::start(server_port).await;
        let (head, tail) = url.split_once('@').unwrap();
        let database = tail.rsplit_once('/').unwrap().1;
        let proxied = format!("{head}@127.0.0.1:{}/{database}", outage.port);
        (outage, proxied)
    }

    pub(crate) fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub(crate) fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_database_outage_answers_503_and_the_instance_recovers_by_itself() {
    let (url, _database, _keys) = seeded_database().await;
    if DatabaseUrl::parse(&url).backend() != db::Backend::Postgres {
        eprintln!("database outage test: runs against PostgreSQL (WABAPOOL_TEST_DATABASE_URL); SQLite has no server to lose");
        return;
    }
    let (outage, proxied) = Outage::in_front_of(&url).await;
    let instance = start(shared_settings(&proxied)).await;
    let client = browser();
    sign_in(&client, &instance.address, "admin@acme.example").await;
    assert_eq!(status_of(&client, format!("{}/readyz", instance.address)).await, 200);

    outage.cut();
    let during = client.get(format!("{}/channels/whatsapp/pools", instance.address)).send().await.unwrap();
    assert_eq!(during.status().as_u16(), 503);
    assert!(during.text().await.unwrap().contains("The database is not answering"));
    assert_eq!(status_of(&client, format!("{}/readyz", instance.address)).await, 503);

    outage.restore();
    let mut recovered = 0;
    for _ in 0..20 {
        recovered = status_of(&client, format!("{}/channels/whatsapp/pools", instance.address)).await;
        if recovered == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(recovered, 200);
    assert_eq!(status_of(&client, format!("{}/readyz", instance.address)).await, 200);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_metrics_count_requests_by_route() {
    let (url, _database, _keys) = seeded_database().await;
    let instance = start(shared_settings(&url)).await;
    let client = browser();

    let given = client.get(format!("{}/healthz", instance.address)).header("X-Request-Id", "abc-123").send().await.unwrap();
    let fresh = client.get(format!("{}/login", instance.address)).send().await.unwrap();
    let metrics = client.get(format!("{}/metrics", instance.address)).send().await.unwrap().text().await.unwrap();

    assert_eq!(given.headers()["x-request-id"], "abc-123");
    assert_eq!(fresh.headers()["x-request-id"].len(), 16);
    assert!(metrics.contains("wabapool_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"));
    assert!(metrics.contains("wabapool_http_request_duration_seconds_bucket{method=\"GET\",route=\"/login\""));
    assert!(metrics.contains("wabapool_db_connections{state=\"max\"}"));
}

#[tokio::test]
async fn failed_sign_ins_on_one_instance_count_on_the_other() {
    let (url, _database, _keys) = seeded_database().await;
    let a = start(shared_settings(&url)).await;
    let b = start(shared_settings(&url)).await;
    let client = browser();
    for _ in 0..5 {
        let page = client.get(format!("{}/login", a.address)).send().await.unwrap().text().await.unwrap();
        let token = csrf_of(&page);
        let response = client
            .post(format!("{}/login", a.address))
            .form(&[("csrf_token", token.as_str()), ("email", "admin@acme.example"), ("password", "not the password")])
            .send()
            .await
            .unwrap();
        assert_ne!(response.status().as_u16(), 303);
    }

    let page = client.get(format!("{}/login", b.address)).send().await.unwrap().text().await.unwrap();
    let token = csrf_of(&page);
    let response = client
        .post(format!("{}/login", b.address))
        .form(&[("csrf_token", token.as_str()), ("email", "admin@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_ne!(response.status().as_u16(), 303, "instance B let the sixth attempt in at once");
}

#[tokio::test]
async fn simultaneous_sends_through_two_instances_never_push_a_number_past_its_limit() {
    use wabapool::db::schema::{numbers, pools};

    let (url, _database, keys) = seeded_database().await;
    let sandbox = wabapool::meta::sandbox::Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").unwrap().spawn();
    let settings = || {
        let mut settings = shared_settings(&url);
        settings.secret_keys = keys.clone();
        settings.meta_graph_url = Some(sandbox.base_url.clone());
        settings
    };
    let (a, b) = (start(settings()).await, start(settings()).await);
    let pool_url = url.clone();
    let db = tokio::task::spawn_blocking(move || db::connect_pool(&DatabaseUrl::parse(&pool_url), 2).unwrap()).await.unwrap();
    let pool: i64 = with_pool(&db, |c| pools::table.filter(pools::name.eq("Acme Support")).select(pools::id).first(c).unwrap()).await;
    let key = with_pool(&db, |c| crate::helpers::acme_api_key(c, "two instances")).await;
    let client = reqwest::Client::new();
    let send = |address: String, to: String| {
        let (client, key) = (client.clone(), key.clone());
        async move {
            let body = serde_json::json!({ "to": to, "type": "template", "template": { "name": "order_update", "language": { "code": "en" } } });
            let response = client.post(format!("{address}/api/v1/pools/{pool}/messages")).bearer_auth(key).json(&body).send().await.unwrap();
            response.status().as_u16()
        }
    };

    // Both members one send short of their 80 in this second: of many
    // simultaneous sends through either instance, exactly two go out.
    let mut checked = 0;
    for round in 0..20 {
        let into = chrono::Utc::now().timestamp_subsec_millis();
        if into > 100 {
            tokio::time::sleep(Duration::from_millis(u64::from(1005 - into))).await;
        }
        let second = with_pool(&db, move |c| {
            let second = chrono::Utc::now().timestamp();
            let members: Vec<i64> = pool_members::table.filter(pool_members::pool_id.eq(pool)).select(pool_members::number_id).load(c).unwrap();
            assert_eq!(numbers::table.filter(numbers::id.eq_any(&members)).count().get_result::<i64>(c).unwrap(), 2);
            diesel::update(pool_members::table.filter(pool_members::pool_id.eq(pool)))
                .set((pool_members::sent_second.eq(second), pool_members::sent_in_second.eq(79)))
                .execute(c)
                .unwrap();
            second
        })
        .await;
        let sends = (0..12).map(|i| send(if i % 2 == 0 { a.address.clone() } else { b.address.clone() }, format!("4477009003{round:02}{i:02}")));
        let statuses = futures_util::future::join_all(sends).await;
        if chrono::Utc::now().timestamp() != second {
            continue; // the second ended mid-round; its count says nothing
        }
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 503), "{statuses:?}");
        checked += 1;
        if checked == 3 {
            break;
        }
    }
    assert!(checked > 0, "no round fitted inside one second");
    a.server.stop(true).await;
    b.server.stop(true).await;
}
