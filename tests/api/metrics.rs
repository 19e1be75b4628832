//! `/metrics` stays bounded and private: every label value comes from a
//! closed set, whatever methods and paths strangers invent, and only the
//! allowed client addresses may read it.

use reqwest::Method;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, status};

/// The series `/metrics` holds now (lines that are not comments), sorted:
/// the exposition lists a family's series in no set order.
async fn series(app: &TestApp) -> Vec<String> {
    let text = app.get("/metrics").await.text().await.expect("metrics text");
    let mut series: Vec<String> =
        text.lines().filter(|line| !line.starts_with('#')).map(|line| line.rsplit_once(' ').map_or(line, |(name, _)| name).to_owned()).collect();
    series.sort();
    series
}

async fn send(app: &TestApp, method: &str, path: &str) -> reqwest::Response {
    let method = Method::from_bytes(method.as_bytes()).expect("a valid method token");
    app.client.request(method, app.url(path)).send().await.expect("request sent")
}

#[tokio::test]
async fn a_thousand_invented_methods_and_paths_add_no_metric_series() {
    let app = spawn_app().await;
    send(&app, "WARMUPMETHOD", "/warm/up").await;
    send(&app, "GET", "/warm/up").await;
    series(&app).await; // the first scrape counts itself in the next
    let before = series(&app).await;

    for i in 0..500 {
        let invented = send(&app, &format!("INVENTED{i:04}{}", "X".repeat(i % 40)), &format!("/invented/{i}")).await;
        assert_eq!(status(&invented), 405);
        let unknown_path = send(&app, "GET", &format!("/no/such/page/{i}")).await;
        assert_eq!(status(&unknown_path), 404);
    }
    let after = series(&app).await;

    assert_eq!(after, before, "no new series; every label comes from a closed set");
    assert!(after.iter().all(|s| !s.contains("INVENTED") && !s.contains("/invented/") && !s.contains("/no/such/page")));
    assert!(after.iter().any(|s| s.contains("method=\"OTHER\",route=\"unmatched\",status=\"405\"")), "{after:?}");
    assert!(after.iter().any(|s| s.contains("method=\"GET\",route=\"unmatched\",status=\"404\"")), "{after:?}");
}

#[tokio::test]
async fn an_unknown_method_is_refused_with_405_and_the_methods_allowed() {
    let app = spawn_app().await;

    let response = send(&app, "PROPFIND", "/channels/whatsapp/pools").await;

    assert_eq!(status(&response), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    assert!(response.headers().get("content-security-policy").is_some(), "security headers on the refusal too");
}

#[tokio::test]
async fn metrics_are_hidden_from_an_address_outside_the_allow_list() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    app.get("/healthz").await; // a request counted: a family with no series is left out of the text

    let outsider = app.get_with_headers("/metrics", &[("X-Forwarded-For", "203.0.113.9")]).await;
    let local = app.get_with_headers("/metrics", &[("X-Forwarded-For", "127.0.0.1")]).await;

    assert_eq!(status(&outsider), 404);
    assert!(!outsider.text().await.unwrap().contains("wabapool_http_requests_total"));
    assert_eq!(status(&local), 200);
}

#[tokio::test]
async fn metrics_are_served_to_a_network_named_in_the_allow_list() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.metrics_allow = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    app.get("/healthz").await; // a request counted: a family with no series is left out of the text

    let monitoring = app.get_with_headers("/metrics", &[("X-Forwarded-For", "10.1.2.3")]).await;
    let outsider = app.get_with_headers("/metrics", &[("X-Forwarded-For", "203.0.113.9")]).await;

    assert_eq!(status(&monitoring), 200);
    assert!(monitoring.text().await.unwrap().contains("wabapool_http_requests_total"));
    assert_eq!(status(&outsider), 404);
}
