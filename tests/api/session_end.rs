//! Sign-out ends the session on the server: every session has a row,
//! checked on each request on every instance, so a copy of the cookie taken
//! before signing out, a password change or a disable is refused, and the
//! idle and absolute limits hold for the row whatever the cookie says.

use diesel::prelude::*;
use wabapool::config::Settings;
use wabapool::db::schema::{sessions, users};
use wabapool::startup::Application;

use crate::helpers::{LISTING, NUMBERS, PASSWORD, SETTINGS, TestApp, csrf_of, session_cookie, spawn_app, spawn_app_with, status};

/// Signs the app's browser in as `email` and returns a copy of its session
/// cookie with the CSRF token the copy's pages carry: what an attacker
/// takes from a shared machine before the user signs out.
async fn signed_in_with_a_copy(app: &TestApp, email: &str) -> (String, String) {
    let response = app.post_form("/login", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(status(&response), 303);
    let cookie = session_cookie(&response).expect("sign-in sets the session cookie");
    let page = app.get_with_cookie(SETTINGS, &cookie).await;
    assert_eq!(status(&page), 200, "the copy works while the session lasts");
    let token = csrf_of(&page.text().await.unwrap());
    (cookie, token)
}

/// A GET with only the copied cookie, from a client that keeps none of its own.
async fn get_with_cookie(address: &str, path: &str, cookie: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{address}{path}"))
        .header("Cookie", format!("wabapool_session={cookie}"))
        .send()
        .await
        .unwrap()
}

/// Posts a form with only the copied cookie and its token.
async fn post_with_cookie(address: &str, path: &str, cookie: &str, token: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{address}{path}"))
        .header("Cookie", format!("wabapool_session={cookie}"))
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap()
}

fn is_sent_to_login(response: &reqwest::Response) -> bool {
    status(response) == 303 && response.headers()["location"].to_str().unwrap().starts_with("/login")
}

/// The copy is refused a page and a pool change, and the pool is unchanged.
async fn assert_the_copy_is_refused(app: &TestApp, address: &str, cookie: &str, token: &str) {
    let pool = app.pool_id("Acme Support").await;
    let before = app.snapshot().await;

    assert!(is_sent_to_login(&get_with_cookie(address, LISTING, cookie).await), "the listing");
    assert!(is_sent_to_login(&get_with_cookie(address, NUMBERS, cookie).await), "another page");
    let change = post_with_cookie(address, &format!("/channels/whatsapp/pools/{pool}/deactivate"), cookie, token).await;
    assert!(is_sent_to_login(&change), "a pool change");
    assert_eq!(app.snapshot().await, before, "nothing changed");
    assert!(app.pool_state(pool).await.active);
}

#[tokio::test]
async fn a_cookie_copied_before_sign_out_is_refused_after_it() {
    // Arrange
    let app = spawn_app().await;
    let (cookie, token) = signed_in_with_a_copy(&app, "admin@acme.example").await;

    // Act
    let signed_out = app.post_form("/logout", &[]).await;

    // Assert
    assert!(is_sent_to_login(&signed_out));
    assert_the_copy_is_refused(&app, &app.address, &cookie, &token).await;
    let ended: Vec<Option<chrono::NaiveDateTime>> = app.with_db(|c| sessions::table.select(sessions::ended_at).load(c).unwrap()).await;
    assert_eq!(ended.len(), 1);
    assert!(ended[0].is_some(), "the session's row is ended");
}

#[tokio::test]
async fn signing_out_ends_only_that_session() {
    // Arrange
    let app = spawn_app().await;
    let (cookie, _) = signed_in_with_a_copy(&app, "admin@acme.example").await;
    let other = app.new_client_logged_in("admin@acme.example").await;

    // Act
    other.post_form("/logout", &[]).await;

    // Assert
    assert_eq!(status(&app.get_with_cookie(LISTING, &cookie).await), 200);
    assert!(is_sent_to_login(&other.get(LISTING).await));
}

#[tokio::test]
async fn a_copy_is_refused_after_a_password_change_while_the_session_that_changed_it_goes_on() {
    // Arrange
    let app = spawn_app().await;
    let copy_browser = app.new_browser();
    let (cookie, token) = signed_in_with_a_copy(&copy_browser, "admin@acme.example").await;
    app.login("admin@acme.example").await;

    // Act
    let changed = app.post_form("/settings/password", &[("current_password", PASSWORD), ("new_password", "a much longer passphrase 42")]).await;

    // Assert
    assert_eq!(status(&changed), 303);
    assert_eq!(status(&app.get(LISTING).await), 200, "the session that changed it goes on");
    assert_the_copy_is_refused(&app, &app.address, &cookie, &token).await;
    let live: i64 = app.with_db(|c| sessions::table.filter(sessions::ended_at.is_null()).count().get_result(c).unwrap()).await;
    assert_eq!(live, 1, "only the session that changed the password is live");
}

#[tokio::test]
async fn a_copy_is_refused_once_its_user_is_disabled() {
    // Arrange
    let app = spawn_app().await;
    let agent = app.new_browser();
    let (cookie, token) = signed_in_with_a_copy(&agent, "agent@acme.example").await;
    app.login("super@acme.example").await;
    let agent_id: i64 = app.with_db(|c| users::table.filter(users::email.eq("agent@acme.example")).select(users::id).get_result(c).unwrap()).await;

    // Act
    let disabled = app.post_form(&format!("/settings/users/{agent_id}/disable"), &[]).await;

    // Assert
    assert_eq!(status(&disabled), 303);
    assert!(is_sent_to_login(&agent.get_with_cookie(SETTINGS, &cookie).await));
    let change = post_with_cookie(&app.address, SETTINGS, &cookie, &token).await;
    assert!(is_sent_to_login(&change));
    let live: i64 = app
        .with_db(move |c| sessions::table.filter(sessions::user_id.eq(agent_id)).filter(sessions::ended_at.is_null()).count().get_result(c).unwrap())
        .await;
    assert_eq!(live, 0, "the agent's rows are ended");
}

/// The app and a second instance on its database, as a deployment runs
/// them: one database, one session key.
async fn app_and_second_instance(customise: impl Fn(&mut Settings) + Clone) -> (TestApp, String) {
    let mut database_url = String::new();
    let shared = customise.clone();
    let app = spawn_app_with(|s| {
        s.session_key = secrecy::SecretSlice::from(vec![42u8; 64]);
        shared(s);
        database_url = s.database_url.clone();
    })
    .await;
    let mut settings = Settings::for_database(&database_url);
    settings.session_key = secrecy::SecretSlice::from(vec![42u8; 64]);
    customise(&mut settings);
    let second = Application::build(settings).await.expect("second instance builds");
    let address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    (app, address)
}

#[tokio::test]
async fn a_cookie_copied_before_sign_out_is_refused_by_every_instance() {
    // Arrange: the copy is used on the second instance, which keeps the session.
    let (app, second) = app_and_second_instance(|_| {}).await;
    let (cookie, token) = signed_in_with_a_copy(&app, "admin@acme.example").await;
    for _ in 0..2 {
        assert_eq!(status(&get_with_cookie(&second, LISTING, &cookie).await), 200);
    }

    // Act: signed out through the first.
    app.post_form("/logout", &[]).await;

    // Assert
    assert_the_copy_is_refused(&app, &second, &cookie, &token).await;
    assert_the_copy_is_refused(&app, &app.address, &cookie, &token).await;
}

#[tokio::test]
async fn a_copy_kept_busy_is_refused_once_its_row_is_idle_past_the_limit() {
    // Arrange: the second instance has not seen the session; its row was
    // last seen longer ago than the idle limit, though the copy's own
    // cookie was refreshed a moment ago.
    let (app, second) = app_and_second_instance(|_| {}).await;
    let (cookie, token) = signed_in_with_a_copy(&app, "admin@acme.example").await;
    let idle_since = wabapool::store::now() - chrono::Duration::minutes(31);
    app.with_db(move |c| diesel::update(sessions::table).set(sessions::last_seen_at.eq(idle_since)).execute(c).unwrap()).await;

    // Act + Assert
    assert_the_copy_is_refused(&app, &second, &cookie, &token).await;
}

#[tokio::test]
async fn a_copy_is_refused_once_its_row_is_older_than_the_absolute_limit() {
    let (app, second) = app_and_second_instance(|_| {}).await;
    let (cookie, token) = signed_in_with_a_copy(&app, "admin@acme.example").await;
    let long_ago = wabapool::store::now() - chrono::Duration::hours(13);
    app.with_db(move |c| diesel::update(sessions::table).set(sessions::created_at.eq(long_ago)).execute(c).unwrap()).await;

    assert_the_copy_is_refused(&app, &second, &cookie, &token).await;
}

#[tokio::test]
async fn a_session_in_use_is_seen_by_its_row_at_most_about_once_a_minute() {
    // Arrange
    let app = spawn_app().await;
    let (cookie, _) = signed_in_with_a_copy(&app, "admin@acme.example").await;
    let seen = || app.with_db(|c| sessions::table.select(sessions::last_seen_at).get_result::<chrono::NaiveDateTime>(c).unwrap());
    let first = seen().await;
    let before = app.with_db(|c| wabapool::store::stamps::session(c).unwrap()).await;

    // Act
    for _ in 0..5 {
        assert_eq!(status(&app.get_with_cookie(LISTING, &cookie).await), 200);
        assert_eq!(status(&app.get_with_cookie(NUMBERS, &cookie).await), 200);
    }

    // Assert: not written on every request, and never moving the stamp.
    assert_eq!(seen().await, first);
    assert_eq!(app.with_db(|c| wabapool::store::stamps::session(c).unwrap()).await, before);
}

#[tokio::test]
async fn under_a_short_idle_limit_a_busy_session_is_seen_and_goes_on() {
    // Arrange: an idle limit of 4 s, so the row is written every 2 s.
    let app = spawn_app_with(|s| s.session_idle = std::time::Duration::from_secs(4)).await;
    app.login("admin@acme.example").await;
    let seen = || app.with_db(|c| sessions::table.select(sessions::last_seen_at).get_result::<chrono::NaiveDateTime>(c).unwrap());
    let first = seen().await;

    // Act: busy for longer than the idle limit.
    for _ in 0..6 {
        assert_eq!(status(&app.get(LISTING).await), 200);
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    }

    // Assert
    assert!(seen().await > first);
    assert_eq!(status(&app.get(NUMBERS).await), 200);
}
