//! An aggregator of hundreds of enterprises: the listing, the overview and
//! the exports page through it in the database, show the right rows and
//! keep their page links and pickers bounded, and the CSV exports stream
//! every row exactly once.

use diesel::prelude::*;
use secrecy::SecretString;
use wabapool::bench_data::{Shape, fill};
use wabapool::db::schema::{audit_entries, enterprises};

use crate::helpers::{LISTING, PASSWORD, TestApp, attrs, spawn_app, texts};

/// Enterprises of the large aggregator: two pools each, 12 listing pages.
const ENTERPRISES: usize = 300;

/// An app whose database also holds "Aggregator 0001" with [`ENTERPRISES`]
/// enterprises of three numbers and two pools each, signed in as its super admin.
async fn large_aggregator() -> TestApp {
    let app = spawn_app().await;
    let keys = app.keys.clone();
    app.with_db(move |c| {
        let shape = Shape { aggregators: 1, enterprises: ENTERPRISES, numbers_per_enterprise: 3, pools_per_enterprise: 2 };
        fill(c, shape, &SecretString::from(PASSWORD), &keys).expect("the large aggregator is written");
    })
    .await;
    app.login("admin@aggregator-1.bench").await;
    app
}

/// "Pool 01 of enterprise 00007".
fn pool_name(pool: usize, enterprise: usize) -> String {
    format!("Pool {pool:02} of enterprise {enterprise:05}")
}

#[tokio::test]
async fn a_deep_page_of_a_large_aggregator_shows_its_fifty_pools_and_a_bounded_bar_of_links() {
    // Arrange
    let app = large_aggregator().await;

    // Act
    let page = app.get_html(&format!("{LISTING}?page=7")).await;

    // Assert: by name, every "Pool 00" comes before every "Pool 01"; page 7 holds pools 301–350.
    let expected: Vec<String> = (1..=50).map(|e| pool_name(1, e)).collect();
    assert_eq!(texts(&page, "tbody td[data-label='Pool name']"), expected);
    assert_eq!(texts(&page, "nav.pagination [aria-current=page]"), vec!["7"]);
    let links: Vec<String> = texts(&page, "nav.pagination a:not([rel])");
    assert_eq!(links, vec!["1", "5", "6", "8", "9", "12"], "the ends and the current page's neighbours");
    assert_eq!(attrs(&page, "nav.pagination a[rel=next]", "href"), vec![format!("{LISTING}?page=8")]);
    assert_eq!(texts(&page, ".table-card ~ p.muted"), vec!["600 pools"]);
}

#[tokio::test]
async fn a_large_aggregators_listing_sorted_and_searched_pages_in_the_database() {
    let app = large_aggregator().await;

    let descending = app.get_html(&format!("{LISTING}?sort=-name&page=2")).await;
    let searched = app.get_html(&format!("{LISTING}?q=enterprise+0029&page=1")).await;

    let expected: Vec<String> = (201..=250).rev().map(|e| pool_name(1, e)).collect();
    assert_eq!(texts(&descending, "tbody td[data-label='Pool name']"), expected);
    let found: Vec<String> = (0..=1).flat_map(|p| (290..=299).map(move |e| pool_name(p, e))).collect();
    assert_eq!(texts(&searched, "tbody td[data-label='Pool name']"), found);
    assert_eq!(texts(&searched, ".table-card ~ p.muted"), vec!["20 pools"]);
}

#[tokio::test]
async fn the_enterprise_filter_offers_a_bounded_few_and_keeps_the_chosen_one() {
    let app = large_aggregator().await;
    let last = app.enterprise_id("Enterprise 00300").await.to_string();

    let page = app.get_html(LISTING).await;
    let filtered = app.get_html(&format!("{LISTING}?enterprise_id={last}")).await;

    assert_eq!(attrs(&page, "select#filter-enterprise option", "value").len(), 101, "all enterprises and the first 100");
    assert_eq!(attrs(&page, "form.filters a[href='/overview']", "href").len(), 1, "the rest are on the overview");
    assert_eq!(attrs(&filtered, "select#filter-enterprise option[selected]", "value"), vec![last]);
    assert_eq!(texts(&filtered, "tbody td[data-label='Pool name']"), vec![pool_name(0, 300), pool_name(1, 300)]);
}

#[tokio::test]
async fn the_pools_csv_of_a_large_aggregator_holds_every_pool_once_in_listing_order() {
    let app = large_aggregator().await;

    let response = app.get(&format!("{LISTING}.csv")).await;

    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "pool,enterprise,active,numbers,numbers_in_rotation,member_count");
    let names: Vec<&str> = lines[1..].iter().filter_map(|l| l.split(',').next()).collect();
    assert_eq!(names.len(), 2 * ENTERPRISES, "every pool");
    let mut distinct = names.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len(), "no pool twice");
    assert_eq!(names[0], pool_name(0, 1));
    assert_eq!(names[names.len() - 1], pool_name(1, ENTERPRISES));
}

#[tokio::test]
async fn the_audit_csv_streams_every_entry_newest_first_across_chunks() {
    let app = spawn_app().await;
    let count = wabapool::services::audit_log::EXPORT_CHUNK + 25;
    app.with_db(move |c| {
        let acme: i64 = enterprises::table.filter(enterprises::name.eq("Acme Retail")).select(enterprises::id).first(c).unwrap();
        let now = chrono::Utc::now().naive_utc();
        for i in 0..count {
            diesel::insert_into(audit_entries::table)
                .values((
                    audit_entries::occurred_at.eq(now),
                    audit_entries::actor_email.eq(format!("bulk-{i:05}@acme.example")),
                    audit_entries::enterprise_id.eq(Some(acme)),
                    audit_entries::action.eq("pool.update"),
                    audit_entries::subject_type.eq("pool"),
                ))
                .execute(c)
                .unwrap();
        }
    })
    .await;
    app.login("super@acme.example").await;

    let text = app.get("/audit.csv?actor=bulk-").await.text().await.unwrap();

    let actors: Vec<&str> = text.split("\r\n").skip(1).filter(|l| !l.is_empty()).filter_map(|l| l.split(',').nth(1)).collect();
    assert_eq!(actors.len() as i64, count);
    assert_eq!(actors[0], format!("bulk-{:05}@acme.example", count - 1), "newest first");
    assert_eq!(actors[actors.len() - 1], "bulk-00000@acme.example");
}

#[tokio::test]
async fn the_overview_of_a_large_aggregator_shows_a_page_of_enterprises_with_their_figures() {
    let app = large_aggregator().await;

    let page = app.get_html("/overview?page=2").await;

    let names: Vec<String> = texts(&page, "tbody th[scope=row]").iter().map(|n| n.replace("Needs attention", "").trim().to_owned()).collect();
    let expected: Vec<String> = (51..=100).map(|e| format!("Enterprise {e:05}")).collect();
    assert_eq!(names, expected);
    assert_eq!(texts(&page, "tbody td[data-label=Pools]")[0], "2");
    assert_eq!(texts(&page, "nav.pagination [aria-current=page]"), vec!["2"]);
    assert_eq!(attrs(&page, "nav.pagination a[rel=next]", "href"), vec!["/overview?page=3"]);
    assert!(texts(&page, "p.muted").contains(&"300 enterprises".to_owned()));
}
