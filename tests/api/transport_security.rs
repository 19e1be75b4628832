//! `Strict-Transport-Security`: sent when the deployment serves HTTPS
//! (secure cookies on), never over plain HTTP.

use crate::helpers::{spawn_app, spawn_app_with, status};

#[tokio::test]
async fn responses_over_https_tell_browsers_to_use_only_https_for_two_years() {
    let app = spawn_app_with(|s| s.secure_cookies = true).await;

    let page = app.get("/login").await;
    let missing = app.get("/no/such/page").await;

    assert_eq!(status(&page), 200);
    assert_eq!(page.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
    assert_eq!(status(&missing), 404);
    assert_eq!(missing.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
}

#[tokio::test]
async fn responses_over_plain_http_carry_no_strict_transport_security() {
    let app = spawn_app().await;

    let page = app.get("/login").await;

    assert_eq!(status(&page), 200);
    assert!(page.headers().get("strict-transport-security").is_none());
}
