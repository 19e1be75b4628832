//! The send API and routing against the Graph sandbox over a real socket:
//! API keys, strategies, stickiness, service windows, failover by Meta's
//! error code, idempotency and refusals.

use diesel::prelude::*;
use serde_json::{Value, json};
use wabapool::db::schema::{messages, pool_members, pools};

use crate::helpers::{TestApp, attrs, spawn_app, texts};

impl TestApp {
    /// Creates an API key as Acme's super admin and returns it.
    async fn acme_api_key(&self) -> String {
        self.new_client_logged_in("super@acme.example").await.create_api_key("Order service").await
    }

    async fn send(&self, key: &str, pool: i64, body: Value, idempotency: Option<&str>) -> (u16, Value) {
        let mut request = self.client.post(self.url(&format!("/api/v1/pools/{pool}/messages"))).bearer_auth(key).json(&body);
        if let Some(k) = idempotency {
            request = request.header("Idempotency-Key", k);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn sandbox_failure(&self, failure: Value) {
        let response = self.client.post(format!("{}/_sandbox/failures", self.sandbox_url)).json(&failure).send().await.unwrap();
        assert!(response.status().is_success());
    }

    async fn sandbox_sent(&self) -> usize {
        let sent: Vec<Value> = self.client.get(format!("{}/_sandbox/sent", self.sandbox_url)).send().await.unwrap().json().await.unwrap();
        sent.len()
    }
}

fn template(to: &str) -> Value {
    json!({ "to": to, "type": "template", "template": { "name": "order_update", "language": { "code": "en" } } })
}

fn text(to: &str) -> Value {
    json!({ "to": to, "type": "text", "text": { "body": "Your order shipped" } })
}

/// Acme Support's members' Meta ids, in slot order.
const ACME_SUPPORT: [&str; 2] = ["1015550100101", "1015550100102"];

#[tokio::test]
async fn a_super_admin_creates_a_key_shown_once_and_admins_cannot() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    assert!(key.starts_with("wbp_") && key[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    let listing = app.new_client_logged_in("super@acme.example").await.get_html("/channels/whatsapp/api-keys").await;
    assert!(listing.contains("Order service") && !listing.contains(&key), "the key is never shown again");
    let admin = app.new_client_logged_in("admin@acme.example").await;
    assert_eq!(admin.get("/channels/whatsapp/api-keys").await.status().as_u16(), 403);
}

#[tokio::test]
async fn a_template_goes_out_through_the_pool_with_the_number_used_and_each_attempt() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;

    let (status, body) = app.send(&key, pool, template("447700900001"), None).await;

    assert_eq!(status, 201, "{body}");
    assert!(body["wamid"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(body["phone_number_id"], ACME_SUPPORT[0]);
    assert_eq!(body["display_phone_number"], "+1 555-010-0101");
    assert_eq!(body["attempts"], json!([{ "phone_number_id": ACME_SUPPORT[0], "error_code": null }]));
    let logged: i64 = app.with_db(|c| messages::table.filter(messages::status.eq("sent")).count().get_result(c).unwrap()).await;
    assert_eq!(logged, 1);
}

#[tokio::test]
async fn round_robin_alternates_between_members_and_a_recipient_stays_on_its_member() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    let mut used = Vec::new();
    for to in ["447700900011", "447700900012", "447700900013"] {
        let (status, body) = app.send(&key, pool, template(to), None).await;
        assert_eq!(status, 201);
        used.push(body["phone_number_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(used, vec![ACME_SUPPORT[0], ACME_SUPPORT[1], ACME_SUPPORT[0]]);

    let (_, again) = app.send(&key, pool, template("447700900012"), None).await;
    assert_eq!(again["phone_number_id"], ACME_SUPPORT[1], "the sticky sender keeps its recipient");
}

#[tokio::test]
async fn a_free_form_message_without_a_service_window_asks_for_a_template_and_an_inbound_message_opens_one() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;

    let (status, body) = app.send(&key, pool, text("447700900021"), None).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "send_a_template");
    assert_eq!(app.sandbox_sent().await, 0, "nothing was sent");

    let inbound = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102000000000101", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100102", "phone_number_id": ACME_SUPPORT[1] },
        "contacts": [{ "profile": { "name": "Ada" }, "wa_id": "447700900021" }],
        "messages": [{ "from": "447700900021", "id": "wamid.IN1", "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text", "text": { "body": "hi" } }]
    } }] }] });
    app.with_db(move |c| wabapool::services::webhooks::apply(c, &serde_json::from_value(inbound).unwrap(), "routing-test-inbound").unwrap()).await;

    let (status, body) = app.send(&key, pool, text("447700900021"), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["phone_number_id"], ACME_SUPPORT[1], "sent from the number the user wrote to");
}

#[tokio::test]
async fn a_throughput_limit_fails_over_to_the_next_member() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    app.sandbox_failure(json!({ "phone_number_id": ACME_SUPPORT[0], "code": 130429, "times": 1 })).await;

    let (status, body) = app.send(&key, pool, template("447700900031"), None).await;

    assert_eq!(status, 201, "{body}");
    assert_eq!(body["phone_number_id"], ACME_SUPPORT[1]);
    assert_eq!(
        body["attempts"],
        json!([{ "phone_number_id": ACME_SUPPORT[0], "error_code": 130429 }, { "phone_number_id": ACME_SUPPORT[1], "error_code": null }])
    );
}

/// Waits for the start of a second, so that what follows fits in it.
async fn start_of_a_second() {
    let into = chrono::Utc::now().timestamp_subsec_millis();
    if into > 100 {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(1005 - into))).await;
    }
}

/// Fills `phone_number_id`'s throughput in the current second; returns the second.
async fn fill_second(app: &TestApp, pool: i64, phone_number_id: &'static str, sent: i32) -> i64 {
    app.with_db(move |c| {
        let second = chrono::Utc::now().timestamp();
        let number = wabapool::db::schema::numbers::table
            .filter(wabapool::db::schema::numbers::phone_number_id.eq(phone_number_id))
            .select(wabapool::db::schema::numbers::id)
            .get_result::<i64>(c)
            .unwrap();
        diesel::update(pool_members::table.filter(pool_members::pool_id.eq(pool)).filter(pool_members::number_id.eq(number)))
            .set((pool_members::sent_second.eq(second), pool_members::sent_in_second.eq(sent)))
            .execute(c)
            .unwrap();
        second
    })
    .await
}

#[tokio::test]
async fn a_member_at_its_messages_per_second_limit_is_skipped_before_sending_and_a_full_pool_answers_503() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    // A STANDARD number sends 80 a second. Arrange and act inside one
    // second: when the clock ticks in between, the count starts again and
    // the try is repeated.
    for _ in 0..20 {
        start_of_a_second().await;
        let second = fill_second(&app, pool, ACME_SUPPORT[0], 80).await;
        let (status, body) = app.send(&key, pool, template("447700900035"), None).await;
        if chrono::Utc::now().timestamp() != second {
            continue;
        }
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["phone_number_id"], ACME_SUPPORT[1], "the full member is skipped: {body}");
        assert_eq!(body["attempts"].as_array().unwrap().len(), 1, "nothing was sent from the full member");

        start_of_a_second().await;
        let second = fill_second(&app, pool, ACME_SUPPORT[1], 80).await;
        fill_second(&app, pool, ACME_SUPPORT[0], 80).await;
        let sent_before = app.sandbox_sent().await;
        let (status, body) = app.send(&key, pool, template("447700900036"), None).await;
        if chrono::Utc::now().timestamp() != second {
            continue;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "no_eligible_number");
        assert!(body["routing"]["members"].as_array().unwrap().iter().all(|m| m["reason"] == "at its messages-per-second limit"), "{body}");
        assert_eq!(app.sandbox_sent().await, sent_before, "nothing went to Meta");
        return;
    }
    panic!("the clock ticked during every try");
}

#[tokio::test]
async fn simultaneous_sends_never_push_a_number_past_its_limit_in_one_second() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    // Both members one send short of their 80: of many simultaneous sends
    // inside that second, exactly two go out.
    for _ in 0..20 {
        start_of_a_second().await;
        let second = fill_second(&app, pool, ACME_SUPPORT[0], 79).await;
        fill_second(&app, pool, ACME_SUPPORT[1], 79).await;
        let sends = (0..12).map(|i| app.send(&key, pool, template(&format!("4477009002{i:02}")), None));
        let answers = futures_util::future::join_all(sends).await;
        if chrono::Utc::now().timestamp() != second {
            continue;
        }
        let sent = answers.iter().filter(|(status, _)| *status == 201).count();
        let refused = answers.iter().filter(|(status, body)| *status == 503 && body["error"]["code"] == "no_eligible_number").count();
        assert_eq!((sent, refused), (2, 10), "{answers:?}");
        return;
    }
    panic!("the clock ticked during every try");
}

#[tokio::test]
async fn a_recipient_error_is_not_retried() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    app.sandbox_failure(json!({ "recipient": "447700900041", "code": 131026 })).await;

    let (status, body) = app.send(&key, pool, template("447700900041"), None).await;

    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "recipient_rejected");
    assert_eq!(body["attempts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_round_robin_pointer_moves_only_after_a_successful_send() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    let pointer = || app.with_db(move |c| pools::table.find(pool).select(pools::rr_pointer).first::<i32>(c).unwrap());
    let slot_of = |phone_number_id: &'static str| {
        app.with_db(move |c| {
            pool_members::table
                .inner_join(wabapool::db::schema::numbers::table)
                .filter(pool_members::pool_id.eq(pool))
                .filter(wabapool::db::schema::numbers::phone_number_id.eq(phone_number_id))
                .select(pool_members::slot)
                .first::<i32>(c)
                .unwrap()
        })
    };
    let before = pointer().await;

    // A send that no member delivered leaves the turn where it was.
    app.sandbox_failure(json!({ "recipient": "447700900071", "code": 131026 })).await;
    let (status, _) = app.send(&key, pool, template("447700900071"), None).await;
    assert_eq!(status, 422);
    assert_eq!(pointer().await, before, "a failed send does not move the pointer");

    // A send that failed over leaves the pointer on the member that served it.
    let (status, first) = app.send(&key, pool, template("447700900072"), None).await;
    assert_eq!(status, 201, "{first}");
    let first_used = if first["phone_number_id"] == ACME_SUPPORT[0] { ACME_SUPPORT[0] } else { ACME_SUPPORT[1] };
    let other = if first_used == ACME_SUPPORT[0] { ACME_SUPPORT[1] } else { ACME_SUPPORT[0] };
    assert_eq!(pointer().await, slot_of(first_used).await);
    app.sandbox_failure(json!({ "phone_number_id": other, "code": 130429, "times": 1 })).await;
    let (status, body) = app.send(&key, pool, template("447700900073"), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["attempts"].as_array().unwrap().len(), 2, "the next member in turn was tried first: {body}");
    assert_eq!(body["phone_number_id"], first_used);
    assert_eq!(pointer().await, slot_of(first_used).await, "the turn passed to the member that served");
}

#[tokio::test]
async fn the_spam_limit_cools_the_member_down_without_resending() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    app.sandbox_failure(json!({ "phone_number_id": ACME_SUPPORT[0], "code": 131048, "times": 1 })).await;

    let (status, body) = app.send(&key, pool, template("447700900051"), None).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "number_cooling_down");
    assert_eq!(body["attempts"].as_array().unwrap().len(), 1);

    let (_, next) = app.send(&key, pool, template("447700900052"), None).await;
    assert_eq!(next["phone_number_id"], ACME_SUPPORT[1], "the cooling member is skipped");
    let cooling: i64 = app.with_db(|c| pool_members::table.filter(pool_members::cooldown_until.is_not_null()).count().get_result(c).unwrap()).await;
    assert_eq!(cooling, 1);
}

#[tokio::test]
async fn a_policy_block_takes_the_whole_waba_out_of_rotation() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    app.sandbox_failure(json!({ "phone_number_id": ACME_SUPPORT[0], "code": 368, "times": 1 })).await;

    let (status, _) = app.send(&key, pool, template("447700900061"), None).await;
    assert_eq!(status, 503);

    let response =
        app.client.post(app.url(&format!("/api/v1/pools/{pool}/messages"))).bearer_auth(&key).json(&template("447700900062")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_eligible_number");
    let members = body["routing"]["members"].as_array().unwrap();
    assert!(members.iter().all(|m| m["reason"].as_str().unwrap().contains("WABA out of rotation")));
    // Each member is named by its phone number id, as the route endpoint names it.
    let mut named: Vec<&str> = members.iter().map(|m| m["phone_number_id"].as_str().unwrap()).collect();
    named.sort_unstable();
    let mut expected = ACME_SUPPORT.to_vec();
    expected.sort_unstable();
    assert_eq!(named, expected);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_first_answer_without_a_second_send() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;

    let (first_status, first) = app.send(&key, pool, template("447700900071"), Some("order-42")).await;
    let (second_status, second) = app.send(&key, pool, template("447700900071"), Some("order-42")).await;

    assert_eq!((first_status, second_status), (201, 201));
    assert_eq!(first, second);
    assert_eq!(app.sandbox_sent().await, 1);
}

#[tokio::test]
async fn bad_keys_foreign_pools_inactive_pools_and_bad_messages_are_refused_in_json() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    let umbrella = app.pool_id("Umbrella Orders").await;

    let (no_key, body) = {
        let response = app.client.post(app.url(&format!("/api/v1/pools/{pool}/messages"))).json(&template("447700900081")).send().await.unwrap();
        (response.status().as_u16(), response.json::<Value>().await.unwrap())
    };
    assert_eq!((no_key, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    assert_eq!(app.send("wbp_notakey", pool, template("447700900081"), None).await.0, 401);
    assert_eq!(app.send(&key, umbrella, template("447700900081"), None).await.1["error"]["code"], "pool_not_found");
    assert_eq!(app.send(&key, 999_999, template("447700900081"), None).await.0, 404);
    for (body, field) in [
        (json!({ "to": "not a number", "type": "template", "template": { "name": "x", "language": { "code": "en" } } }), "E.164"),
        (json!({ "to": "447700900081", "type": "text", "text": { "body": "" } }), "text.body"),
        (json!({ "to": "447700900081", "type": "text", "text": { "body": "x".repeat(4097) } }), "text.body"),
        (json!({ "to": "447700900081", "type": "template", "template": { "name": "x" } }), "template.name"),
        (json!({ "to": "447700900081", "type": "image", "image": { "link": "http://insecure.example/a.png" } }), "https"),
    ] {
        let (status, answer) = app.send(&key, pool, body, None).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_message");
        assert!(answer["error"]["message"].as_str().unwrap().contains(field), "{answer}");
    }
    let department = app
        .send(
            &key,
            pool,
            json!({ "to": "447700900081", "type": "template", "template": { "name": "x", "language": { "code": "en" } }, "department": "legal" }),
            None,
        )
        .await;
    assert_eq!(department.1["error"]["code"], "unknown_department");
    let wrong_type = app
        .client
        .post(app.url(&format!("/api/v1/pools/{pool}/messages")))
        .bearer_auth(&key)
        .body("to=1")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status().as_u16(), 415);
    app.with_db(move |c| diesel::update(pools::table.find(pool)).set(pools::active.eq(false)).execute(c).unwrap()).await;
    assert_eq!(app.send(&key, pool, template("447700900081"), None).await.0, 409);
    assert_eq!(app.sandbox_sent().await, 0, "nothing was sent");
    let logged: i64 = app.with_db(|c| messages::table.count().get_result(c).unwrap()).await;
    assert_eq!(logged, 0, "nothing was logged as sent");
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;

    let response = app
        .client
        .post(app.url(&format!("/api/v1/pools/{pool}/messages")))
        .header("Authorization", format!("bearer {key}"))
        .json(&template("447700900085"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn a_revoked_key_gets_401() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    let admin = app.new_client_logged_in("super@acme.example").await;
    let id: i64 = app.with_db(|c| wabapool::db::schema::api_keys::table.select(wabapool::db::schema::api_keys::id).first(c).unwrap()).await;

    let asked = admin.get_html(&format!("/channels/whatsapp/api-keys/{id}/revoke")).await;
    assert!(texts(&asked, "main").join(" ").contains("cannot be undone"), "revoking asks first");
    assert_eq!(app.send(&key, pool, template("447700900090"), None).await.0, 201, "asking revokes nothing");
    assert_eq!(admin.post_form(&format!("/channels/whatsapp/api-keys/{id}/revoke"), &[]).await.status().as_u16(), 303);

    assert_eq!(app.send(&key, pool, template("447700900091"), None).await.0, 401);
}

#[tokio::test]
async fn the_route_endpoint_explains_the_decision_without_sending() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    let member = app.number_id("+1 555-010-0101").await;
    app.with_db(move |c| {
        diesel::update(wabapool::db::schema::numbers::table.find(member))
            .set(wabapool::db::schema::numbers::quality_rating.eq("RED"))
            .execute(c)
            .unwrap()
    })
    .await;

    let response =
        app.client.get(app.url(&format!("/api/v1/pools/{pool}/route?to=447700900099&type=template"))).bearer_auth(&key).send().await.unwrap();

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["phone_number_id"], ACME_SUPPORT[1]);
    assert_eq!(body["members"][0], json!({ "phone_number_id": ACME_SUPPORT[0], "eligible": false, "reason": "quality is RED" }));
    assert_eq!(body["members"][1]["eligible"], true);
    assert_eq!(app.sandbox_sent().await, 0);
}

impl TestApp {
    async fn save_routing(&self, pool: i64, strategy: &str, strict: bool, members: &[(&str, &str, &str, &str, &str)]) -> u16 {
        let admin = self.new_client_logged_in("admin@acme.example").await;
        let mut ids = Vec::new();
        for (display, ..) in members {
            ids.push(self.number_id(display).await.to_string());
        }
        let members: Vec<(&str, [&str; 4])> = ids
            .iter()
            .zip(members)
            .map(|(id, (_, priority, weight, regions, departments))| (id.as_str(), [*priority, *weight, *regions, *departments]))
            .collect();
        post_routing(&admin, pool, strategy, strict, &members).await.status().as_u16()
    }
}

#[tokio::test]
async fn the_priority_strategy_chosen_on_the_settings_page_sends_from_the_highest_priority_member() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;

    let saved = app.save_routing(pool, "priority", false, &[("+1 555-010-0101", "10", "1", "", ""), ("+1 555-010-0102", "90", "1", "", "")]).await;

    assert_eq!(saved, 303);
    for to in ["447700900101", "447700900102"] {
        assert_eq!(app.send(&key, pool, template(to), None).await.1["phone_number_id"], ACME_SUPPORT[1]);
    }
}

#[tokio::test]
async fn region_tags_send_to_a_uk_number_from_the_uk_member_and_others_from_the_untagged_one() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    app.save_routing(pool, "round_robin", false, &[("+1 555-010-0101", "50", "1", "", ""), ("+1 555-010-0102", "50", "1", "+44", "")]).await;

    assert_eq!(app.send(&key, pool, template("447700900111"), None).await.1["phone_number_id"], ACME_SUPPORT[1]);
    assert_eq!(app.send(&key, pool, template("15550009999"), None).await.1["phone_number_id"], ACME_SUPPORT[0]);
    assert_eq!(app.send(&key, pool, template("447700900112"), None).await.1["phone_number_id"], ACME_SUPPORT[1]);
}

#[tokio::test]
async fn department_tags_narrow_the_members_and_a_strict_pool_does_not_fall_back() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    app.save_routing(pool, "round_robin", true, &[("+1 555-010-0101", "50", "1", "", "billing"), ("+1 555-010-0102", "50", "1", "", "")]).await;
    let billing =
        |to: &str| json!({ "to": to, "type": "template", "template": { "name": "x", "language": { "code": "en" } }, "department": "Billing" });

    assert_eq!(app.send(&key, pool, billing("447700900121"), None).await.1["phone_number_id"], ACME_SUPPORT[0]);
    app.sandbox_failure(json!({ "phone_number_id": ACME_SUPPORT[0], "code": 131048, "times": 1 })).await;
    app.send(&key, pool, billing("447700900122"), None).await;
    let (status, body) = app.send(&key, pool, billing("447700900123"), None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "no_eligible_number");
}

#[tokio::test]
async fn invalid_routing_settings_are_refused_beside_the_fields_and_nothing_is_saved() {
    let app = spawn_app().await;
    let pool = app.pool_id("Acme Support").await;
    let before: (String, bool) =
        app.with_db(move |c| pools::table.find(pool).select((pools::strategy, pools::strict_routing)).first(c).unwrap()).await;

    let saved = app.save_routing(pool, "weighted", true, &[("+1 555-010-0101", "500", "0", "UK", "<b>")]).await;

    assert_eq!(saved, 422);
    let after: (String, bool) =
        app.with_db(move |c| pools::table.find(pool).select((pools::strategy, pools::strict_routing)).first(c).unwrap()).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_pool_detail_page_charts_sends_per_member_and_lists_recent_failures() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    app.send(&key, pool, template("447700900131"), None).await;
    app.send(&key, pool, template("447700900132"), None).await;
    app.send(&key, pool, template("447700900133"), None).await;
    app.sandbox_failure(json!({ "recipient": "447700900134", "code": 131026 })).await;
    app.send(&key, pool, template("447700900134"), None).await;
    app.login("admin@acme.example").await;

    let page = app.get_html(&format!("/channels/whatsapp/pools/{pool}")).await;

    assert_eq!(texts(&page, ".send-chart-label"), vec!["+1 555-010-0101", "+1 555-010-0102"]);
    assert_eq!(texts(&page, ".send-chart-value"), vec!["2 sent, 0 failed", "1 sent, 1 failed"]);
    assert_eq!(attrs(&page, ".send-chart progress", "value"), vec!["100", "50"]);
    assert_eq!(texts(&page, ".send-chart-scale span"), vec!["0", "2"], "the scale runs from 0 to the busiest number's sends");
    assert!(page.contains("+447700900134") && page.contains("131026"));
}

#[tokio::test]
async fn a_pool_without_sends_says_so_instead_of_an_empty_chart() {
    let app = spawn_app().await;
    let pool = app.pool_id("Acme Support").await;
    app.login("admin@acme.example").await;

    let page = app.get_html(&format!("/channels/whatsapp/pools/{pool}")).await;

    assert!(texts(&page, ".send-chart").is_empty());
    let note = texts(&page, "section[aria-labelledby=sends-title] .empty-note").join(" ");
    assert!(note.starts_with("No messages went through Acme Support in the last 24 hours."), "{note}");
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route_and_only_routes_that_exist() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut in_source: Vec<(String, String)> = Vec::new();
    for file in ["src/api/messages.rs", "src/api/events.rs", "src/api/openapi.rs"] {
        let text = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for line in text.lines().map(str::trim) {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                    in_source.push((method.to_uppercase(), rest.split('"').next().unwrap().to_owned()));
                }
            }
        }
    }
    in_source.sort();
    assert_eq!(documented, in_source);
    for (method, path) in &documented {
        let url = app.url(&path.replace("{id}", "1"));
        let response = if method == "GET" { app.client.get(url).send().await.unwrap() } else { app.client.post(url).send().await.unwrap() };
        assert_ne!(response.status().as_u16(), 404, "{method} {path} is documented but not served");
    }
}

#[tokio::test]
async fn simultaneous_first_messages_to_one_recipient_all_go_from_one_member() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;

    let sends = (0..12).map(|_| app.send(&key, pool, template("447700900201"), None));
    let answers = futures_util::future::join_all(sends).await;

    let used: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["phone_number_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(used.len(), 1, "one recipient, one member: {used:?}");
}

#[tokio::test]
async fn simultaneous_sends_to_many_recipients_use_every_member_and_leave_a_valid_pointer() {
    let app = spawn_app().await;
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;

    let recipients: Vec<String> = (0..16).map(|i| format!("4477009003{i:02}")).collect();
    let answers = futures_util::future::join_all(recipients.iter().map(|to| app.send(&key, pool, template(to), None))).await;

    let mut used = std::collections::BTreeMap::<String, usize>::new();
    for (status, body) in &answers {
        assert_eq!(*status, 201, "{body}");
        *used.entry(body["phone_number_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    // Each send takes the next turn, so two members share sixteen sends evenly.
    assert_eq!(used.values().copied().collect::<Vec<_>>(), vec![8, 8], "both members took turns: {used:?}");
    let pointer: i32 = app.with_db(move |c| pools::table.find(pool).select(pools::rr_pointer).first(c).unwrap()).await;
    assert!((1..=2).contains(&pointer));
    let logged: i64 = app.with_db(|c| messages::table.filter(messages::status.eq("sent")).count().get_result(c).unwrap()).await;
    assert_eq!(logged, 16);
}

/// Posts the routing form: a strategy, strict tags or not, and each
/// member's priority, weight, regions and departments.
async fn post_routing(admin: &TestApp, pool: i64, strategy: &str, strict: bool, members: &[(&str, [&str; 4])]) -> reqwest::Response {
    let mut pairs = vec![("strategy".to_owned(), strategy.to_owned())];
    if strict {
        pairs.push(("strict".to_owned(), "on".to_owned()));
    }
    for (id, values) in members {
        pairs.push(("member".to_owned(), (*id).to_owned()));
        for (name, value) in ["priority", "weight", "regions", "departments"].iter().zip(values) {
            pairs.push((format!("{name}_{id}"), (*value).to_owned()));
        }
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    admin.post_form(&format!("/channels/whatsapp/pools/{pool}/routing"), &borrowed).await
}

#[tokio::test]
async fn settings_out_of_range_are_named_by_number_and_nothing_is_saved() {
    let app = spawn_app().await;
    let pool = app.pool_id("Acme Support").await;
    let (first, second) = (app.number_id("+1 555-010-0101").await.to_string(), app.number_id("+1 555-010-0102").await.to_string());
    let admin = app.new_client_logged_in("admin@acme.example").await;
    let members = [(first.as_str(), ["0", "abc", "UK", "<b>"]), (second.as_str(), ["50", "1001", "44", "sales"])];

    let response = post_routing(&admin, pool, "priority", false, &members).await;

    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.unwrap();
    assert_eq!(
        texts(&page, ".error-summary li"),
        vec![
            "+1 555-010-0101: priority is a whole number from 1 to 100.",
            "+1 555-010-0101: weight is a whole number from 1 to 1,000.",
            "+1 555-010-0101: regions are country calling codes such as 44, 1, 91, separated by commas.",
            "+1 555-010-0101: departments are names of letters, digits, spaces or dashes, separated by commas.",
            "+1 555-010-0102: weight is a whole number from 1 to 1,000.",
        ]
    );
    assert!(app.audit_entries("pool.routing_update").await.is_empty(), "nothing saved");
    // Each message stands beside its field, and the input is kept.
    assert_eq!(texts(&page, &format!("#priority_{first}-error")), vec!["+1 555-010-0101: priority is a whole number from 1 to 100."]);
    assert_eq!(texts(&page, &format!("#weight_{second}-error")), vec!["+1 555-010-0102: weight is a whole number from 1 to 1,000."]);
    assert!(texts(&page, &format!("#priority_{second}-error")).is_empty());
    assert_eq!(attrs(&page, "input[name=strategy][checked]", "value"), vec!["priority"]);
    assert_eq!(attrs(&page, &format!("#weight_{first}"), "value"), vec!["abc"]);
    assert_eq!(attrs(&page, &format!("#regions_{first}"), "value"), vec!["UK"]);
    assert_eq!(attrs(&page, &format!("#weight_{second}"), "value"), vec!["1001"]);
    assert_eq!(attrs(&page, ".error-summary a", "href")[0], format!("#priority_{first}"));
}

#[tokio::test]
async fn the_pool_page_shows_the_saved_routing() {
    let app = spawn_app().await;
    let pool = app.pool_id("Acme Support").await;
    let first = app.number_id("+1 555-010-0101").await.to_string();
    let second = app.number_id("+1 555-010-0102").await.to_string();
    let admin = app.new_client_logged_in("admin@acme.example").await;
    let members = [(first.as_str(), ["10", "300", "44", "sales"]), (second.as_str(), ["20", "100", "", ""])];
    assert_eq!(post_routing(&admin, pool, "weighted", false, &members).await.status().as_u16(), 303);

    let page = admin.get_html(&format!("/channels/whatsapp/pools/{pool}")).await;

    let routing = texts(&page, "section[aria-labelledby=routing-title] p").join(" ");
    assert!(routing.starts_with("Weighted: in proportion to each member's weight"), "{routing}");
    assert_eq!(texts(&page, ".routing-table td[data-label=Weight]"), vec!["300", "100"]);
    assert_eq!(texts(&page, ".routing-table td[data-label=Regions]"), vec!["44", "any"]);
    assert_eq!(texts(&page, ".routing-table td[data-label=Departments]"), vec!["sales", "any"]);
}

#[tokio::test]
async fn every_path_under_api_answers_json_errors_even_where_no_route_is() {
    let app = spawn_app().await;
    for path in ["/api/v1/nothing-here", "/api/", "/api/v2/pools/1/messages", "/api/v1/pools/1/messages/extra"] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A path the API has, with a method it does not take.
    let response = app.get("/api/v1/pools/1/messages").await;
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let response = app.client.post(app.url("/api/v1/pools/1/route")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    // The portal's own unknown paths keep their HTML page.
    let response = app.get("/apis/v1/nothing").await;
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn the_openapi_document_has_the_schemas_a_client_generator_needs() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let send = &doc["paths"]["/api/v1/pools/{id}/messages"]["post"];
    assert_eq!(send["requestBody"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/MessageRequest");
    assert_eq!(send["responses"]["201"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/SentAnswer");
    assert!(send["responses"]["201"]["headers"]["Idempotent-Replayed"].is_object());
    assert!(send["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
    assert_eq!(send["security"], json!([{ "api_key": [] }]));
    assert_eq!(doc["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
    // Every error answer names its codes and points at the error schema.
    let unavailable = &send["responses"]["503"];
    assert!(unavailable["description"].as_str().unwrap().contains("no_eligible_number"));
    assert!(unavailable["headers"]["Retry-After"].is_object());
    let not_found = &send["responses"]["404"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(not_found, "#/components/schemas/ErrorAnswer");
    let codes = doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"].as_array().unwrap();
    assert!(codes.contains(&json!("pool_not_found")) && codes.contains(&json!("idempotency_key_reused")));
    let route = &doc["paths"]["/api/v1/pools/{id}/route"]["get"];
    let names: Vec<&str> = route["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["id", "to", "type", "department"]);
    assert_eq!(route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/RoutingAnswer");
}

#[tokio::test]
async fn the_documented_example_message_is_one_the_api_sends() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let example = doc["components"]["schemas"]["MessageRequest"]["example"].clone();
    let key = app.acme_api_key().await;
    let pool = app.pool_id("Acme Support").await;
    let (status, answer) = app.send(&key, pool, example, None).await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn the_portal_shows_the_api_reference_to_a_signed_in_user() {
    let app = spawn_app().await;
    let signed_out = app.get("/channels/whatsapp/api-reference").await;
    assert_eq!(signed_out.status().as_u16(), 303);
    let agent = app.new_client_logged_in("agent@acme.example").await;
    let response = agent.get("/channels/whatsapp/api-reference").await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    let headings = texts(&page, "main h2");
    assert!(headings.contains(&"POST /api/v1/pools/{id}/messages".to_owned()), "{headings:?}");
    assert!(headings.contains(&"GET /api/v1/pools/{id}/route".to_owned()), "{headings:?}");
    for expected in ["Idempotency-Key", "pool_not_found", "Retry-After", "447700900123", "header"] {
        assert!(page.contains(expected), "the page lacks {expected}");
    }
    assert!(!page.contains("cdn") && !page.contains("https://unpkg"), "served from our own assets");
}

#[tokio::test]
async fn a_new_key_survives_a_refresh_without_a_second_key_until_it_is_stored() {
    let app = spawn_app().await;
    let admin = app.new_client_logged_in("super@acme.example").await;
    let keys = || app.with_db(|c| wabapool::db::schema::api_keys::table.count().get_result::<i64>(c).unwrap());

    let response = admin.post_form("/channels/whatsapp/api-keys", &[("label", "Billing")]).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/channels/whatsapp/api-keys");
    let first = texts(&admin.get_html("/channels/whatsapp/api-keys").await, "code#new-key");
    let refreshed = texts(&admin.get_html("/channels/whatsapp/api-keys").await, "code#new-key");
    assert_eq!(first.len(), 1);
    assert_eq!(first, refreshed, "a refresh shows the same key");
    assert_eq!(keys().await, 1, "and creates none");

    assert_eq!(admin.post_form("/channels/whatsapp/api-keys/stored", &[]).await.status().as_u16(), 303);
    let page = admin.get_html("/channels/whatsapp/api-keys").await;
    assert!(texts(&page, "code#new-key").is_empty() && !page.contains(&first[0]), "once stored it is never shown again");
    assert!(texts(&page, "tbody td[data-label='Label']").contains(&"Billing".to_owned()));
}

#[tokio::test]
async fn a_label_in_use_by_a_key_of_the_enterprise_is_refused() {
    let app = spawn_app().await;
    let admin = app.new_client_logged_in("super@acme.example").await;
    admin.create_api_key("Billing").await;

    let response = admin.post_form("/channels/whatsapp/api-keys", &[("label", "Billing")]).await;

    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.unwrap();
    let error = texts(&page, "#label-error").join(" ");
    assert!(error.contains("already has a key labelled"), "{error}");
    let count: i64 = app.with_db(|c| wabapool::db::schema::api_keys::table.count().get_result(c).unwrap()).await;
    assert_eq!(count, 1);
}
