//! Brute-force defence: failed sign-ins counted per account and per client
//! address in the database, an exponential delay after 5, a lock after 20
//! for an account and after 100 for an address; a burst of failures from
//! one address audited once, not once an attempt.

use diesel::prelude::*;
use wabapool::db::schema::login_failures;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

const FAILED: &str = "That email and password do not match an active account.";

impl TestApp {
    async fn sign_in(&self, email: &str, password: &str, forwarded_for: Option<&str>) -> (u16, String) {
        let headers: Vec<(&str, &str)> = forwarded_for.map(|ip| ("X-Forwarded-For", ip)).into_iter().collect();
        let response = self.post_form_with_headers("/login", &[("email", email), ("password", password)], &headers).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Moves every recorded failure back in time, as if the caller had waited.
    async fn wait_minutes(&self, minutes: i64) {
        self.with_db(move |c| {
            let rows: Vec<(i64, chrono::NaiveDateTime)> =
                login_failures::table.select((login_failures::id, login_failures::occurred_at)).load(c).unwrap();
            for (id, at) in rows {
                diesel::update(login_failures::table.find(id))
                    .set(login_failures::occurred_at.eq(at - chrono::Duration::minutes(minutes)))
                    .execute(c)
                    .unwrap();
            }
        })
        .await;
    }
}

#[tokio::test]
async fn after_five_failures_even_the_right_password_waits_with_the_same_answer() {
    let app = spawn_app().await;
    let (wrong_status, wrong_body) = app.sign_in("admin@acme.example", "not the password", None).await;
    for _ in 0..4 {
        app.sign_in("admin@acme.example", "not the password", None).await;
    }

    let (status, body) = app.sign_in("admin@acme.example", PASSWORD, None).await;
    let (unknown_status, unknown_body) = app.sign_in("nobody@acme.example", "whatever it is", None).await;

    assert_eq!(status, wrong_status);
    assert!(body.contains(FAILED) && wrong_body.contains(FAILED) && unknown_body.contains(FAILED));
    assert_eq!(unknown_status, wrong_status);
}

#[tokio::test]
async fn once_the_delay_has_passed_the_right_password_works_and_clears_the_count() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.sign_in("admin@acme.example", "not the password", None).await;
    }
    app.wait_minutes(1).await;

    let (status, _) = app.sign_in("admin@acme.example", PASSWORD, None).await;

    assert_eq!(status, 303);
    let left: i64 =
        app.with_db(|c| login_failures::table.filter(login_failures::email_key.eq("admin@acme.example")).count().get_result(c).unwrap()).await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn twenty_failures_lock_the_account_for_the_hour() {
    let app = spawn_app().await;
    for _ in 0..20 {
        app.wait_minutes(2).await;
        app.sign_in("admin@acme.example", "not the password", None).await;
    }
    let recorded: i64 = app.with_db(|c| login_failures::table.count().get_result(c).unwrap()).await;
    assert_eq!(recorded, 20);
    app.wait_minutes(5).await;

    let (locked, body) = app.sign_in("admin@acme.example", PASSWORD, None).await;
    assert_ne!(locked, 303);
    assert!(body.contains(FAILED));

    app.wait_minutes(61).await;
    let (status, _) = app.sign_in("admin@acme.example", PASSWORD, None).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn failures_are_counted_per_client_address_across_accounts() {
    let app = spawn_app().await;
    for i in 0..25 {
        app.sign_in(&format!("user{i}@x.example"), "guess guess guess", None).await;
    }

    let (status, _) = app.sign_in("admin@acme.example", PASSWORD, None).await;

    assert_ne!(status, 303, "a twenty-sixth account from the same address was tried at once");
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_count() {
    let app = spawn_app().await;
    for i in 0..25 {
        app.sign_in(&format!("user{i}@x.example"), "guess guess guess", Some(&format!("203.0.113.{i}"))).await;
    }

    let (status, _) = app.sign_in("admin@acme.example", PASSWORD, Some("198.51.100.7")).await;

    assert_ne!(status, 303);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_apart() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    for i in 0..25 {
        app.sign_in(&format!("user{i}@x.example"), "guess guess guess", Some("203.0.113.9")).await;
    }

    let (other_client, _) = app.sign_in("admin@acme.example", PASSWORD, Some("198.51.100.7")).await;

    assert_eq!(other_client, 303);
    let recorded: Vec<Option<String>> = app.with_db(|c| login_failures::table.select(login_failures::client_ip).load(c).unwrap()).await;
    assert!(recorded.iter().all(|ip| ip.as_deref() == Some("203.0.113.9")));
}

#[tokio::test]
async fn twenty_typos_an_hour_across_an_offices_accounts_do_not_lock_its_address() {
    // Arrange: one address (the office's gateway), four colleagues, five typos each over twenty minutes.
    let app = spawn_app().await;
    for i in 0..20 {
        app.wait_minutes(1).await;
        app.sign_in(&format!("colleague{}@office.example", i % 4), "a typo in it", None).await;
    }
    let recorded: i64 = app.with_db(|c| login_failures::table.count().get_result(c).unwrap()).await;
    assert_eq!(recorded, 20, "every typo was counted");
    app.wait_minutes(1).await;

    // Act: a fifth colleague signs in from the same address.
    let (status, _) = app.sign_in("admin@acme.example", PASSWORD, None).await;

    // Assert
    assert_eq!(status, 303);
}

#[tokio::test]
async fn twenty_typos_in_a_row_from_an_office_never_keep_a_colleague_waiting() {
    // Arrange: twenty typos from one address within seconds, across four accounts.
    let app = spawn_app().await;
    for i in 0..20 {
        app.sign_in(&format!("colleague{}@office.example", i % 4), "a typo in it", None).await;
    }

    // Act: at once, another colleague signs in from the same address.
    let (status, _) = app.sign_in("admin@acme.example", PASSWORD, None).await;

    // Assert
    assert_eq!(status, 303);
}

#[tokio::test]
async fn a_hundred_failures_from_one_address_lock_it_for_the_hour() {
    // Arrange: a hundred failures from this address over the last fifty minutes, each against another account.
    let app = spawn_app().await;
    app.with_db(|c| {
        let now = wabapool::store::now();
        for i in 0..100_i64 {
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::occurred_at.eq(now - chrono::Duration::seconds(3_000 - i * 30)),
                    login_failures::email_key.eq(format!("user{i}@x.example")),
                    login_failures::client_ip.eq("127.0.0.1"),
                ))
                .execute(c)
                .unwrap();
        }
    })
    .await;
    app.wait_minutes(1).await;

    // Act
    let (locked, body) = app.sign_in("admin@acme.example", PASSWORD, None).await;

    // Assert
    assert_ne!(locked, 303);
    assert!(body.contains(FAILED));
    app.wait_minutes(61).await;
    let (status, _) = app.sign_in("admin@acme.example", PASSWORD, None).await;
    assert_eq!(status, 303, "the lock ends with the hour");
}

#[tokio::test]
async fn a_burst_of_failures_from_one_address_writes_one_audit_entry_for_the_hour() {
    // Arrange: five failures, audited one by one.
    let app = spawn_app().await;
    for i in 0..5 {
        app.sign_in(&format!("user{i}@x.example"), "guess guess guess", None).await;
    }
    assert_eq!(app.audit_entries("login.failure").await.len(), 5);

    // Act: a burst of forty more, some after the delay has passed.
    for i in 0..30 {
        app.sign_in(&format!("user{i}@y.example"), "guess guess guess", None).await;
    }
    app.wait_minutes(1).await;
    for i in 0..10 {
        app.sign_in(&format!("user{i}@z.example"), "guess guess guess", None).await;
    }

    // Assert: one entry marks the burst.
    let entries = app.audit_entries("login.failure").await;
    assert_eq!(entries.len(), 6);
    let bursts: Vec<_> = entries.iter().filter(|e| e.after.as_ref().is_some_and(|a| a["burst"] == true)).collect();
    assert_eq!(bursts.len(), 1);

    // Once the hour has passed, the address's next failure has an entry of its own again.
    app.wait_minutes(61).await;
    app.sign_in("user0@x.example", "guess guess guess", None).await;
    assert_eq!(app.audit_entries("login.failure").await.len(), 7);
}
