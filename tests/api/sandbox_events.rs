//! The Graph API sandbox playing Meta's side of a conversation over a real
//! socket: a customer's reply and the statuses of a sent message, posted
//! to the running app's `/webhooks/whatsapp` as Meta posts them; and the
//! demo's own receiver, where those events arrive signed, shown on the
//! Demo receiver page.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use wabapool::config::Settings;
use wabapool::db::DbPool;
use wabapool::db::schema::{audit_entries, enterprises, event_endpoints, events, messages, service_windows};
use wabapool::meta::sandbox::Sandbox;
use wabapool::security::secrets::SecretKeys;
use wabapool::startup::Application;

use crate::helpers::{TestApp, TestDatabase, browser, csrf_of, seeded_database, sign_in, spawn_app_with, status, texts, with_pool};
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
    let command = |status: &str, wamid: Option<&str>| json!({ "url": app.url("/webhooks/whatsapp"), "app_secret": APP_SECRET, "status": status, "wamid": wamid, "error_code": null });

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
    let (state, code): (String, Option<i64>) =
        app.with_db(|c| messages::table.select((messages::status, messages::error_code)).first(c).unwrap()).await;
    assert_eq!((state.as_str(), code), ("failed", Some(131026)));
}

#[tokio::test]
async fn the_sandbox_answers_404_for_an_unknown_number_or_message_and_422_for_a_bad_command() {
    let app = app().await;
    let url = app.url("/webhooks/whatsapp");
    let reply =
        |number: &str, from: &str, text: &str| json!({ "url": url, "app_secret": APP_SECRET, "phone_number_id": number, "from": from, "text": text });
    let status = |wamid: Option<&str>, status: &str| json!({ "url": url, "app_secret": APP_SECRET, "wamid": wamid, "status": status });

    let unknown_number = app.sandbox_command("/_sandbox/replies", reply("999", "447700900126", "Hello")).await;
    let nothing_sent = app.sandbox_command("/_sandbox/statuses", status(None, "delivered")).await;
    send_one(&app, "447700900126").await;
    let unknown_wamid = app.sandbox_command("/_sandbox/statuses", status(Some("wamid.NOPE"), "delivered")).await;
    let bad_status = app.sandbox_command("/_sandbox/statuses", status(None, "opened")).await;
    let bad_from = app.sandbox_command("/_sandbox/replies", reply("1015550100102", "ada", "Hello")).await;
    let empty_text = app.sandbox_command("/_sandbox/replies", reply("1015550100102", "447700900126", " ")).await;

    for (answer, expected) in
        [(&unknown_number, 404), (&nothing_sent, 404), (&unknown_wamid, 404), (&bad_status, 422), (&bad_from, 422), (&empty_text, 422)]
    {
        assert_eq!(answer.0, expected, "{}", answer.1);
        assert!(answer.1["error"].is_string(), "a JSON error says why: {}", answer.1);
    }
    let windows: i64 = app.with_db(|c| service_windows::table.count().get_result(c).unwrap()).await;
    assert_eq!(windows, 0, "nothing refused reached the portal");
}

const RECEIVER_PAGE: &str = "/settings/events/demo-receiver";

/// The app as `wabapool demo` starts it: the demo dataset loaded first,
/// then built in demo mode beside its Graph API sandbox.
struct DemoApp {
    address: String,
    sandbox_url: String,
    db: DbPool,
    url: String,
    keys: SecretKeys,
    database: std::sync::Arc<TestDatabase>,
}

async fn start_demo() -> DemoApp {
    let (url, database, keys) = seeded_database().await;
    let sandbox = Sandbox::bind(wabapool::demo::sandbox_fixture(), "127.0.0.1:0").expect("sandbox binds").spawn();
    start_demo_on(url, std::sync::Arc::new(database), keys, sandbox.base_url.clone()).await
}

/// Starts the demo on a database that already holds the dataset, as a restart does.
async fn start_demo_on(url: String, database: std::sync::Arc<TestDatabase>, keys: SecretKeys, sandbox_url: String) -> DemoApp {
    let mut settings = Settings::for_database(&url);
    settings.demo = true;
    settings.allow_private_event_urls = true;
    settings.secret_keys = keys.clone();
    settings.meta_graph_url = Some(sandbox_url.clone());
    settings.meta_app_secret = SecretString::from(APP_SECRET);
    let app = Application::build(settings).await.expect("the demo builds");
    let (address, db) = (format!("http://127.0.0.1:{}", app.port()), app.db());
    tokio::spawn(app.run_until_stopped());
    DemoApp { address, sandbox_url, db, url, keys, database }
}

impl DemoApp {
    /// A browser signed in as a demo user.
    async fn signed_in(&self, email: &str) -> reqwest::Client {
        let client = browser();
        sign_in(&client, &self.address, email).await;
        client
    }

    async fn enterprise_id(&self, name: &'static str) -> i64 {
        with_pool(&self.db, move |c| enterprises::table.filter(enterprises::name.eq(name)).select(enterprises::id).first(c).unwrap()).await
    }

    /// The demo's receiver endpoints: enterprise id and URL, by enterprise.
    async fn receiver_endpoints(&self) -> Vec<(i64, String, String)> {
        with_pool(&self.db, |c| {
            event_endpoints::table
                .filter(event_endpoints::url.like("%/demo/receiver/%"))
                .order(event_endpoints::enterprise_id)
                .select((event_endpoints::enterprise_id, event_endpoints::url, event_endpoints::event_types))
                .load(c)
                .unwrap()
        })
        .await
    }

    /// Reads the receiver page as `client` until `arrived` holds of it, for at most 15 seconds.
    async fn page_once(&self, client: &reqwest::Client, path: &str, arrived: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let page = client.get(format!("{}{path}", self.address)).send().await.unwrap().text().await.unwrap();
            if arrived(&page) || Instant::now() > deadline {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn arrived_types(page: &str) -> Vec<String> {
    texts(page, "#demo-arrivals code.event-type")
}

#[tokio::test]
async fn the_demo_opens_one_receiver_endpoint_per_enterprise_for_every_event_type_and_keeps_it_across_restarts() {
    // Arrange
    let first = start_demo().await;
    let opened = first.receiver_endpoints().await;

    // Act: the demo starts again on the same database, on another port.
    let again = start_demo_on(first.url.clone(), first.database.clone(), first.keys.clone(), first.sandbox_url.clone()).await;

    // Assert
    assert_eq!(opened.len(), 5, "one per demo enterprise: {opened:?}");
    for (enterprise, url, types) in &opened {
        assert_eq!(url, &format!("{}/demo/receiver/{enterprise}", first.address));
        assert_eq!(types, "message.received message.status number.health pool.health waba.status");
    }
    let kept = again.receiver_endpoints().await;
    assert_eq!(kept.len(), 5, "a restart opens no second endpoint: {kept:?}");
    assert!(kept.iter().all(|(enterprise, url, _)| url == &format!("{}/demo/receiver/{enterprise}", again.address)), "{kept:?}");
    let audited: Vec<String> = with_pool(&again.db, |c| {
        audit_entries::table
            .filter(audit_entries::subject_type.eq("event_endpoint"))
            .order(audit_entries::id)
            .select(audit_entries::action)
            .load(c)
            .unwrap()
    })
    .await;
    assert_eq!(audited.iter().filter(|a| *a == "event_endpoint.create").count(), 5);
    assert_eq!(audited.iter().filter(|a| *a == "event_endpoint.update").count(), 5, "each moved to the new port");
}

#[tokio::test]
async fn a_reply_posted_through_the_sandbox_shows_verified_on_the_receiver_page_within_seconds() {
    // Arrange
    let demo = start_demo().await;
    let acme = demo.enterprise_id("Acme Retail").await;
    let browser = demo.signed_in("super@northwind.example").await;
    let path = format!("{RECEIVER_PAGE}?enterprise_id={acme}");
    let before = demo.page_once(&browser, &path, |_| true).await;
    let reply = json!({
        "url": format!("{}/webhooks/whatsapp", demo.address),
        "app_secret": APP_SECRET,
        "phone_number_id": "1015550100101",
        "from": "447700900321",
        "text": "Where is parcel 42?",
        "name": "Ada"
    });

    // Act
    let answer: Value =
        reqwest::Client::new().post(format!("{}/_sandbox/replies", demo.sandbox_url)).json(&reply).send().await.unwrap().json().await.unwrap();
    let page = demo.page_once(&browser, &path, |page| arrived_types(page).contains(&"message.received".to_owned())).await;

    // Assert
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(before.contains("Nothing has arrived yet"), "the receiver starts empty");
    assert_eq!(arrived_types(&page), vec!["message.received"], "{page}");
    assert_eq!(texts(&page, "#demo-arrivals td[data-label=Signature]"), vec!["Verified"]);
    let data = texts(&page, "#demo-arrivals pre.event-data").join(" ");
    assert!(data.contains("Where is parcel 42?") && data.contains("447700900321") && data.contains("Ada"), "{data}");
    assert!(texts(&page, "#demo-arrivals td[data-label=webhook-id]")[0].starts_with("evt_"));
}

#[tokio::test]
async fn have_a_customer_write_in_makes_the_sandbox_post_a_reply_that_arrives_on_the_page() {
    // Arrange
    let demo = start_demo().await;
    let browser = demo.signed_in("admin@acme.example").await;
    let page = demo.page_once(&browser, RECEIVER_PAGE, |_| true).await;
    let form = [("csrf_token", csrf_of(&page))];

    // Act
    let response = browser.post(format!("{}{RECEIVER_PAGE}/customer-message", demo.address)).form(&form).send().await.unwrap();
    let landed = demo.page_once(&browser, RECEIVER_PAGE, |_| true).await;
    let arrived = demo.page_once(&browser, RECEIVER_PAGE, |page| !arrived_types(page).is_empty()).await;

    // Assert
    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], RECEIVER_PAGE);
    assert!(texts(&landed, ".flash").join(" ").contains("wrote to Acme Retail"), "the flash names who wrote: {landed}");
    assert_eq!(arrived_types(&arrived), vec!["message.received"], "{arrived}");
    let data = texts(&arrived, "#demo-arrivals pre.event-data").join(" ");
    assert!(data.contains("\"pool_id\"") && !data.contains("\"pool_id\": null"), "a number of Acme Support was written to: {data}");
}

#[tokio::test]
async fn the_receiver_page_refreshes_by_htmx_and_by_a_link_that_works_without_javascript() {
    let demo = start_demo().await;
    let browser = demo.signed_in("admin@acme.example").await;

    let page = demo.page_once(&browser, RECEIVER_PAGE, |_| true).await;
    let fragment = browser.get(format!("{}{RECEIVER_PAGE}", demo.address)).header("HX-Request", "true").send().await.unwrap().text().await.unwrap();

    assert_eq!(crate::helpers::attrs(&page, "#demo-arrivals", "hx-trigger"), vec!["every 2s"]);
    assert_eq!(crate::helpers::attrs(&page, "#demo-arrivals a", "href"), vec![RECEIVER_PAGE]);
    assert!(fragment.trim_start().starts_with("<section id=\"demo-arrivals\""), "htmx gets the list alone: {fragment}");
    assert!(!fragment.contains("<html"));
}

#[tokio::test]
async fn another_tenants_receiver_page_and_customer_are_not_found() {
    // Arrange
    let demo = start_demo().await;
    let acme = demo.enterprise_id("Acme Retail").await;
    let globex = demo.signed_in("admin@globex.example").await;
    let southwind = demo.signed_in("admin@southwind.example").await;
    let token = csrf_of(&demo.page_once(&globex, RECEIVER_PAGE, |_| true).await);

    // Act
    let by_enterprise = globex.get(format!("{}{RECEIVER_PAGE}?enterprise_id={acme}", demo.address)).send().await.unwrap();
    let by_aggregator = southwind.get(format!("{}{RECEIVER_PAGE}?enterprise_id={acme}", demo.address)).send().await.unwrap();
    let unreadable = southwind.get(format!("{}{RECEIVER_PAGE}?enterprise_id=acme", demo.address)).send().await.unwrap();
    let written = globex
        .post(format!("{}{RECEIVER_PAGE}/customer-message", demo.address))
        .form(&[("csrf_token", token.as_str()), ("enterprise_id", &acme.to_string())])
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!((status(&by_enterprise), status(&by_aggregator), status(&unreadable), status(&written)), (404, 404, 404, 404));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received: i64 = with_pool(&demo.db, |c| events::table.filter(events::event_type.eq("message.received")).count().get_result(c).unwrap()).await;
    assert_eq!(received, 0, "no customer wrote for another tenant");
}

#[tokio::test]
async fn a_delivery_not_signed_with_the_endpoints_secret_is_refused_and_shown_unverified() {
    let demo = start_demo().await;
    let acme = demo.enterprise_id("Acme Retail").await;
    let browser = demo.signed_in("admin@acme.example").await;
    let body = r#"{"type":"message.received","timestamp":"2026-01-01T00:00:00Z","data":{}}"#;
    let forged = wabapool::security::event_signing::signature_header(
        &[&wabapool::security::event_signing::new_secret()],
        "evt_forged",
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );

    let answer = reqwest::Client::new()
        .post(format!("{}/demo/receiver/{acme}", demo.address))
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", chrono::Utc::now().timestamp().to_string())
        .header("webhook-signature", forged)
        .body(body)
        .send()
        .await
        .unwrap();
    let unknown = reqwest::Client::new().post(format!("{}/demo/receiver/999999", demo.address)).body(body).send().await.unwrap();
    let page = demo.page_once(&browser, RECEIVER_PAGE, |_| true).await;

    assert_eq!((status(&answer), status(&unknown)), (401, 404));
    assert_eq!(texts(&page, "#demo-arrivals td[data-label=Signature]"), vec!["Not verified The signature is not the endpoint's."]);
}

#[tokio::test]
async fn outside_demo_mode_there_is_no_receiver_and_no_page() {
    let app = spawn_app_with(|_| {}).await;
    app.login("super@acme.example").await;

    let page = app.get(RECEIVER_PAGE).await;
    let receiver = app.client.post(app.url("/demo/receiver/1")).body("{}").send().await.unwrap();

    assert_eq!((status(&page), status(&receiver)), (404, 404));
    let endpoints: i64 = app.with_db(|c| event_endpoints::table.count().get_result(c).unwrap()).await;
    assert_eq!(endpoints, 0);
}
