//! Security headers on every kind of response: pages, errors, redirects,
//! static files and probes.

use crate::helpers::{LISTING, spawn_app, spawn_app_signed_in, status};

/// Asserts the security headers of one response.
fn assert_security_headers(what: &str, response: &reqwest::Response) {
    let header = |name: &str| response.headers().get(name).unwrap_or_else(|| panic!("{what}: no {name} header")).to_str().unwrap().to_owned();
    let csp = header("content-security-policy");
    let directive = |name: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.split_whitespace().next() == Some(name))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{what}: CSP has no {name}: {csp}"))
    };
    let script_src = directive("script-src");
    assert!(!script_src.contains("'unsafe-inline'") && !script_src.contains("'unsafe-eval'"), "{what}: {script_src}");
    assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'", "{what}");
    assert_eq!(directive("object-src"), "object-src 'none'", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    let referrer = header("referrer-policy");
    assert!(["no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"].contains(&referrer.as_str()), "{what}: {referrer}");
}

#[tokio::test]
async fn a_portal_page_carries_the_security_headers() {
    let app = spawn_app_signed_in("admin@acme.example").await;

    let response = app.get(LISTING).await;

    assert_eq!(status(&response), 200);
    assert_security_headers("listing", &response);
    assert_eq!(response.headers()["cache-control"], "no-store", "pages with tenant data are not cached");
}

#[tokio::test]
async fn a_not_found_page_carries_the_security_headers() {
    let app = spawn_app_signed_in("admin@acme.example").await;

    let response = app.get("/no/such/page").await;

    assert_eq!(status(&response), 404);
    assert_security_headers("404", &response);
}

#[tokio::test]
async fn a_forbidden_page_carries_the_security_headers() {
    let app = spawn_app_signed_in("agent@acme.example").await;

    let response = app.get(LISTING).await;

    assert_eq!(status(&response), 403);
    assert_security_headers("403", &response);
}

#[tokio::test]
async fn a_refused_form_carries_the_security_headers() {
    let app = spawn_app_signed_in("admin@acme.example").await;

    let response = app.post_form(LISTING, &[("name", "")]).await;

    assert_eq!(status(&response), 422);
    assert_security_headers("422", &response);
}

#[tokio::test]
async fn a_csrf_refusal_carries_the_security_headers() {
    let app = spawn_app_signed_in("admin@acme.example").await;

    let response = app.post_raw(LISTING, &[("name", "x")]).await;

    assert_eq!(status(&response), 403);
    assert_security_headers("CSRF 403", &response);
}

#[tokio::test]
async fn the_sign_in_redirect_carries_the_security_headers() {
    let app = spawn_app().await;

    let response = app.get(LISTING).await;

    assert_eq!(status(&response), 303);
    assert_security_headers("sign-in redirect", &response);
}

#[tokio::test]
async fn a_static_file_carries_the_security_headers() {
    let app = spawn_app().await;

    let response = app.get("/static/css/app.css").await;

    assert_eq!(status(&response), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_security_headers("app.css", &response);
}

#[tokio::test]
async fn the_login_page_carries_the_security_headers() {
    let app = spawn_app().await;

    let response = app.get("/login").await;

    assert_eq!(status(&response), 200);
    assert_security_headers("login", &response);
}

#[tokio::test]
async fn the_health_probe_carries_the_security_headers() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(status(&response), 200);
    assert_security_headers("healthz", &response);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;

    let response = app.get("/login").await;

    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("wabapool_session="))
        .expect("the login page starts a session")
        .to_lowercase();
    assert!(cookie.contains("httponly"), "{cookie}");
    assert!(cookie.contains("samesite=lax") || cookie.contains("samesite=strict"), "{cookie}");
}

#[tokio::test]
async fn pages_load_no_inline_script() {
    let app = spawn_app_signed_in("admin@northwind.example").await;
    let id = app.pool_id("Acme Support").await;

    for path in [
        "/login".to_owned(),
        LISTING.to_owned(),
        "/channels/whatsapp/pools/new".to_owned(),
        format!("/channels/whatsapp/pools/{id}/edit"),
        format!("/channels/whatsapp/pools/{id}/deactivate"),
        format!("/channels/whatsapp/pools/{id}"),
    ] {
        let page = app.get_html(&path).await;
        let doc = scraper::Html::parse_document(&page);
        let scripts = scraper::Selector::parse("script").unwrap();
        for script in doc.select(&scripts) {
            assert!(script.value().attr("src").is_some_and(|s| s.starts_with("/static/")), "{path}: a script without our src");
            assert!(script.text().collect::<String>().trim().is_empty(), "{path}: inline script");
        }
        let handlers = ["onclick=", "onload=", "onchange=", "onsubmit=", "javascript:"];
        assert!(handlers.iter().all(|h| !page.to_lowercase().contains(h)), "{path}: an inline handler");
    }
}
