//! Adding, editing and toggling pools over HTTP.

use crate::helpers::{LISTING, spawn_app};

#[tokio::test]
async fn an_enterprise_admin_adds_a_pool_of_three_numbers() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let india = app.number_id("+91 98100 00101").await.to_string();
    let singapore = app.number_id("+65 8100 0101").await.to_string();

    // Act
    let response = app
        .post_form(LISTING, &[("name", "Acme Asia"), ("phone_number_ids", &uk), ("phone_number_ids", &india), ("phone_number_ids", &singapore)])
        .await;

    // Assert
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], LISTING);
    let id = app.pool_id("Acme Asia").await;
    assert_eq!(app.pool_numbers(id).await, vec!["+44 7700 900101", "+91 98100 00101", "+65 8100 0101"]);
    let listing = app.get_html(LISTING).await;
    assert!(listing.contains("Acme Asia"));
    assert!(listing.contains("was added"));
}

#[tokio::test]
async fn a_pool_with_a_number_of_another_tenant_is_not_found_and_nothing_changes() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let umbrella_number = app.number_id("+1 555-050-0603").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form(LISTING, &[("name", "Stolen"), ("phone_number_ids", &umbrella_number)]).await;

    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn every_problem_of_a_submission_is_reported_at_once() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await.to_string();
    let ids = app.number_ids(&["+1 555-030-0301", "+1 555-030-0401"]).await;
    let pairs = [("enterprise_id", initech.as_str()), ("name", ""), ("phone_number_ids", ids[0].as_str()), ("phone_number_ids", ids[1].as_str())];

    let response = app.post_form(LISTING, &pairs).await;

    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.unwrap();
    let problems = crate::helpers::texts(&page, "#form-errors li");
    assert_eq!(problems.len(), 2, "the name and the mix of WABAs together: {problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("All numbers of a pool must belong to one WABA")), "{problems:?}");
    assert!(problems.contains(&"Enter a pool name.".to_owned()), "{problems:?}");
}

#[tokio::test]
async fn a_red_number_is_marked_and_warned_about_in_the_picker() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let uk = app.number_id("+44 7700 900101").await;
    app.with_db(move |c| {
        use diesel::prelude::*;
        use wabapool::db::schema::numbers;
        diesel::update(numbers::table.find(uk)).set(numbers::quality_rating.eq("RED")).execute(c).unwrap();
    })
    .await;

    let page = app.get_html(&format!("{LISTING}/new")).await;

    let warnings = crate::helpers::texts(&page, ".number-choice .number-warning");
    assert_eq!(warnings, vec!["Meta rates it RED: it stays out of rotation until its quality recovers."]);
    let warned = crate::helpers::attrs(&page, ".number-choice:has(.number-warning) input", "value");
    assert_eq!(warned, vec![uk.to_string()]);
}
