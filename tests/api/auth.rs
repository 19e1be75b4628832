//! Signing in and out: where sign-in leads, what a failure says, the
//! session cookie's life and the audit of every attempt.

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use wabapool::store::users;

use crate::helpers::{LISTING, PASSWORD, TestApp, attrs, session_cookie, spawn_app, status, texts};

#[tokio::test]
async fn signing_in_leads_to_the_waba_pool_listing() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;

    // Assert
    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], LISTING);
    let listing = app.get(LISTING).await;
    assert_eq!(status(&listing), 200);
    let page = listing.text().await.unwrap();
    assert!(page.contains("admin@acme.example"), "the header names the user");
    assert_eq!(texts(&page, "header .org"), vec!["Acme Retail · Admin"]);
}

#[tokio::test]
async fn a_safe_local_next_is_followed_after_sign_in() {
    let app = spawn_app().await;

    let response =
        app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD), ("next", "/channels/whatsapp/pools/new?x=1")]).await;

    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], "/channels/whatsapp/pools/new?x=1");
}

#[tokio::test]
async fn an_external_next_is_ignored_after_sign_in() {
    let app = spawn_app().await;

    for next in ["//evil.example", "https://evil.example/steal", "/\\evil.example", "javascript:alert(1)"] {
        let response = app.new_browser().post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD), ("next", next)]).await;

        assert_eq!(status(&response), 303, "{next}");
        assert_eq!(response.headers()["location"], LISTING, "{next} must not be followed");
    }
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;

    let unknown = app.post_form("/login", &[("email", "nobody@acme.example"), ("password", PASSWORD)]).await;
    let unknown_status = status(&unknown);
    let unknown_page = unknown.text().await.unwrap();
    let wrong = app.post_form("/login", &[("email", "admin@acme.example"), ("password", "not-the-password")]).await;
    let wrong_status = status(&wrong);
    let wrong_page = wrong.text().await.unwrap();

    assert_eq!(unknown_status, 401);
    assert_eq!(wrong_status, unknown_status);
    let message = texts(&unknown_page, "#login-error");
    assert_eq!(message, vec!["That email and password do not match an active account."]);
    assert_eq!(texts(&wrong_page, "#login-error"), message);
    assert_eq!(app.get(LISTING).await.status().as_u16(), 303, "neither attempt signed anyone in");
}

#[tokio::test]
async fn a_failed_sign_in_keeps_the_email_and_the_next_page() {
    let app = spawn_app().await;

    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", "wrong"), ("next", "/channels/whatsapp/numbers")]).await;

    assert_eq!(status(&response), 401);
    let page = response.text().await.unwrap();
    assert_eq!(attrs(&page, "input[name=email]", "value"), vec!["admin@acme.example"]);
    assert_eq!(attrs(&page, "input[name=next]", "value"), vec!["/channels/whatsapp/numbers"]);
    assert!(attrs(&page, "input[name=password]", "value").is_empty(), "the password is never echoed");
}

#[tokio::test]
async fn the_session_cookie_is_renewed_at_sign_in() {
    // Arrange: a signed-out session that already has a cookie.
    let app = spawn_app().await;
    let login_page = app.get("/login").await;
    let before = session_cookie(&login_page).expect("the login page starts a session");

    // Act
    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;

    // Assert
    assert_eq!(status(&response), 303);
    let after = session_cookie(&response).expect("sign-in sets a new session cookie");
    assert_ne!(after, before);
    let replayed = app.get_with_cookie(LISTING, &before).await;
    assert_eq!(status(&replayed), 303, "the cookie from before sign-in is still signed out");
    assert_eq!(status(&app.get_with_cookie(LISTING, &after).await), 200);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    assert_eq!(status(&app.get(LISTING).await), 200);

    // Act
    let response = app.post_form("/logout", &[]).await;

    // Assert
    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], "/login");
    let removal = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("wabapool_session="))
        .expect("sign-out removes the cookie")
        .to_owned();
    assert!(removal.contains("Max-Age=0") || removal.contains("max-age=0"), "{removal}");
    let after = app.get(LISTING).await;
    assert_eq!(status(&after), 303);
    assert!(after.headers()["location"].to_str().unwrap().starts_with("/login"));
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let response = app.post_raw("/logout", &[]).await;

    assert_eq!(status(&response), 403);
    assert_eq!(status(&app.get(LISTING).await), 200, "a forged sign-out leaves the session alone");
}

#[tokio::test]
async fn a_signed_out_visit_to_a_portal_page_goes_to_login_with_next() {
    let app = spawn_app().await;

    let response = app.get("/channels/whatsapp/pools/new?enterprise_id=3").await;

    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], "/login?next=%2Fchannels%2Fwhatsapp%2Fpools%2Fnew%3Fenterprise_id%3D3");
}

#[tokio::test]
async fn the_login_page_carries_next_through_to_the_page_asked_for() {
    // Arrange: a signed-out visitor is sent to the login page.
    let app = spawn_app().await;
    let redirect = app.get("/channels/whatsapp/pools?status=inactive").await;
    let login_path = redirect.headers()["location"].to_str().unwrap().to_owned();
    let login_page = app.get_html(&login_path).await;
    let next = attrs(&login_page, "input[name=next]", "value").pop().expect("the form carries next");

    // Act
    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD), ("next", &next)]).await;

    // Assert
    assert_eq!(next, "/channels/whatsapp/pools?status=inactive");
    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], "/channels/whatsapp/pools?status=inactive");
}

#[tokio::test]
async fn a_signed_out_post_changes_nothing() {
    let app = spawn_app().await;
    let id = app.pool_id("Acme Support").await;
    let before = app.snapshot().await;

    let response = app.post_form(&format!("/channels/whatsapp/pools/{id}/deactivate"), &[]).await;

    assert!(matches!(status(&response), 303 | 403), "got {}", status(&response));
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_successful_sign_in_is_audited() {
    let app = spawn_app().await;
    let acme = app.enterprise_id("Acme Retail").await;

    app.login("admin@acme.example").await;

    let entries = app.audit_entries("login.success").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_email.as_deref(), Some("admin@acme.example"));
    assert_eq!(entries[0].enterprise_id, Some(acme));
    assert_eq!(entries[0].subject_type, "user");
    assert!(app.audit_entries("login.failure").await.is_empty());
}

#[tokio::test]
async fn failed_sign_ins_are_audited_for_unknown_emails_and_wrong_passwords() {
    let app = spawn_app().await;

    app.post_form("/login", &[("email", "nobody@acme.example"), ("password", PASSWORD)]).await;
    app.post_form("/login", &[("email", "admin@acme.example"), ("password", "wrong")]).await;

    let entries = app.audit_entries("login.failure").await;
    let emails: Vec<_> = entries.iter().map(|e| e.actor_email.clone().unwrap_or_default()).collect();
    assert_eq!(emails, vec!["nobody@acme.example", "admin@acme.example"]);
    assert_eq!(entries[0].subject_id, None, "an unknown email names no user");
    assert!(entries[1].subject_id.is_some());
    assert!(app.audit_entries("login.success").await.is_empty());
}

#[tokio::test]
async fn sign_in_without_a_csrf_token_is_refused() {
    let app = spawn_app().await;

    let response = app.post_raw("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;

    assert_eq!(status(&response), 403);
    assert_eq!(status(&app.get(LISTING).await), 303, "still signed out");
    assert!(app.audit_entries("login.success").await.is_empty());
}

/// A hash of `password` at OWASP's 19 MiB, t=2 set, which wabapool stored before.
fn hash_at_the_former_cost(password: &str) -> String {
    let former = Params::new(19 * 1024, 2, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, former).hash_password(password.as_bytes()).unwrap().to_string()
}

/// A user's stored hash and session epoch.
async fn hash_and_epoch(app: &TestApp, email: &'static str) -> (String, i64) {
    let user = app.with_db(move |c| users::find_by_email(c, email).unwrap().expect("the user exists")).await;
    (user.password_hash, user.session_epoch)
}

async fn store_hash(app: &TestApp, email: &'static str, hash: String) {
    app.with_db(move |c| {
        let user = users::find_by_email(c, email).unwrap().expect("the user exists");
        users::set_password_hash(c, user.id, &hash).unwrap();
    })
    .await;
}

/// Stores Acme's admin's password at the former cost; returns that hash.
async fn admin_at_the_former_cost(app: &TestApp) -> String {
    let former = hash_at_the_former_cost(PASSWORD);
    store_hash(app, "admin@acme.example", former.clone()).await;
    former
}

#[tokio::test]
async fn a_sign_in_renews_a_hash_of_the_former_cost_and_every_session_goes_on() {
    // Arrange: a user whose password was stored at the former cost, already
    // signed in elsewhere.
    let app = spawn_app().await;
    admin_at_the_former_cost(&app).await;
    let elsewhere = app.new_client_logged_in("admin@acme.example").await;
    let (_, epoch_before) = hash_and_epoch(&app, "admin@acme.example").await;

    // Act
    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;

    // Assert
    assert_eq!(status(&response), 303);
    let (renewed, epoch_after) = hash_and_epoch(&app, "admin@acme.example").await;
    assert!(renewed.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{renewed}");
    assert_eq!(epoch_after, epoch_before, "the password did not change, so no session ends");
    assert_eq!(status(&elsewhere.get(LISTING).await), 200, "the other session goes on");
    let again = app.new_browser().post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;
    assert_eq!(status(&again), 303, "the same password signs in against the renewed hash");
    assert_eq!(hash_and_epoch(&app, "admin@acme.example").await.0, renewed, "a hash of the current cost is kept");
}

#[tokio::test]
async fn a_failed_sign_in_leaves_a_hash_of_the_former_cost_as_it_was() {
    let app = spawn_app().await;
    let former = admin_at_the_former_cost(&app).await;

    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", "not-the-password")]).await;

    assert_eq!(status(&response), 401);
    assert_eq!(hash_and_epoch(&app, "admin@acme.example").await.0, former);
}

#[tokio::test]
async fn a_disabled_user_with_the_right_password_keeps_the_former_hash() {
    let app = spawn_app().await;
    let former = admin_at_the_former_cost(&app).await;
    app.with_db(|c| {
        let admin = users::find_by_email(c, "admin@acme.example").unwrap().expect("the admin exists");
        users::set_disabled(c, admin.id, true).unwrap();
    })
    .await;

    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;

    assert_eq!(status(&response), 401);
    assert_eq!(hash_and_epoch(&app, "admin@acme.example").await.0, former);
}

#[tokio::test]
async fn a_throttled_sign_in_with_the_right_password_keeps_the_former_hash() {
    let app = spawn_app().await;
    let former = admin_at_the_former_cost(&app).await;
    for _ in 0..5 {
        app.post_form("/login", &[("email", "admin@acme.example"), ("password", "not-the-password")]).await;
    }

    let response = app.post_form("/login", &[("email", "admin@acme.example"), ("password", PASSWORD)]).await;

    assert_eq!(status(&response), 401, "the throttle holds the right password back");
    assert_eq!(hash_and_epoch(&app, "admin@acme.example").await.0, former);
}

#[tokio::test]
async fn a_renewal_gives_way_to_a_password_changed_since_the_hash_was_read() {
    // Arrange: the hash a sign-in read is no longer the stored one.
    let app = spawn_app().await;
    let read_at_sign_in = hash_at_the_former_cost(PASSWORD);
    let changed_since = hash_at_the_former_cost("a newer password");
    store_hash(&app, "admin@acme.example", changed_since.clone()).await;

    // Act
    let replaced = app
        .with_db(move |c| {
            let user = users::find_by_email(c, "admin@acme.example").unwrap().unwrap();
            users::renew_password_hash(c, user.id, &read_at_sign_in, "$argon2id$renewed").unwrap()
        })
        .await;

    // Assert
    assert!(!replaced);
    assert_eq!(hash_and_epoch(&app, "admin@acme.example").await.0, changed_since);
}
