//! The portal's flows as admins use them: adding,
//! the aggregator's enterprise picker, the deactivate toggle, editing,
//! validation errors, what an agent and Globex's admin see.

use serde_json::{Value as Json, json};

use crate::browser::Browser;
use crate::harness::browser_test;

use crate::app::{ADD_POOL, LISTING, NUMBERS};

/// Clicks "+ Add Pool" on the listing and waits for the Add page.
async fn open_add_page(b: &Browser) {
    b.click(".page-actions a[href='/channels/whatsapp/pools/new']").await;
    b.wait_for_path(ADD_POOL).await;
}

/// The visible text of the listing's row for a pool.
async fn listing_row(b: &Browser, pool: &str) -> String {
    let script = "return [...document.querySelectorAll('table.data-table tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim())";
    let rows = b.js(script).await;
    rows.as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .find(|row| row.starts_with(pool))
        .unwrap_or_else(|| panic!("the listing has a row for {pool}: {rows}"))
        .to_owned()
}

#[tokio::test]
async fn enterprise_admin_reaches_waba_pool_from_the_left_menu_adds_a_pool_and_sees_it_listed() {
    browser_test("enterprise_admin_reaches_waba_pool_from_the_left_menu_adds_a_pool_and_sees_it_listed", |b| async move {
        // Arrange: signed in, on another page of the menu.
        b.login("admin@acme.example").await;
        b.click("nav[aria-label='Main'] a[href='/channels/whatsapp/numbers']").await;
        b.wait_for_path(NUMBERS).await;
        let menu = b.js("return document.querySelector(\"nav[aria-label='Main']\").textContent.replace(/\\s+/g, ' ')").await;
        let menu = menu.as_str().unwrap_or_default();
        assert!(menu.contains("Channels WhatsApp Numbers WABA Pool"), "the menu shows Channels → WhatsApp → WABA Pool: {menu}");

        // Act: Channels → WhatsApp → WABA Pool, then + Add Pool.
        b.click("nav[aria-label='Main'] a[href='/channels/whatsapp/pools']").await;
        b.wait_for_path(LISTING).await;
        let current = b.find("nav[aria-label='Main'] a[aria-current='page']").await.text().await.unwrap();
        assert_eq!(current, "WABA Pool", "the menu marks the current page");
        assert_eq!(b.text("h1").await, "WABA Pool");
        open_add_page(&b).await;
        b.find("#name").await.send_keys("Acme International").await.unwrap();
        b.click_numbers(&["+44 7700 900101", "+91 98100 00101", "+65 8100 0101"]).await;
        b.wait_for_counter("3 of 10 selected").await;
        b.click("#pool-form button[type=submit]").await;

        // Assert: back on the listing, with a message and the new row.
        b.wait_for_text("WABA Pool \u{201c}Acme International\u{201d} was added.").await;
        assert_eq!(b.path().await, LISTING);
        let row = listing_row(&b, "Acme International").await;
        for number in ["+44 7700 900101", "+91 98100 00101", "+65 8100 0101", "3/3 in rotation", "Active"] {
            assert!(row.contains(number), "the row shows {number}: {row}");
        }
        let id = b.app.pool_id("Acme International").await;
        assert_eq!(b.app.pool_numbers(id).await.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn an_eleventh_number_is_refused_in_the_page_and_by_the_server() {
    browser_test("an_eleventh_number_is_refused_in_the_page_and_by_the_server", |b| async move {
        // Arrange: Initech's "Initech Retail Banking" WABA has 11 numbers.
        b.login("admin@initech.example").await;
        b.goto(ADD_POOL).await;
        let eleven: Vec<String> = (1..=11).map(|i| format!("+1 555-030-03{i:02}")).collect();
        let ten: Vec<&str> = eleven[..10].iter().map(String::as_str).collect();

        // Act: choose ten, then try an eleventh.
        b.click_numbers(&ten).await;
        b.wait_for_counter("10 of 10 selected").await;
        let eleventh = b.number_box(&eleven[10]).await;
        let _ = eleventh.click().await;

        // Assert, in the page: the eleventh box is disabled and unticked,
        // as is every other box not chosen.
        assert!(!eleventh.is_enabled().await.unwrap(), "the eleventh box is disabled at 10");
        assert!(!eleventh.is_selected().await.unwrap(), "the eleventh box stays unticked");
        let unticked_enabled =
            b.js("return [...document.querySelectorAll('input[name=phone_number_ids]')].filter(i => !i.checked && !i.disabled).length").await;
        assert_eq!(unticked_enabled, json!(0), "every box not chosen is disabled at 10");
        assert_eq!(b.counter().await, "10 of 10 selected");
        // Unticking one enables the others again.
        b.click_numbers(&[ten[0]]).await;
        b.wait_for_counter("9 of 10 selected").await;
        assert!(b.number_box(&eleven[10]).await.is_enabled().await.unwrap(), "below 10 the boxes are enabled again");
        b.click_numbers(&[ten[0]]).await;
        b.wait_for_counter("10 of 10 selected").await;

        // Assert, on the server: eleven ids posted directly are refused
        // with 422 and nothing is stored.
        let before = b.app.pool_count().await;
        let displays: Vec<&str> = eleven.iter().map(String::as_str).collect();
        let ids = b.app.number_ids(&displays).await;
        let script = r#"
            const [ids, done] = [arguments[0], arguments[arguments.length - 1]];
            const body = new URLSearchParams();
            body.append('csrf_token', document.querySelector('meta[name=csrf-token]').content);
            body.append('name', 'Eleven numbers');
            ids.forEach(id => body.append('phone_number_ids', id));
            fetch('/channels/whatsapp/pools', { method: 'POST', body, redirect: 'manual' })
                .then(r => r.text().then(t => done({ status: r.status, body: t })))
                .catch(e => done({ status: -1, body: String(e) }));
        "#;
        let answer = b.js_async(script, vec![json!(ids)]).await;
        assert_eq!(answer["status"], json!(422), "eleven numbers are refused: {answer}");
        let body = answer["body"].as_str().unwrap_or_default();
        assert!(body.contains("A WABA Pool holds at most 10 numbers"), "the answer says why: {body}");
        assert_eq!(b.app.pool_count().await, before, "nothing was stored");
        assert_eq!(b.app.pools_named("Eleven numbers").await, 0);
    })
    .await;
}

#[tokio::test]
async fn aggregator_admin_picks_an_enterprise_and_the_numbers_change_without_a_page_load_then_adds_a_pool() {
    browser_test("aggregator_admin_picks_an_enterprise_and_the_numbers_change_without_a_page_load_then_adds_a_pool", |b| async move {
        // Arrange
        b.login("admin@northwind.example").await;
        b.goto(LISTING).await;
        open_add_page(&b).await;
        b.mark_window().await;

        // Act: pick Acme Retail, then Initech Bank.
        b.find("#enterprise_id").await.select_by_label("Acme Retail").await.unwrap();
        b.number_box("+44 7700 900101").await;
        assert!(b.window_marker_survives().await, "choosing Acme Retail loaded no page");
        b.find("#enterprise_id").await.select_by_label("Initech Bank").await.unwrap();
        b.number_box("+1 555-030-0301").await;

        // Assert: Initech's numbers replaced Acme's in the same page.
        assert!(b.window_marker_survives().await, "choosing Initech Bank loaded no page");
        let page = b.page_text().await;
        assert!(!page.contains("+44 7700 900101"), "Acme's numbers are gone");
        assert!(page.contains("Initech Retail Banking") && page.contains("Initech Cards"), "Initech's WABAs are shown");
        assert_eq!(b.counter().await, "0 of 10 selected");

        // Act: add a pool for Initech Bank.
        b.find("#name").await.send_keys("Initech Alerts").await.unwrap();
        b.click_numbers(&["+1 555-030-0301", "+1 555-030-0302", "+1 555-030-0303"]).await;
        b.wait_for_counter("3 of 10 selected").await;
        b.click("#pool-form button[type=submit]").await;

        // Assert
        b.wait_for_text("WABA Pool \u{201c}Initech Alerts\u{201d} was added.").await;
        let row = listing_row(&b, "Initech Alerts").await;
        assert!(row.contains("Initech Bank"), "the Enterprise column names Initech Bank: {row}");
        let id = b.app.pool_id("Initech Alerts").await;
        assert_eq!(b.app.pool_enterprise(id).await, "Initech Bank");
        assert_eq!(b.app.pool_numbers(id).await, ["+1 555-030-0301", "+1 555-030-0302", "+1 555-030-0303"]);
    })
    .await;
}

#[tokio::test]
async fn the_deactivate_toggle_asks_first_no_keeps_the_pool_active_yes_deactivates_it_and_the_switch_activates_it_again() {
    browser_test("the_deactivate_toggle_asks_first_no_keeps_the_pool_active_yes_deactivates_it_and_the_switch_activates_it_again", |b| async move {
        // Arrange
        b.login("admin@acme.example").await;
        let id = b.app.pool_id("Acme Support").await;
        let switch = "button[role=switch][aria-label='Deactivate Acme Support']";
        assert_eq!(b.find(switch).await.attr("aria-checked").await.unwrap().as_deref(), Some("true"));

        // Act: the switch, then No.
        b.click(switch).await;
        b.wait_until("the dialog opens", "return document.getElementById('confirm-deactivate').open").await;
        assert_eq!(b.text("#confirm-deactivate h2").await, "Are you sure you want to deactivate it?");
        assert_eq!(b.focused().await, "button: No", "focus starts on No");
        b.click("#confirm-deactivate [data-dialog-cancel]").await;

        // Assert: closed, nothing changed.
        b.wait_until("the dialog closes", "return !document.getElementById('confirm-deactivate').open").await;
        assert!(b.app.pool_active(id).await, "No keeps the pool active");
        assert_eq!(b.find(switch).await.attr("aria-checked").await.unwrap().as_deref(), Some("true"));

        // Act: the switch, then Yes.
        b.click(switch).await;
        b.wait_until("the dialog opens again", "return document.getElementById('confirm-deactivate').open").await;
        b.click("#confirm-deactivate button[type=submit]").await;

        // Assert: deactivated, and the switch shows it.
        b.wait_for_text("WABA Pool \u{201c}Acme Support\u{201d} was deactivated.").await;
        assert!(!b.app.pool_active(id).await, "Yes deactivates the pool");
        let off = b.find("button[role=switch][aria-label='Activate Acme Support']").await;
        assert_eq!(off.attr("aria-checked").await.unwrap().as_deref(), Some("false"));
        assert!(listing_row(&b, "Acme Support").await.contains("Inactive"), "the row says Inactive in words");

        // Act: the switch of the inactive pool posts through the page's activate form.
        b.click("button[role=switch][aria-label='Activate Acme Support']").await;

        // Assert: active again, and the switch shows it.
        b.wait_for_text("WABA Pool \u{201c}Acme Support\u{201d} was activated.").await;
        assert!(b.app.pool_active(id).await, "the switch activates the pool");
        let on = b.find("button[role=switch][aria-label='Deactivate Acme Support']").await;
        assert_eq!(on.attr("aria-checked").await.unwrap().as_deref(), Some("true"));
    })
    .await;
}

#[tokio::test]
async fn the_stencil_icon_opens_the_edit_page_where_a_number_is_removed_and_update_saves() {
    browser_test("the_stencil_icon_opens_the_edit_page_where_a_number_is_removed_and_update_saves", |b| async move {
        // Arrange
        b.login("admin@acme.example").await;
        let id = b.app.pool_id("Acme Support").await;

        // Act
        b.click("a.icon-link[aria-label='Edit Acme Support']").await;
        b.wait_for_path(&format!("{LISTING}/{id}/edit")).await;
        assert_eq!(b.text("h1").await, "Edit WABA Pool \u{201c}Acme Support\u{201d}");
        assert_eq!(b.find("#name").await.prop("value").await.unwrap().as_deref(), Some("Acme Support"));
        assert_eq!(b.counter().await, "2 of 10 selected");
        b.click_numbers(&["+1 555-010-0102"]).await;
        b.wait_for_counter("1 of 10 selected").await;
        b.click("#pool-form button[type=submit]").await;

        // Assert
        b.wait_for_text("WABA Pool \u{201c}Acme Support\u{201d} was updated.").await;
        assert_eq!(b.path().await, LISTING);
        assert_eq!(b.app.pool_numbers(id).await, ["+1 555-010-0101"]);
        let row = listing_row(&b, "Acme Support").await;
        assert!(row.contains("+1 555-010-0101") && !row.contains("+1 555-010-0102"), "the row shows one number: {row}");
    })
    .await;
}

#[tokio::test]
async fn a_validation_error_appears_beside_its_field_and_the_input_is_kept() {
    browser_test("a_validation_error_appears_beside_its_field_and_the_input_is_kept", |b| async move {
        // Arrange: a name Acme already uses, in other letters' case.
        b.login("admin@acme.example").await;
        b.goto(ADD_POOL).await;
        let before = b.app.pool_count().await;
        b.mark_window().await;

        // Act
        b.find("#name").await.send_keys("acme support").await.unwrap();
        b.click_numbers(&["+44 7700 900101", "+65 8100 0101"]).await;
        b.click("#pool-form button[type=submit]").await;

        // Assert: the message sits in the name's field, tied to the input.
        let error = b.text("#name-error").await;
        assert_eq!(error, "Acme Retail already has a pool named \u{201c}acme support\u{201d}.");
        let beside =
            b.js("const e = document.getElementById('name-error'); return e.closest('.field').contains(document.getElementById('name'))").await;
        assert_eq!(beside, json!(true), "the error is in the name's field");
        let name = b.find("#name").await;
        let described = name.attr("aria-describedby").await.unwrap().unwrap_or_default();
        assert!(described.split_whitespace().any(|d| d == "name-error"), "the input points at its error: {described}");
        assert_eq!(name.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
        assert_eq!(b.text("#form-errors a[href='#name']").await, error, "the summary links to the field");
        let widths =
            b.js("return ['#form-errors', '#pool-form'].map(s => Math.round(document.querySelector(s).getBoundingClientRect().width))").await;
        assert_eq!(widths[0], widths[1], "the summary is as wide as its form: {widths}");

        // Assert: the input is kept.
        assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("acme support"));
        for display in ["+44 7700 900101", "+65 8100 0101"] {
            assert!(b.number_box(display).await.is_selected().await.unwrap(), "{display} stays chosen");
        }
        assert!(!b.number_box("+91 98100 00101").await.is_selected().await.unwrap());
        assert_eq!(b.counter().await, "2 of 10 selected");
        assert_eq!(b.app.pool_count().await, before, "nothing was stored");
        assert!(b.window_marker_survives().await, "htmx swapped the form in place");
    })
    .await;
}

#[tokio::test]
async fn an_agent_sees_no_waba_pool_menu_and_the_direct_url_shows_the_403_page() {
    browser_test("an_agent_sees_no_waba_pool_menu_and_the_direct_url_shows_the_403_page", |b| async move {
        // Act: a page an agent may use, with the menu.
        b.login("agent@acme.example").await;
        b.goto("/settings/password").await;

        // Assert: the menu offers My password, and nothing of Channels.
        let menu = b.find("nav[aria-label='Main']").await;
        let menu_text = menu.text().await.unwrap();
        assert!(menu_text.contains("My password"), "the agent's menu is there: {menu_text}");
        assert!(!menu_text.contains("WABA Pool"), "an agent's menu has no WABA Pool entry: {menu_text}");
        assert!(!b.exists("a[href^='/channels/whatsapp/pools']").await, "no link to pools anywhere on the page");

        // Act: the address typed by hand.
        b.goto(LISTING).await;

        // Assert
        assert_eq!(b.page_status().await, 403);
        assert_eq!(b.text("h1").await, "Not allowed");
        assert!(b.page_text().await.contains("Your role does not allow this page."));
        assert!(!b.exists("nav a[href='/channels/whatsapp/pools']").await);
        b.goto(ADD_POOL).await;
        assert_eq!(b.page_status().await, 403);
        assert!(!b.exists("#pool-form").await, "no form for an agent");
    })
    .await;
}

#[tokio::test]
async fn globex_admin_sees_why_no_pool_can_be_added() {
    browser_test("globex_admin_sees_why_no_pool_can_be_added", |b| async move {
        // Arrange
        b.login("admin@globex.example").await;
        b.goto(LISTING).await;

        // Act
        open_add_page(&b).await;

        // Assert
        let reason = b.text("#needs-numbers").await;
        assert!(reason.contains("Globex Health has 2 activated WhatsApp numbers; a WABA Pool needs at least 3."), "the page says why: {reason}");
        assert!(!b.exists("#pool-form").await, "no form to fill in");
        let link = b.find("#needs-numbers a[href^='/channels/whatsapp/numbers']").await;
        assert_eq!(link.text().await.unwrap(), "Go to Numbers");
    })
    .await;
}

#[tokio::test]
async fn an_aggregator_switches_enterprise_on_the_numbers_page_by_choosing_it() {
    browser_test("an_aggregator_switches_enterprise_on_the_numbers_page_by_choosing_it", |b| async move {
        b.login("admin@northwind.example").await;
        b.goto(NUMBERS).await;
        assert!(!b.find("form.filters button[type=submit]").await.is_displayed().await.unwrap(), "with JavaScript the Show button is hidden");

        b.find("#enterprise_id").await.select_by_label("Initech Bank").await.unwrap();

        let initech = b.app.enterprise_id("Initech Bank").await;
        b.wait_for_path(&format!("{NUMBERS}?enterprise_id={initech}")).await;
        b.wait_for_text("+1 555-030-0301").await;
        assert!(b.page_text().await.contains("Initech Retail Banking"));
    })
    .await;
}

#[tokio::test]
async fn back_after_choosing_an_enterprise_on_add_pool_shows_the_whole_page() {
    browser_test("back_after_choosing_an_enterprise_on_add_pool_shows_the_whole_page", |b| async move {
        b.login("admin@northwind.example").await;
        b.goto(LISTING).await;
        open_add_page(&b).await;
        b.find("#enterprise_id").await.select_by_label("Acme Retail").await.unwrap();
        b.number_box("+44 7700 900101").await;
        b.find("#enterprise_id").await.select_by_label("Initech Bank").await.unwrap();
        b.number_box("+1 555-030-0301").await;

        // htmx keeps no copies of pages (historyCacheSize 0): Back asks the server.
        b.js("history.back(); return null;").await;

        b.number_box("+44 7700 900101").await;
        let acme = b.app.enterprise_id("Acme Retail").await;
        b.wait_for_path(&format!("{ADD_POOL}?enterprise_id={acme}")).await;
        assert_eq!(b.js("return document.querySelectorAll('header.app-header').length").await, json!(1), "one header, the page's own");
        assert_eq!(b.js("return document.querySelectorAll('nav.side-nav').length").await, json!(1), "and its menu");
        assert!(b.exists("select#enterprise_id").await, "and its enterprise picker");
    })
    .await;
}

#[tokio::test]
async fn ticking_a_number_of_one_waba_sets_the_other_wabas_numbers_aside_with_the_reason() {
    browser_test("ticking_a_number_of_one_waba_sets_the_other_wabas_numbers_aside_with_the_reason", |b| async move {
        b.login("admin@northwind.example").await;
        let initech = b.app.enterprise_id("Initech Bank").await;
        b.goto(&format!("{ADD_POOL}?enterprise_id={initech}")).await;
        let cards_box = "input[name=phone_number_ids][value='{}']";
        let cards = b.app.number_id("+1 555-030-0401").await;
        let cards_box = cards_box.replace("{}", &cards.to_string());
        assert!(b.find(&cards_box).await.is_enabled().await.unwrap());

        b.click_numbers(&["+1 555-030-0301"]).await;
        b.wait_for_counter("1 of 10 selected").await;

        assert!(!b.find(&cards_box).await.is_enabled().await.unwrap(), "Initech Cards' numbers wait");
        let note = b.js("const n = [...document.querySelectorAll('[data-waba-note]')].find(n => !n.hidden); return n ? n.textContent : null").await;
        assert_eq!(note, json!("A pool's numbers come from one WABA: clear the ticks in Initech Retail Banking to choose here."));

        b.click_numbers(&["+1 555-030-0301"]).await;
        b.wait_for_counter("0 of 10 selected").await;
        assert!(b.find(&cards_box).await.is_enabled().await.unwrap(), "and come back once nothing is ticked");
    })
    .await;
}
