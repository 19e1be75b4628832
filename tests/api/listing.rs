//! The WABA Pool listing: search, filters, pagination, empty states and
//! what each row shows.

use diesel::prelude::*;
use wabapool::db::schema::{enterprises, numbers, pool_members, pools, wabas};

use crate::helpers::{LISTING, TestApp, attrs, spawn_app, status, texts};

/// The pool names a listing page shows, in order.
fn names(page: &str) -> Vec<String> {
    texts(page, "tbody td[data-label='Pool name']")
}

/// The listing with the given query pairs, encoded as a browser would.
async fn listing(app: &TestApp, query: &[(&str, &str)]) -> (u16, String) {
    let response = app.client.get(app.url(LISTING)).query(query).send().await.expect("GET sent");
    (status(&response), response.text().await.unwrap())
}

/// Writes `count` pools named "Bulk 01"… straight into the database, each
/// with one new activated number of Initech Retail Banking.
async fn add_bulk_pools(app: &TestApp, count: i64) {
    app.with_db(move |c| {
        let now = chrono::Utc::now().naive_utc();
        let enterprise: i64 = enterprises::table.filter(enterprises::name.eq("Initech Bank")).select(enterprises::id).first(c).unwrap();
        let waba: i64 = wabas::table.filter(wabas::name.eq("Initech Retail Banking")).select(wabas::id).first(c).unwrap();
        for i in 1..=count {
            let number: i64 = diesel::insert_into(numbers::table)
                .values((
                    numbers::waba_id.eq(waba),
                    numbers::enterprise_id.eq(Some(enterprise)),
                    numbers::phone_number_id.eq(format!("1999000{i:04}")),
                    numbers::display_phone_number.eq(format!("+1 999-000-{i:04}")),
                    numbers::e164.eq(format!("+1999000{i:04}")),
                    numbers::verified_name.eq("Initech Bulk"),
                    numbers::status.eq("activated"),
                    numbers::quality_rating.eq("GREEN"),
                    numbers::created_at.eq(now),
                    numbers::updated_at.eq(now),
                ))
                .returning(numbers::id)
                .get_result(c)
                .unwrap();
            let name = format!("Bulk {i:02}");
            let pool: i64 = diesel::insert_into(pools::table)
                .values((
                    pools::enterprise_id.eq(enterprise),
                    pools::waba_id.eq(waba),
                    pools::name_key.eq(name.to_lowercase()),
                    pools::name.eq(name),
                    pools::active.eq(true),
                    pools::version.eq(1_i64),
                    pools::created_at.eq(now),
                    pools::updated_at.eq(now),
                ))
                .returning(pools::id)
                .get_result(c)
                .unwrap();
            diesel::insert_into(pool_members::table)
                .values((
                    pool_members::pool_id.eq(pool),
                    pool_members::number_id.eq(number),
                    pool_members::waba_id.eq(waba),
                    pool_members::enterprise_id.eq(enterprise),
                    pool_members::slot.eq(1),
                    pool_members::added_at.eq(now),
                ))
                .execute(c)
                .unwrap();
        }
    })
    .await;
}

fn bulk_names(range: std::ops::RangeInclusive<i64>) -> Vec<String> {
    range.map(|i| format!("Bulk {i:02}")).collect()
}

#[tokio::test]
async fn a_row_shows_the_pools_numbers_health_switch_and_edit_link() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;

    let (code, page) = listing(&app, &[]).await;

    assert_eq!(code, 200);
    assert_eq!(texts(&page, "td[data-label=Numbers] li"), vec!["+1 555-010-0101", "+1 555-010-0102"]);
    assert_eq!(texts(&page, "td[data-label=Health]"), vec!["2/2 in rotation"]);
    assert_eq!(attrs(&page, "a[aria-label='Edit Acme Support']", "href"), vec![format!("{LISTING}/{id}/edit")]);
    assert_eq!(attrs(&page, "button[role=switch]", "aria-checked"), vec!["true"]);
    assert_eq!(texts(&page, ".table-card ~ p.muted"), vec!["1 pool"]);
}

#[tokio::test]
async fn a_member_out_of_rotation_shows_in_the_pools_health() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.set_number_status("+1 555-010-0102", "deactivated").await;

    let (_, page) = listing(&app, &[]).await;

    let health = texts(&page, "td[data-label=Health]");
    assert_eq!(health.len(), 1);
    assert!(health[0].starts_with("1/2 in rotation"), "{health:?}");
    assert!(health[0].contains("1 of 2 numbers out of rotation"), "{health:?}");
    assert!(health[0].contains("+1 555-010-0102: Number deactivated"), "{health:?}");
    assert_eq!(texts(&page, "td[data-label=Numbers] li"), vec!["+1 555-010-0101", "+1 555-010-0102 Deactivated"]);
}

#[tokio::test]
async fn search_by_name_ignores_case() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.add_pool(None, "Acme Asia", &["+65 8100 0101"]).await;

    let (code, page) = listing(&app, &[("q", "SUPPORT")]).await;

    assert_eq!(code, 200);
    assert_eq!(names(&page), vec!["Acme Support"]);
    assert_eq!(attrs(&page, "input#filter-q", "value"), vec!["SUPPORT"], "the search is kept in the box");
}

#[tokio::test]
async fn search_takes_like_wildcards_literally() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.add_pool(None, "50% Off", &["+44 7700 900101"]).await;
    app.add_pool(None, "500 Club", &["+65 8100 0101"]).await;
    app.add_pool(None, "A_B", &["+91 98100 00101"]).await;

    for (q, expected) in [("%", vec!["50% Off"]), ("50%", vec!["50% Off"]), ("_", vec!["A_B"]), ("0_", vec![]), ("\\", vec![])] {
        // Act
        let (code, page) = listing(&app, &[("q", q)]).await;

        // Assert
        assert_eq!(code, 200, "q={q}");
        assert_eq!(names(&page), expected, "q={q}");
    }
}

#[tokio::test]
async fn the_status_filter_shows_active_or_inactive_pools() {
    // Arrange: one active and one inactive pool.
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    app.add_pool(None, "Acme UK", &["+44 7700 900101"]).await;
    let support = app.pool_id("Acme Support").await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{support}/deactivate"), &[]).await), 303);

    for (value, expected) in [
        ("inactive", vec!["Acme Support"]),
        ("active", vec!["Acme UK"]),
        ("all", vec!["Acme Support", "Acme UK"]),
        ("", vec!["Acme Support", "Acme UK"]),
    ] {
        // Act
        let (code, page) = listing(&app, &[("status", value)]).await;

        // Assert
        assert_eq!(code, 200, "status={value}");
        assert_eq!(names(&page), expected, "status={value}");
    }
}

#[tokio::test]
async fn the_status_filter_is_kept_selected() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let (_, page) = listing(&app, &[("status", "inactive")]).await;

    assert_eq!(attrs(&page, "select#filter-status option[selected]", "value"), vec!["inactive"]);
}

#[tokio::test]
async fn an_aggregator_filters_the_listing_by_enterprise() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await;
    app.add_pool(Some(initech), "Initech Cards", &["+1 555-030-0401"]).await;
    let initech = initech.to_string();

    let (code, page) = listing(&app, &[("enterprise_id", &initech)]).await;

    assert_eq!(code, 200);
    assert_eq!(names(&page), vec!["Initech Cards"]);
    assert_eq!(texts(&page, "td[data-label=Enterprise]"), vec!["Initech Bank"]);
    assert_eq!(attrs(&page, "select#filter-enterprise option[selected]", "value"), vec![initech]);
}

#[tokio::test]
async fn filters_combine() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await;
    app.add_pool(Some(initech), "Initech Support", &["+1 555-030-0401"]).await;
    let acme = app.enterprise_id("Acme Retail").await.to_string();

    let (_, both) = listing(&app, &[("q", "support")]).await;
    let (_, one) = listing(&app, &[("q", "support"), ("enterprise_id", &acme), ("status", "active")]).await;

    assert_eq!(names(&both), vec!["Acme Support", "Initech Support"]);
    assert_eq!(names(&one), vec!["Acme Support"]);
}

#[tokio::test]
async fn the_listing_shows_fifty_pools_a_page() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    add_bulk_pools(&app, 60).await;

    // Act
    let (first_code, first) = listing(&app, &[]).await;
    let (second_code, second) = listing(&app, &[("page", "2")]).await;

    // Assert
    assert_eq!(first_code, 200);
    assert_eq!(names(&first), bulk_names(1..=50));
    assert_eq!(texts(&first, "nav.pagination [aria-current=page]"), vec!["1"]);
    assert_eq!(attrs(&first, "nav.pagination a[rel=next]", "href"), vec![format!("{LISTING}?page=2")]);
    assert_eq!(second_code, 200);
    assert_eq!(names(&second), bulk_names(51..=60));
    assert_eq!(texts(&second, "nav.pagination [aria-current=page]"), vec!["2"]);
    assert_eq!(attrs(&second, "nav.pagination a[rel=prev]", "href"), vec![format!("{LISTING}?page=1")]);
    assert!(attrs(&second, "nav.pagination a[rel=next]", "href").is_empty(), "no page after the last");
    assert_eq!(texts(&second, ".table-card ~ p.muted"), vec!["60 pools"]);
}

#[tokio::test]
async fn pagination_links_keep_the_filters() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    add_bulk_pools(&app, 60).await;

    let (_, page) = listing(&app, &[("q", "bulk"), ("status", "active")]).await;

    assert_eq!(attrs(&page, "nav.pagination a[rel=next]", "href"), vec![format!("{LISTING}?q=bulk&status=active&page=2")]);
    let (_, second) = listing(&app, &[("q", "bulk"), ("status", "active"), ("page", "2")]).await;
    assert_eq!(names(&second), bulk_names(51..=60));
}

#[tokio::test]
async fn a_page_past_the_last_says_so_and_links_to_the_first() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;
    add_bulk_pools(&app, 60).await;

    let (code, page) = listing(&app, &[("page", "3")]).await;

    assert_eq!(code, 200);
    assert!(names(&page).is_empty());
    assert_eq!(texts(&page, ".empty-state h2"), vec!["No pools on this page"]);
    assert!(texts(&page, ".empty-state p")[0].contains("60 pools on 2 pages"));
    assert_eq!(attrs(&page, ".empty-state a", "href"), vec![format!("{LISTING}?page=1")]);
}

#[tokio::test]
async fn a_search_that_matches_nothing_says_so_and_offers_to_clear_it() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let (code, page) = listing(&app, &[("q", "zzz")]).await;

    assert_eq!(code, 200);
    assert!(names(&page).is_empty());
    assert_eq!(texts(&page, ".empty-state h2"), vec!["No pools match these filters"]);
    assert_eq!(attrs(&page, ".empty-state a", "href"), vec![LISTING]);
}

#[tokio::test]
async fn an_enterprise_without_pools_is_told_how_to_add_the_first() {
    let app = spawn_app().await;
    app.login("admin@initech.example").await;

    let (code, page) = listing(&app, &[]).await;

    assert_eq!(code, 200);
    assert_eq!(texts(&page, ".empty-state h2"), vec!["No WABA Pools yet"]);
    assert_eq!(texts(&page, ".empty-state a"), vec!["Add your first pool"]);
    assert_eq!(attrs(&page, ".empty-state a", "href"), vec![format!("{LISTING}/new")]);
}

#[tokio::test]
async fn the_search_finds_a_pool_by_a_member_phone_number_in_any_format() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    for q in ["+1 555-010-0101", "15550100101", "(555) 010-0102", "0100102"] {
        let page = app.get_html(&format!("{LISTING}?q={}", q.replace('+', "%2B").replace(' ', "+").replace('(', "%28").replace(')', "%29"))).await;
        assert_eq!(texts(&page, "tbody td[data-label='Pool name']"), vec!["Acme Support"], "{q}");
    }
    let page = app.get_html(&format!("{LISTING}?q=555-010-0103")).await;
    assert!(texts(&page, "tbody td[data-label='Pool name']").is_empty(), "a number in no pool finds nothing");
    let page = app.get_html(&format!("{LISTING}?q=support")).await;
    assert_eq!(texts(&page, "tbody td[data-label='Pool name']"), vec!["Acme Support"], "names still match");
}

#[tokio::test]
async fn the_listing_sorts_by_a_column_and_back() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await;
    app.add_pool(Some(initech), "Zeta Alerts", &["+1 555-030-0301", "+1 555-030-0302", "+1 555-030-0303"]).await;
    app.add_pool(Some(initech), "Alpha Notices", &["+1 555-030-0304", "+1 555-030-0305", "+1 555-030-0306"]).await;
    let names = |page: &str| texts(page, "tbody td[data-label='Pool name']");

    let page = app.get_html(LISTING).await;
    assert_eq!(names(&page), vec!["Acme Support", "Alpha Notices", "Zeta Alerts"]);
    assert_eq!(attrs(&page, "thead th[aria-sort='ascending'] a", "href"), vec![format!("{LISTING}?sort=-name")]);

    let page = app.get_html(&format!("{LISTING}?sort=-name")).await;
    assert_eq!(names(&page), vec!["Zeta Alerts", "Alpha Notices", "Acme Support"]);
    assert_eq!(texts(&page, "thead th[aria-sort='descending']"), vec!["Pool name"]);

    let page = app.get_html(&format!("{LISTING}?sort=-enterprise")).await;
    assert_eq!(names(&page), vec!["Alpha Notices", "Zeta Alerts", "Acme Support"], "Initech Bank before Acme Retail, by name within");
    assert_eq!(attrs(&page, "form.filters input[name=sort]", "value"), vec!["-enterprise"], "the filters keep the order");

    assert_eq!(app.get(&format!("{LISTING}?sort=colour")).await.status().as_u16(), 400, "a bad request, as for the other listing values");
}

#[tokio::test]
async fn the_listing_and_the_numbers_page_export_csv_with_their_filters() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await;
    app.add_pool(Some(initech), "Initech Alerts", &["+1 555-030-0301", "+1 555-030-0302", "+1 555-030-0303"]).await;

    let page = app.get_html(&format!("{LISTING}?q=alerts")).await;
    assert_eq!(attrs(&page, ".page-actions a[href*='.csv']", "href"), vec![format!("{LISTING}.csv?q=alerts")]);
    let response = app.get(&format!("{LISTING}.csv?q=alerts")).await;
    assert_eq!(status(&response), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "pool,enterprise,active,numbers,numbers_in_rotation,member_count");
    assert_eq!(
        lines[1..],
        ["Initech Alerts,Initech Bank,yes,'+1 555-030-0301; +1 555-030-0302; +1 555-030-0303,3,3"],
        "only what the filter matches"
    );
    let everything = app.get_html(&format!("{LISTING}.csv")).await;
    assert_eq!(everything.lines().count(), 3, "the header and both of Northwind's pools");

    let numbers = app.get(&format!("/channels/whatsapp/numbers.csv?enterprise_id={initech}")).await.text().await.unwrap();
    let lines: Vec<&str> = numbers.lines().collect();
    assert_eq!(lines[0], "waba,number,verified_name,status,meta_status,quality,messaging_limit,throughput,pool");
    assert_eq!(lines.len(), 1 + 13, "Initech's 13 numbers");
    assert!(lines.iter().any(|l| l.starts_with("Initech Retail Banking,'+1 555-030-0301,") && l.ends_with(",Initech Alerts")), "{numbers}");
    let umbrella = app.get("/channels/whatsapp/numbers.csv?enterprise_id=5").await;
    assert_eq!(status(&umbrella), 404, "another aggregator's enterprise");
}
