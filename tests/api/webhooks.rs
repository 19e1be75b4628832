//! `/webhooks/whatsapp` over a real socket, with deliveries signed and
//! posted by the Graph API sandbox exactly as Meta posts them.

use diesel::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use wabapool::db::schema::{audit_entries, numbers, wabas};

use crate::helpers::{LISTING, TestApp, spawn_app_with};

pub(crate) const APP_SECRET: &str = "test-app-secret-0123456789";
const VERIFY_TOKEN: &str = "test-verify-token";

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.meta_app_secret = SecretString::from(APP_SECRET);
        s.meta_verify_token = SecretString::from(VERIFY_TOKEN);
        s.webhook_max_bytes = 64 * 1024;
    })
    .await
}

/// One change dated now at Meta: an event older than the state it would
/// change is ignored, and the demo data is synced when the test starts.
fn envelope(waba: &str, field: &str, value: Value) -> Value {
    let time = chrono::Utc::now().timestamp();
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": waba, "time": time, "changes": [{ "field": field, "value": value }] }] })
}

impl TestApp {
    /// Has the sandbox sign and post a payload with [`APP_SECRET`]; answers the portal's status.
    pub(crate) async fn deliver(&self, payload: Value) -> u16 {
        let answer: Value = self
            .client
            .post(format!("{}/_sandbox/webhooks", self.sandbox_url))
            .json(&json!({ "url": self.url("/webhooks/whatsapp"), "app_secret": APP_SECRET, "payload": payload }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["status"].as_u64().unwrap() as u16
    }

    async fn post_webhook_raw(&self, body: &[u8], signature: Option<&str>) -> u16 {
        let mut request = self.client.post(self.url("/webhooks/whatsapp")).header("Content-Type", "application/json").body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn quality_of(&self, phone_number_id: &str) -> String {
        let id = phone_number_id.to_owned();
        self.with_db(move |c| numbers::table.filter(numbers::phone_number_id.eq(id)).select(numbers::quality_rating).first(c).unwrap()).await
    }

    async fn audit_count(&self, action: &str) -> i64 {
        let action = action.to_owned();
        self.with_db(move |c| audit_entries::table.filter(audit_entries::action.eq(action)).count().get_result(c).unwrap()).await
    }
}

#[tokio::test]
async fn the_verification_handshake_answers_the_challenge_only_for_the_configured_token() {
    let app = app().await;
    let ok = app.get(&format!("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444")).await;
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for bad in [
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        &format!("/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        "/webhooks/whatsapp",
    ] {
        assert_eq!(app.get(bad).await.status().as_u16(), 403, "{bad}");
    }
}

#[tokio::test]
async fn the_numbers_page_shows_the_callback_url_and_verify_token_to_paste_into_meta() {
    let app = app().await;
    app.login("admin@acme.example").await;
    let page = app.get_html("/channels/whatsapp/numbers").await;
    assert!(page.contains("/webhooks/whatsapp") && page.contains(VERIFY_TOKEN));
}

#[tokio::test]
async fn a_missing_or_wrong_signature_gets_401_and_nothing_changes() {
    let app = app().await;
    let payload = envelope(
        "102000000000101",
        "phone_number_quality_update",
        json!({ "display_phone_number": "15550100101", "event": "FLAGGED", "current_limit": "TIER_1K" }),
    );
    let body = payload.to_string();
    let before = app.snapshot().await;

    let unsigned = app.post_webhook_raw(body.as_bytes(), None).await;
    let wrong_secret = app.post_webhook_raw(body.as_bytes(), Some(&wabapool::meta::signature::sign(b"not the secret", body.as_bytes()))).await;
    let tampered = app
        .post_webhook_raw(
            body.replace("FLAGGED", "UNFLAGGED").as_bytes(),
            Some(&wabapool::meta::signature::sign(APP_SECRET.as_bytes(), body.as_bytes())),
        )
        .await;

    assert_eq!((unsigned, wrong_secret, tampered), (401, 401, 401));
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.quality_of("1015550100101").await, "GREEN");
}

#[tokio::test]
async fn a_signed_payload_that_is_not_metas_envelope_gets_400_without_a_panic() {
    let app = app().await;
    for body in [&b"not json at all"[..], br#"{"object":"page","entry":[]}"#, br#"{"entry":[]}"#] {
        let signature = wabapool::meta::signature::sign(APP_SECRET.as_bytes(), body);
        assert_eq!(app.post_webhook_raw(body, Some(&signature)).await, 400);
    }
    let missing = envelope("102000000000101", "phone_number_quality_update", json!({ "event": "FLAGGED" })).to_string();
    let signature = wabapool::meta::signature::sign(APP_SECRET.as_bytes(), missing.as_bytes());
    assert_eq!(app.post_webhook_raw(missing.as_bytes(), Some(&signature)).await, 400);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let app = app().await;
    let body = vec![b'x'; 70 * 1024];
    let signature = wabapool::meta::signature::sign(APP_SECRET.as_bytes(), &body);
    assert_eq!(app.post_webhook_raw(&body, Some(&signature)).await, 413);
}

#[tokio::test]
async fn a_flagged_number_turns_red_leaves_rotation_and_recovers_when_unflagged() {
    let app = app().await;
    app.login("admin@acme.example").await;
    let flagged = envelope(
        "102000000000101",
        "phone_number_quality_update",
        json!({ "display_phone_number": "15550100101", "event": "FLAGGED", "current_limit": "TIER_1K" }),
    );

    assert_eq!(app.deliver(flagged).await, 200);

    assert_eq!(app.quality_of("1015550100101").await, "RED");
    assert!(app.get_html(LISTING).await.contains("1/2 in rotation"));
    let unflagged = envelope(
        "102000000000101",
        "phone_number_quality_update",
        json!({ "display_phone_number": "15550100101", "event": "UNFLAGGED", "current_limit": "TIER_1K" }),
    );
    assert_eq!(app.deliver(unflagged).await, 200);
    assert_eq!(app.quality_of("1015550100101").await, "GREEN");
    assert!(app.get_html(LISTING).await.contains("2/2 in rotation"));
}

#[tokio::test]
async fn limit_and_throughput_upgrades_are_stored_and_audited() {
    let app = app().await;
    let upgrade = envelope(
        "102000000000101",
        "phone_number_quality_update",
        json!({ "display_phone_number": "15550100102", "event": "THROUGHPUT_UPGRADE", "current_limit": "TIER_100K", "old_limit": "TIER_1K" }),
    );

    assert_eq!(app.deliver(upgrade).await, 200);

    let (tier, level): (Option<String>, Option<String>) = app
        .with_db(|c| {
            numbers::table
                .filter(numbers::phone_number_id.eq("1015550100102"))
                .select((numbers::messaging_limit_tier, numbers::throughput_level))
                .first(c)
                .unwrap()
        })
        .await;
    assert_eq!((tier.as_deref(), level.as_deref()), (Some("TIER_100K"), Some("HIGH")));
    assert_eq!(app.audit_count("number.quality_update").await, 1);
}

#[tokio::test]
async fn redelivering_the_same_payload_changes_nothing_more() {
    let app = app().await;
    let flagged = envelope("102000000000101", "phone_number_quality_update", json!({ "display_phone_number": "15550100101", "event": "FLAGGED" }));

    assert_eq!(app.deliver(flagged.clone()).await, 200);
    let after_first = app.snapshot().await;
    assert_eq!(app.deliver(flagged).await, 200);

    assert_eq!(app.snapshot().await, after_first);
    assert_eq!(app.audit_count("number.quality_update").await, 1);
}

#[tokio::test]
async fn an_account_restriction_suspends_the_waba_and_a_reconnection_restores_it() {
    let app = app().await;
    let status = |app: &TestApp| {
        let pool = app.db.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                wabas::table
                    .filter(wabas::meta_waba_id.eq("102000000000101"))
                    .select(wabas::status)
                    .first::<String>(&mut pool.get().unwrap())
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let restricted = envelope(
        "102000000000101",
        "account_update",
        json!({ "event": "ACCOUNT_RESTRICTION", "restriction_info": [{ "restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION", "expiration": 1_763_900_000 }] }),
    );

    assert_eq!(app.deliver(restricted).await, 200);
    assert_eq!(status(&app).await, "suspended");
    assert_eq!(app.audit_count("waba.account_update").await, 1);

    assert_eq!(app.deliver(envelope("102000000000101", "account_update", json!({ "event": "ACCOUNT_RECONNECTED" }))).await, 200);
    assert_eq!(status(&app).await, "active");
}

#[tokio::test]
async fn unknown_wabas_and_fields_are_acknowledged_and_change_nothing() {
    let app = app().await;
    let before = app.snapshot().await;

    let unknown_waba = app.deliver(envelope("999999999999999", "account_update", json!({ "event": "ACCOUNT_RESTRICTION" }))).await;
    let unknown_field =
        app.deliver(envelope("102000000000101", "message_template_status_update", json!({ "event": "APPROVED", "message_template_id": 1 }))).await;

    assert_eq!((unknown_waba, unknown_field), (200, 200));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_pool_pages_say_how_many_numbers_are_out_of_rotation_why_and_since_when() {
    let app = app().await;
    app.login("admin@acme.example").await;
    let flagged = envelope("102000000000101", "phone_number_quality_update", json!({ "display_phone_number": "15550100101", "event": "FLAGGED" }));

    assert_eq!(app.deliver(flagged).await, 200);

    let listing = app.get_html(LISTING).await;
    assert!(listing.contains("1 of 2 numbers out of rotation"));
    assert!(listing.contains("+1 555-010-0101: Quality RED at Meta since 20"), "the reason and the moment are shown");
    let pool = app.pool_id("Acme Support").await;
    let detail = app.get_html(&format!("/channels/whatsapp/pools/{pool}")).await;
    assert!(detail.contains("1 of 2 numbers out of rotation") && detail.contains("No: Quality RED at Meta since"));

    assert_eq!(
        app.deliver(envelope(
            "102000000000101",
            "account_update",
            json!({ "event": "DISABLED_UPDATE", "ban_info": { "waba_ban_state": "DISABLE" } })
        ))
        .await,
        200
    );
    let listing = app.get_html(LISTING).await;
    assert!(listing.contains("2 of 2 numbers out of rotation"));
    assert!(listing.contains("WABA suspended by Meta (DISABLED_UPDATE) since"));
}

fn messages_change(phone_number_id: &str, value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({ "display_phone_number": "15550100101", "phone_number_id": phone_number_id });
    envelope("102000000000101", "messages", value)
}

/// Sends one template message through Acme Support with a new API key; its answer.
pub(crate) async fn send_one(app: &TestApp, to: &str) -> Value {
    let admin = app.new_client_logged_in("super@acme.example").await;
    let key = admin.create_api_key(&format!("Webhook test {to}")).await;
    let pool = app.pool_id("Acme Support").await;
    let body = json!({ "to": to, "type": "template", "template": { "name": "x", "language": { "code": "en" } } });
    app.client.post(app.url(&format!("/api/v1/pools/{pool}/messages"))).bearer_auth(key).json(&body).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn delivery_statuses_update_the_send_log_and_a_spam_limit_failure_cools_the_member_down() {
    use wabapool::db::schema::{messages, pool_members};
    let app = app().await;
    let sent = send_one(&app, "447700900401").await;
    let wamid = sent["wamid"].as_str().unwrap().to_owned();
    let phone = sent["phone_number_id"].as_str().unwrap().to_owned();

    let delivered = messages_change(
        &phone,
        json!({ "statuses": [{ "id": wamid, "status": "delivered", "timestamp": "1763800000", "recipient_id": "447700900401" }] }),
    );
    assert_eq!(app.deliver(delivered).await, 200);
    let status: String = app.with_db(|c| messages::table.select(messages::status).first(c).unwrap()).await;
    assert_eq!(status, "delivered");

    let failed = messages_change(
        &phone,
        json!({ "statuses": [{ "id": wamid, "status": "failed", "timestamp": "1763800001", "recipient_id": "447700900401", "errors": [{ "code": 131048, "title": "Spam rate limit hit" }] }] }),
    );
    assert_eq!(app.deliver(failed).await, 200);
    let (status, code): (String, Option<i64>) =
        app.with_db(|c| messages::table.select((messages::status, messages::error_code)).first(c).unwrap()).await;
    assert_eq!((status.as_str(), code), ("failed", Some(131048)));
    let cooling: i64 = app.with_db(|c| pool_members::table.filter(pool_members::cooldown_until.is_not_null()).count().get_result(c).unwrap()).await;
    assert_eq!(cooling, 1);
}

#[tokio::test]
async fn statuses_delivered_out_of_order_never_move_a_message_back() {
    use wabapool::db::schema::messages;
    let app = app().await;
    let sent = send_one(&app, "447700900403").await;
    let wamid = sent["wamid"].as_str().unwrap().to_owned();
    let phone = sent["phone_number_id"].as_str().unwrap().to_owned();
    let deliver = |status: &str, at: &str| {
        messages_change(&phone, json!({ "statuses": [{ "id": wamid, "status": status, "timestamp": at, "recipient_id": "447700900403" }] }))
    };

    // Act: read arrives first, then the delivered and sent Meta sent before it.
    assert_eq!(app.deliver(deliver("read", "1763800002")).await, 200);
    assert_eq!(app.with_db(|c| messages::table.select(messages::status).first::<String>(c).unwrap()).await, "read");
    assert_eq!(app.deliver(deliver("delivered", "1763800001")).await, 200);
    assert_eq!(app.deliver(deliver("sent", "1763800000")).await, 200);

    // Assert
    let status: String = app.with_db(|c| messages::table.select(messages::status).first(c).unwrap()).await;
    assert_eq!(status, "read", "an older status never replaces a newer one");
}

#[tokio::test]
async fn an_inbound_message_delivered_by_webhook_opens_the_service_window_and_sets_the_sticky_sender() {
    use wabapool::db::schema::{service_windows, sticky_senders};
    let app = app().await;
    let inbound = messages_change(
        "1015550100102",
        json!({
            "contacts": [{ "profile": { "name": "Ada" }, "wa_id": "447700900402" }],
            "messages": [{ "from": "447700900402", "id": "wamid.IN402", "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text", "text": { "body": "Where is my order?" } }]
        }),
    );

    assert_eq!(app.deliver(inbound.clone()).await, 200);
    assert_eq!(app.deliver(inbound).await, 200, "a redelivery is fine");

    let windows: i64 = app.with_db(|c| service_windows::table.count().get_result(c).unwrap()).await;
    let sticky: Vec<String> = app.with_db(|c| sticky_senders::table.select(sticky_senders::recipient).load(c).unwrap()).await;
    assert_eq!(windows, 1);
    assert_eq!(sticky, vec!["447700900402"]);
}
