//! Channels → WhatsApp → Numbers against the Graph API sandbox over a real
//! socket: linking, sync with pagination, Meta's failures, number status.

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use diesel::prelude::*;
use serde_json::json;
use wabapool::db::schema::{audit_entries, numbers, waba_links, wabas};

use crate::helpers::{LISTING, NUMBERS, TestApp, attrs, spawn_app, spawn_app_with, texts};

const TOKEN: &str = "EAAGsandboxFreshToken0123456789";

/// Every log line of this test binary, to show tokens never reach the log
/// and failures are logged with their request id.
pub(crate) fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt().with_env_filter("debug").with_writer(move || CaptureWriter(writer.clone())).try_init();
        buffer
    })
    .clone()
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fake_number(i: usize) -> serde_json::Value {
    json!({
        "id": format!("7700{i:06}"),
        "display_phone_number": format!("+1 555-099-{i:04}"),
        "verified_name": "Umbrella Delivery",
        "status": "CONNECTED",
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "messaging_limit_tier": "TIER_10K",
        "throughput": { "level": "STANDARD" }
    })
}

impl TestApp {
    async fn sandbox(&self, path: &str, body: serde_json::Value) {
        let response = self.client.post(format!("{}{}", self.sandbox_url, path)).json(&body).send().await.expect("sandbox answers");
        assert!(response.status().is_success(), "sandbox control {path} failed");
    }

    /// Adds a WABA of `count` numbers to the sandbox under `TOKEN`.
    async fn sandbox_waba(&self, id: &str, count: usize) {
        let numbers: Vec<_> = (0..count).map(fake_number).collect();
        self.sandbox("/_sandbox/wabas", json!({ "id": id, "name": "Umbrella Delivery", "access_token": TOKEN, "phone_numbers": numbers })).await;
    }

    async fn count_numbers_of(&self, meta_waba_id: &str) -> i64 {
        let meta_waba_id = meta_waba_id.to_owned();
        self.with_db(move |c| {
            numbers::table.inner_join(wabas::table).filter(wabas::meta_waba_id.eq(meta_waba_id)).count().get_result::<i64>(c).unwrap()
        })
        .await
    }

    async fn waba_status(&self, meta_waba_id: &str) -> String {
        let meta_waba_id = meta_waba_id.to_owned();
        self.with_db(move |c| wabas::table.filter(wabas::meta_waba_id.eq(meta_waba_id)).select(wabas::status).first::<String>(c).unwrap()).await
    }

    async fn waba_db_id(&self, meta_waba_id: &str) -> i64 {
        let meta_waba_id = meta_waba_id.to_owned();
        self.with_db(move |c| wabas::table.filter(wabas::meta_waba_id.eq(meta_waba_id)).select(wabas::id).first::<i64>(c).unwrap()).await
    }

    /// Lets the next sync through the one-a-minute guard.
    async fn forget_last_sync(&self) {
        self.with_db(|c| diesel::update(wabas::table).set(wabas::last_synced_at.eq(None::<chrono::NaiveDateTime>)).execute(c).unwrap()).await;
    }
}

#[tokio::test]
async fn the_numbers_page_shows_each_waba_with_its_numbers_and_their_meta_details() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let page = app.get_html("/channels/whatsapp/numbers").await;

    for expected in [
        "Acme Retail",
        "+44 7700 900101",
        "Acme Retail UK",
        "Activated",
        "Pending",
        "CONNECTED",
        "YELLOW",
        "TIER_1K",
        "STANDARD",
        "Acme Support",
        "Sync numbers",
    ] {
        assert!(page.contains(expected), "numbers page lacks {expected}");
    }
}

#[tokio::test]
async fn linking_a_waba_stores_it_and_every_number_across_pages() {
    let app = spawn_app().await;
    app.sandbox_waba("555000000000001", 150).await;
    app.login("admin@umbrella.example").await;

    let response = app.post_form("/channels/whatsapp/wabas", &[("waba_id", "555000000000001"), ("access_token", TOKEN)]).await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(app.count_numbers_of("555000000000001").await, 150);
    let page = app.get_html("/channels/whatsapp/numbers").await;
    assert!(page.contains("is linked to Umbrella Foods with 150 numbers"));
    assert!(page.contains("+1 555-099-0149"));
    let audit: Vec<String> = app.with_db(|c| audit_entries::table.select(audit_entries::action).load(c).unwrap()).await;
    assert!(audit.contains(&"waba.link".to_owned()));
}

#[tokio::test]
async fn new_numbers_start_pending_and_can_be_activated_when_meta_reports_them_ready() {
    let app = spawn_app().await;
    app.sandbox_waba("555000000000002", 1).await;
    app.login("admin@umbrella.example").await;
    app.post_form("/channels/whatsapp/wabas", &[("waba_id", "555000000000002"), ("access_token", TOKEN)]).await;
    let id = app.number_id("+1 555-099-0000").await;
    let status = |app: &TestApp| {
        let pool = app.db.clone();
        async move {
            tokio::task::spawn_blocking(move || numbers::table.find(id).select(numbers::status).first::<String>(&mut pool.get().unwrap()).unwrap())
                .await
                .unwrap()
        }
    };
    assert_eq!(status(&app).await, "pending");

    let response = app.post_form(&format!("/channels/whatsapp/numbers/{id}/activate"), &[]).await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(status(&app).await, "activated");
}

#[tokio::test]
async fn a_number_meta_does_not_report_ready_cannot_be_activated() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let pending = app.number_id("+1 555-010-0103").await;
    let before = app.snapshot().await;

    let response = app.post_form(&format!("/channels/whatsapp/numbers/{pending}/activate"), &[]).await;

    assert_eq!(response.status().as_u16(), 422);
    assert!(response.text().await.unwrap().contains("connected and verified at Meta"));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_deactivated_number_keeps_its_pool_membership_and_the_listing_shows_it() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let member = app.number_id("+1 555-010-0101").await;

    let response = app.post_form(&format!("/channels/whatsapp/numbers/{member}/deactivate"), &[]).await;

    assert_eq!(response.status().as_u16(), 303);
    let pool = app.pool_id("Acme Support").await;
    assert_eq!(app.pool_numbers(pool).await.len(), 2);
    let listing = app.get_html(LISTING).await;
    assert!(listing.contains("1/2 in rotation"));
    assert!(listing.contains("Deactivated"));
    let actions: Vec<String> = app.with_db(|c| audit_entries::table.select(audit_entries::action).load(c).unwrap()).await;
    assert!(actions.contains(&"number.deactivate".to_owned()));
}

#[tokio::test]
async fn deactivating_a_pooled_number_asks_first_naming_the_pool_and_what_it_keeps() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let member = app.number_id("+1 555-010-0101").await;
    let loose = app.number_id("+44 7700 900101").await;
    let before = app.snapshot().await;

    let numbers = app.get_html(NUMBERS).await;
    let asks: Vec<String> = attrs(&numbers, "form[method=get][action$='/deactivate']", "action");
    assert_eq!(
        asks,
        vec![
            format!("/channels/whatsapp/numbers/{member}/deactivate"),
            format!("/channels/whatsapp/numbers/{}/deactivate", app.number_id("+1 555-010-0102").await)
        ]
    );
    assert!(
        attrs(&numbers, "form[method=post]", "action").contains(&format!("/channels/whatsapp/numbers/{loose}/deactivate")),
        "a number in no pool is switched at once"
    );

    let page = app.get_html(&format!("/channels/whatsapp/numbers/{member}/deactivate")).await;
    let question = texts(&page, "main").join(" ");
    assert!(question.contains("Acme Support will have 1 activated number"), "{question}");
    assert_eq!(attrs(&page, "main form[method=post]", "action"), vec![format!("/channels/whatsapp/numbers/{member}/deactivate")]);
    assert_eq!(app.snapshot().await, before, "asking changes nothing");
}

#[tokio::test]
async fn another_tenants_number_cannot_be_switched() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let umbrella = app.number_id("+1 555-050-0603").await;
    let before = app.snapshot().await;

    let response = app.post_form(&format!("/channels/whatsapp/numbers/{umbrella}/deactivate"), &[]).await;

    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_access_token_is_sealed_and_never_shown_or_logged() {
    let logs = captured_logs();
    let app = spawn_app().await;
    app.sandbox_waba("555000000000003", 2).await;
    app.login("admin@umbrella.example").await;

    let response = app.post_form("/channels/whatsapp/wabas", &[("waba_id", "555000000000003"), ("access_token", TOKEN)]).await;
    let body = response.text().await.unwrap();
    let page = app.get_html("/channels/whatsapp/numbers").await;

    assert!(!body.contains(TOKEN) && !page.contains(TOKEN));
    let (ciphertext, key_id): (Option<Vec<u8>>, Option<String>) = app
        .with_db(|c| {
            waba_links::table
                .inner_join(wabas::table)
                .filter(wabas::meta_waba_id.eq("555000000000003"))
                .select((waba_links::access_token_ciphertext, waba_links::access_token_key_id))
                .first(c)
                .unwrap()
        })
        .await;
    let ciphertext = ciphertext.expect("token stored");
    assert!(key_id.is_some());
    assert!(!ciphertext.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));
    let audit: Vec<(Option<String>, Option<String>)> =
        app.with_db(|c| audit_entries::table.select((audit_entries::before_state, audit_entries::after_state)).load(c).unwrap()).await;
    assert!(!format!("{audit:?}").contains(TOKEN));
    let _ = std::io::stderr().flush();
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.contains(TOKEN), "a log line held the token");
}

async fn link_fails_with(app: &TestApp, waba_id: &str, token: &str, expected: &str) {
    let before = app.snapshot().await;
    let wabas_before = app.with_db(|c| wabas::table.count().get_result::<i64>(c).unwrap()).await;
    let response = app.post_form("/channels/whatsapp/wabas", &[("waba_id", waba_id), ("access_token", token)]).await;
    assert_eq!(response.status().as_u16(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains(expected), "expected {expected:?} in the page");
    assert!(!body.contains(token) || token.len() < 16, "the token was echoed");
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.with_db(|c| wabas::table.count().get_result::<i64>(c).unwrap()).await, wabas_before);
}

#[tokio::test]
async fn an_invalid_or_expired_token_is_explained_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.sandbox_waba("555000000000004", 3).await;
    app.login("admin@umbrella.example").await;
    link_fails_with(&app, "555000000000004", "EAAGwrongTokenwrongToken", "invalid or has expired").await;
}

#[tokio::test]
async fn an_unknown_waba_id_is_explained_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    link_fails_with(&app, "999999999999999", TOKEN, "Meta does not know that WABA ID").await;
}

#[tokio::test]
async fn a_missing_permission_is_explained_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.sandbox_waba("555000000000005", 3).await;
    app.sandbox("/_sandbox/failures", json!({ "waba_id": "555000000000005", "code": 200, "http_status": 403 })).await;
    app.login("admin@umbrella.example").await;
    link_fails_with(&app, "555000000000005", TOKEN, "lacks a permission").await;
}

#[tokio::test]
async fn a_failure_on_the_second_page_stores_nothing() {
    let app = spawn_app().await;
    app.sandbox_waba("555000000000006", 120).await;
    app.login("admin@umbrella.example").await;
    // The WABA call and the first page pass; the second page fails.
    app.sandbox("/_sandbox/failures", json!({ "waba_id": "555000000000006", "code": 2, "http_status": 500, "skip": 2 })).await;
    link_fails_with(&app, "555000000000006", TOKEN, "Meta had a server problem").await;
    assert_eq!(app.count_numbers_of("555000000000006").await, 0);
}

#[tokio::test]
async fn a_slow_meta_times_out_in_plain_words_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.sandbox_waba("555000000000007", 3).await;
    app.sandbox("/_sandbox/delay", json!({ "ms": 3000 })).await;
    app.login("admin@umbrella.example").await;
    link_fails_with(&app, "555000000000007", TOKEN, "did not answer in time").await;
}

#[tokio::test]
async fn an_unreachable_meta_is_explained_and_nothing_is_stored() {
    let app = spawn_app_with(|s| s.meta_graph_url = Some("http://127.0.0.1:9".into())).await;
    app.login("admin@umbrella.example").await;
    link_fails_with(&app, "555000000000008", TOKEN, "could not be reached").await;
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_explained_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.client.post(format!("{}/_sandbox/garbage", app.sandbox_url)).body("<html>proxy error</html>").send().await.unwrap();
    app.login("admin@umbrella.example").await;
    link_fails_with(&app, "555000000000009", TOKEN, "could not be understood").await;
}

#[tokio::test]
async fn malformed_waba_ids_and_tokens_get_messages_beside_their_fields() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    let before = app.snapshot().await;

    let response = app.post_form("/channels/whatsapp/wabas", &[("waba_id", "12<script>"), ("access_token", "short")]).await;

    assert_eq!(response.status().as_u16(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("id=\"waba_id-error\""));
    assert!(body.contains("id=\"access_token-error\""));
    assert!(body.contains("12&#60;script&#62;") || body.contains("12&lt;script&gt;"));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn sync_stores_quality_limit_and_throughput_changes_and_audits_them() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.forget_last_sync().await;
    app.sandbox("/_sandbox/numbers/10447700900101", json!({ "quality_rating": "RED", "messaging_limit_tier": "TIER_10K", "throughput": "HIGH" }))
        .await;
    let waba = app.waba_db_id("102000000000101").await;

    let response = app.post_form(&format!("/channels/whatsapp/wabas/{waba}/sync"), &[]).await;

    assert_eq!(response.status().as_u16(), 303);
    let (quality, tier, level): (String, Option<String>, Option<String>) = app
        .with_db(|c| {
            numbers::table
                .filter(numbers::phone_number_id.eq("10447700900101"))
                .select((numbers::quality_rating, numbers::messaging_limit_tier, numbers::throughput_level))
                .first(c)
                .unwrap()
        })
        .await;
    assert_eq!((quality.as_str(), tier.as_deref(), level.as_deref()), ("RED", Some("TIER_10K"), Some("HIGH")));
    let after: Vec<Option<String>> = app
        .with_db(|c| audit_entries::table.filter(audit_entries::action.eq("number.sync")).select(audit_entries::after_state).load(c).unwrap())
        .await;
    assert!(after.iter().flatten().any(|a| a.contains("RED")));
    assert!(app.get_html("/channels/whatsapp/numbers").await.contains("synced"));
}

#[tokio::test]
async fn unknown_values_from_meta_are_kept_as_text() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.forget_last_sync().await;
    app.sandbox("/_sandbox/numbers/10447700900101", json!({ "quality_rating": "PURPLE", "status": "SOMETHING_NEW" })).await;
    let waba = app.waba_db_id("102000000000101").await;

    app.post_form(&format!("/channels/whatsapp/wabas/{waba}/sync"), &[]).await;

    let page = app.get_html("/channels/whatsapp/numbers").await;
    assert!(page.contains("PURPLE") && page.contains("SOMETHING_NEW"));
}

#[tokio::test]
async fn sync_with_a_revoked_token_marks_the_waba_reconnect_needed_and_a_new_token_reconnects_it() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.forget_last_sync().await;
    app.sandbox("/_sandbox/failures", json!({ "code": 190 })).await;
    let waba = app.waba_db_id("102000000000101").await;

    app.post_form(&format!("/channels/whatsapp/wabas/{waba}/sync"), &[]).await;

    assert_eq!(app.waba_status("102000000000101").await, "reconnect_needed");
    let page = app.get_html("/channels/whatsapp/numbers").await;
    assert!(page.contains("Reconnect needed") && page.contains("Reconnect"));

    app.client.delete(format!("{}/_sandbox/failures", app.sandbox_url)).send().await.unwrap();
    let response =
        app.post_form("/channels/whatsapp/wabas", &[("waba_id", "102000000000101"), ("access_token", "sandbox-token-102000000000101")]).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(app.waba_status("102000000000101").await, "active");
}

#[tokio::test]
async fn a_second_sync_within_a_minute_is_refused_to_keep_inside_metas_budget() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let waba = app.waba_db_id("102000000000101").await;
    let calls = |app: &TestApp| {
        let url = format!("{}/_sandbox/calls", app.sandbox_url);
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap()["calls"].as_u64().unwrap() }
    };
    let before = calls(&app).await;

    app.post_form(&format!("/channels/whatsapp/wabas/{waba}/sync"), &[]).await;

    assert_eq!(calls(&app).await, before);
    assert!(app.get_html("/channels/whatsapp/numbers").await.contains("wait a minute between syncs"));
}

#[tokio::test]
async fn a_waba_linked_to_two_enterprises_shows_the_other_enterprises_numbers_as_unavailable_without_naming_it() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;

    let response =
        app.post_form("/channels/whatsapp/wabas", &[("waba_id", "102000000000101"), ("access_token", "sandbox-token-102000000000101")]).await;

    assert_eq!(response.status().as_u16(), 303);
    let page = app.get_html("/channels/whatsapp/numbers").await;
    assert!(page.contains("+44 7700 900101"));
    assert!(page.contains("Unavailable"));
    assert!(!page.contains("Acme Support"), "another enterprise's pool was named");
    let acme_owned: i64 = app
        .with_db(|c| {
            numbers::table
                .filter(
                    numbers::waba_id.eq(wabas::table
                        .filter(wabas::meta_waba_id.eq("102000000000101"))
                        .select(wabas::id)
                        .single_value()
                        .assume_not_null()),
                )
                .filter(numbers::enterprise_id.eq(1_i64))
                .count()
                .get_result(c)
                .unwrap()
        })
        .await;
    assert_eq!(acme_owned, 6, "Acme keeps every number (R13)");
    let acme_number = app.number_id("+44 7700 900101").await;
    let switch = app.post_form(&format!("/channels/whatsapp/numbers/{acme_number}/deactivate"), &[]).await;
    assert_eq!(switch.status().as_u16(), 404);
}

#[tokio::test]
async fn agents_cannot_link_or_sync() {
    let app = spawn_app().await;
    app.login("agent@acme.example").await;
    let before = app.snapshot().await;

    let link = app.post_form("/channels/whatsapp/wabas", &[("waba_id", "555000000000001"), ("access_token", TOKEN)]).await;
    let sync = app.post_form("/channels/whatsapp/wabas/1/sync", &[]).await;

    assert_eq!(link.status().as_u16(), 403);
    assert_eq!(sync.status().as_u16(), 403);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn dropping_below_three_activated_numbers_is_allowed_and_warns_on_the_enterprises_pools() {
    let app = spawn_app().await;
    app.login("admin@umbrella.example").await;
    let spare = app.number_id("+1 555-050-0603").await;

    let response = app.post_form(&format!("/channels/whatsapp/numbers/{spare}/deactivate"), &[]).await;

    assert_eq!(response.status().as_u16(), 303);
    let listing = app.get_html(LISTING).await;
    assert!(listing.contains("Umbrella Foods has 2 activated WhatsApp numbers; a WABA Pool needs at least 3."));
    let pool = app.pool_id("Umbrella Orders").await;
    assert!(app.get_html(&format!("/channels/whatsapp/pools/{pool}")).await.contains("cannot be changed or reactivated"));
}

#[tokio::test]
async fn the_background_sync_refreshes_every_linked_waba() {
    let app = spawn_app().await;
    app.sandbox("/_sandbox/numbers/10447700900101", json!({ "quality_rating": "YELLOW" })).await;
    app.sandbox("/_sandbox/numbers/1015550500601", json!({ "messaging_limit_tier": "TIER_100K" })).await;
    let sync = wabapool::background::SyncLoop {
        db: app.db.clone(),
        graph: wabapool::meta::GraphClient::new(&app.sandbox_url, "v23.0", std::time::Duration::from_secs(5)).unwrap(),
        keys: app.keys.clone(),
        interval: std::time::Duration::from_secs(900),
    };

    let synced = sync.sync_all().await.unwrap();

    assert_eq!(synced, 6, "every demo WABA is synced once");
    let (quality, tier): (String, Option<String>) = app
        .with_db(|c| {
            let quality = numbers::table.filter(numbers::phone_number_id.eq("10447700900101")).select(numbers::quality_rating).first(c).unwrap();
            let tier = numbers::table.filter(numbers::phone_number_id.eq("1015550500601")).select(numbers::messaging_limit_tier).first(c).unwrap();
            (quality, tier)
        })
        .await;
    assert_eq!(quality, "YELLOW");
    assert_eq!(tier.as_deref(), Some("TIER_100K"));
}

#[tokio::test]
async fn the_sandbox_posts_webhooks_signed_as_meta_signs_them() {
    let app = spawn_app().await;
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/whatsapp", receiver.local_addr().unwrap());
    let received = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut socket, _) = receiver.accept().await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw);
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length: usize = text[..head_end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                    .unwrap_or(0);
                if raw.len() >= head_end + 4 + length {
                    socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                    return (text[..head_end].to_owned(), raw[head_end + 4..head_end + 4 + length].to_vec());
                }
            }
        }
    });
    let payload = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102000000000101", "changes": [] }] });

    let answer: serde_json::Value = app
        .client
        .post(format!("{}/_sandbox/webhooks", app.sandbox_url))
        .json(&json!({ "url": url, "app_secret": "test-app-secret", "payload": payload }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(answer["status"], 200);
    let (head, body) = received.await.unwrap();
    let signature =
        head.lines().find_map(|l| l.to_ascii_lowercase().starts_with("x-hub-signature-256:").then(|| l.split_once(':').unwrap().1.trim().to_owned()));
    assert!(wabapool::meta::signature::verify(b"test-app-secret", &body, signature.as_deref()));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), payload);
}

#[tokio::test]
async fn the_sandbox_answers_sends_with_wamids_and_fails_a_recipient_on_request() {
    let app = spawn_app().await;
    let graph = wabapool::meta::GraphClient::new(&app.sandbox_url, "v23.0", std::time::Duration::from_secs(5)).unwrap();
    let token = secrecy::SecretString::from("sandbox-token-102000000000101");
    let message = json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "447700900999", "type": "text", "text": { "body": "Your order shipped" } });

    let answer = graph.send_message("1015550100101", &token, &message).await.unwrap();

    assert!(answer.messages[0].id.starts_with("wamid."));
    assert_eq!(answer.contacts[0].wa_id, "447700900999");
    app.sandbox("/_sandbox/failures", json!({ "recipient": "447700900999", "code": 131026, "times": 1 })).await;
    let refused = graph.send_message("1015550100101", &token, &message).await.unwrap_err();
    assert_eq!(refused.code(), Some(131026));
    let wrong_token = graph.send_message("1015550100101", &secrecy::SecretString::from("nope"), &message).await.unwrap_err();
    assert!(wrong_token.is_token_invalid());
    let sent: Vec<serde_json::Value> = app.client.get(format!("{}/_sandbox/sent", app.sandbox_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(sent.len(), 1);
}
