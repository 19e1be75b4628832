//! A signed-in user is kept in memory while nothing a session is checked
//! against has changed: every such change takes effect on the next
//! request, whoever makes it (the portal, the database itself, another
//! process), and signing in or browsing leaves the kept users valid.

use diesel::prelude::*;
use wabapool::db::schema::{aggregators, enterprises, users};

use crate::helpers::{LISTING, NUMBERS, TestApp, spawn_app, spawn_app_signed_in, status, texts};

async fn session_stamp(app: &TestApp) -> i64 {
    app.with_db(|c| wabapool::store::stamps::session(c).unwrap()).await
}

async fn header_organisation(app: &TestApp, path: &str) -> String {
    texts(&app.get_html(path).await, "header .org").join(" ")
}

/// Signs in and visits the listing and the Numbers page twice each, so the
/// user is kept and later requests are answered from memory.
async fn signed_in_and_kept(email: &str) -> TestApp {
    let app = spawn_app_signed_in(email).await;
    for _ in 0..2 {
        assert_eq!(status(&app.get(LISTING).await), 200);
        assert_eq!(status(&app.get(NUMBERS).await), 200);
    }
    app
}

#[tokio::test]
async fn a_user_disabled_in_the_database_is_signed_out_on_their_next_request() {
    // Arrange
    let app = signed_in_and_kept("admin@acme.example").await;

    // Act: disabled behind the portal's back.
    app.with_db(|c| diesel::update(users::table.filter(users::email.eq("admin@acme.example"))).set(users::disabled.eq(true)).execute(c).unwrap())
        .await;

    // Assert: the listing (answered without the blocking pool) and any other page.
    let listing = app.get(LISTING).await;
    assert_eq!(status(&listing), 303);
    assert!(listing.headers()["location"].to_str().unwrap().starts_with("/login"));
    assert_eq!(status(&app.get(NUMBERS).await), 303);
}

#[tokio::test]
async fn sessions_ended_in_the_database_end_on_the_next_request() {
    let app = signed_in_and_kept("admin@acme.example").await;

    app.with_db(|c| {
        diesel::update(users::table.filter(users::email.eq("admin@acme.example")))
            .set(users::session_epoch.eq(users::session_epoch + 1_i64))
            .execute(c)
            .unwrap()
    })
    .await;

    assert_eq!(status(&app.get(NUMBERS).await), 303);
    assert_eq!(status(&app.get(LISTING).await), 303);
}

#[tokio::test]
async fn an_admin_demoted_to_agent_in_the_database_is_refused_the_pool_pages_at_once() {
    let app = signed_in_and_kept("admin@acme.example").await;

    app.with_db(|c| diesel::update(users::table.filter(users::email.eq("admin@acme.example"))).set(users::role.eq("agent")).execute(c).unwrap())
        .await;

    assert_eq!(status(&app.get(LISTING).await), 403);
    assert_eq!(status(&app.get(NUMBERS).await), 403);
}

#[tokio::test]
async fn an_enterprise_renamed_in_the_database_shows_in_the_header_at_once() {
    let app = signed_in_and_kept("admin@acme.example").await;
    assert!(header_organisation(&app, LISTING).await.starts_with("Acme Retail"));

    app.with_db(|c| {
        diesel::update(enterprises::table.filter(enterprises::name.eq("Acme Retail"))).set(enterprises::name.eq("Acme Stores")).execute(c).unwrap()
    })
    .await;

    assert!(header_organisation(&app, LISTING).await.starts_with("Acme Stores"));
    assert!(header_organisation(&app, NUMBERS).await.starts_with("Acme Stores"));
}

#[tokio::test]
async fn an_aggregator_renamed_in_the_database_shows_in_its_users_header_at_once() {
    let app = signed_in_and_kept("admin@northwind.example").await;
    assert!(header_organisation(&app, LISTING).await.starts_with("Northwind Partners"));

    app.with_db(|c| {
        diesel::update(aggregators::table.filter(aggregators::name.eq("Northwind Partners")))
            .set(aggregators::name.eq("Northwind Resellers"))
            .execute(c)
            .unwrap()
    })
    .await;

    assert!(header_organisation(&app, LISTING).await.starts_with("Northwind Resellers"));
    assert!(header_organisation(&app, NUMBERS).await.starts_with("Northwind Resellers"));
}

#[tokio::test]
async fn signing_in_and_browsing_leave_the_session_stamp_and_a_user_change_moves_it() {
    // Arrange
    let app = spawn_app().await;
    let before = session_stamp(&app).await;

    // Act: sign-ins (a success and a failure) and pages.
    app.login("admin@acme.example").await;
    app.new_browser().post_form("/login", &[("email", "admin@acme.example"), ("password", "not the password")]).await;
    app.get(LISTING).await;
    app.get(NUMBERS).await;

    // Assert
    assert_eq!(session_stamp(&app).await, before, "signing in writes nothing a session is checked against");
    app.with_db(|c| diesel::update(users::table.filter(users::email.eq("agent@acme.example"))).set(users::disabled.eq(true)).execute(c).unwrap())
        .await;
    assert!(session_stamp(&app).await > before);
}
