//! How the portal looks: the listing and the Add page at
//! 1280 and 375 px wide for a person to review, nothing scrolling sideways
//! on a phone, a visible focus ring, badges that carry words.

use serde_json::{Value as Json, json};

use crate::browser::Browser;
use crate::harness::{DESKTOP, browser_test};

use crate::app::{ADD_POOL, LISTING, NUMBERS};
const PHONE: (u32, u32) = (375, 812);

/// How far the page is wider than the viewport, with the widest culprits.
async fn sideways_overflow(b: &Browser) -> Json {
    let script = r#"
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 0.5)
            .slice(0, 8)
            .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') + ' right=' + Math.round(e.getBoundingClientRect().right));
        return { scrollWidth: document.documentElement.scrollWidth, clientWidth: width, wide };
    "#;
    b.js(script).await
}

async fn assert_no_sideways_scroll(b: &Browser, screen: &str) {
    b.wait_for_load().await;
    let report = sideways_overflow(b).await;
    let scroll = report["scrollWidth"].as_u64().unwrap_or(u64::MAX);
    assert!(scroll <= u64::from(PHONE.0), "{screen} scrolls sideways at {} px: {report}", PHONE.0);
}

/// Photographs the listing and the Add page at one width.
async fn photograph(b: &Browser, test: &str, who: &str, width: u32, add_page: &str) {
    b.goto(LISTING).await;
    b.screenshot(&format!("{test}__{who}_listing_{width}")).await;
    b.goto(add_page).await;
    b.screenshot(&format!("{test}__{who}_add_page_{width}")).await;
}

#[tokio::test]
async fn the_listing_and_the_add_page_are_photographed_at_1280_and_375_pixels_wide() {
    const TEST: &str = "the_listing_and_the_add_page_are_photographed_at_1280_and_375_pixels_wide";
    browser_test(TEST, |b| async move {
        b.login("admin@acme.example").await;
        for (width, height) in [DESKTOP, PHONE] {
            b.set_viewport_width(width, height).await;
            photograph(&b, TEST, "enterprise", width, ADD_POOL).await;
        }
        b.sign_out().await;
        b.set_viewport_width(DESKTOP.0, DESKTOP.1).await;
        b.login("admin@northwind.example").await;
        let initech = b.app.enterprise_id("Initech Bank").await;
        let add_page = format!("{ADD_POOL}?enterprise_id={initech}");
        for (width, height) in [DESKTOP, PHONE] {
            b.set_viewport_width(width, height).await;
            photograph(&b, TEST, "aggregator", width, &add_page).await;
        }
        // The final screen: the aggregator's listing on a phone.
        b.goto(LISTING).await;
    })
    .await;
}

#[tokio::test]
async fn nothing_scrolls_sideways_at_375_pixels_wide() {
    browser_test("nothing_scrolls_sideways_at_375_pixels_wide", |b| async move {
        b.set_viewport_width(PHONE.0, PHONE.1).await;
        b.goto("/login").await;
        assert_no_sideways_scroll(&b, "the login page").await;

        b.login("admin@acme.example").await;
        let id = b.app.pool_id("Acme Support").await;
        for (path, screen) in [
            (LISTING.to_owned(), "the listing"),
            (ADD_POOL.to_owned(), "the Add page"),
            (format!("{LISTING}/{id}/edit"), "the Edit page"),
            (format!("{LISTING}/{id}"), "the detail page"),
            (format!("{LISTING}/{id}/deactivate"), "the confirmation page"),
            (NUMBERS.to_owned(), "the Numbers page"),
        ] {
            b.goto(&path).await;
            assert_no_sideways_scroll(&b, screen).await;
        }
        b.goto(ADD_POOL).await;
        b.find("#name").await.send_keys("Acme Support").await.unwrap();
        b.click("#pool-form button[type=submit]").await;
        b.find("#name-error").await;
        assert_no_sideways_scroll(&b, "the Add page with errors").await;

        b.client.delete_all_cookies().await.expect("cookies cleared");
        b.login("admin@northwind.example").await;
        b.goto(LISTING).await;
        assert_no_sideways_scroll(&b, "the aggregator's listing").await;
        let initech = b.app.enterprise_id("Initech Bank").await;
        b.goto(&format!("{ADD_POOL}?enterprise_id={initech}")).await;
        assert_no_sideways_scroll(&b, "the aggregator's Add page").await;

        b.client.delete_all_cookies().await.expect("cookies cleared");
        b.login("agent@acme.example").await;
        b.goto(LISTING).await;
        assert_no_sideways_scroll(&b, "the 403 page").await;

        b.client.delete_all_cookies().await.expect("cookies cleared");
        b.login("admin@acme.example").await;
        b.goto(LISTING).await;
    })
    .await;
}

#[tokio::test]
async fn a_button_focused_with_the_keyboard_shows_a_focus_ring() {
    browser_test("a_button_focused_with_the_keyboard_shows_a_focus_ring", |b| async move {
        b.login("admin@acme.example").await;
        b.goto(LISTING).await;
        let ring = r#"
            const s = getComputedStyle(document.activeElement);
            return { outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth, outlineColor: s.outlineColor, boxShadow: s.boxShadow };
        "#;
        for target in [
            ".page-actions a.button",
            "form.filters button[type=submit]",
            "button[role=switch][aria-label='Deactivate Acme Support']",
            "a[aria-label='Edit Acme Support']",
        ] {
            b.tab_to(target, 40).await;
            let style = b.js(ring).await;
            assert_ne!(style["outlineStyle"], json!("none"), "{target} focused with Tab shows an outline: {style}");
            assert_ne!(style["outlineWidth"], json!("0px"), "{target}'s outline has a width: {style}");
        }
        // The final screen shows the ring on the stencil link.
    })
    .await;
}

#[tokio::test]
async fn status_and_quality_badges_carry_words_as_well_as_colour() {
    browser_test("status_and_quality_badges_carry_words_as_well_as_colour", |b| async move {
        b.login("admin@northwind.example").await;
        let acme = b.app.enterprise_id("Acme Retail").await;
        let words = r#"return [...document.querySelectorAll('.badge')].map(e => e.innerText.trim())"#;
        for path in [
            LISTING.to_owned(),
            format!("{ADD_POOL}?enterprise_id={acme}"),
            format!("{NUMBERS}?enterprise_id={acme}"),
            format!("{LISTING}/{}", b.app.pool_id("Acme Support").await),
        ] {
            b.goto(&path).await;
            let badges = b.js(words).await;
            let badges: Vec<&str> = badges.as_array().into_iter().flatten().filter_map(Json::as_str).collect();
            assert!(!badges.is_empty(), "{path} shows badges");
            assert!(badges.iter().all(|w| !w.is_empty()), "every badge on {path} has words: {badges:?}");
        }
        let quality = b.js(words).await.to_string();
        assert!(quality.contains("GREEN"), "quality is written out: {quality}");
    })
    .await;
}

/// The words of table cells that the layout broke across lines, each with
/// its page; the values a page lets wrap anywhere (`.wraps-anywhere`)
/// excepted.
async fn words_broken_in_tables(b: &Browser) -> Json {
    let script = r#"
        const broken = [];
        for (const cell of document.querySelectorAll('table td, table th')) {
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                if (node.parentElement.closest('.wraps-anywhere, .visually-hidden')) continue;
                for (const word of node.data.matchAll(/\S+/g)) {
                    const range = document.createRange();
                    range.setStart(node, word.index);
                    range.setEnd(node, word.index + word[0].length);
                    const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
                    if (lines.size > 1) broken.push(word[0]);
                }
            }
        }
        return broken;
    "#;
    b.js(script).await
}

#[tokio::test]
async fn no_table_breaks_a_word_at_1280_pixels_wide() {
    const TEST: &str = "no_table_breaks_a_word_at_1280_pixels_wide";
    browser_test(TEST, |b| async move {
        b.set_viewport_width(DESKTOP.0, DESKTOP.1).await;
        let initech = b.app.enterprise_id("Initech Bank").await;
        let initech_numbers = format!("{NUMBERS}?enterprise_id={initech}");
        let acme_support = format!("{LISTING}/{}", b.app.pool_id("Acme Support").await);
        for (who, user, numbers) in
            [("enterprise", "super@acme.example", NUMBERS), ("aggregator", "super@northwind.example", initech_numbers.as_str())]
        {
            b.login(user).await;
            for (path, screen) in [
                (LISTING, "listing"),
                (numbers, "numbers"),
                ("/audit", "audit_log"),
                ("/settings/users", "users"),
                ("/channels/whatsapp/api-keys", "api_keys"),
                (acme_support.as_str(), "pool_page"),
            ] {
                b.goto(path).await;
                b.wait_for_load().await;
                b.screenshot(&format!("{TEST}__{who}_{screen}")).await;
                let broken = words_broken_in_tables(&b).await;
                assert_eq!(broken, json!([]), "{user}: {path} breaks these words across lines at {} px", DESKTOP.0);
            }
            b.sign_out().await;
        }
    })
    .await;
}

#[tokio::test]
async fn on_a_phone_the_menu_folds_behind_a_button_and_filter_labels_stay_with_their_fields() {
    const TEST: &str = "on_a_phone_the_menu_folds_behind_a_button_and_filter_labels_stay_with_their_fields";
    browser_test(TEST, |b| async move {
        b.login("super@northwind.example").await;
        b.set_viewport_width(PHONE.0, PHONE.1).await;
        b.goto(LISTING).await;
        b.wait_for_load().await;
        b.screenshot(&format!("{TEST}__folded")).await;
        let menu_shown = "return document.getElementById('main-nav').offsetParent !== null";
        assert_eq!(b.js(menu_shown).await, json!(false), "the menu starts folded");
        let heading_top = b.js("return Math.round(document.querySelector('main h1').getBoundingClientRect().top)").await;
        assert!(heading_top.as_i64().is_some_and(|top| top < 300), "the first screen shows the page: h1 at {heading_top}");

        b.click("label.menu-button").await;
        assert_eq!(b.js(menu_shown).await, json!(true), "the button opens it");
        b.screenshot(&format!("{TEST}__open")).await;
        b.click("nav.side-nav a[href='/audit']").await;
        b.wait_for_path("/audit").await;

        let apart = b
            .js(r#"
                return [...document.querySelectorAll('.filter-pair')].map(pair => {
                    const label = pair.querySelector('label').getBoundingClientRect();
                    const field = pair.querySelector('input, select').getBoundingClientRect();
                    return Math.abs((label.top + label.bottom) / 2 - (field.top + field.bottom) / 2) < field.height / 2 ? null : pair.querySelector('label').textContent;
                }).filter(Boolean);
            "#)
            .await;
        assert_eq!(apart, json!([]), "each filter label sits on its field's line");
        b.screenshot(&format!("{TEST}__audit_filters")).await;

        let initech = b.app.enterprise_id("Initech Bank").await;
        b.goto(&format!("{NUMBERS}?enterprise_id={initech}")).await;
        b.wait_for_load().await;
        let height = b.js("return document.documentElement.scrollHeight").await;
        b.screenshot(&format!("{TEST}__numbers_initech")).await;
        // 6,896 px with a line per label and another per value; the link
        // form and the webhook settings below the numbers come with it.
        assert!(height.as_u64().is_some_and(|h| h < 5_000), "Initech's 13 numbers on a phone: {height} px");

        b.set_viewport_width(DESKTOP.0, DESKTOP.1).await;
        assert_eq!(b.js(menu_shown).await, json!(true), "on a wide screen the menu is always there");
        assert_eq!(b.js("return document.querySelector('label.menu-button').offsetParent === null").await, json!(true));
    })
    .await;
}

#[tokio::test]
async fn checkboxes_wear_the_accent_colour_and_numeric_columns_align_right() {
    browser_test("checkboxes_wear_the_accent_colour_and_numeric_columns_align_right", |b| async move {
        b.login("admin@acme.example").await;
        b.goto(ADD_POOL).await;
        let accent = b.js("return getComputedStyle(document.querySelector('input[name=phone_number_ids]')).accentColor").await;
        assert_eq!(accent, json!("rgb(11, 110, 105)"), "the accent colour, not the browser's blue");

        let id = b.app.pool_id("Acme Support").await;
        b.goto(&format!("{LISTING}/{id}")).await;
        let aligned = b.js("return [...document.querySelectorAll('.routing-table th.numeric, .routing-table td.numeric')].map(e => getComputedStyle(e).textAlign)").await;
        let aligned = aligned.as_array().cloned().unwrap_or_default();
        assert!(!aligned.is_empty() && aligned.iter().all(|a| a == "right"), "numeric headers and cells align right: {aligned:?}");
    })
    .await;
}
