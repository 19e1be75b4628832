//! axe-core on every screen: no violation of serious or
//! critical impact, labels on every control among them. Each screen is
//! also photographed, `<test>__<screen>.png`, for a person to review.

use crate::browser::Browser;
use crate::harness::browser_test;

use crate::app::{ADD_POOL, LISTING, NUMBERS};

/// Runs axe on the current screen and keeps a screenshot of it.
async fn check(b: &Browser, test: &str, screen: &str) {
    let rules = b.assert_accessible(screen).await;
    assert!(rules > 20, "axe checked {rules} rules on {screen}: it did not really run");
    b.screenshot(&format!("{test}__{screen}")).await;
}

#[tokio::test]
async fn enterprise_admin_screens_have_no_serious_or_critical_accessibility_violations() {
    const TEST: &str = "enterprise_admin_screens_have_no_serious_or_critical_accessibility_violations";
    browser_test(TEST, |b| async move {
        b.goto("/login").await;
        check(&b, TEST, "login").await;
        b.submit_login("admin@acme.example", "not the password").await;
        b.wait_for_text("Sign-in failed").await;
        check(&b, TEST, "login_with_error").await;

        b.login("admin@acme.example").await;
        b.goto(LISTING).await;
        check(&b, TEST, "listing").await;

        b.click("button[role=switch][aria-label='Deactivate Acme Support']").await;
        b.wait_until("the dialog opens", "return document.getElementById('confirm-deactivate').open").await;
        check(&b, TEST, "listing_dialog_open").await;

        let id = b.app.pool_id("Acme Support").await;
        b.goto(&format!("{LISTING}/{id}/deactivate")).await;
        check(&b, TEST, "confirmation_page").await;

        b.goto(ADD_POOL).await;
        check(&b, TEST, "add_page").await;

        b.find("#name").await.send_keys("Acme Support").await.unwrap();
        b.click("#pool-form button[type=submit]").await;
        b.find("#name-error").await;
        check(&b, TEST, "add_page_with_errors").await;

        b.goto(&format!("{LISTING}/{id}/edit")).await;
        check(&b, TEST, "edit_page").await;

        b.goto(&format!("{LISTING}/{id}")).await;
        check(&b, TEST, "detail_page").await;

        b.goto(NUMBERS).await;
        check(&b, TEST, "numbers_page").await;

        b.goto(&format!("{LISTING}?q=nothing-matches")).await;
        check(&b, TEST, "listing_no_match").await;
    })
    .await;
}

#[tokio::test]
async fn aggregator_admin_screens_have_no_serious_or_critical_accessibility_violations() {
    const TEST: &str = "aggregator_admin_screens_have_no_serious_or_critical_accessibility_violations";
    browser_test(TEST, |b| async move {
        b.login("admin@northwind.example").await;
        b.goto(LISTING).await;
        check(&b, TEST, "listing").await;

        b.goto(ADD_POOL).await;
        check(&b, TEST, "add_page_no_enterprise").await;

        b.find("#enterprise_id").await.select_by_label("Initech Bank").await.unwrap();
        b.number_box("+1 555-030-0301").await;
        check(&b, TEST, "add_page_initech").await;

        b.find("#enterprise_id").await.select_by_label("Globex Health").await.unwrap();
        b.find("#needs-numbers").await;
        check(&b, TEST, "add_page_globex_cannot_add").await;

        b.goto(NUMBERS).await;
        check(&b, TEST, "numbers_page").await;

        b.goto("/overview").await;
        check(&b, TEST, "overview").await;

        let initech = b.app.enterprise_id("Initech Bank").await;
        b.goto(&format!("{NUMBERS}?enterprise_id={initech}")).await;
        check(&b, TEST, "numbers_page_initech").await;

        b.goto("/audit").await;
        check(&b, TEST, "audit_log").await;
    })
    .await;
}

#[tokio::test]
async fn the_new_confirmation_and_reference_pages_have_no_serious_or_critical_accessibility_violations() {
    const TEST: &str = "the_new_confirmation_and_reference_pages_have_no_serious_or_critical_accessibility_violations";
    browser_test(TEST, |b| async move {
        b.login("super@acme.example").await;
        b.goto("/channels/whatsapp/api-reference").await;
        check(&b, TEST, "api_reference").await;
        let number = b.app.number_id("+1 555-010-0101").await;
        b.goto(&format!("/channels/whatsapp/numbers/{number}/deactivate")).await;
        check(&b, TEST, "number_deactivate_question").await;
        let id = b.app.pool_id("Acme Support").await;
        b.goto(&format!("{LISTING}/{id}/routing")).await;
        check(&b, TEST, "routing_page").await;
        let key = b.app.with_db(|c| {
            use diesel::prelude::*;
            use wabapool::db::schema::api_keys;
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::enterprise_id.eq(1_i64),
                    api_keys::label.eq("Billing"),
                    api_keys::key_hash.eq("0".repeat(64)),
                    api_keys::key_prefix.eq("wbp_abcd"),
                    api_keys::created_by.eq(Some(1_i64)),
                    api_keys::created_at.eq(wabapool::store::now()),
                ))
                .returning(api_keys::id)
                .get_result::<i64>(c)
                .unwrap()
        });
        b.goto(&format!("/channels/whatsapp/api-keys/{}/revoke", key.await)).await;
        check(&b, TEST, "api_key_revoke_question").await;
        b.goto("/channels/whatsapp/nothing-here").await;
        check(&b, TEST, "missing_page_in_the_portal").await;
    })
    .await;
}

#[tokio::test]
async fn the_403_page_and_the_empty_states_have_no_serious_or_critical_accessibility_violations() {
    const TEST: &str = "the_403_page_and_the_empty_states_have_no_serious_or_critical_accessibility_violations";
    browser_test(TEST, |b| async move {
        b.login("agent@acme.example").await;
        b.goto(LISTING).await;
        assert_eq!(b.page_status().await, 403);
        check(&b, TEST, "forbidden_page").await;
        b.goto("/settings/password").await;
        check(&b, TEST, "agent_password_page").await;
        // Start afresh as another user.
        b.client.delete_all_cookies().await.expect("cookies cleared");

        b.login("admin@globex.example").await;
        b.goto(LISTING).await;
        check(&b, TEST, "listing_empty").await;
        b.goto(ADD_POOL).await;
        check(&b, TEST, "add_page_cannot_add").await;
    })
    .await;
}

#[tokio::test]
async fn the_events_pages_have_no_serious_or_critical_accessibility_violations() {
    const TEST: &str = "the_events_pages_have_no_serious_or_critical_accessibility_violations";
    browser_test(TEST, |b| async move {
        b.login("super@acme.example").await;
        b.goto("/settings/events").await;
        check(&b, TEST, "events_empty").await;

        b.find("#url").await.send_keys("ftp://x").await.unwrap();
        b.click("form[action='/settings/events'] button[type=submit]").await;
        b.find("#url-error").await;
        check(&b, TEST, "events_add_with_errors").await;

        b.find("#url").await.clear().await.unwrap();
        b.find("#url").await.send_keys("http://127.0.0.1:9/orders").await.unwrap();
        b.click("input[name=event_types][value='message.status']").await;
        b.click("form[action='/settings/events'] button[type=submit]").await;
        b.find("#new-secret").await;
        check(&b, TEST, "endpoint_with_its_secret").await;

        b.click("form[action$='/test'] button[type=submit]").await;
        b.find(".attempt").await;
        check(&b, TEST, "endpoint_with_a_delivery").await;

        b.goto("/settings/events").await;
        check(&b, TEST, "events_listing").await;
    })
    .await;
}
