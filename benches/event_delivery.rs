//! Event delivery under load: the release build of the app, the Graph
//! sandbox and two receivers in this process, over real sockets, on SQLite
//! (and on PostgreSQL when `WABAPOOL_BENCH_PG` names a server URL).
//! 32 clients send through a pool of 10 HIGH numbers at `SEND_RATE` sends
//! a second together, each send a `message.status` event, while 4 clients
//! post customers' replies as
//! Meta's signed webhooks, each a `message.received` event carrying the
//! moment it was posted. Three runs of 10 seconds: one endpoint; the same
//! with a second endpoint that answers after 5 seconds; and the send API
//! alone, for the cost of the events to it. `cargo bench --bench event_delivery`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use secrecy::SecretString;
use serde_json::{Value, json};
use wabapool::config::Settings;
use wabapool::domain::{EnterpriseId, Role, Scope, UserId};
use wabapool::meta::sandbox::Sandbox;
use wabapool::services::Actor;
use wabapool::services::events::endpoints::{self, NewEndpointInput};
use wabapool::startup::Application;

const SENDERS: usize = 32;
const REPLIERS: usize = 4;
const SECONDS: u64 = 10;
const APP_SECRET: &str = "bench-app-secret";

/// Sends a second the clients aim at together (`SEND_RATE`, default 2,000):
/// the events' source, below what the machine can send at most so that the
/// deliveries have their share of it.
fn send_rate() -> f64 {
    std::env::var("SEND_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(2_000.0)
}

/// What a receiver counts: events taken, and the delay of each reply from
/// its webhook being posted to its event arriving.
struct Tally {
    events: AtomicU64,
    delays_us: Mutex<Vec<u64>>,
    answer_after: Duration,
    epoch: Instant,
}

async fn take(body: web::Bytes, tally: web::Data<Tally>) -> HttpResponse {
    if !tally.answer_after.is_zero() {
        tokio::time::sleep(tally.answer_after).await;
    }
    tally.events.fetch_add(1, Ordering::Relaxed);
    if let Ok(event) = serde_json::from_slice::<Value>(&body)
        && event["type"] == "message.received"
        && let Some(posted) = event["data"]["text"].as_str().and_then(|t| t.parse::<u64>().ok())
    {
        let now = tally.epoch.elapsed().as_micros() as u64;
        tally.delays_us.lock().unwrap().push(now.saturating_sub(posted));
    }
    HttpResponse::Ok().finish()
}

fn receiver(answer_after: Duration, epoch: Instant) -> (String, Arc<Tally>) {
    let tally = Arc::new(Tally { events: AtomicU64::new(0), delays_us: Mutex::default(), answer_after, epoch });
    let data = web::Data::from(tally.clone());
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(take))).workers(1).bind(("127.0.0.1", 0)).unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/events"), tally)
}

struct Setup {
    address: String,
    key: String,
    pool_id: i64,
    actor: Actor,
    db: wabapool::db::DbPool,
    keys: wabapool::security::secrets::SecretKeys,
    server: actix_web::dev::ServerHandle,
}

async fn start(database_url: &str) -> Setup {
    let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").unwrap().spawn();
    let mut settings = Settings::for_database(database_url);
    settings.meta_graph_url = Some(sandbox.base_url.clone());
    settings.db_pool_size = 16;
    settings.meta_app_secret = SecretString::from(APP_SECRET);
    settings.allow_private_event_urls = true;
    let keys = settings.secret_keys.clone();
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    let seed_keys = keys.clone();
    let (key, pool_id, actor) = tokio::task::spawn_blocking({
        let db = db.clone();
        move || {
            use diesel::prelude::*;
            use wabapool::db::schema::{numbers, users};
            let mut conn = db.get().unwrap();
            wabapool::demo::load(&mut conn, &SecretString::from("wabapool-demo"), &seed_keys).unwrap();
            let initech = wabapool::store::orgs::find_enterprise_by_name(&mut conn, "Initech Bank").unwrap().unwrap();
            diesel::update(users::table.filter(users::email.eq("admin@initech.example")))
                .set(users::role.eq("super_admin"))
                .execute(&mut conn)
                .unwrap();
            let user = wabapool::store::users::find_by_email(&mut conn, "admin@initech.example").unwrap().unwrap();
            let actor = Actor {
                user_id: UserId(user.id),
                email: user.email,
                role: Role::SuperAdmin,
                scope: Scope::Enterprise(EnterpriseId(initech.id)),
                client_ip: None,
            };
            let ids: Vec<String> = numbers::table
                .filter(numbers::enterprise_id.eq(initech.id))
                .filter(numbers::verified_name.eq("Initech Retail Banking"))
                .order(numbers::id)
                .limit(10)
                .select(numbers::id)
                .load::<i64>(&mut conn)
                .unwrap()
                .iter()
                .map(i64::to_string)
                .collect();
            diesel::update(numbers::table.filter(numbers::enterprise_id.eq(initech.id)))
                .set(numbers::throughput_level.eq("HIGH"))
                .execute(&mut conn)
                .unwrap();
            let draft = wabapool::services::pools::PoolDraft::parse("Load test", &ids);
            let pool = wabapool::services::pools::create_pool(&mut conn, &actor, None, draft).unwrap();
            let key = wabapool::services::api_keys::create(&mut conn, &actor, None, "load test").unwrap();
            (key, pool.id, actor)
        }
    })
    .await
    .unwrap();
    let server = app.server_handle();
    tokio::spawn(app.run_until_stopped());
    Setup { address, key, pool_id, actor, db, keys, server }
}

async fn add_endpoint(setup: &Setup, url: &str) -> i64 {
    let (db, actor, keys, url) = (setup.db.clone(), setup.actor.clone(), setup.keys.clone(), url.to_owned());
    tokio::task::spawn_blocking(move || {
        let input = NewEndpointInput { url, event_types: vec!["message.received".into(), "message.status".into()], ..NewEndpointInput::default() };
        endpoints::create(&mut db.get().unwrap(), &actor, &keys, &input, true).unwrap().0
    })
    .await
    .unwrap()
}

/// The first of Initech's pool numbers, whose replies the webhooks carry.
async fn pool_number(setup: &Setup) -> (String, String) {
    let db = setup.db.clone();
    let pool_id = setup.pool_id;
    tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use wabapool::db::schema::{numbers, pool_members, wabas};
        numbers::table
            .inner_join(pool_members::table.on(pool_members::number_id.eq(numbers::id)))
            .inner_join(wabas::table)
            .filter(pool_members::pool_id.eq(pool_id))
            .select((numbers::phone_number_id, wabas::meta_waba_id))
            .first::<(String, String)>(&mut db.get().unwrap())
            .unwrap()
    })
    .await
    .unwrap()
}

/// Sends and replies for [`SECONDS`]: messages sent, replies posted.
async fn load(setup: &Setup, epoch: Instant, replies: bool) -> (u64, u64) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(SENDERS + REPLIERS).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, posted) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for worker in 0..SENDERS {
        let (client, key, address, stop, sent, pool_id) =
            (client.clone(), setup.key.clone(), setup.address.clone(), stop.clone(), sent.clone(), setup.pool_id);
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut pace = tokio::time::interval(Duration::from_secs_f64(SENDERS as f64 / send_rate()));
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                pace.tick().await;
                n += 1;
                let body = json!({ "to": format!("4477{worker:03}{n:05}"), "type": "template", "template": { "name": "load", "language": { "code": "en" } } });
                if let Ok(r) = client.post(format!("{address}/api/v1/pools/{pool_id}/messages")).bearer_auth(&key).json(&body).send().await
                    && r.status().as_u16() == 201
                {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    if replies {
        let (phone_number_id, waba) = pool_number(setup).await;
        for worker in 0..REPLIERS {
            let (client, address, stop, posted, phone_number_id, waba) =
                (client.clone(), setup.address.clone(), stop.clone(), posted.clone(), phone_number_id.clone(), waba.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let now = epoch.elapsed().as_micros().to_string();
                    let from = format!("4478{worker:03}{n:05}");
                    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": waba, "changes": [{ "field": "messages", "value": {
                        "messaging_product": "whatsapp",
                        "metadata": { "display_phone_number": "15550000000", "phone_number_id": phone_number_id },
                        "contacts": [{ "profile": { "name": "Load" }, "wa_id": from }],
                        "messages": [{ "from": from, "id": format!("wamid.REPLY{worker}x{n}"), "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text", "text": { "body": now } }]
                    } }] }] })
                    .to_string();
                    let signature = wabapool::meta::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
                    let request = client
                        .post(format!("{address}/webhooks/whatsapp"))
                        .header("Content-Type", "application/json")
                        .header("X-Hub-Signature-256", signature)
                        .body(body);
                    if request.send().await.is_ok_and(|r| r.status().is_success()) {
                        posted.fetch_add(1, Ordering::Relaxed);
                    }
                    // About 100 replies a second from each replier.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    (sent.load(Ordering::Relaxed), posted.load(Ordering::Relaxed))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default() as f64 / 1000.0
}

async fn run(label: &str, database_url: &str, slow_database_url: &str, alone_database_url: &str) {
    let epoch = Instant::now();

    // One endpoint.
    let setup = start(database_url).await;
    let (quick_url, quick) = receiver(Duration::ZERO, epoch);
    add_endpoint(&setup, &quick_url).await;
    let started = Instant::now();
    let (sent, posted) = load(&setup, epoch, true).await;
    let elapsed = started.elapsed().as_secs_f64();
    let delivered = quick.events.load(Ordering::Relaxed);
    let mut delays = quick.delays_us.lock().unwrap().clone();
    delays.sort_unstable();
    setup.server.stop(false).await;
    let one_rate = delivered as f64 / elapsed;
    println!(
        "| {label}, one endpoint | {:.0} sends/s | {:.0} replies/s | {one_rate:.0} events/s delivered | reply to endpoint median {:.1} ms, p99 {:.1} ms ({} replies timed) |",
        sent as f64 / elapsed,
        posted as f64 / elapsed,
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.len(),
    );

    // The same with a second endpoint that answers after 5 seconds.
    let setup = start(slow_database_url).await;
    let (quick_url, quick) = receiver(Duration::ZERO, epoch);
    let (slow_url, slow) = receiver(Duration::from_secs(5), epoch);
    add_endpoint(&setup, &quick_url).await;
    add_endpoint(&setup, &slow_url).await;
    let started = Instant::now();
    let (sent, posted) = load(&setup, epoch, true).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut delays = quick.delays_us.lock().unwrap().clone();
    delays.sort_unstable();
    let beside_slow = quick.events.load(Ordering::Relaxed) as f64 / elapsed;
    setup.server.stop(false).await;
    println!(
        "| {label}, beside an endpoint answering after 5 s | {:.0} sends/s | {:.0} replies/s | {beside_slow:.0} events/s delivered ({:.0}% of one endpoint's; the slow one took {}) | reply to endpoint median {:.1} ms, p99 {:.1} ms |",
        sent as f64 / elapsed,
        posted as f64 / elapsed,
        100.0 * beside_slow / one_rate,
        slow.events.load(Ordering::Relaxed),
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
    );

    // The send API alone, no endpoint.
    let setup = start(alone_database_url).await;
    let started = Instant::now();
    let (sent, _) = load(&setup, epoch, false).await;
    setup.server.stop(false).await;
    println!("| {label}, no endpoint | {:.0} sends/s | | | |", sent as f64 / started.elapsed().as_secs_f64());
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    run("SQLite", &file("one.sqlite3"), &file("slow.sqlite3"), &file("alone.sqlite3")).await;
    if let Ok(server) = std::env::var("WABAPOOL_BENCH_PG") {
        let names = ["wabapool_events_one", "wabapool_events_slow", "wabapool_events_alone"];
        tokio::task::spawn_blocking({
            let admin = format!("{server}/postgres");
            move || {
                use diesel::{Connection, RunQueryDsl};
                let mut conn = diesel::PgConnection::establish(&admin).unwrap();
                for name in names {
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).unwrap();
                    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).unwrap();
                }
            }
        })
        .await
        .unwrap();
        run("PostgreSQL", &format!("{server}/{}", names[0]), &format!("{server}/{}", names[1]), &format!("{server}/{}", names[2])).await;
    }
}
