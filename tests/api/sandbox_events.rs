//! The Graph API sandbox playing Meta's side of a conversation over a real
//! socket: a customer's reply and the statuses of a sent message, posted
//! to the running app's `/webhooks/whatsapp` as Meta posts them.

use diesel::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use wabapool::db::schema::{events, messages, service_windows};

use crate::helpers::{TestApp, spawn_app_with};
use crate::webhooks::send_one;

const APP_SECRET: &str = "sandbox-events-app-secret";

async fn app() -> TestApp {
    spawn_app_with(|s| s.meta_app_secret = SecretString::from(APP_SECRET)).await
}

impl TestApp {
    /// Posts a command to the sandbox; its status and answer.
    async fn sandbox_command(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.client.post(format!("{}{path}", self.sandbox_url)).json(&body).send().await.expect("sandbox answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }
}

#[tokio::test]
async fn a_reply_posted_through_the_sandbox_opens_the_service_window_and_is_an_event() {
    // Arrange
    let app = app().await;
    let reply = json!({
        "url": app.url("/webhooks/whatsapp"),
        "app_secret": APP_SECRET,
        "phone_number_id": "1015550100102",
        "from": "+44 7700 900123",
        "text": "Is my order on its way?",
        "name": "Ada"
    });

    // Act
    let (status, answer) = app.sandbox_command("/_sandbox/replies", reply).await;

    // Assert
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], 200, "the portal took the signed webhook");
    let wamid = answer["wamid"].as_str().expect("the reply's wamid").to_owned();
    let number = app.number_id("+1 555-010-0102").await;
    let windows: Vec<(i64, String)> =
        app.with_db(|c| service_windows::table.select((service_windows::number_id, service_windows::recipient)).load(c).unwrap()).await;
    assert_eq!(windows, vec![(number, "447700900123".to_owned())]);
    let received: Vec<String> =
        app.with_db(|c| events::table.filter(events::event_type.eq("message.received")).select(events::body).load(c).unwrap()).await;
    assert_eq!(received.len(), 1);
    let event: Value = serde_json::from_str(&received[0]).unwrap();
    assert_eq!(event["data"]["wamid"], wamid.as_str());
    assert_eq!(event["data"]["text"], "Is my order on its way?");
    assert_eq!(event["data"]["contact_name"], "Ada");
}

#[tokio::test]
async fn statuses_posted_through_the_sandbox_move_the_latest_sent_message_forward() {
    // Arrange
    let app = app().await;
    let sent = send_one(&app, "447700900124").await;
    let wamid = sent["wamid"].as_str().expect("sent").to_owned();
    let command = |status: &str, wamid: Option<&str>| {
        json!({ "url": app.url("/webhooks/whatsapp"), "app_secret": APP_SECRET, "status": status, "wamid": wamid, "error_code": null })
    };

    // Act: the latest message when no wamid is named, then the one named.
    let (delivered, first) = app.sandbox_command("/_sandbox/statuses", command("delivered", None)).await;
    let after_delivered: String = app.with_db(|c| messages::table.select(messages::status).first(c).unwrap()).await;
    let (read, second) = app.sandbox_command("/_sandbox/statuses", command("read", Some(&wamid))).await;

    // Assert
    assert_eq!((delivered, read), (200, 200), "{first} {second}");
    assert_eq!((first["status"].as_u64(), first["wamid"].as_str()), (Some(200), Some(wamid.as_str())));
    assert_eq!(after_delivered, "delivered");
    let status: String = app.with_db(|c| messages::table.select(messages::status).first(c).unwrap()).await;
    assert_eq!(status, "read");
}

#[tokio::test]
async fn a_failed_status_carries_its_error_code_to_the_send_log() {
    let app = app().await;
    send_one(&app, "447700900125").await;

    let (status, answer) = app
        .sandbox_command(
            "/_sandbox/statuses",
            json!({ "url": app.url("/webhooks/whatsapp"), "app_secret": APP_SECRET, "status": "failed", "error_code": 131026 }),
        )
        .await;

    assert_eq!((status, answer["status"].as_u64()), (200, Some(200)), "{answer}");
    let (state, code): (String, Option<i64>) = app.with_db(|c| messages::table.select((messages::status, messages::error_code)).first(c).unwrap()).await;
    assert_eq!((state.as_str(), code), ("failed", Some(131026)));
}

#[tokio::test]
async fn the_sandbox_answers_404_for_an_unknown_number_or_message_and_422_for_a_bad_command() {
    let app = app().await;
    let url = app.url("/webhooks/whatsapp");
    let reply = |number: &str, from: &str, text: &str| json!({ "url": url, "app_secret": APP_SECRET, "phone_number_id": number, "from": from, "text": text });
    let status = |wamid: Option<&str>, status: &str| json!({ "url": url, "app_secret": APP_SECRET, "wamid": wamid, "status": status });

    let unknown_number = app.sandbox_command("/_sandbox/replies", reply("999", "447700900126", "Hello")).await;
    let nothing_sent = app.sandbox_command("/_sandbox/statuses", status(None, "delivered")).await;
    send_one(&app, "447700900126").await;
    let unknown_wamid = app.sandbox_command("/_sandbox/statuses", status(Some("wamid.NOPE"), "delivered")).await;
    let bad_status = app.sandbox_command("/_sandbox/statuses", status(None, "opened")).await;
    let bad_from = app.sandbox_command("/_sandbox/replies", reply("1015550100102", "ada", "Hello")).await;
    let empty_text = app.sandbox_command("/_sandbox/replies", reply("1015550100102", "447700900126", " ")).await;

    for (answer, expected) in [(&unknown_number, 404), (&nothing_sent, 404), (&unknown_wamid, 404), (&bad_status, 422), (&bad_from, 422), (&empty_text, 422)]
    {
        assert_eq!(answer.0, expected, "{}", answer.1);
        assert!(answer.1["error"].is_string(), "a JSON error says why: {}", answer.1);
    }
    let windows: i64 = app.with_db(|c| service_windows::table.count().get_result(c).unwrap()).await;
    assert_eq!(windows, 0, "nothing refused reached the portal");
}
