//! Stale and redelivered webhooks never undo newer state: each delivery is
//! signed with the app secret and posted over a real socket exactly as Meta
//! posts it, redeliveries byte for byte.

use diesel::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use wabapool::db::schema::{audit_entries, messages, numbers, pool_members, wabas, webhook_deliveries};

use crate::helpers::{TestApp, spawn_app_with};

const APP_SECRET: &str = "test-app-secret-0123456789";
const WABA: &str = "102000000000101";
const NUMBER: &str = "1015550100101";

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.meta_app_secret = SecretString::from(APP_SECRET);
        s.webhook_max_bytes = 64 * 1024;
    })
    .await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One change of the demo WABA, dated `time` (Unix seconds) at Meta.
fn dated(time: i64, field: &str, value: Value) -> String {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "time": time, "changes": [{ "field": field, "value": value }] }] })
        .to_string()
}

fn account_update(time: i64, event: &str) -> String {
    dated(time, "account_update", json!({ "event": event, "ban_info": { "waba_ban_state": "DISABLE" } }))
}

fn quality_update(time: i64, event: &str) -> String {
    dated(time, "phone_number_quality_update", json!({ "display_phone_number": "15550100101", "event": event, "current_limit": "TIER_1K" }))
}

impl TestApp {
    /// Posts `body` with Meta's signature over exactly these bytes.
    async fn post_signed_webhook(&self, body: &str) -> u16 {
        let signature = wabapool::meta::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
        let response = self
            .client
            .post(self.url("/webhooks/whatsapp"))
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    async fn demo_waba_status(&self) -> String {
        self.with_db(|c| wabas::table.filter(wabas::meta_waba_id.eq(WABA)).select(wabas::status).first(c).unwrap()).await
    }

    async fn demo_number_quality(&self) -> String {
        self.with_db(|c| numbers::table.filter(numbers::phone_number_id.eq(NUMBER)).select(numbers::quality_rating).first(c).unwrap()).await
    }

    async fn count_of_audits(&self, action: &'static str) -> i64 {
        self.with_db(move |c| audit_entries::table.filter(audit_entries::action.eq(action)).count().get_result(c).unwrap()).await
    }

    /// Sends one message through the API; answers its wamid and sender.
    async fn send_logged_message(&self, to: &str) -> (String, String) {
        let sent = crate::webhooks::send_one(self, to).await;
        (sent["wamid"].as_str().unwrap().to_owned(), sent["phone_number_id"].as_str().unwrap().to_owned())
    }

    async fn logged_message_status(&self) -> String {
        self.with_db(|c| messages::table.select(messages::status).first(c).unwrap()).await
    }

    async fn members_cooling_down(&self) -> i64 {
        self.with_db(|c| pool_members::table.filter(pool_members::cooldown_until.is_not_null()).count().get_result(c).unwrap()).await
    }
}

fn message_status(phone_number_id: &str, wamid: &str, status: &str, time: i64, error_code: Option<i64>) -> String {
    let errors: Vec<Value> = error_code.map(|code| json!({ "code": code, "title": "Spam rate limit hit" })).into_iter().collect();
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100101", "phone_number_id": phone_number_id },
        "statuses": [{ "id": wamid, "status": status, "timestamp": time.to_string(), "recipient_id": "447700900409", "errors": errors }]
    });
    dated(time, "messages", value)
}

// ------------------------------------------------------------- WABA status

#[tokio::test]
async fn a_redelivered_suspension_does_not_undo_the_reconnection_that_followed_it() {
    // Arrange
    let app = app().await;
    let t = now();
    let disabled = account_update(t, "DISABLED_UPDATE");
    assert_eq!(app.post_signed_webhook(&disabled).await, 200);
    assert_eq!(app.post_signed_webhook(&account_update(t + 60, "ACCOUNT_RECONNECTED")).await, 200);
    assert_eq!(app.demo_waba_status().await, "active");
    let audits = app.count_of_audits("waba.account_update").await;

    // Act: Meta redelivers the first delivery, byte for byte.
    let status = app.post_signed_webhook(&disabled).await;

    // Assert
    assert_eq!(status, 200, "a redelivery is acknowledged");
    assert_eq!(app.demo_waba_status().await, "active");
    assert_eq!(app.count_of_audits("waba.account_update").await, audits, "nothing audited twice");
}

#[tokio::test]
async fn a_suspension_older_than_the_reconnection_changes_nothing_even_in_other_bytes() {
    // Arrange
    let app = app().await;
    let t = now();
    assert_eq!(app.post_signed_webhook(&account_update(t + 60, "ACCOUNT_RECONNECTED")).await, 200);

    // Act: an event Meta dated before the reconnection arrives after it.
    let status = app.post_signed_webhook(&account_update(t, "ACCOUNT_RESTRICTION")).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.demo_waba_status().await, "active");
}

#[tokio::test]
async fn a_suspension_dated_a_day_ago_does_not_suspend_a_waba_known_active_since() {
    // Arrange: the demo WABA was synced with Meta just now.
    let app = app().await;
    let before = app.snapshot().await;

    // Act
    let status = app.post_signed_webhook(&account_update(now() - 86_400, "DISABLED_UPDATE")).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.demo_waba_status().await, "active");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_manual_sync_restores_a_waba_a_webhook_suspended_and_older_events_stay_undone() {
    // Arrange: the WABA was last synced an hour ago, then Meta suspended it.
    let app = app().await;
    app.login("admin@acme.example").await;
    let hour_ago = chrono::Utc::now().naive_utc() - chrono::Duration::hours(1);
    app.with_db(move |c| {
        diesel::update(wabas::table)
            .set((wabas::last_synced_at.eq(None::<chrono::NaiveDateTime>), wabas::status_as_of.eq(Some(hour_ago))))
            .execute(c)
            .unwrap()
    })
    .await;
    let t = now();
    assert_eq!(app.post_signed_webhook(&account_update(t - 10, "DISABLED_UPDATE")).await, 200);
    assert_eq!(app.demo_waba_status().await, "suspended");
    let waba: i64 = app.with_db(|c| wabas::table.filter(wabas::meta_waba_id.eq(WABA)).select(wabas::id).first(c).unwrap()).await;

    // Act: Meta's answer shows the WABA can send.
    let response = app.post_form(&format!("/channels/whatsapp/wabas/{waba}/sync"), &[]).await;

    // Assert
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(app.demo_waba_status().await, "active");
    // Newer than the suspension, older than the sync.
    let late = dated(t - 5, "account_update", json!({ "event": "ACCOUNT_VIOLATION" }));
    assert_eq!(app.post_signed_webhook(&late).await, 200);
    assert_eq!(app.demo_waba_status().await, "active", "an event from before the sync changes nothing");
}

// ----------------------------------------------------------- number health

#[tokio::test]
async fn a_late_unflag_dated_before_the_flag_leaves_the_number_red() {
    // Arrange
    let app = app().await;
    let t = now();
    assert_eq!(app.post_signed_webhook(&quality_update(t + 60, "FLAGGED")).await, 200);
    assert_eq!(app.demo_number_quality().await, "RED");

    // Act
    let status = app.post_signed_webhook(&quality_update(t, "UNFLAGGED")).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.demo_number_quality().await, "RED");
}

#[tokio::test]
async fn a_redelivered_flag_does_not_undo_the_unflag_that_followed_it() {
    // Arrange
    let app = app().await;
    let t = now();
    let flagged = quality_update(t, "FLAGGED");
    assert_eq!(app.post_signed_webhook(&flagged).await, 200);
    assert_eq!(app.post_signed_webhook(&quality_update(t + 60, "UNFLAGGED")).await, 200);
    assert_eq!(app.demo_number_quality().await, "GREEN");

    // Act
    let status = app.post_signed_webhook(&flagged).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.demo_number_quality().await, "GREEN");
    assert_eq!(app.count_of_audits("number.quality_update").await, 2);
}

#[tokio::test]
async fn a_redelivery_is_known_by_its_bytes_even_within_the_second_of_the_event_after_it() {
    // Arrange: Meta dates both events to the same second, so only the
    // remembered body tells the redelivery from a new event.
    let app = app().await;
    let t = now();
    let flagged = quality_update(t, "FLAGGED");
    assert_eq!(app.post_signed_webhook(&flagged).await, 200);
    assert_eq!(app.post_signed_webhook(&quality_update(t, "UNFLAGGED")).await, 200);
    assert_eq!(app.demo_number_quality().await, "GREEN");

    // Act
    let status = app.post_signed_webhook(&flagged).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.demo_number_quality().await, "GREEN");
}

#[tokio::test]
async fn a_flag_dated_a_day_ago_does_not_turn_a_number_known_green_since_red() {
    // Arrange
    let app = app().await;
    let before = app.snapshot().await;

    // Act
    let status = app.post_signed_webhook(&quality_update(now() - 86_400, "FLAGGED")).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.demo_number_quality().await, "GREEN");
    assert_eq!(app.snapshot().await, before);
}

// --------------------------------------------------------- message status

#[tokio::test]
async fn a_delivered_after_read_does_not_move_the_message_back() {
    // Arrange
    let app = app().await;
    let (wamid, phone) = app.send_logged_message("447700900409").await;
    let t = now();
    assert_eq!(app.post_signed_webhook(&message_status(&phone, &wamid, "read", t + 2, None)).await, 200);

    // Act
    let status = app.post_signed_webhook(&message_status(&phone, &wamid, "delivered", t + 1, None)).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.logged_message_status().await, "read");
}

#[tokio::test]
async fn a_failed_message_stays_failed_when_a_delivered_arrives_after_it() {
    // Arrange
    let app = app().await;
    let (wamid, phone) = app.send_logged_message("447700900409").await;
    let t = now();
    assert_eq!(app.post_signed_webhook(&message_status(&phone, &wamid, "failed", t + 2, Some(131_026))).await, 200);

    // Act
    let status = app.post_signed_webhook(&message_status(&phone, &wamid, "delivered", t + 1, None)).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.logged_message_status().await, "failed");
}

#[tokio::test]
async fn a_failure_arriving_after_read_neither_changes_the_message_nor_cools_its_sender_down() {
    // Arrange
    let app = app().await;
    let (wamid, phone) = app.send_logged_message("447700900409").await;
    let t = now();
    assert_eq!(app.post_signed_webhook(&message_status(&phone, &wamid, "read", t + 2, None)).await, 200);

    // Act
    let status = app.post_signed_webhook(&message_status(&phone, &wamid, "failed", t + 1, Some(131_048))).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(app.logged_message_status().await, "read");
    assert_eq!(app.members_cooling_down().await, 0);
}

// ------------------------------------------------------ remembered bodies

#[tokio::test]
async fn remembered_deliveries_are_forgotten_after_metas_redelivery_window() {
    // Arrange: one delivery just now, one remembered from nine days ago.
    let app = app().await;
    assert_eq!(app.post_signed_webhook(&quality_update(now(), "FLAGGED")).await, 200);
    let old = chrono::Utc::now().naive_utc() - chrono::Duration::days(9);
    app.with_db(move |c| {
        diesel::insert_into(webhook_deliveries::table)
            .values((webhook_deliveries::body_sha256.eq("0".repeat(64)), webhook_deliveries::received_at.eq(old)))
            .execute(c)
            .unwrap()
    })
    .await;

    // Act
    let pruned = app.with_db(|c| wabapool::services::webhooks::prune_deliveries(c).unwrap()).await;

    // Assert
    assert_eq!(pruned, 1);
    let kept: i64 = app.with_db(|c| webhook_deliveries::table.count().get_result(c).unwrap()).await;
    assert_eq!(kept, 1);
}
