//! Idempotency-Key under races (DESIGN.md §10): of simultaneous sends with
//! one key, on one instance or two on one database, one reaches Meta and
//! the others get its answer; a key reused for another message or pool is
//! refused, never answered with the first message's outcome.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};
use wabapool::db::schema::{idempotency_keys, pools};
use wabapool::db::{self, DatabaseUrl};
use wabapool::meta::sandbox::Sandbox;
use wabapool::startup::Application;

use crate::helpers::{acme_api_key, seeded_database, spawn_app, with_pool};

/// An API key of Acme Retail.
fn acme_key(conn: &mut db::DbConnection) -> String {
    acme_api_key(conn, "idempotency")
}

fn acme_support(conn: &mut db::DbConnection) -> i64 {
    pools::table.filter(pools::name.eq("Acme Support")).select(pools::id).get_result(conn).unwrap()
}

fn template(to: &str, name: &str) -> Value {
    json!({ "to": to, "type": "template", "template": { "name": name, "language": { "code": "en" } } })
}

/// One send's answer: status, whether it was a replay, body.
struct Answer {
    status: u16,
    replayed: bool,
    retry_after: bool,
    body: Value,
}

async fn send(client: &reqwest::Client, address: &str, key: &str, pool: i64, body: &Value, idempotency: &str) -> Answer {
    let response = client
        .post(format!("{address}/api/v1/pools/{pool}/messages"))
        .bearer_auth(key)
        .header("Idempotency-Key", idempotency)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().get("Idempotent-Replayed").is_some();
    let retry_after = response.headers().get("Retry-After").is_some();
    Answer { status, replayed, retry_after, body: response.json().await.unwrap_or(Value::Null) }
}

async fn sent_at_sandbox(client: &reqwest::Client, sandbox_url: &str) -> usize {
    let sent: Vec<Value> = client.get(format!("{sandbox_url}/_sandbox/sent")).send().await.unwrap().json().await.unwrap();
    sent.len()
}

/// Twenty sends with one key at once, spread over `addresses`.
async fn twenty_at_once(client: &reqwest::Client, addresses: &[String], key: &str, pool: i64, body: &Value, idempotency: &str) -> Vec<Answer> {
    let sends = (0..20).map(|i| send(client, &addresses[i % addresses.len()], key, pool, body, idempotency));
    futures_util::future::join_all(sends).await
}

/// The checks every race shares: Meta saw one message, one answer is the
/// send's own, and every other is its replay or a 409 that says when to retry.
fn assert_sent_once(answers: &[Answer], sent: usize) {
    assert_eq!(sent, 1, "the Graph sandbox received the message {sent} times");
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    let first: Vec<&Answer> = answers.iter().filter(|a| a.status == 201 && !a.replayed).collect();
    assert_eq!(first.len(), 1, "{statuses:?}");
    for answer in answers {
        match answer.status {
            201 => assert_eq!(answer.body, first[0].body, "a replay carries the first answer"),
            409 => {
                assert_eq!(answer.body["error"]["code"], "idempotency_in_progress");
                assert!(answer.retry_after);
            }
            other => panic!("unexpected status {other}: {}", answer.body),
        }
    }
}

#[tokio::test]
async fn twenty_simultaneous_sends_with_one_key_reach_meta_once_and_share_its_answer() {
    // Arrange
    let app = spawn_app().await;
    let (key, pool) = with_pool(&app.db, |c| (acme_key(c), acme_support(c))).await;
    let client = reqwest::Client::new();

    // Act
    let answers =
        twenty_at_once(&client, std::slice::from_ref(&app.address), &key, pool, &template("447700900501", "order_update"), "order-501").await;
    let later = send(&client, &app.address, &key, pool, &template("447700900501", "order_update"), "order-501").await;

    // Assert
    assert_sent_once(&answers, sent_at_sandbox(&client, &app.sandbox_url).await);
    let first = answers.iter().find(|a| a.status == 201 && !a.replayed).unwrap();
    assert!(first.body["wamid"].as_str().unwrap().starts_with("wamid."));
    assert_eq!((later.status, later.replayed), (201, true));
    assert_eq!(later.body, first.body, "a later retry replays the first answer");
}

#[tokio::test]
async fn twenty_simultaneous_sends_with_one_key_through_two_instances_reach_meta_once() {
    // Arrange: two instances on one fresh database, sharing keys and the sandbox.
    let (url, _database, keys) = seeded_database().await;
    let pool_url = url.clone();
    let db = tokio::task::spawn_blocking(move || db::connect_pool(&DatabaseUrl::parse(&pool_url), 2).unwrap()).await.unwrap();
    let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").unwrap().spawn();
    let mut addresses = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let mut settings = wabapool::config::Settings::for_database(&url);
        settings.secret_keys = keys.clone();
        settings.meta_graph_url = Some(sandbox.base_url.clone());
        let app = Application::build(settings).await.unwrap();
        addresses.push(format!("http://127.0.0.1:{}", app.port()));
        servers.push(app.server_handle());
        tokio::spawn(app.run_until_stopped());
    }
    let (key, pool) = with_pool(&db, |c| (acme_key(c), acme_support(c))).await;
    let client = reqwest::Client::new();

    // Act
    let answers = twenty_at_once(&client, &addresses, &key, pool, &template("447700900502", "order_update"), "order-502").await;

    // Assert
    assert_sent_once(&answers, sent_at_sandbox(&client, &sandbox.base_url).await);
    for server in servers {
        server.stop(true).await;
    }
}

#[tokio::test]
async fn a_key_reused_with_another_message_is_refused_and_never_answers_the_first() {
    // Arrange
    let app = spawn_app().await;
    let (key, pool) = with_pool(&app.db, |c| (acme_key(c), acme_support(c))).await;
    let client = reqwest::Client::new();
    let first = send(&client, &app.address, &key, pool, &template("447700900503", "order_update"), "order-503").await;

    // Act
    let other_body = send(&client, &app.address, &key, pool, &template("447700900503", "order_cancelled"), "order-503").await;
    let other_recipient = send(&client, &app.address, &key, pool, &template("447700900504", "order_update"), "order-503").await;

    // Assert
    assert_eq!(first.status, 201);
    for refused in [&other_body, &other_recipient] {
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert_eq!(refused.body["error"]["code"], "idempotency_key_reused");
        assert!(refused.body.get("wamid").is_none(), "the first answer is not given away");
    }
    assert_eq!(sent_at_sandbox(&client, &app.sandbox_url).await, 1);
}

#[tokio::test]
async fn a_key_reused_for_another_pool_is_refused() {
    // Arrange: a second pool of Acme Retail.
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let second = app.add_pool(None, "Acme Abroad", &["+44 7700 900101", "+91 98100 00101"]).await;
    let (key, pool) = with_pool(&app.db, |c| (acme_key(c), acme_support(c))).await;
    let client = reqwest::Client::new();
    let message = template("447700900505", "order_update");
    let first = send(&client, &app.address, &key, pool, &message, "order-505").await;

    // Act
    let elsewhere = send(&client, &app.address, &key, second, &message, "order-505").await;

    // Assert
    assert_eq!(first.status, 201);
    assert_eq!(elsewhere.status, 422, "{}", elsewhere.body);
    assert_eq!(elsewhere.body["error"]["code"], "idempotency_key_reused");
    assert_eq!(sent_at_sandbox(&client, &app.sandbox_url).await, 1);
}

#[tokio::test]
async fn a_key_held_by_a_send_under_way_answers_409_and_one_whose_send_never_ended_is_taken_over_after_five_minutes() {
    // Arrange: the key reserved for this very request, as a send in progress does.
    let app = spawn_app().await;
    let (key, pool) = with_pool(&app.db, |c| (acme_key(c), acme_support(c))).await;
    let client = reqwest::Client::new();
    let message = template("447700900506", "order_update");
    let hash = {
        let checked = wabapool::services::routing::check_message(message.clone()).unwrap();
        wabapool::services::routing::request_hash(pool, &checked)
    };
    let reserve = move |c: &mut db::DbConnection, age: chrono::Duration| {
        let enterprise: i64 = pools::table.find(pool).select(pools::enterprise_id).get_result(c).unwrap();
        diesel::delete(idempotency_keys::table).execute(c).unwrap();
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::enterprise_id.eq(enterprise),
                idempotency_keys::idempotency_key.eq("order-506"),
                idempotency_keys::request_hash.eq(&hash),
                idempotency_keys::reserved_at.eq(wabapool::store::now() - age),
            ))
            .execute(c)
            .unwrap();
    };
    let fresh = reserve.clone();
    with_pool(&app.db, move |c| fresh(c, chrono::Duration::seconds(1))).await;

    // Act
    let under_way = send(&client, &app.address, &key, pool, &message, "order-506").await;
    with_pool(&app.db, move |c| reserve(c, chrono::Duration::minutes(6))).await;
    let taken_over = send(&client, &app.address, &key, pool, &message, "order-506").await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let replayed = send(&client, &app.address, &key, pool, &message, "order-506").await;

    // Assert
    assert_eq!(under_way.status, 409, "{}", under_way.body);
    assert_eq!(under_way.body["error"]["code"], "idempotency_in_progress");
    assert!(under_way.retry_after);
    assert_eq!((taken_over.status, taken_over.replayed), (201, false), "{}", taken_over.body);
    assert_eq!((replayed.status, replayed.replayed), (201, true));
    assert_eq!(replayed.body, taken_over.body);
    assert_eq!(sent_at_sandbox(&client, &app.sandbox_url).await, 1);
}
