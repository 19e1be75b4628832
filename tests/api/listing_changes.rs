//! The pool listing is served from memory while nothing it shows has
//! changed: every change to what it shows appears on the next request,
//! whoever makes it (the portal, the database itself, another process),
//! and the writes of sending leave it valid.

use diesel::prelude::*;
use wabapool::db::schema::{enterprises, numbers, pool_members, pools, wabas};

use crate::helpers::{LISTING, TestApp, spawn_app, texts};

async fn listed(app: &TestApp, css: &str) -> Vec<String> {
    texts(&app.get_html(LISTING).await, css)
}

async fn stamp(app: &TestApp) -> i64 {
    app.with_db(|c| wabapool::store::stamps::listing(c).unwrap()).await
}

#[tokio::test]
async fn every_change_to_what_a_row_shows_appears_on_the_next_request() {
    // Arrange: the listing served once, so it is kept.
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    assert_eq!(listed(&app, "td[data-label='Pool name']").await, vec!["Acme Support"]);
    assert_eq!(listed(&app, "td[data-label='Pool name']").await, vec!["Acme Support"], "served again from memory");

    // Act and assert: a number's status, written straight to the database.
    app.set_number_status("+1 555-010-0102", "deactivated").await;
    assert_eq!(listed(&app, "td[data-label=Numbers] li").await, vec!["+1 555-010-0101", "+1 555-010-0102 Deactivated"]);

    // The WABA suspended by Meta.
    app.with_db(|c| diesel::update(wabas::table).set(wabas::status.eq("suspended")).execute(c).unwrap()).await;
    assert!(listed(&app, "td[data-label=Health]").await[0].contains("WABA suspended by Meta"));
    app.with_db(|c| diesel::update(wabas::table).set(wabas::status.eq("active")).execute(c).unwrap()).await;

    // A member removed behind the portal's back.
    let removed = app.number_id("+1 555-010-0102").await;
    app.with_db(move |c| diesel::delete(pool_members::table.filter(pool_members::number_id.eq(removed))).execute(c).unwrap()).await;
    assert_eq!(listed(&app, "td[data-label=Numbers] li").await, vec!["+1 555-010-0101"]);

    // The pool renamed in the database.
    app.with_db(move |c| diesel::update(pools::table.find(id)).set(pools::name.eq("Acme Care")).execute(c).unwrap()).await;
    assert_eq!(listed(&app, "td[data-label='Pool name']").await, vec!["Acme Care"]);

    // A number's display, as a sync from Meta writes it.
    app.with_db(|c| {
        diesel::update(numbers::table.filter(numbers::display_phone_number.eq("+1 555-010-0101")))
            .set(numbers::display_phone_number.eq("+1 555-010-0199"))
            .execute(c)
            .unwrap()
    })
    .await;
    assert_eq!(listed(&app, "td[data-label=Numbers] li").await, vec!["+1 555-010-0199"]);

    // Deactivated through the portal: its switch turns off.
    assert_eq!(app.post_form(&format!("{LISTING}/{id}/deactivate"), &[("confirm", "yes")]).await.status().as_u16(), 303);
    let page = app.get_html(LISTING).await;
    assert_eq!(crate::helpers::attrs(&page, "button[role=switch]", "aria-checked"), vec!["false"]);
}

#[tokio::test]
async fn an_aggregator_sees_an_enterprise_renamed_and_a_new_pool_of_it_at_once() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let before = listed(&app, "td[data-label=Enterprise]").await;
    assert!(before.iter().all(|name| name != "Initech Group"));

    app.with_db(|c| {
        diesel::update(enterprises::table.filter(enterprises::name.eq("Initech Bank"))).set(enterprises::name.eq("Initech Group")).execute(c).unwrap()
    })
    .await;
    let page = app.get_html(LISTING).await;
    assert!(texts(&page, "select#filter-enterprise option").contains(&"Initech Group".to_owned()), "the picker has the new name");

    let initech = app.enterprise_id("Initech Group").await;
    app.add_pool(Some(initech), "Initech Cards", &["+1 555-030-0401"]).await;
    let rows = listed(&app, "td[data-label='Pool name']").await;
    assert!(rows.contains(&"Initech Cards".to_owned()), "{rows:?}");
    assert!(listed(&app, "td[data-label=Enterprise]").await.contains(&"Initech Group".to_owned()));
}

#[tokio::test]
async fn what_a_send_writes_leaves_the_stamp_where_it_was_and_a_listed_column_moves_it() {
    // Arrange
    let app = spawn_app().await;
    let id = app.pool_id("Acme Support").await;
    let number = app.number_id("+1 555-010-0101").await;
    let before = stamp(&app).await;

    // Act: every write of the send path: the turn, the member's count,
    // last use, weight and cool-down, the WABA's rotation, the sticky sender.
    app.with_db(move |c| {
        use wabapool::store::routing as send;
        let now = chrono::Utc::now().naive_utc();
        send::take_turn(c, id, 0, 1).unwrap();
        assert!(send::reserve_send(c, id, number, now.and_utc().timestamp(), 80).unwrap());
        send::record_success(c, id, number).unwrap();
        send::set_current_weight(c, id, number, 3).unwrap();
        send::cool_down(c, id, number, now).unwrap();
        let waba: i64 = numbers::table.find(number).select(numbers::waba_id).first(c).unwrap();
        send::waba_out_of_rotation(c, waba, now).unwrap();
        send::set_sticky(c, id, "447700900001", number).unwrap();
    })
    .await;
    let after_sends = stamp(&app).await;
    app.with_db(|c| diesel::update(numbers::table).set(numbers::quality_rating.eq("YELLOW")).execute(c).unwrap()).await;
    let after_quality = stamp(&app).await;

    // Assert
    assert_eq!(after_sends, before, "sending never empties the listing cache");
    assert!(after_quality > after_sends, "a quality rating is listed: it moves the stamp");
}
