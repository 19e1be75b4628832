//! R2: another tenant's pool, number or enterprise id is answered with 404,
//! exactly as an unknown one, and nothing changes.

use crate::helpers::{LISTING, TestApp, spawn_app, status, texts};

/// Every way to reach one pool: GET pages and POSTed changes.
async fn assert_pool_unreachable(app: &TestApp, pool: &str) {
    let id = app.pool_id(pool).await;
    let before = app.snapshot().await;

    for path in [format!("{LISTING}/{id}"), format!("{LISTING}/{id}/edit"), format!("{LISTING}/{id}/deactivate")] {
        let response = app.get(&path).await;
        assert_eq!(status(&response), 404, "GET {path}");
        assert!(!response.text().await.unwrap().contains(pool), "a 404 never names the pool");
    }
    let members = app.pool_numbers(id).await;
    let member = app.number_id(&members[0]).await.to_string();
    let version = app.pool_state(id).await.version.to_string();
    let update = [("name", "Taken over"), ("phone_number_ids", member.as_str()), ("version", version.as_str())];
    for (path, fields) in
        [(format!("{LISTING}/{id}"), &update[..]), (format!("{LISTING}/{id}/deactivate"), &[][..]), (format!("{LISTING}/{id}/activate"), &[][..])]
    {
        let response = app.post_form(&path, fields).await;
        assert_eq!(status(&response), 404, "POST {path}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");
}

#[tokio::test]
async fn an_enterprise_admin_cannot_reach_another_enterprises_pool() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    assert_pool_unreachable(&app, "Umbrella Orders").await;
}

#[tokio::test]
async fn an_aggregator_admin_cannot_reach_another_aggregators_pool() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;

    assert_pool_unreachable(&app, "Hooli Trips").await;
}

#[tokio::test]
async fn an_aggregator_admin_cannot_reach_a_pool_of_an_enterprise_without_aggregator() {
    let app = spawn_app().await;
    app.login("admin@southwind.example").await;

    assert_pool_unreachable(&app, "Umbrella Orders").await;
}

#[tokio::test]
async fn an_inactive_pool_of_another_tenant_cannot_be_activated() {
    // Arrange: Umbrella deactivates its own pool.
    let app = spawn_app().await;
    let umbrella = app.new_client_logged_in("admin@umbrella.example").await;
    let id = umbrella.pool_id("Umbrella Orders").await;
    assert_eq!(status(&umbrella.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);
    app.login("admin@acme.example").await;
    let before = app.snapshot().await;

    // Act
    let response = app.post_form(&format!("{LISTING}/{id}/activate"), &[]).await;

    // Assert
    assert_eq!(status(&response), 404);
    assert!(!app.pool_state(id).await.active);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn another_tenants_pool_and_an_unknown_pool_get_the_same_answer() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let umbrella = app.pool_id("Umbrella Orders").await;

    let foreign = app.get(&format!("{LISTING}/{umbrella}/edit")).await;
    let foreign_status = status(&foreign);
    let foreign_page = foreign.text().await.unwrap();
    let unknown = app.get(&format!("{LISTING}/999999/edit")).await;
    let unknown_status = status(&unknown);
    let unknown_page = unknown.text().await.unwrap();

    assert_eq!(foreign_status, 404);
    assert_eq!(unknown_status, 404);
    assert_eq!(foreign_page, unknown_page);
}

#[tokio::test]
async fn an_aggregator_admin_cannot_add_a_pool_to_another_aggregators_enterprise() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let hooli = app.enterprise_id("Hooli Travel").await.to_string();
    let free = app.number_ids(&["+44 7700 900501", "+61 491 570 501"]).await;
    let before = app.snapshot().await;

    let response = app
        .post_form(LISTING, &[("enterprise_id", &hooli), ("name", "Hooli Stolen"), ("phone_number_ids", &free[0]), ("phone_number_ids", &free[1])])
        .await;

    assert_eq!(status(&response), 404);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_aggregator_admin_cannot_use_its_enterprise_with_another_tenants_numbers() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let acme = app.enterprise_id("Acme Retail").await.to_string();
    let hooli_number = app.number_id("+44 7700 900501").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("enterprise_id", &acme), ("name", "Mixed"), ("phone_number_ids", &hooli_number)]).await;

    assert_eq!(status(&response), 404);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_aggregator_admin_cannot_open_the_add_page_for_another_aggregators_enterprise() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let hooli = app.enterprise_id("Hooli Travel").await;

    let response = app.get(&format!("{LISTING}/new?enterprise_id={hooli}")).await;

    assert_eq!(status(&response), 404);
    assert!(!response.text().await.unwrap().contains("Hooli"));
}

#[tokio::test]
async fn an_aggregator_admin_cannot_filter_the_listing_by_another_aggregators_enterprise() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let hooli = app.enterprise_id("Hooli Travel").await;

    let response = app.get(&format!("{LISTING}?enterprise_id={hooli}")).await;

    assert_eq!(status(&response), 404);
    assert!(!response.text().await.unwrap().contains("Hooli Trips"));
}

#[tokio::test]
async fn an_enterprise_admin_cannot_filter_the_listing_by_another_enterprise() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let globex = app.enterprise_id("Globex Health").await;

    let response = app.get(&format!("{LISTING}?enterprise_id={globex}")).await;

    assert_eq!(status(&response), 404);
}

#[tokio::test]
async fn an_aggregator_admin_must_choose_the_enterprise_when_adding() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "No Enterprise"), ("phone_number_ids", &uk)]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, "#enterprise_id-error"), vec!["Choose the enterprise the pool belongs to."]);
    assert_eq!(texts(&page, "select#enterprise_id").len(), 1, "the picker is shown again");
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_enterprise_admin_naming_another_enterprise_in_the_form_gets_not_found() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let globex = app.enterprise_id("Globex Health").await.to_string();
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("enterprise_id", &globex), ("name", "Elsewhere"), ("phone_number_ids", &uk)]).await;

    assert_eq!(status(&response), 404);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_enterprise_admin_may_name_their_own_enterprise_in_the_form() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let acme = app.enterprise_id("Acme Retail").await;

    let id = app.add_pool(Some(acme), "Acme UK", &["+44 7700 900101"]).await;

    assert_eq!(app.pool_numbers(id).await, vec!["+44 7700 900101"]);
}

#[tokio::test]
async fn a_pool_cannot_be_edited_to_take_another_tenants_number() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let ours = app.number_ids(&["+1 555-010-0101", "+1 555-010-0102"]).await;
    let theirs = app.number_id("+1 555-050-0603").await.to_string();
    let version = app.edit_version(id).await;
    let before = app.snapshot().await;

    let response = app
        .post_form(
            &format!("{LISTING}/{id}"),
            &[
                ("name", "Acme Support"),
                ("phone_number_ids", &ours[0]),
                ("phone_number_ids", &ours[1]),
                ("phone_number_ids", &theirs),
                ("version", &version),
            ],
        )
        .await;

    assert_eq!(status(&response), 404);
    assert_eq!(app.snapshot().await, before);
}
