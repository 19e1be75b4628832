//! Simultaneous requests from separate signed-in browsers: R4, R6, R7 and
//! R9 hold under races, on SQLite and PostgreSQL, and a lost race is a
//! 409 or 422, never a 500.

use std::sync::Arc;

use diesel::prelude::*;
use tokio::sync::Barrier;
use wabapool::db::schema::{pool_members, pools};

use crate::helpers::{LISTING, RETAIL_BANKING, TestApp, spawn_app, status};

/// One POST of a race: a signed-in browser, where and what.
struct Attempt {
    browser: TestApp,
    path: String,
    pairs: Vec<(&'static str, String)>,
}

/// Sends every attempt at once and returns each status and body, in the
/// attempts' order. Each browser fetches its CSRF token first, then all
/// wait at a barrier, so the racing POSTs are the only requests in flight.
async fn race(attempts: Vec<Attempt>) -> Vec<(u16, String)> {
    let barrier = Arc::new(Barrier::new(attempts.len()));
    let handles: Vec<_> = attempts
        .into_iter()
        .map(|attempt| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                let token = attempt.browser.csrf_token().await;
                let mut pairs: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
                pairs.extend(attempt.pairs.iter().map(|(k, v)| (*k, v.as_str())));
                barrier.wait().await;
                let response = attempt.browser.post_raw(&attempt.path, &pairs).await;
                (status(&response), response.text().await.unwrap_or_default())
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("request task"));
    }
    results
}

fn count(results: &[(u16, String)], code: u16) -> usize {
    results.iter().filter(|(s, _)| *s == code).count()
}

/// Every member row of every pool: (pool, number, slot).
async fn memberships(app: &TestApp) -> Vec<(i64, i64, i32)> {
    app.with_db(|c| pool_members::table.select((pool_members::pool_id, pool_members::number_id, pool_members::slot)).load(c).unwrap()).await
}

/// Asserts R4 and R6 over the whole database: no pool above ten members,
/// slots 1..10 and distinct per pool, no number in two pools.
async fn assert_pool_rules_hold(app: &TestApp) {
    let rows = memberships(app).await;
    let mut numbers: Vec<i64> = rows.iter().map(|(_, n, _)| *n).collect();
    numbers.sort_unstable();
    let before = numbers.len();
    numbers.dedup();
    assert_eq!(numbers.len(), before, "a number sits in two pools: {rows:?}");
    let mut pools: Vec<i64> = rows.iter().map(|(p, _, _)| *p).collect();
    pools.sort_unstable();
    pools.dedup();
    for pool in pools {
        let mut slots: Vec<i32> = rows.iter().filter(|(p, _, _)| *p == pool).map(|(_, _, s)| *s).collect();
        assert!(slots.len() <= 10, "pool {pool} holds {} numbers", slots.len());
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), rows.iter().filter(|(p, _, _)| *p == pool).count(), "pool {pool} reuses a slot");
        assert!(slots.iter().all(|s| (1..=10).contains(s)));
    }
}

/// `n` browsers of one user each adding a pool (distinct names) with the
/// same numbers, the i-th in the order `order(i)`.
async fn adds_of_the_same_numbers(app: &TestApp, email: &str, n: usize, displays: &[&str], rotate: bool) -> Vec<Attempt> {
    let ids = app.number_ids(displays).await;
    let mut attempts = Vec::with_capacity(n);
    for i in 0..n {
        let browser = app.new_client_logged_in(email).await;
        let mut chosen = ids.clone();
        if rotate {
            chosen.rotate_left(i % ids.len());
            if i % 2 == 1 {
                chosen.reverse();
            }
        }
        let mut pairs = vec![("name", format!("Race {i}"))];
        pairs.extend(chosen.into_iter().map(|id| ("phone_number_ids", id)));
        attempts.push(Attempt { browser, path: LISTING.to_owned(), pairs });
    }
    attempts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_simultaneous_adds_of_the_same_number_put_it_in_exactly_one_pool() {
    // Arrange
    let app = spawn_app().await;
    let attempts = adds_of_the_same_numbers(&app, "admin@acme.example", 2, &["+44 7700 900101"], false).await;
    let pools_before = app.pool_count().await;

    // Act
    let results = race(attempts).await;

    // Assert
    assert_eq!(count(&results, 303), 1, "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    assert_eq!(count(&results, 422), 1);
    assert_eq!(app.pool_count().await, pools_before + 1);
    let uk = app.number_id("+44 7700 900101").await;
    assert_eq!(memberships(&app).await.iter().filter(|(_, n, _)| *n == uk).count(), 1);
    assert_pool_rules_hold(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_simultaneous_adds_of_the_same_number_put_it_in_exactly_one_pool() {
    let app = spawn_app().await;
    let attempts = adds_of_the_same_numbers(&app, "admin@acme.example", 8, &["+44 7700 900101"], false).await;
    let pools_before = app.pool_count().await;

    let results = race(attempts).await;

    assert_eq!(count(&results, 303), 1, "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    assert_eq!(count(&results, 422), 7);
    assert_eq!(app.pool_count().await, pools_before + 1);
    let loser = results.iter().find(|(s, _)| *s == 422).map(|(_, body)| body.clone()).unwrap();
    assert!(loser.contains("+44 7700 900101") || loser.contains("just been added to another pool"), "the loser is told why");
    assert_pool_rules_hold(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_adds_of_the_same_numbers_in_different_orders_never_fail_with_a_server_error() {
    let app = spawn_app().await;
    let displays = ["+44 7700 900101", "+65 8100 0101", "+91 98100 00101"];
    let attempts = adds_of_the_same_numbers(&app, "admin@acme.example", 8, &displays, true).await;
    let pools_before = app.pool_count().await;

    let results = race(attempts).await;

    let codes: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(count(&results, 303), 1, "{codes:?}");
    assert_eq!(count(&results, 422), 7, "{codes:?}");
    assert_eq!(app.pool_count().await, pools_before + 1);
    assert_pool_rules_hold(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_adds_with_one_name_in_different_cases_create_one_pool() {
    // Arrange: three browsers, three free numbers, one name.
    let app = spawn_app().await;
    let mut attempts = Vec::new();
    for (i, display) in ["+44 7700 900101", "+65 8100 0101", "+91 98100 00101"].into_iter().enumerate() {
        let browser = app.new_client_logged_in("admin@acme.example").await;
        let id = app.number_id(display).await.to_string();
        let name = ["Acme Rush", "ACME RUSH", "acme rush"][i].to_owned();
        attempts.push(Attempt { browser, path: LISTING.to_owned(), pairs: vec![("name", name), ("phone_number_ids", id)] });
    }
    let pools_before = app.pool_count().await;

    // Act
    let results = race(attempts).await;

    // Assert
    assert_eq!(count(&results, 303), 1, "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    assert_eq!(count(&results, 422), 2);
    assert_eq!(app.pool_count().await, pools_before + 1);
    let rush = app.with_db(|c| pools::table.filter(pools::name_key.eq("acme rush")).count().get_result::<i64>(c).unwrap()).await;
    assert_eq!(rush, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_edits_at_one_version_save_exactly_one() {
    // Arrange: eight browsers that all loaded the edit page at one version.
    let app = spawn_app().await;
    let id = app.pool_id("Acme Support").await;
    let version = app.pool_state(id).await.version;
    let members = app.number_ids(&["+1 555-010-0101", "+1 555-010-0102"]).await;
    let mut attempts = Vec::new();
    for i in 0..8 {
        let browser = app.new_client_logged_in(if i % 2 == 0 { "admin@acme.example" } else { "super@northwind.example" }).await;
        let pairs = vec![
            ("name", format!("Acme Support {i}")),
            ("phone_number_ids", members[0].clone()),
            ("phone_number_ids", members[1].clone()),
            ("version", version.to_string()),
        ];
        attempts.push(Attempt { browser, path: format!("{LISTING}/{id}"), pairs });
    }

    // Act
    let results = race(attempts).await;

    // Assert
    let codes: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(count(&results, 303), 1, "{codes:?}");
    assert_eq!(count(&results, 409), 7, "{codes:?}");
    let winner = codes.iter().position(|c| *c == 303).unwrap();
    let after = app.pool_state(id).await;
    assert_eq!(after.name, format!("Acme Support {winner}"));
    assert_eq!(after.version, version + 1);
    assert_eq!(app.audit_entries("pool.update").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_edits_and_adds_never_push_a_pool_past_ten_numbers() {
    // Arrange: Initech Retail Banking split into a pool of eight and a pool
    // of one, with two numbers free; then edits of both pools and new pools
    // all reach for the free numbers and each other's at once.
    let app = spawn_app().await;
    let admin = app.new_client_logged_in("admin@initech.example").await;
    let big = admin.add_pool(None, "Retail Big", &RETAIL_BANKING[..8]).await;
    let small = admin.add_pool(None, "Retail Small", &RETAIL_BANKING[8..9]).await;
    let ids = app.number_ids(&RETAIL_BANKING).await;
    let big_version = app.pool_state(big).await.version.to_string();
    let small_version = app.pool_state(small).await.version.to_string();
    let edit = |name: &str, members: &[&String], version: &str| {
        let mut pairs = vec![("name", name.to_owned()), ("version", version.to_owned())];
        pairs.extend(members.iter().map(|id| ("phone_number_ids", (*id).clone())));
        pairs
    };
    let big_members: Vec<&String> = ids[..8].iter().collect();
    let with = |extra: &[usize]| {
        let mut all = big_members.clone();
        all.extend(extra.iter().map(|i| &ids[*i]));
        all
    };
    let plans: Vec<(String, Vec<(&'static str, String)>)> = vec![
        (format!("{LISTING}/{big}"), edit("Retail Big", &with(&[8, 9]), &big_version)),
        (format!("{LISTING}/{big}"), edit("Retail Big", &with(&[9, 10]), &big_version)),
        (format!("{LISTING}/{big}"), edit("Retail Big", &with(&[8, 10]), &big_version)),
        (format!("{LISTING}/{big}"), edit("Retail Big", &with(&[10]), &big_version)),
        (format!("{LISTING}/{small}"), edit("Retail Small", &[&ids[8], &ids[9]], &small_version)),
        (format!("{LISTING}/{small}"), edit("Retail Small", &[&ids[8], &ids[10]], &small_version)),
        (LISTING.to_owned(), vec![("name", "Retail New A".to_owned()), ("phone_number_ids", ids[9].clone())]),
        (LISTING.to_owned(), vec![("name", "Retail New B".to_owned()), ("phone_number_ids", ids[10].clone())]),
    ];
    let mut attempts = Vec::new();
    for (path, pairs) in plans {
        let browser = app.new_client_logged_in("admin@initech.example").await;
        attempts.push(Attempt { browser, path, pairs });
    }

    // Act
    let results = race(attempts).await;

    // Assert
    let codes: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert!(codes.iter().all(|c| matches!(c, 303 | 409 | 422)), "{codes:?}");
    assert!(count(&results[..4], 303) <= 1, "one version, one winner: {codes:?}");
    assert!(count(&results[4..6], 303) <= 1, "one version, one winner: {codes:?}");
    assert!(app.pool_numbers(big).await.len() <= 10);
    assert!(!app.pool_numbers(small).await.is_empty(), "the small pool keeps its number");
    assert_pool_rules_hold(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_deactivate_and_edit_leave_one_consistent_pool() {
    let app = spawn_app().await;
    let id = app.pool_id("Acme Support").await;
    let version = app.pool_state(id).await.version;
    let members = app.number_ids(&["+1 555-010-0101", "+1 555-010-0102"]).await;
    let editor = app.new_client_logged_in("admin@acme.example").await;
    let toggler = app.new_client_logged_in("super@acme.example").await;
    let attempts = vec![
        Attempt {
            browser: editor,
            path: format!("{LISTING}/{id}"),
            pairs: vec![
                ("name", "Acme Edited".to_owned()),
                ("phone_number_ids", members[0].clone()),
                ("phone_number_ids", members[1].clone()),
                ("version", version.to_string()),
            ],
        },
        Attempt { browser: toggler, path: format!("{LISTING}/{id}/deactivate"), pairs: vec![] },
    ];

    let results = race(attempts).await;

    let (edit, toggle) = (results[0].0, results[1].0);
    assert_eq!(toggle, 303, "deactivation carries no version and always applies");
    assert!(matches!(edit, 303 | 409), "{edit}");
    let after = app.pool_state(id).await;
    assert!(!after.active);
    let expected = if edit == 303 { (version + 2, "Acme Edited") } else { (version + 1, "Acme Support") };
    assert_eq!((after.version, after.name.as_str()), expected);
}
