//! The keyboard alone: signing in, adding, editing,
//! deactivating and reactivating with Tab, Space, Enter and Escape, and a
//! dialog that keeps focus inside while it is open.

use fantoccini::key::Key;
use serde_json::json;

use crate::browser::Browser;
use crate::harness::browser_test;

use crate::app::{ADD_POOL, LISTING};

/// Focus is inside the open modal dialog.
async fn focus_in_dialog(b: &Browser) -> bool {
    b.js("const a = document.activeElement; return a !== null && a.closest('dialog[open]') !== null").await == json!(true)
}

/// Signs in with the keyboard: the email field, Tab, the password, Enter.
async fn keyboard_login(b: &Browser, email: &str) {
    b.goto("/login").await;
    b.tab_to("#email", 10).await;
    b.type_text(email).await;
    b.press(&[Key::Tab]).await;
    assert_eq!(b.focused().await, "input: Password");
    b.type_text(crate::common::PASSWORD).await;
    b.press(&[Key::Enter]).await;
    b.wait_for_path(LISTING).await;
}

#[tokio::test]
async fn the_whole_add_edit_deactivate_flow_works_with_the_keyboard_alone() {
    browser_test("the_whole_add_edit_deactivate_flow_works_with_the_keyboard_alone", |b| async move {
        keyboard_login(&b, "admin@acme.example").await;

        // Add: + Add Pool, the name, three numbers with Space, Submit with Enter.
        b.tab_to(".page-actions a[href='/channels/whatsapp/pools/new']", 30).await;
        b.press(&[Key::Enter]).await;
        b.wait_for_path(ADD_POOL).await;
        b.tab_to("#name", 30).await;
        b.type_text("Keyboard Pool").await;
        for _ in 0..3 {
            b.press(&[Key::Tab]).await;
            assert!(b.focused().await.starts_with("input:"), "Tab reaches the next number's box, not {}", b.focused().await);
            b.press(&[Key::Space]).await;
        }
        b.wait_for_counter("3 of 10 selected").await;
        b.tab_to("#pool-form button[type=submit]", 10).await;
        b.press(&[Key::Enter]).await;
        b.wait_for_text("WABA Pool \u{201c}Keyboard Pool\u{201d} was added.").await;
        let id = b.app.pool_id("Keyboard Pool").await;
        assert_eq!(b.app.pool_numbers(id).await.len(), 3);

        // Edit: the stencil link, untick the first number, Update.
        b.tab_to("a[aria-label='Edit Keyboard Pool']", 40).await;
        b.press(&[Key::Enter]).await;
        b.wait_for_path(&format!("{LISTING}/{id}/edit")).await;
        b.tab_to("input[name=phone_number_ids]:checked", 30).await;
        b.press(&[Key::Space]).await;
        b.wait_for_counter("2 of 10 selected").await;
        b.tab_to("#pool-form button[type=submit]", 10).await;
        b.press(&[Key::Enter]).await;
        b.wait_for_text("WABA Pool \u{201c}Keyboard Pool\u{201d} was updated.").await;
        assert_eq!(b.app.pool_numbers(id).await.len(), 2);

        // Deactivate: the switch with Space, Tab from No to Yes, Enter.
        b.tab_to("button[role=switch][aria-label='Deactivate Keyboard Pool']", 40).await;
        b.press(&[Key::Space]).await;
        b.wait_until("the dialog opens", "return document.getElementById('confirm-deactivate').open").await;
        assert_eq!(b.focused().await, "button: No", "focus starts on No");
        b.press(&[Key::Tab]).await;
        assert_eq!(b.focused().await, "button: Yes");
        b.press(&[Key::Enter]).await;
        b.wait_for_text("WABA Pool \u{201c}Keyboard Pool\u{201d} was deactivated.").await;
        assert!(!b.app.pool_active(id).await);
        let off = b.find("button[role=switch][aria-label='Activate Keyboard Pool']").await;
        assert_eq!(off.attr("aria-checked").await.unwrap().as_deref(), Some("false"));

        // Reactivate: no confirmation, Enter on the switch.
        b.tab_to("button[role=switch][aria-label='Activate Keyboard Pool']", 40).await;
        b.press(&[Key::Enter]).await;
        b.wait_for_text("WABA Pool \u{201c}Keyboard Pool\u{201d} was activated.").await;
        assert!(b.app.pool_active(id).await);
    })
    .await;
}

#[tokio::test]
async fn the_deactivate_dialog_traps_focus_and_closes_on_escape_keeping_the_pool_active() {
    browser_test("the_deactivate_dialog_traps_focus_and_closes_on_escape_keeping_the_pool_active", |b| async move {
        // Arrange
        keyboard_login(&b, "admin@acme.example").await;
        let id = b.app.pool_id("Acme Support").await;
        let switch = "button[role=switch][aria-label='Deactivate Acme Support']";
        b.tab_to(switch, 40).await;

        // Act: open it with Enter.
        b.press(&[Key::Enter]).await;
        b.wait_until("the dialog opens", "return document.getElementById('confirm-deactivate').open").await;
        assert_eq!(b.focused().await, "button: No", "focus starts on No");

        // Assert: Tab and Shift+Tab cycle inside the dialog.
        let mut seen = Vec::new();
        for _ in 0..5 {
            b.press(&[Key::Tab]).await;
            seen.push(b.focused().await);
            assert!(focus_in_dialog(&b).await, "Tab left the open dialog; focus went through {seen:?}");
        }
        assert!(seen.iter().any(|f| f == "button: Yes") && seen.iter().any(|f| f == "button: No"), "Tab cycles No and Yes: {seen:?}");
        for _ in 0..5 {
            b.press_shift_tab().await;
            seen.push(b.focused().await);
            assert!(focus_in_dialog(&b).await, "Shift+Tab left the open dialog; focus went through {seen:?}");
        }
        b.screenshot("the_deactivate_dialog_traps_focus_and_closes_on_escape_keeping_the_pool_active__open").await;

        // Act: Escape.
        b.press(&[Key::Escape]).await;

        // Assert: closed, focus back on the switch, the pool still active.
        b.wait_until("the dialog closes", "return !document.getElementById('confirm-deactivate').open").await;
        assert!(b.app.pool_active(id).await, "Escape keeps the pool active");
        assert_eq!(b.find(switch).await.attr("aria-checked").await.unwrap().as_deref(), Some("true"));
        assert_eq!(b.focused().await, "button: Deactivate Acme Support", "focus returns to the switch");
        assert_eq!(b.path().await, LISTING, "no page was submitted");
    })
    .await;
}
