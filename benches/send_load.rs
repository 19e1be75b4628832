//! End-to-end load on the send API: the release build of the app and the
//! Graph sandbox in this process, over real sockets, with the send log on
//! SQLite (and on PostgreSQL when `WABAPOOL_BENCH_PG` names a server URL).
//! 64 concurrent clients send templates to distinct recipients through a
//! pool of Initech's 10 numbers at HIGH throughput (1,000/s each) for 10
//! seconds. `cargo bench --bench send_load`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;
use wabapool::config::Settings;
use wabapool::db::{self, DatabaseUrl};
use wabapool::domain::{EnterpriseId, Role, Scope, UserId};
use wabapool::meta::sandbox::Sandbox;
use wabapool::services::Actor;
use wabapool::startup::Application;

const CLIENTS: usize = 64;

/// CPU time this process has used, user and system, in seconds: the cost
/// of a message in CPU is steadier than its rate on a shared machine.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
const APP_SECRET: &str = "bench-app-secret";
const SECONDS: u64 = 10;

async fn run(label: &str, database_url: &str) {
    let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").unwrap().spawn();
    let mut settings = Settings::for_database(database_url);
    settings.meta_graph_url = Some(sandbox.base_url.clone());
    settings.db_pool_size = 16;
    settings.meta_app_secret = SecretString::from(APP_SECRET);
    let keys = settings.secret_keys.clone();
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.db();
    let (key, pool_id) = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        wabapool::demo::load(&mut conn, &SecretString::from("wabapool-demo"), &keys).unwrap();
        use diesel::prelude::*;
        use wabapool::db::schema::{numbers, users};
        let initech = wabapool::store::orgs::find_enterprise_by_name(&mut conn, "Initech Bank").unwrap().unwrap();
        diesel::update(users::table.filter(users::email.eq("admin@initech.example"))).set(users::role.eq("super_admin")).execute(&mut conn).unwrap();
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
        (key, pool.id)
    })
    .await
    .unwrap();
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let mut tasks = Vec::new();
    for worker in 0..CLIENTS {
        let (client, key, address, stop) = (client.clone(), key.clone(), address.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let to = format!("4477{worker:03}{n:05}");
                let body = json!({ "to": to, "type": "template", "template": { "name": "load", "language": { "code": "en" } } });
                let t = Instant::now();
                match client.post(format!("{address}/api/v1/pools/{pool_id}/messages")).bearer_auth(&key).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_per_message = (cpu_seconds() - cpu_before) / latencies.len().max(1) as f64;
    let send_rate = latencies.len() as f64 / elapsed;
    latencies.sort();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or_default();
    println!(
        "| {label} | {:.0} messages/s | median {:.1} ms | p99 {:.1} ms | {} sent | {errors} errors | {:.0} µs of CPU a message (app, sandbox and clients) |",
        latencies.len() as f64 / elapsed,
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        latencies.len(),
        cpu_per_message * 1e6,
    );

    // The webhook endpoint in the same run: signed delivery statuses, as Meta posts them.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CLIENTS {
        let (client, address, stop) = (client.clone(), address.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut n) = (0u64, 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102000000000301", "changes": [{ "field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "15550300301", "phone_number_id": "1015550300301" },
                    "statuses": [{ "id": format!("wamid.BENCH{worker}x{n}"), "status": "delivered", "timestamp": "1763800000", "recipient_id": "447700900001" }]
                } }] }] })
                .to_string();
                let signature = wabapool::meta::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
                match client
                    .post(format!("{address}/webhooks/whatsapp"))
                    .header("Content-Type", "application/json")
                    .header("X-Hub-Signature-256", signature)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status().as_u16() == 200 => ok += 1,
                    _ => errors += 1,
                }
            }
            (ok, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut errors) = (0, 0);
    for task in tasks {
        let (o, e) = task.await.unwrap();
        ok += o;
        errors += e;
    }
    let webhook_rate = ok as f64 / started.elapsed().as_secs_f64();
    println!(
        "| {label} webhooks | {webhook_rate:.0} deliveries/s | {:.1}× the send rate | {ok} accepted | {errors} errors |",
        webhook_rate / send_rate
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    run("SQLite", &dir.path().join("send.sqlite3").to_string_lossy()).await;
    if let Ok(server) = std::env::var("WABAPOOL_BENCH_PG") {
        let name = "wabapool_send_bench";
        let admin = format!("{server}/postgres");
        let url = format!("{server}/{name}");
        tokio::task::spawn_blocking({
            let admin = admin.clone();
            move || {
                use diesel::{Connection, RunQueryDsl};
                let mut conn = diesel::PgConnection::establish(&admin).unwrap();
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).unwrap();
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).unwrap();
            }
        })
        .await
        .unwrap();
        let _ = db::DatabaseUrl::parse(&url);
        run("PostgreSQL", &url).await;
    }
    let _ = DatabaseUrl::parse("unused");
}
