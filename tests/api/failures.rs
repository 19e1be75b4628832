//! Failures of ours on the send API and the portal: each answers with its
//! own class and is logged once with the request id and its cause; a Meta
//! token that cannot be opened says to reconnect the WABA, never that the
//! database is not answering.

use diesel::prelude::*;
use serde_json::{Value, json};
use wabapool::db::schema::{waba_links, wabas};

use crate::helpers::{TestApp, acme_api_key, spawn_app};
use crate::numbers::captured_logs;

/// A key id no configured key has.
const UNKNOWN_KEY_ID: &str = "00deadbeefcafe00";

/// An API key of Acme Retail.
async fn acme_key(app: &TestApp) -> String {
    app.with_db(|conn| acme_api_key(conn, "failures")).await
}

/// Marks every stored Meta token as sealed under a key this server does not have.
async fn seal_tokens_under_an_unknown_key(app: &TestApp) {
    app.with_db(|c| diesel::update(waba_links::table).set(waba_links::access_token_key_id.eq(UNKNOWN_KEY_ID)).execute(c).unwrap()).await;
}

async fn send_with_request_id(app: &TestApp, key: &str, request_id: &str, idempotency: Option<&str>) -> (u16, Value) {
    let pool = app.pool_id("Acme Support").await;
    let body = json!({ "to": "447700900601", "type": "template", "template": { "name": "order_update", "language": { "code": "en" } } });
    let mut request =
        app.client.post(app.url(&format!("/api/v1/pools/{pool}/messages"))).bearer_auth(key).header("X-Request-Id", request_id).json(&body);
    if let Some(k) = idempotency {
        request = request.header("Idempotency-Key", k);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The captured log lines that carry `needle`.
fn log_lines_with(needle: &str) -> Vec<String> {
    let logs = captured_logs();
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    text.lines().filter(|l| l.contains(needle)).map(str::to_owned).collect()
}

#[tokio::test]
async fn a_token_sealed_under_an_unknown_key_answers_token_unreadable_and_logs_the_key_id_with_the_request_id() {
    // Arrange
    captured_logs();
    let app = spawn_app().await;
    let key = acme_key(&app).await;
    seal_tokens_under_an_unknown_key(&app).await;

    // Act
    let (status, body) = send_with_request_id(&app, &key, "token-unreadable-601", None).await;

    // Assert
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "token_unreadable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Reconnect the WABA") && !message.contains("database"), "{message}");
    let failed: Vec<String> = log_lines_with("token-unreadable-601").into_iter().filter(|l| l.contains("API request failed")).collect();
    assert_eq!(failed.len(), 1, "one line for the failure: {failed:?}");
    assert!(failed[0].contains("token_unreadable") && failed[0].contains(UNKNOWN_KEY_ID), "{}", failed[0]);
}

#[tokio::test]
async fn sync_of_a_waba_whose_token_cannot_be_opened_says_to_reconnect_it() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    seal_tokens_under_an_unknown_key(&app).await;
    app.with_db(|c| diesel::update(wabas::table).set(wabas::last_synced_at.eq(None::<chrono::NaiveDateTime>)).execute(c).unwrap()).await;
    let waba: i64 = app.with_db(|c| wabas::table.filter(wabas::meta_waba_id.eq("102000000000101")).select(wabas::id).first(c).unwrap()).await;

    // Act
    let response = app.post_form(&format!("/channels/whatsapp/wabas/{waba}/sync"), &[]).await;
    let page = app.get_html("/channels/whatsapp/numbers").await;

    // Assert
    assert_eq!(response.status().as_u16(), 303);
    assert!(page.contains("Reconnect the WABA in the portal"), "the flash says what to do");
    assert!(!page.contains("database is not answering"));
}

#[tokio::test]
async fn an_unexpected_database_failure_answers_internal_and_logs_its_cause_once_with_the_request_id() {
    // Arrange: the table of Idempotency-Keys is gone.
    captured_logs();
    let app = spawn_app().await;
    let key = acme_key(&app).await;
    app.with_db(|c| diesel::sql_query("DROP TABLE idempotency_keys").execute(c).unwrap()).await;

    // Act
    let (status, body) = send_with_request_id(&app, &key, "internal-failure-602", Some("order-602")).await;

    // Assert
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "internal");
    let failed: Vec<String> = log_lines_with("internal-failure-602").into_iter().filter(|l| l.contains("API request failed")).collect();
    assert_eq!(failed.len(), 1, "one line for the failure: {failed:?}");
    assert!(failed[0].contains("idempotency_keys"), "the cause is in the line: {}", failed[0]);
}

#[tokio::test]
async fn a_send_refused_for_an_unreadable_token_leaves_its_idempotency_key_free_for_the_retry_after_a_reconnect() {
    // Arrange
    let app = spawn_app().await;
    let key = acme_key(&app).await;
    let sealed_under: String =
        app.with_db(|c| waba_links::table.select(waba_links::access_token_key_id).first::<Option<String>>(c).unwrap().unwrap()).await;
    seal_tokens_under_an_unknown_key(&app).await;
    let (refused, _) = send_with_request_id(&app, &key, "unreadable-then-reconnected-603", Some("order-603")).await;
    app.with_db(move |c| diesel::update(waba_links::table).set(waba_links::access_token_key_id.eq(sealed_under)).execute(c).unwrap()).await;

    // Act
    let (status, body) = send_with_request_id(&app, &key, "unreadable-then-reconnected-604", Some("order-603")).await;

    // Assert
    assert_eq!(refused, 503);
    assert_eq!(status, 201, "{body}");
}
