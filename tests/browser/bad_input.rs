//! Bad input a browser produces on its own: a double click on Submit and
//! the back button after a submit.

use crate::browser::Browser;
use crate::harness::browser_test;

use crate::app::{ADD_POOL, LISTING};

/// Signs in as Acme's admin and fills the Add page (name and three numbers).
async fn acme_add_page_filled(b: &Browser, name: &str) {
    b.login("admin@acme.example").await;
    b.goto(ADD_POOL).await;
    b.find("#name").await.send_keys(name).await.unwrap();
    b.click_numbers(&["+44 7700 900101", "+91 98100 00101", "+65 8100 0101"]).await;
    b.wait_for_counter("3 of 10 selected").await;
}

#[tokio::test]
async fn double_clicking_submit_creates_one_pool_not_two() {
    browser_test("double_clicking_submit_creates_one_pool_not_two", |b| async move {
        // Arrange
        acme_add_page_filled(&b, "Acme Double").await;
        let before = b.app.pool_count().await;

        // Act
        b.double_click("#pool-form button[type=submit]").await;

        // Assert: one pool, and the user lands on the listing with it.
        b.wait_for_text("WABA Pool \u{201c}Acme Double\u{201d} was added.").await;
        // Let a second request, had one been sent, finish first.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(b.app.pool_count().await, before + 1, "one pool was added");
        assert_eq!(b.app.pools_named("Acme Double").await, 1);
        assert_eq!(b.path().await, LISTING);
        assert!(!b.exists(".error-summary").await, "no error follows the double click");
    })
    .await;
}

#[tokio::test]
async fn the_back_button_after_a_submit_does_not_resubmit() {
    browser_test("the_back_button_after_a_submit_does_not_resubmit", |b| async move {
        // Arrange: a pool added through the form.
        acme_add_page_filled(&b, "Acme Back").await;
        let before = b.app.pool_count().await;
        b.click("#pool-form button[type=submit]").await;
        b.wait_for_text("WABA Pool \u{201c}Acme Back\u{201d} was added.").await;
        assert_eq!(b.app.pool_count().await, before + 1);

        // Act: back, then forward and reload the listing.
        b.client.back().await.expect("back");
        b.wait_for_path(ADD_POOL).await;

        // Assert: the Add page again (not a resubmission prompt), nothing added.
        assert_eq!(b.text("h1").await, "Add WABA Pool");
        assert_eq!(b.app.pool_count().await, before + 1, "going back posted nothing");
        b.client.forward().await.expect("forward");
        b.wait_for_path(LISTING).await;
        b.client.refresh().await.expect("reload");
        b.wait_for_load().await;
        assert_eq!(b.app.pool_count().await, before + 1, "going forward and reloading posted nothing");
        assert_eq!(b.app.pools_named("Acme Back").await, 1);
        // Back once more: the Add page, whose form still needs a deliberate submit.
        b.client.back().await.expect("back");
        b.wait_for_path(ADD_POOL).await;
        assert_eq!(b.app.pool_count().await, before + 1);
    })
    .await;
}
