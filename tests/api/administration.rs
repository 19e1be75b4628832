//! Users, passwords, sessions and the audit log.

use diesel::prelude::*;
use wabapool::db::schema::{audit_entries, users};

use crate::helpers::{LISTING, PASSWORD, TestApp, attrs, spawn_app, spawn_app_with, texts};

impl TestApp {
    async fn user_id_of(&self, email: &str) -> i64 {
        let email = email.to_owned();
        self.with_db(move |c| users::table.filter(users::email.eq(email)).select(users::id).first(c).unwrap()).await
    }

    async fn actions(&self) -> Vec<String> {
        self.with_db(|c| audit_entries::table.order(audit_entries::id).select(audit_entries::action).load(c).unwrap()).await
    }
}

#[tokio::test]
async fn a_super_admin_adds_an_agent_who_can_then_sign_in() {
    let app = spawn_app().await;
    app.login("super@acme.example").await;

    let response =
        app.post_form("/settings/users", &[("email", "New.Agent@Acme.example"), ("role", "agent"), ("password", "a calm spring morning")]).await;

    assert_eq!(response.status().as_u16(), 303);
    assert!(app.actions().await.contains(&"user.create".to_owned()));
    let other = app.new_browser();
    let signed_in = other.post_form("/login", &[("email", "new.agent@acme.example"), ("password", "a calm spring morning")]).await;
    assert_eq!(signed_in.status().as_u16(), 303);
}

#[tokio::test]
async fn short_common_and_email_passwords_are_refused_beside_the_field() {
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let before: i64 = app.with_db(|c| users::table.count().get_result(c).unwrap()).await;
    for (password, message) in
        [("short", "at least 12 characters"), ("Password1234", "most commonly used"), ("x@acme.example", "cannot be your email")]
    {
        let response = app.post_form("/settings/users", &[("email", "x@acme.example"), ("role", "agent"), ("password", password)]).await;
        assert_eq!(response.status().as_u16(), 422, "{password}");
        let body = response.text().await.unwrap();
        assert!(body.contains(message) && body.contains("id=\"new-password-error\""), "{password}");
        assert!(body.contains("value=\"x@acme.example\""), "the email typed is kept");
    }
    assert_eq!(app.with_db(|c| users::table.count().get_result::<i64>(c).unwrap()).await, before);
}

#[tokio::test]
async fn only_super_admins_manage_users_and_read_the_audit_log() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    for path in ["/settings/users", "/audit", "/audit.csv"] {
        assert_eq!(app.get(path).await.status().as_u16(), 403, "{path}");
    }
    let post = app.post_form("/settings/users", &[("email", "y@acme.example"), ("role", "admin"), ("password", "a calm spring morning")]).await;
    assert_eq!(post.status().as_u16(), 403);
    assert!(!app.get_html(LISTING).await.contains("href=\"/settings/users\""));
}

#[tokio::test]
async fn another_tenants_user_is_not_found_and_nothing_changes() {
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let umbrella_admin = app.user_id_of("admin@umbrella.example").await;
    let before = app.snapshot().await;

    for action in ["disable", "enable"] {
        let response = app.post_form(&format!("/settings/users/{umbrella_admin}/{action}"), &[]).await;
        assert_eq!(response.status().as_u16(), 404);
    }
    let reset = app.post_form(&format!("/settings/users/{umbrella_admin}/password"), &[("password", "a calm spring morning")]).await;
    assert_eq!(reset.status().as_u16(), 404);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn disabling_a_user_ends_their_session_at_once_and_refuses_their_sign_in() {
    let app = spawn_app().await;
    let agent = app.new_client_logged_in("agent@acme.example").await;
    app.login("super@acme.example").await;
    let id = app.user_id_of("agent@acme.example").await;

    let response = app.post_form(&format!("/settings/users/{id}/disable"), &[]).await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(agent.get("/settings/password").await.status().as_u16(), 303);
    let again = app.new_browser().post_form("/login", &[("email", "agent@acme.example"), ("password", PASSWORD)]).await;
    assert_ne!(again.status().as_u16(), 303);
    assert!(app.actions().await.contains(&"user.disable".to_owned()));
}

#[tokio::test]
async fn resetting_a_password_signs_the_user_out_everywhere() {
    let app = spawn_app().await;
    let admin = app.new_client_logged_in("admin@acme.example").await;
    app.login("super@acme.example").await;
    let id = app.user_id_of("admin@acme.example").await;

    let response = app.post_form(&format!("/settings/users/{id}/password"), &[("password", "a brand new passphrase")]).await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(admin.get(LISTING).await.status().as_u16(), 303);
    let fresh = app.new_browser();
    assert_eq!(fresh.post_form("/login", &[("email", "admin@acme.example"), ("password", "a brand new passphrase")]).await.status().as_u16(), 303);
}

#[tokio::test]
async fn changing_ones_own_password_needs_the_current_one_and_ends_only_the_other_sessions() {
    let app = spawn_app().await;
    let elsewhere = app.new_client_logged_in("admin@acme.example").await;
    app.login("admin@acme.example").await;

    let wrong = app.post_form("/settings/password", &[("current_password", "not my password"), ("new_password", "a brand new passphrase")]).await;
    assert_eq!(wrong.status().as_u16(), 422);
    assert!(wrong.text().await.unwrap().contains("That is not your current password."));

    let right = app.post_form("/settings/password", &[("current_password", PASSWORD), ("new_password", "a brand new passphrase")]).await;
    assert_eq!(right.status().as_u16(), 303);
    assert_eq!(app.get(LISTING).await.status().as_u16(), 200, "this session carries on");
    assert_eq!(elsewhere.get(LISTING).await.status().as_u16(), 303, "the other session ended");
    assert!(app.actions().await.contains(&"user.password_change".to_owned()));
}

#[tokio::test]
async fn promoting_an_agent_to_admin_opens_the_pool_pages_to_them() {
    let app = spawn_app().await;
    let agent = app.new_client_logged_in("agent@acme.example").await;
    assert_eq!(agent.get(LISTING).await.status().as_u16(), 403);
    app.login("super@acme.example").await;
    let id = app.user_id_of("agent@acme.example").await;

    let response = app.post_form(&format!("/settings/users/{id}/role"), &[("role", "admin")]).await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(agent.get(LISTING).await.status().as_u16(), 200);
    let bad = app.post_form(&format!("/settings/users/{id}/role"), &[("role", "super_admin")]).await;
    assert_eq!(bad.status().as_u16(), 303);
    let role: String = app.with_db(move |c| users::table.find(id).select(users::role).first(c).unwrap()).await;
    assert_eq!(role, "admin", "no one is promoted to super admin from the portal");
}

#[tokio::test]
async fn the_audit_log_shows_only_the_super_admins_enterprises_and_filters_and_exports() {
    let app = spawn_app().await;
    let umbrella = app.new_client_logged_in("admin@umbrella.example").await;
    let umbrella_pool = umbrella.pool_id("Umbrella Orders").await;
    umbrella.post_form(&format!("/channels/whatsapp/pools/{umbrella_pool}/deactivate"), &[]).await;
    let acme = app.new_client_logged_in("admin@acme.example").await;
    let acme_pool = acme.pool_id("Acme Support").await;
    acme.post_form(&format!("/channels/whatsapp/pools/{acme_pool}/deactivate"), &[]).await;
    app.login("super@acme.example").await;

    let page = app.get_html("/audit?action=pool.deactivate").await;
    assert!(page.contains("admin@acme.example") && page.contains("pool.deactivate"));
    assert!(!page.contains("admin@umbrella.example"));

    let csv = app.get("/audit.csv?action=pool.deactivate").await;
    assert_eq!(csv.status().as_u16(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "occurred_at,actor,enterprise,action,subject_type,subject_id,before,after");
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains("Acme Retail") && lines[1].contains("\"{\"\"active\"\":true}\""));

    assert_eq!(app.get("/audit?from=yesterday").await.status().as_u16(), 422);
    assert_eq!(app.get("/audit?enterprise_id=5").await.status().as_u16(), 404);
}

#[tokio::test]
async fn an_aggregator_super_admin_sees_every_enterprise_of_theirs_in_the_audit_log() {
    let app = spawn_app().await;
    let globex = app.new_client_logged_in("admin@globex.example").await;
    drop(globex);
    app.login("super@northwind.example").await;
    let page = app.get_html("/audit").await;
    assert!(page.contains("admin@globex.example") && page.contains("Globex Health"));
    assert!(page.contains("All enterprises"));
}

#[tokio::test]
async fn an_idle_session_is_signed_out() {
    let app = spawn_app_with(|s| s.session_idle = std::time::Duration::from_secs(1)).await;
    app.login("admin@acme.example").await;
    assert_eq!(app.get(LISTING).await.status().as_u16(), 200);

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    assert_eq!(app.get(LISTING).await.status().as_u16(), 303);
}

#[tokio::test]
async fn a_session_older_than_the_absolute_limit_is_signed_out_however_busy() {
    let app = spawn_app_with(|s| s.session_absolute = std::time::Duration::from_secs(2)).await;
    app.login("admin@acme.example").await;
    for _ in 0..3 {
        assert_eq!(app.get(LISTING).await.status().as_u16(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(app.get(LISTING).await.status().as_u16(), 303);
}

#[tokio::test]
async fn session_cookies_are_http_only_and_same_site_and_host_prefixed_over_https() {
    let plain = spawn_app().await;
    let cookie = plain.get("/login").await.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("wabapool_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));

    let https = spawn_app_with(|s| s.secure_cookies = true).await;
    let cookie = https.get("/login").await.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-wabapool_session=") && cookie.contains("Secure") && cookie.contains("Path=/"));
    assert!(!cookie.contains("Domain="));
}

#[tokio::test]
async fn an_agent_signing_in_lands_on_a_page_they_may_see() {
    let app = spawn_app().await;
    let response = app.post_form("/login", &[("email", "agent@acme.example"), ("password", PASSWORD)]).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/settings/password");
    assert_eq!(app.get("/settings/password").await.status().as_u16(), 200);
}

#[tokio::test]
async fn the_audit_log_says_each_entry_in_a_sentence_with_its_changes() {
    let app = spawn_app().await;
    let admin = app.new_client_logged_in("admin@acme.example").await;
    let id = admin.add_pool(None, "Acme Alerts", &["+44 7700 900101", "+65 8100 0101", "+91 98100 00101"]).await;
    let version = admin.edit_version(id).await;
    let ids = admin.number_ids(&["+44 7700 900101", "+65 8100 0101", "+91 98100 00101"]).await;
    let mut pairs: Vec<(&str, &str)> = vec![("name", "Acme Notices"), ("version", &version)];
    pairs.extend(ids.iter().map(|n| ("phone_number_ids", n.as_str())));
    assert_eq!(admin.post_form(&format!("{LISTING}/{id}"), &pairs).await.status().as_u16(), 303);
    app.login("super@acme.example").await;

    let page = app.get_html("/audit?action=pool.create").await;
    assert_eq!(texts(&page, "td.audit-sentence"), vec!["admin@acme.example added pool \u{201c}Acme Alerts\u{201d} with 3 numbers"]);
    assert_eq!(attrs(&page, "td.audit-sentence a", "href"), vec![format!("{LISTING}/{id}")]);

    let page = app.get_html("/audit?action=pool.update").await;
    assert_eq!(texts(&page, "td.audit-sentence"), vec!["admin@acme.example changed pool \u{201c}Acme Notices\u{201d}"]);
    assert_eq!(texts(&page, "td[data-label=Changes] li .audit-field"), vec!["name"], "only the name changed");
    assert_eq!(texts(&page, "td[data-label=Changes] li .wraps-anywhere"), vec!["\u{201c}Acme Alerts\u{201d} → \u{201c}Acme Notices\u{201d}"]);

    let filter = texts(&page, "#f-action option[value='pool.create']");
    assert_eq!(filter, vec!["Pools added"], "actions are named in words in the filter");
}
