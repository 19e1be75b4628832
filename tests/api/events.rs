//! Events to the business's systems (DESIGN.md §14) over real sockets:
//! Meta's webhooks and sends become events in the same transaction, the
//! delivery worker posts them to a receiver as the Standard Webhooks
//! specification asks, retries what fails, keeps one customer's events in
//! order, and the pull API serves the same events and a message's history.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use wabapool::db::schema::{audit_entries, event_attempts, event_deliveries, event_endpoints, events};
use wabapool::db::{self, DatabaseUrl, DbConnection};
use wabapool::security::event_signing;
use wabapool::services::events::endpoints::{self, NewEndpointInput};

use crate::helpers::{TestApp, spawn_app_with};
use crate::webhooks::APP_SECRET;

const ACME_WABA: &str = "102000000000101";
const ACME_NUMBER: &str = "1015550100102";

/// What the receiver does with the next requests.
#[derive(Debug, Clone)]
enum Mode {
    Answer(u16),
    Slow(Duration),
    Redirect,
    Huge,
}

/// One event the receiver took (answered 2xx).
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    raw: String,
    body: Value,
}

struct ReceiverState {
    mode: Mutex<Mode>,
    got: Mutex<Vec<Received>>,
    hits: AtomicUsize,
    redirected: AtomicUsize,
}

/// An application's webhook receiver on 127.0.0.1.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    if req.path() == "/elsewhere" {
        state.redirected.fetch_add(1, Ordering::SeqCst);
        return HttpResponse::Ok().finish();
    }
    state.hits.fetch_add(1, Ordering::SeqCst);
    let mode = state.mode.lock().unwrap().clone();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let keep = || {
        let raw = String::from_utf8_lossy(&body).into_owned();
        state.got.lock().unwrap().push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp").parse().unwrap_or_default(),
            signature: header("webhook-signature"),
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        });
    };
    match mode {
        Mode::Answer(status) if (200..300).contains(&status) => {
            keep();
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body("thanks")
        }
        Mode::Answer(status) => HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body("down for maintenance"),
        Mode::Slow(pause) => {
            tokio::time::sleep(pause).await;
            keep();
            HttpResponse::Ok().finish()
        }
        Mode::Redirect => HttpResponse::Found().insert_header(("Location", "/elsewhere")).finish(),
        Mode::Huge => {
            keep();
            HttpResponse::Ok().body(vec![b'x'; 10 * 1024 * 1024])
        }
    }
}

impl Receiver {
    async fn start() -> Self {
        let state = Arc::new(ReceiverState {
            mode: Mutex::new(Mode::Answer(200)),
            got: Mutex::default(),
            hits: AtomicUsize::new(0),
            redirected: AtomicUsize::new(0),
        });
        let data = web::Data::from(state.clone());
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive))).workers(2).bind(("127.0.0.1", 0)).unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self { url: format!("http://127.0.0.1:{port}/hooks/wabapool"), state }
    }

    fn set(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    fn got(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// The events taken once at least `count` arrived, or after `within`.
    async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let started = Instant::now();
        while self.got().len() < count && started.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.got()
    }
}

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.meta_app_secret = SecretString::from(APP_SECRET);
        s.event_timeout = Duration::from_secs(1);
    })
    .await
}

/// Acme Retail's super admin, as the services see them.
fn acme_super_admin(conn: &mut DbConnection) -> wabapool::services::Actor {
    use wabapool::domain::{EnterpriseId, Role, Scope, UserId};
    let user = wabapool::store::users::find_by_email(conn, "super@acme.example").unwrap().unwrap();
    wabapool::services::Actor {
        user_id: UserId(user.id),
        email: user.email,
        role: Role::SuperAdmin,
        scope: Scope::Enterprise(EnterpriseId(user.enterprise_id.unwrap())),
        client_ip: None,
    }
}

/// Adds an endpoint of Acme Retail for `types`; its id and signing secret.
async fn add_endpoint(app: &TestApp, url: &str, types: &[&str]) -> (i64, SecretString) {
    let keys = app.keys.clone();
    let input = NewEndpointInput {
        enterprise_id: None,
        url: url.to_owned(),
        description: "Support desk".to_owned(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        pool_ids: Vec::new(),
    };
    app.with_db(move |c| {
        let actor = acme_super_admin(c);
        endpoints::create(c, &actor, &keys, &input, true).unwrap()
    })
    .await
}

const ALL_TYPES: [&str; 5] = ["message.received", "message.status", "number.health", "pool.health", "waba.status"];

fn messages_change(value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({ "display_phone_number": "15550100102", "phone_number_id": ACME_NUMBER });
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": ACME_WABA, "time": chrono::Utc::now().timestamp(), "changes": [{ "field": "messages", "value": value }] }] })
}

/// A customer's text message as Meta's webhook carries it.
fn customer_writes(from: &str, wamid: &str, text: &str) -> Value {
    messages_change(json!({
        "contacts": [{ "profile": { "name": "Ada Lovelace" }, "wa_id": from }],
        "messages": [{ "from": from, "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text", "text": { "body": text } }]
    }))
}

fn status_of(wamid: &str, to: &str, status: &str) -> Value {
    messages_change(
        json!({ "statuses": [{ "id": wamid, "status": status, "timestamp": chrono::Utc::now().timestamp().to_string(), "recipient_id": to }] }),
    )
}

async fn count_events(app: &TestApp, kind: &str) -> i64 {
    let kind = kind.to_owned();
    app.with_db(move |c| events::table.filter(events::event_type.eq(kind)).count().get_result(c).unwrap()).await
}

#[tokio::test]
async fn a_customers_reply_reaches_the_endpoint_signed_as_standard_webhooks_ask() {
    // Arrange
    let app = app().await;
    let receiver = Receiver::start().await;
    let (_, secret) = add_endpoint(&app, &receiver.url, &ALL_TYPES).await;

    // Act
    assert_eq!(app.deliver(customer_writes("447700900501", "wamid.IN501", "Where is my order?")).await, 200);

    // Assert
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "one event arrived: {got:?}");
    let event = &got[0];
    assert_eq!(event.body["type"], "message.received");
    let data = &event.body["data"];
    assert_eq!(data["from"], "447700900501");
    assert_eq!(data["text"], "Where is my order?");
    assert_eq!(data["contact_name"], "Ada Lovelace");
    assert_eq!(data["wamid"], "wamid.IN501");
    assert_eq!(data["phone_number_id"], ACME_NUMBER);
    assert_eq!(data["message_type"], "text");
    let pool = app.pool_id("Acme Support").await;
    assert_eq!(data["pool_id"], pool);
    assert!(event.body["timestamp"].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));
    assert!(event.id.starts_with("evt_"));
    assert!((chrono::Utc::now().timestamp() - event.timestamp).abs() < 10, "webhook-timestamp is now");
    let expected = event_signing::sign(&secret, &event.id, event.timestamp, event.raw.as_bytes()).unwrap();
    assert_eq!(event.signature, expected, "the signature verifies with the endpoint's secret");
}

#[tokio::test]
async fn a_webhook_from_meta_redelivered_three_times_produces_one_event() {
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["message.received"]).await;
    let reply = customer_writes("447700900502", "wamid.IN502", "Hello");

    for _ in 0..3 {
        assert_eq!(app.deliver(reply.clone()).await, 200);
    }

    assert_eq!(count_events(&app, "message.received").await, 1);
    receiver.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.got().len(), 1);
}

#[tokio::test]
async fn each_status_of_a_sent_message_is_an_event_and_the_pull_api_shows_its_history() {
    // Arrange
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["message.status"]).await;
    let admin = app.new_client_logged_in("super@acme.example").await;
    let key = admin.create_api_key("Status events").await;
    let pool = app.pool_id("Acme Support").await;
    let body = json!({ "to": "447700900503", "type": "template", "template": { "name": "x", "language": { "code": "en" } } });
    let sent: Value =
        app.client.post(app.url(&format!("/api/v1/pools/{pool}/messages"))).bearer_auth(&key).json(&body).send().await.unwrap().json().await.unwrap();
    let (id, wamid) = (sent["id"].as_i64().unwrap(), sent["wamid"].as_str().unwrap().to_owned());

    // Act
    assert_eq!(app.deliver(status_of(&wamid, "447700900503", "delivered")).await, 200);
    assert_eq!(app.deliver(status_of(&wamid, "447700900503", "read")).await, 200);

    // Assert: the receiver got sent, delivered, read in order.
    let got = receiver.wait_for(3, Duration::from_secs(5)).await;
    let statuses: Vec<&str> = got.iter().map(|r| r.body["data"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["sent", "delivered", "read"]);
    assert!(got.iter().all(|r| r.body["data"]["message_id"] == id && r.body["data"]["wamid"] == wamid.as_str()));

    let message: Value = app.client.get(app.url(&format!("/api/v1/messages/{id}"))).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert_eq!(message["status"], "read");
    assert_eq!(message["to"], "447700900503");
    assert_eq!(message["wamid"], wamid.as_str());
    let history: Vec<&str> = message["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["sent", "delivered", "read"]);

    // The pull API: the same events, paged by a cursor, oldest first.
    let page: Value = app.client.get(app.url("/api/v1/events?limit=2")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    let first: Vec<&str> = page["data"].as_array().unwrap().iter().map(|e| e["data"]["status"].as_str().unwrap()).collect();
    assert_eq!(first, ["sent", "delivered"]);
    assert_eq!(page["data"][0]["id"], got[0].id.as_str(), "the pulled id is the webhook-id");
    let next = page["next"].as_str().unwrap();
    let rest: Value = app.client.get(app.url(&format!("/api/v1/events?after={next}"))).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    let rest: Vec<&str> = rest["data"].as_array().unwrap().iter().map(|e| e["data"]["status"].as_str().unwrap()).collect();
    assert_eq!(rest, ["read"]);

    // Another enterprise's key sees neither the message nor the events.
    let other = app.new_client_logged_in("super@umbrella.example").await.create_api_key("Other").await;
    let status = app.client.get(app.url(&format!("/api/v1/messages/{id}"))).bearer_auth(&other).send().await.unwrap().status();
    assert_eq!(status, 404);
    let theirs: Value = app.client.get(app.url("/api/v1/events")).bearer_auth(&other).send().await.unwrap().json().await.unwrap();
    assert!(theirs["data"].as_array().unwrap().iter().all(|e| e["data"]["message_id"] != id));
    for bad in ["after=-1", "after=abc", "limit=0", "limit=501"] {
        let status = app.client.get(app.url(&format!("/api/v1/events?{bad}"))).bearer_auth(&key).send().await.unwrap().status();
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(app.client.get(app.url("/api/v1/events")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_after_in_order_per_customer() {
    // Arrange: the receiver answers 503.
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["message.received"]).await;
    receiver.set(Mode::Answer(503));

    // Act: two customers write three messages each while it is down; then it is back.
    for n in 0..3 {
        for from in ["447700900511", "447700900512"] {
            assert_eq!(app.deliver(customer_writes(from, &format!("wamid.{from}.{n}"), &format!("message {n}"))).await, 200);
        }
    }
    let started = Instant::now();
    while receiver.state.hits.load(Ordering::SeqCst) < 2 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiver.got().is_empty());
    receiver.set(Mode::Answer(200));

    // Assert: all six arrive within the backoff, each customer's in order.
    let got = receiver.wait_for(6, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 6, "every event arrived: {got:?}");
    for from in ["447700900511", "447700900512"] {
        let order: Vec<&str> = got.iter().filter(|r| r.body["data"]["from"] == from).map(|r| r.body["data"]["text"].as_str().unwrap()).collect();
        assert_eq!(order, ["message 0", "message 1", "message 2"], "{from}'s events in the order they happened");
    }
    let attempts: i64 = app.with_db(|c| event_attempts::table.filter(event_attempts::status_code.eq(503)).count().get_result(c).unwrap()).await;
    assert!(attempts >= 2, "the failed attempts are kept: {attempts}");
}

async fn latest_attempt(app: &TestApp) -> Option<(Option<i32>, String)> {
    app.with_db(move |c| {
        event_attempts::table
            .order(event_attempts::id.desc())
            .select((event_attempts::status_code, event_attempts::answer))
            .first::<(Option<i32>, String)>(c)
            .optional()
            .unwrap()
    })
    .await
}

async fn pending(app: &TestApp) -> i64 {
    app.with_db(move |c| event_deliveries::table.filter(event_deliveries::state.eq("pending")).count().get_result::<i64>(c).unwrap()).await
}

#[tokio::test]
async fn errors_timeouts_redirects_and_huge_answers_are_retried_or_taken_with_memory_bounded() {
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["message.received"]).await;
    let wait_attempts = |app: &TestApp, n: i64| {
        let db = app.db.clone();
        async move {
            for _ in 0..200 {
                let have: i64 = crate::helpers::with_pool(&db, |c| event_attempts::table.count().get_result(c).unwrap()).await;
                if have >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("{n} attempts were not made");
        }
    };

    // 500: kept pending for a retry, with the answer's first bytes.
    receiver.set(Mode::Answer(500));
    app.deliver(customer_writes("447700900521", "wamid.IN521", "a")).await;
    wait_attempts(&app, 1).await;
    assert_eq!(latest_attempt(&app).await, Some((Some(500), "down for maintenance".to_owned())));
    assert_eq!(pending(&app).await, 1);

    // A redirect is not followed: retried, and the other address never asked.
    receiver.set(Mode::Redirect);
    let resent = app
        .with_db(|c| diesel::update(event_deliveries::table).set(event_deliveries::next_attempt_at.eq(wabapool::store::now())).execute(c).unwrap())
        .await;
    assert_eq!(resent, 1);
    wait_attempts(&app, 2).await;
    let (status, answer) = latest_attempt(&app).await.unwrap();
    assert_eq!(status, Some(302));
    assert!(answer.contains("not followed"), "{answer}");
    assert_eq!(receiver.state.redirected.load(Ordering::SeqCst), 0);
    assert_eq!(pending(&app).await, 1);

    // No answer within the timeout (1 s here): retried.
    receiver.set(Mode::Slow(Duration::from_secs(3)));
    app.with_db(|c| diesel::update(event_deliveries::table).set(event_deliveries::next_attempt_at.eq(wabapool::store::now())).execute(c).unwrap())
        .await;
    wait_attempts(&app, 3).await;
    let (status, answer) = latest_attempt(&app).await.unwrap();
    assert_eq!(status, None);
    assert!(answer.contains("No answer"), "{answer}");
    assert_eq!(pending(&app).await, 1);

    // A 10 MB answer with 200: delivered, and only its first bytes read.
    receiver.set(Mode::Huge);
    app.with_db(|c| diesel::update(event_deliveries::table).set(event_deliveries::next_attempt_at.eq(wabapool::store::now())).execute(c).unwrap())
        .await;
    wait_attempts(&app, 4).await;
    let (status, answer) = latest_attempt(&app).await.unwrap();
    assert_eq!(status, Some(200));
    assert_eq!(answer.len(), wabapool::services::events::delivery::ANSWER_BYTES);
    assert_eq!(pending(&app).await, 0);
}

#[tokio::test]
async fn an_event_whose_change_was_rolled_back_is_never_delivered() {
    use wabapool::domain::events::EventType;
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["waba.status"]).await;
    let enterprise = app.enterprise_id("Acme Retail").await;

    let outcome: Result<(), diesel::result::Error> = app
        .with_db(move |c| {
            db::write_transaction(c, |c| {
                wabapool::services::events::emit(
                    c,
                    wabapool::services::events::Event {
                        enterprise_id: enterprise,
                        kind: EventType::WabaStatus,
                        pool_id: None,
                        message_id: None,
                        customer: None,
                        data: json!({ "waba_id": ACME_WABA, "status": "suspended" }),
                    },
                )?;
                Err(diesel::result::Error::RollbackTransaction)
            })
        })
        .await;

    assert!(outcome.is_err());
    wabapool::services::events::wake_deliveries();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(count_events(&app, "waba.status").await, 0);
    let deliveries: i64 = app.with_db(|c| event_deliveries::table.count().get_result(c).unwrap()).await;
    assert_eq!(deliveries, 0);
    assert!(receiver.got().is_empty());
}

#[tokio::test]
async fn a_slow_endpoint_never_delays_another() {
    let app = app().await;
    let (slow, quick) = (Receiver::start().await, Receiver::start().await);
    slow.set(Mode::Slow(Duration::from_millis(900)));
    add_endpoint(&app, &slow.url, &["message.received"]).await;
    add_endpoint(&app, &quick.url, &["message.received"]).await;

    let started = Instant::now();
    for n in 0..40 {
        app.deliver(customer_writes(&format!("4477009006{n:02}"), &format!("wamid.SLOW{n}"), "hi")).await;
    }
    let got = quick.wait_for(40, Duration::from_secs(10)).await;
    let quick_done = started.elapsed();

    assert_eq!(got.len(), 40);
    assert!(slow.got().len() < 40, "the slow endpoint is still taking its events when the quick one has all");
    eprintln!("quick endpoint had all 40 after {quick_done:?}; the slow one {}", slow.got().len());
    let all_slow = slow.wait_for(40, Duration::from_secs(20)).await;
    assert_eq!(all_slow.len(), 40, "the slow one gets them all too");
}

#[tokio::test]
async fn an_endpoint_failing_for_24_hours_is_disabled_audited_and_its_old_deliveries_fail() {
    let app = app().await;
    let receiver = Receiver::start().await;
    receiver.set(Mode::Answer(500));
    let (endpoint, _) = add_endpoint(&app, &receiver.url, &["message.received"]).await;
    app.deliver(customer_writes("447700900531", "wamid.IN531", "a")).await;
    // The first attempt is made and settled.
    for _ in 0..200 {
        let settled: i64 = app
            .with_db(|c| {
                event_deliveries::table
                    .filter(event_deliveries::attempts.gt(0))
                    .filter(event_deliveries::claimed_until.is_null())
                    .count()
                    .get_result(c)
                    .unwrap()
            })
            .await;
        if settled == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let yesterday = wabapool::store::now() - chrono::Duration::hours(25);
    // The event happened and the endpoint started failing more than 24 hours ago.
    app.with_db(move |c| {
        diesel::update(events::table).set(events::created_at.eq(yesterday)).execute(c).unwrap();
        diesel::update(event_endpoints::table).set(event_endpoints::failing_since.eq(Some(yesterday))).execute(c).unwrap();
        diesel::update(event_deliveries::table).set(event_deliveries::next_attempt_at.eq(wabapool::store::now())).execute(c).unwrap();
    })
    .await;

    let mut state = String::new();
    for _ in 0..400 {
        state = app.with_db(|c| event_deliveries::table.select(event_deliveries::state).first::<String>(c).unwrap()).await;
        if state != "pending" {
            break;
        }
        wabapool::services::events::wake_deliveries();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(state, "failed");
    let (enabled, reason) = app
        .with_db(move |c| {
            event_endpoints::table
                .find(endpoint)
                .select((event_endpoints::enabled, event_endpoints::disabled_reason))
                .first::<(bool, Option<String>)>(c)
                .unwrap()
        })
        .await;
    assert!(!enabled);
    assert!(reason.unwrap().contains("24 hours"));
    let audited: i64 =
        app.with_db(|c| audit_entries::table.filter(audit_entries::action.eq("event_endpoint.auto_disable")).count().get_result(c).unwrap()).await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_host_that_resolves_to_a_private_address_is_refused_at_delivery_time() {
    let app = spawn_app_with(|s| {
        s.meta_app_secret = SecretString::from(APP_SECRET);
        s.allow_private_event_urls = false;
    })
    .await;
    let receiver = Receiver::start().await;
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    // Stored as if it had resolved to a public address when it was added.
    let (endpoint, _) = add_endpoint(&app, &format!("https://localhost:{port}/hooks"), &["message.received"]).await;

    app.deliver(customer_writes("447700900541", "wamid.IN541", "a")).await;
    let mut answer = None;
    for _ in 0..100 {
        answer = app.with_db(|c| event_attempts::table.select(event_attempts::answer).first::<String>(c).optional().unwrap()).await;
        if answer.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let answer = answer.expect("an attempt was made");
    assert!(answer.contains("private, loopback or link-local"), "{answer}");
    assert_eq!(receiver.state.hits.load(Ordering::SeqCst), 0);
    let _ = endpoint;
}

#[tokio::test]
async fn deliveries_pending_when_wabapool_is_killed_are_delivered_after_restart_with_the_same_webhook_id() {
    use base64::Engine as _;
    // Arrange: a database of its own, the receiver down.
    let (url, _database) = crate::common::fresh_database();
    let raw = [7u8; 32];
    let keys = wabapool::security::secrets::SecretKeys::new(&raw, &[]).unwrap();
    let receiver = Receiver::start().await;
    receiver.set(Mode::Answer(503));
    let (seed_url, seed_keys, target) = (url.clone(), keys.clone(), receiver.url.clone());
    tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&DatabaseUrl::parse(&seed_url), 1).unwrap();
        let mut conn = pool.get().unwrap();
        db::run_migrations(&mut conn).unwrap();
        crate::common::demo_loaded(&mut conn, &seed_keys);
        let actor = acme_super_admin(&mut conn);
        let input = NewEndpointInput { url: target, event_types: vec!["message.received".into()], ..NewEndpointInput::default() };
        endpoints::create(&mut conn, &actor, &seed_keys, &input, true).unwrap();
    })
    .await
    .unwrap();
    let sandbox = wabapool::meta::sandbox::Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").unwrap().spawn();
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let serve = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wabapool"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &url])
            .env("WABAPOOL_ENCRYPTION_KEY", base64::engine::general_purpose::STANDARD.encode(raw))
            .env("WABAPOOL_META_GRAPH_URL", &sandbox.base_url)
            .env("WABAPOOL_META_APP_SECRET", APP_SECRET)
            .env("WABAPOOL_ALLOW_PRIVATE_EVENT_URLS", "true")
            .env("WABAPOOL_DATA_DIR", data.path())
            .env("WABAPOOL_LOG", "warn")
            .env_remove("DATABASE_URL")
            .spawn()
            .unwrap()
    };
    let client = reqwest::Client::new();
    let address = format!("http://127.0.0.1:{port}");
    let ready = |client: reqwest::Client, address: String| async move {
        for _ in 0..150 {
            if client.get(format!("{address}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("wabapool serve started");
    };
    let mut first = serve();
    ready(client.clone(), address.clone()).await;
    for n in 0..3 {
        let payload = customer_writes("447700900551", &format!("wamid.KILL{n}"), &format!("message {n}"));
        let answer: Value = client
            .post(format!("{}/_sandbox/webhooks", sandbox.base_url))
            .json(&json!({ "url": format!("{address}/webhooks/whatsapp"), "app_secret": APP_SECRET, "payload": payload }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["status"], 200);
    }
    let started = Instant::now();
    while receiver.state.hits.load(Ordering::SeqCst) < 1 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(receiver.state.hits.load(Ordering::SeqCst) >= 1, "the first attempt was made and refused");

    // Act: kill -9, the receiver comes back, wabapool restarts on its data.
    first.kill().unwrap();
    first.wait().unwrap();
    receiver.set(Mode::Answer(200));
    let mut second = serve();
    ready(client.clone(), address.clone()).await;

    // Assert: every event arrives, in order, with the ids they had before.
    let got = receiver.wait_for(3, Duration::from_secs(40)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let texts: Vec<&str> = got.iter().map(|r| r.body["data"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["message 0", "message 1", "message 2"]);
    let ids: Vec<String> = got.iter().map(|r| r.id.clone()).collect();
    let stored: Vec<i64> = crate::helpers::with_pool(&db::connect_pool(&DatabaseUrl::parse(&url), 1).unwrap(), |c| {
        events::table.order(events::id.asc()).select(events::id).load(c).unwrap()
    })
    .await;
    assert_eq!(ids, stored.iter().map(|id| format!("evt_{id}")).collect::<Vec<_>>(), "the webhook-ids are the events' own");
}

#[tokio::test]
async fn two_instances_deliver_every_event_and_none_twice() {
    use crate::instances::{shared_settings, start};
    let (url, _database, keys) = crate::helpers::seeded_database().await;
    let receiver = Receiver::start().await;
    let sandbox = wabapool::meta::sandbox::Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").unwrap().spawn();
    let settings = || {
        let mut settings = shared_settings(&url);
        settings.secret_keys = keys.clone();
        settings.meta_graph_url = Some(sandbox.base_url.clone());
        settings.allow_private_event_urls = true;
        settings
    };
    let (a, b) = (start(settings()).await, start(settings()).await);
    let (db_url, target, seed_keys) = (url.clone(), receiver.url.clone(), keys.clone());
    let enterprise = tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&DatabaseUrl::parse(&db_url), 1).unwrap();
        let mut conn = pool.get().unwrap();
        let actor = acme_super_admin(&mut conn);
        let input = NewEndpointInput { url: target, event_types: vec!["waba.status".into()], ..NewEndpointInput::default() };
        endpoints::create(&mut conn, &actor, &seed_keys, &input, true).unwrap();
        actor.scope
    })
    .await
    .unwrap();
    let wabapool::domain::Scope::Enterprise(enterprise) = enterprise else { unreachable!() };

    // Act: 300 events written straight into the outbox; both instances poll it.
    let db_url = url.clone();
    tokio::task::spawn_blocking(move || {
        let pool = db::connect_pool(&DatabaseUrl::parse(&db_url), 1).unwrap();
        let mut conn = pool.get().unwrap();
        for n in 0..300 {
            wabapool::services::events::emit(
                &mut conn,
                wabapool::services::events::Event {
                    enterprise_id: enterprise.get(),
                    kind: wabapool::domain::events::EventType::WabaStatus,
                    pool_id: None,
                    message_id: None,
                    customer: None,
                    data: json!({ "waba_id": ACME_WABA, "status": "active", "n": n }),
                },
            )
            .unwrap();
        }
    })
    .await
    .unwrap();

    // Assert
    let got = receiver.wait_for(300, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_all = receiver.got();
    let mut ids: Vec<String> = got_all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(got.len(), 300, "every event arrived");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), got_all.len(), "none arrived twice");
    a.server.stop(true).await;
    b.server.stop(true).await;
}

fn change(field: &str, value: Value) -> Value {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": ACME_WABA, "time": chrono::Utc::now().timestamp(), "changes": [{ "field": field, "value": value }] }] })
}

#[tokio::test]
async fn quality_drops_a_pool_going_down_and_a_restricted_waba_are_events() {
    // Arrange: Acme Support holds the two +1 numbers.
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["number.health", "pool.health", "waba.status"]).await;
    let pool = app.pool_id("Acme Support").await;
    let flag = |display: &str| {
        change("phone_number_quality_update", json!({ "display_phone_number": display, "event": "FLAGGED", "current_limit": "TIER_1K" }))
    };

    // Act: one member turns red (one of two still in rotation), then the other.
    assert_eq!(app.deliver(flag("15550100101")).await, 200);
    let first = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 1, "one member red leaves half in rotation: no pool event yet: {first:?}");
    assert_eq!(app.deliver(flag("15550100102")).await, 200);
    let got = receiver.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(app.deliver(change("account_update", json!({ "event": "ACCOUNT_RESTRICTION" }))).await, 200);
    // The WABA's status, and each of its five activated numbers out of rotation.
    let after = receiver.wait_for(9, Duration::from_secs(5)).await;

    // Assert: events of no customer may arrive in any order; by their ids:
    let mut got = got;
    got.sort_by_key(|r| r.id.trim_start_matches("evt_").parse::<i64>().unwrap());
    let kinds: Vec<&str> = got.iter().map(|r| r.body["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["number.health", "number.health", "pool.health"]);
    let health = &got[0].body["data"];
    assert_eq!(health["phone_number_id"], "1015550100101");
    assert_eq!(health["quality"], "RED");
    assert_eq!(health["in_rotation"], false);
    assert_eq!(health["reason"], "FLAGGED");
    let down = &got[2].body["data"];
    assert_eq!(
        (down["pool_id"].as_i64(), down["state"].as_str(), down["members"].as_i64(), down["in_rotation"].as_i64()),
        (Some(pool), Some("down"), Some(2), Some(0))
    );
    assert_eq!(after.len(), 9, "no pool event: the pool was down already: {after:?}");
    let restricted = &after[3..];
    let waba = &restricted.iter().find(|r| r.body["type"] == "waba.status").expect("a waba.status event").body;
    let numbers: Vec<&Value> = restricted.iter().filter(|r| r.body["type"] == "number.health").map(|r| &r.body["data"]).collect();
    assert_eq!(numbers.len(), 5, "{restricted:?}");
    assert!(numbers.iter().all(|n| n["in_rotation"] == false && n["reason"] == "ACCOUNT_RESTRICTION"));
    assert_eq!(
        (waba["data"]["waba_id"].as_str(), waba["data"]["status"].as_str(), waba["data"]["reason"].as_str()),
        (Some(ACME_WABA), Some("suspended"), Some("ACCOUNT_RESTRICTION"))
    );
}

#[tokio::test]
async fn events_older_than_30_days_are_forgotten_with_their_deliveries() {
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["message.received"]).await;
    app.deliver(customer_writes("447700900561", "wamid.OLD561", "old")).await;
    app.deliver(customer_writes("447700900562", "wamid.NEW562", "new")).await;
    receiver.wait_for(2, Duration::from_secs(5)).await;
    let long_ago = wabapool::store::now() - chrono::Duration::days(31);
    app.with_db(move |c| {
        let oldest: i64 = events::table.order(events::id.asc()).select(events::id).first(c).unwrap();
        diesel::update(events::table.find(oldest)).set(events::created_at.eq(long_ago)).execute(c).unwrap();
    })
    .await;

    let forgotten = app.with_db(|c| wabapool::services::events::prune(c).unwrap()).await;

    assert_eq!(forgotten, 1);
    let (left, deliveries, attempts): (i64, i64, i64) = app
        .with_db(|c| {
            (
                events::table.count().get_result(c).unwrap(),
                event_deliveries::table.count().get_result(c).unwrap(),
                event_attempts::table.count().get_result(c).unwrap(),
            )
        })
        .await;
    assert_eq!((left, deliveries, attempts), (1, 1, 1), "the recent event, its delivery and its attempt stay");
}

#[tokio::test]
async fn a_pool_with_its_own_threshold_is_degraded_below_it() {
    // Arrange: Acme Support (two members) is degraded below two in rotation.
    let app = app().await;
    let receiver = Receiver::start().await;
    add_endpoint(&app, &receiver.url, &["pool.health"]).await;
    let pool = app.pool_id("Acme Support").await;
    let admin = app.new_client_logged_in("admin@acme.example").await;
    let routing = format!("/channels/whatsapp/pools/{pool}/routing");
    let refused = admin.post_form(&routing, &[("strategy", "round_robin"), ("degraded_below", "11")]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("a whole number from 1 to 10"));
    let saved = admin.post_form(&routing, &[("strategy", "round_robin"), ("degraded_below", "2")]).await;
    assert!(saved.status().is_redirection() || saved.status().is_success(), "{}", saved.status());
    assert!(admin.get_html(&routing).await.contains(r#"name="degraded_below" value="2""#));

    // Act: one member turns red.
    let flag =
        change("phone_number_quality_update", json!({ "display_phone_number": "15550100101", "event": "FLAGGED", "current_limit": "TIER_1K" }));
    assert_eq!(app.deliver(flag).await, 200);

    // Assert
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let data = &got[0].body["data"];
    assert_eq!((data["state"].as_str(), data["in_rotation"].as_i64(), data["degraded_below"].as_i64()), (Some("degraded"), Some(1), Some(2)));
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_a_day_and_the_old_one_then_stops() {
    // Arrange
    let app = app().await;
    let receiver = Receiver::start().await;
    let (endpoint, old) = add_endpoint(&app, &receiver.url, &["message.received"]).await;
    let keys = app.keys.clone();
    let new = app
        .with_db(move |c| {
            let actor = acme_super_admin(c);
            endpoints::rotate_secret(c, &actor, &keys, endpoint).unwrap()
        })
        .await;

    // Act
    app.deliver(customer_writes("447700900571", "wamid.ROT571", "rotated")).await;
    let during = receiver.wait_for(1, Duration::from_secs(5)).await;
    let lapsed = wabapool::store::now() - chrono::Duration::seconds(1);
    app.with_db(move |c| {
        diesel::update(event_endpoints::table.find(endpoint)).set(event_endpoints::previous_until.eq(Some(lapsed))).execute(c).unwrap()
    })
    .await;
    app.deliver(customer_writes("447700900572", "wamid.ROT572", "later")).await;
    let after = receiver.wait_for(2, Duration::from_secs(5)).await;

    // Assert: the new secret's signature first, the old one's beside it; then the new one alone.
    let signatures: Vec<&str> = during[0].signature.split(' ').collect();
    let sign = |secret: &SecretString, r: &Received| event_signing::sign(secret, &r.id, r.timestamp, r.raw.as_bytes()).unwrap();
    assert_eq!(signatures, [sign(&new, &during[0]), sign(&old, &during[0])]);
    assert_eq!(after[1].signature, sign(&new, &after[1]), "the old secret no longer signs once its day is over");
}
