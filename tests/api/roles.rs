//! R1 and the role matrix of DESIGN.md §4: agents are refused every pool
//! and numbers page; admins and super admins work within their scope;
//! aggregator users see every enterprise of their aggregator.

use crate::helpers::{LISTING, TestApp, spawn_app, status, texts};

/// Every pool and numbers page an agent might open.
async fn pages_for(app: &TestApp) -> Vec<String> {
    let id = app.pool_id("Acme Support").await;
    vec![
        LISTING.to_owned(),
        format!("{LISTING}/new"),
        format!("{LISTING}/{id}"),
        format!("{LISTING}/{id}/edit"),
        format!("{LISTING}/{id}/deactivate"),
        "/channels/whatsapp/numbers".to_owned(),
    ]
}

/// Every pool change an agent might post, with otherwise valid fields.
async fn changes_for(app: &TestApp) -> Vec<(String, Vec<(&'static str, String)>)> {
    let id = app.pool_id("Acme Support").await;
    let acme = app.enterprise_id("Acme Retail").await.to_string();
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let one = app.number_id("+1 555-010-0101").await.to_string();
    vec![
        (LISTING.to_owned(), vec![("enterprise_id", acme), ("name", "Agent Pool".to_owned()), ("phone_number_ids", uk)]),
        (format!("{LISTING}/{id}"), vec![("name", "Renamed".to_owned()), ("phone_number_ids", one), ("version", "1".to_owned())]),
        (format!("{LISTING}/{id}/deactivate"), vec![]),
        (format!("{LISTING}/{id}/activate"), vec![]),
    ]
}

async fn assert_pages_forbidden(email: &str) {
    // Arrange
    let app = spawn_app().await;
    app.login(email).await;

    for path in pages_for(&app).await {
        // Act
        let response = app.get(&path).await;

        // Assert
        assert_eq!(status(&response), 403, "{email} GET {path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Your role does not allow this page."), "{email} GET {path}");
        assert!(!page.contains("Acme Support"), "a refused page reveals nothing of the pool");
    }
}

async fn assert_changes_forbidden(email: &str) {
    // Arrange
    let app = spawn_app().await;
    app.login(email).await;
    let before = app.snapshot().await;

    for (path, fields) in changes_for(&app).await {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();

        // Act
        let response = app.post_form(&path, &pairs).await;

        // Assert
        assert_eq!(status(&response), 403, "{email} POST {path}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
}

#[tokio::test]
async fn an_enterprise_agent_is_refused_every_pool_and_numbers_page() {
    assert_pages_forbidden("agent@acme.example").await;
}

#[tokio::test]
async fn an_aggregator_agent_is_refused_every_pool_and_numbers_page() {
    assert_pages_forbidden("agent@northwind.example").await;
}

#[tokio::test]
async fn an_enterprise_agent_cannot_add_edit_or_toggle_a_pool() {
    assert_changes_forbidden("agent@acme.example").await;
}

#[tokio::test]
async fn an_aggregator_agent_cannot_add_edit_or_toggle_a_pool() {
    assert_changes_forbidden("agent@northwind.example").await;
}

#[tokio::test]
async fn an_agent_sees_no_waba_pool_or_numbers_menu_entries() {
    let app = spawn_app().await;
    app.login("agent@acme.example").await;

    let page = app.get_html(LISTING).await;

    let links = texts(&page, "a");
    assert!(!links.iter().any(|l| l == "WABA Pool" || l == "Numbers"), "links: {links:?}");
    assert_eq!(texts(&page, "nav.side-nav a"), vec!["My password"], "the menu offers what an agent may use");
    assert!(!page.contains("href=\"/channels/whatsapp/numbers\""));
}

#[tokio::test]
async fn an_admin_sees_the_waba_pool_and_numbers_menu_entries() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let page = app.get_html(LISTING).await;

    let menu = texts(&page, "nav.side-nav a");
    assert_eq!(menu, vec!["Numbers", "WABA Pool", "My password"]);
    assert_eq!(texts(&page, "nav.side-nav a[aria-current=page]"), vec!["WABA Pool"]);
}

#[tokio::test]
async fn admins_and_super_admins_may_open_every_pool_page() {
    for email in ["admin@acme.example", "super@acme.example", "admin@northwind.example", "super@northwind.example"] {
        // Arrange
        let app = spawn_app().await;
        app.login(email).await;

        for path in pages_for(&app).await {
            // Act
            let response = app.get(&path).await;

            // Assert
            assert_eq!(status(&response), 200, "{email} GET {path}");
        }
    }
}

#[tokio::test]
async fn an_enterprise_super_admin_adds_a_pool() {
    let app = spawn_app().await;
    app.login("super@umbrella.example").await;
    let spare = app.number_id("+1 555-050-0603").await.to_string();

    let response = app.post_form(LISTING, &[("name", "Umbrella Spare"), ("phone_number_ids", &spare)]).await;

    assert_eq!(status(&response), 303);
    let id = app.pool_id("Umbrella Spare").await;
    assert_eq!(app.pool_numbers(id).await, vec!["+1 555-050-0603"]);
}

#[tokio::test]
async fn an_aggregator_super_admin_adds_a_pool_for_one_of_its_enterprises() {
    let app = spawn_app().await;
    app.login("super@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await.to_string();
    let cards = app.number_ids(&["+1 555-030-0401", "+1 555-030-0402"]).await;

    let response = app
        .post_form(
            LISTING,
            &[("enterprise_id", &initech), ("name", "Initech Cards"), ("phone_number_ids", &cards[0]), ("phone_number_ids", &cards[1])],
        )
        .await;

    assert_eq!(status(&response), 303);
    let id = app.pool_id("Initech Cards").await;
    assert_eq!(app.pool_numbers(id).await, vec!["+1 555-030-0401", "+1 555-030-0402"]);
    let owner = app.with_db(move |c| {
        use diesel::prelude::*;
        use wabapool::db::schema::pools;
        pools::table.find(id).select(pools::enterprise_id).first::<i64>(c).unwrap()
    });
    assert_eq!(owner.await.to_string(), initech);
}

#[tokio::test]
async fn an_enterprise_admin_sees_only_their_own_pools_and_no_enterprise_column() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let page = app.get_html(LISTING).await;

    assert_eq!(texts(&page, "tbody td[data-label='Pool name']"), vec!["Acme Support"]);
    assert!(texts(&page, "th").iter().all(|h| h != "Enterprise"));
    assert!(texts(&page, "select#filter-enterprise").is_empty(), "no enterprise filter");
    assert!(!page.contains("Umbrella Orders") && !page.contains("Hooli Trips"));
}

#[tokio::test]
async fn an_aggregator_admin_sees_the_pools_of_all_its_enterprises_with_an_enterprise_column() {
    // Arrange: a second pool in another Northwind enterprise.
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await;
    app.add_pool(Some(initech), "Initech Cards", &["+1 555-030-0401"]).await;

    // Act
    let page = app.get_html(LISTING).await;

    // Assert
    assert!(texts(&page, "th").iter().any(|h| h == "Enterprise"));
    assert_eq!(texts(&page, "tbody td[data-label='Pool name']"), vec!["Acme Support", "Initech Cards"]);
    assert_eq!(texts(&page, "tbody td[data-label='Enterprise']"), vec!["Acme Retail", "Initech Bank"]);
    assert_eq!(texts(&page, "select#filter-enterprise option"), vec!["All enterprises", "Acme Retail", "Globex Health", "Initech Bank"]);
    assert!(!page.contains("Hooli Trips") && !page.contains("Umbrella Orders"), "other tenants' pools stay hidden");
}

#[tokio::test]
async fn another_aggregators_admin_sees_only_its_own_enterprises() {
    let app = spawn_app().await;
    app.login("admin@southwind.example").await;

    let page = app.get_html(LISTING).await;

    assert_eq!(texts(&page, "tbody td[data-label='Pool name']"), vec!["Hooli Trips"]);
    assert_eq!(texts(&page, "tbody td[data-label='Enterprise']"), vec!["Hooli Travel"]);
    assert_eq!(texts(&page, "select#filter-enterprise option"), vec!["All enterprises", "Hooli Travel"]);
}

#[tokio::test]
async fn an_aggregator_admin_picks_the_enterprise_first_on_the_add_page() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;

    let page = app.get_html(&format!("{LISTING}/new")).await;

    assert_eq!(texts(&page, "select#enterprise_id option"), vec!["Choose an enterprise…", "Acme Retail", "Globex Health", "Initech Bank"]);
    assert!(texts(&page, "form#pool-form").is_empty(), "no pool form before an enterprise is chosen");
    assert!(page.contains("Choose an enterprise"));
}

#[tokio::test]
async fn an_enterprise_admin_gets_no_enterprise_picker() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let page = app.get_html(&format!("{LISTING}/new")).await;

    assert!(texts(&page, "select#enterprise_id").is_empty());
    assert!(texts(&page, "input[name=enterprise_id]").is_empty());
    assert_eq!(texts(&page, "form#pool-form").len(), 1);
}
