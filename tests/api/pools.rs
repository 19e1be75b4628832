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
