//! htmx and no-JavaScript: htmx requests get fragments and HX-Redirect;
//! plain requests get whole pages and 303s, so the portal works with
//! JavaScript off.

use crate::helpers::{LISTING, attrs, spawn_app, status, texts};

const HTMX: &[(&str, &str)] = &[("HX-Request", "true")];

#[tokio::test]
async fn an_htmx_post_that_fails_validation_gets_only_the_form_fragment() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let uk = app.number_id("+44 7700 900101").await.to_string();
    let before = app.snapshot().await;

    let response = app.post_form_with_headers(LISTING, &[("name", ""), ("phone_number_ids", &uk)], HTMX).await;

    assert_eq!(status(&response), 422);
    let fragment = response.text().await.unwrap();
    assert!(!fragment.to_lowercase().contains("<html"), "a fragment, not a page");
    assert!(!fragment.contains("side-nav"));
    assert_eq!(texts(&fragment, "form#pool-form #name-error"), vec!["Enter a pool name."]);
    assert_eq!(attrs(&fragment, "input[name=phone_number_ids][checked]", "value"), vec![uk]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_plain_post_that_fails_validation_gets_the_whole_page() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let response = app.post_form(LISTING, &[("name", "")]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert!(page.to_lowercase().contains("<html"));
    assert_eq!(texts(&page, "nav.side-nav a"), vec!["Numbers", "WABA Pool", "My password"]);
    assert_eq!(texts(&page, "h1"), vec!["Add WABA Pool"]);
    assert_eq!(texts(&page, "#name-error"), vec!["Enter a pool name."]);
}

#[tokio::test]
async fn an_htmx_post_that_succeeds_gets_hx_redirect_to_the_listing() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let uk = app.number_id("+44 7700 900101").await.to_string();

    let response = app.post_form_with_headers(LISTING, &[("name", "Acme UK"), ("phone_number_ids", &uk)], HTMX).await;

    assert_eq!(status(&response), 200);
    assert_eq!(response.headers()["hx-redirect"], LISTING);
    assert!(response.headers().get("location").is_none());
    let id = app.pool_id("Acme UK").await;
    assert_eq!(app.pool_numbers(id).await, vec!["+44 7700 900101"]);
    let listing = app.get_html(LISTING).await;
    assert!(texts(&listing, ".flash").iter().any(|f| f.contains("Acme UK") && f.contains("was added")));
}

#[tokio::test]
async fn a_plain_post_that_succeeds_gets_a_303_to_the_listing() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let uk = app.number_id("+44 7700 900101").await.to_string();

    let response = app.post_form(LISTING, &[("name", "Acme UK"), ("phone_number_ids", &uk)]).await;

    assert_eq!(status(&response), 303);
    assert_eq!(response.headers()["location"], LISTING);
    assert!(response.headers().get("hx-redirect").is_none());
}

#[tokio::test]
async fn an_htmx_toggle_gets_hx_redirect() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;

    let response = app.post_form_with_headers(&format!("{LISTING}/{id}/deactivate"), &[], HTMX).await;

    assert_eq!(status(&response), 200);
    assert_eq!(response.headers()["hx-redirect"], LISTING);
    assert!(!app.pool_state(id).await.active);
}

#[tokio::test]
async fn a_stale_htmx_edit_gets_the_fragment_with_the_current_state() {
    // Arrange
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let stale = app.edit_version(id).await;
    assert_eq!(status(&app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await), 303);
    let ids = app.number_ids(&["+1 555-010-0101"]).await;
    let before = app.snapshot().await;

    // Act
    let response =
        app.post_form_with_headers(&format!("{LISTING}/{id}"), &[("name", "Mine"), ("phone_number_ids", &ids[0]), ("version", &stale)], HTMX).await;

    // Assert
    assert_eq!(status(&response), 409);
    let fragment = response.text().await.unwrap();
    assert!(!fragment.to_lowercase().contains("<html"));
    assert_eq!(texts(&fragment, "#form-errors h2"), vec!["This pool changed meanwhile"]);
    assert_eq!(attrs(&fragment, "input#name", "value"), vec!["Acme Support"]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn the_add_page_for_a_chosen_enterprise_works_by_a_plain_get() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let initech = app.enterprise_id("Initech Bank").await;

    let response = app.get(&format!("{LISTING}/new?enterprise_id={initech}")).await;

    assert_eq!(status(&response), 200);
    let page = response.text().await.unwrap();
    assert!(page.to_lowercase().contains("<html"));
    assert_eq!(attrs(&page, "select#enterprise_id option[selected]", "value"), vec![initech.to_string()]);
    assert_eq!(attrs(&page, "form.enterprise-picker", "method"), vec!["get"], "the picker works without JavaScript");
    assert_eq!(attrs(&page, "form#pool-form input[name=enterprise_id]", "value"), vec![initech.to_string()]);
    assert_eq!(texts(&page, "fieldset.number-group legend"), vec!["Initech Cards", "Initech Retail Banking"]);
    let groups = texts(&page, "fieldset.number-group");
    assert!(groups[0].contains("+1 555-030-0401") && groups[0].contains("+1 555-030-0402"));
    assert_eq!(attrs(&page, "fieldset.number-group:nth-of-type(2) input[name=phone_number_ids]", "value").len(), 11);
    assert_eq!(attrs(&page, "input[name=phone_number_ids]", "value").len(), 13);
    assert!(!page.contains("Acme Retail UK"), "only the chosen enterprise's numbers");
}

#[tokio::test]
async fn choosing_an_enterprise_by_htmx_returns_only_its_numbers_fragment() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let acme = app.enterprise_id("Acme Retail").await;

    let response = app.get_with_headers(&format!("{LISTING}/new?enterprise_id={acme}"), HTMX).await;

    assert_eq!(status(&response), 200);
    let fragment = response.text().await.unwrap();
    assert!(!fragment.to_lowercase().contains("<html"));
    assert!(texts(&fragment, "select#enterprise_id").is_empty(), "the picker stays where it is");
    assert_eq!(texts(&fragment, "fieldset.number-group legend"), vec!["Acme Retail"]);
    assert_eq!(texts(&fragment, ".number-display"), vec!["+44 7700 900101", "+65 8100 0101", "+91 98100 00101"]);
    assert_eq!(attrs(&fragment, "form#pool-form input[name=enterprise_id]", "value"), vec![acme.to_string()]);
}

#[tokio::test]
async fn htmx_restoring_a_pushed_url_from_history_gets_the_whole_page() {
    let app = spawn_app().await;
    app.login("admin@northwind.example").await;
    let acme = app.enterprise_id("Acme Retail").await;
    let restore = [("HX-Request", "true"), ("HX-History-Restore-Request", "true")];

    let response = app.get_with_headers(&format!("{LISTING}/new?enterprise_id={acme}"), &restore).await;

    assert_eq!(status(&response), 200);
    let page = response.text().await.unwrap();
    assert!(page.to_lowercase().contains("<html"), "Back to the pushed URL shows the whole page");
    assert_eq!(texts(&page, "select#enterprise_id option[selected]"), vec!["Acme Retail"], "with the picker and the choice");
    assert_eq!(texts(&page, "fieldset.number-group legend"), vec!["Acme Retail"]);
}

#[tokio::test]
async fn a_boosted_htmx_request_gets_the_whole_page() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let response = app.get_with_headers(&format!("{LISTING}/new"), &[("HX-Request", "true"), ("HX-Boosted", "true")]).await;

    assert_eq!(status(&response), 200);
    assert!(response.text().await.unwrap().to_lowercase().contains("<html"));
}

#[tokio::test]
async fn a_signed_out_htmx_request_is_sent_to_login() {
    let app = spawn_app().await;

    let response = app.get_with_headers(&format!("{LISTING}/new"), HTMX).await;

    // A 303 would be followed inside htmx's request and the sign-in page
    // swapped into the form: HX-Redirect loads it as a whole page.
    assert_eq!(status(&response), 200);
    assert_eq!(response.headers()["hx-redirect"], "/login?next=%2Fchannels%2Fwhatsapp%2Fpools%2Fnew");
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn a_form_sent_after_the_session_ended_returns_to_its_page_after_sign_in() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    let edit_page = format!("{LISTING}/{id}/edit");
    let token = app.csrf_token().await;
    app.new_client_logged_in("admin@acme.example").await.post_form("/logout/everywhere", &[]).await;
    let before = app.snapshot().await;
    let origin = app.url("");
    let page_url = format!("{}{edit_page}", origin.trim_end_matches('/'));
    let sent = [("csrf_token", token.as_str()), ("name", "Renamed"), ("version", "1")];

    // htmx: sent to the sign-in page as a whole page, then back to the edit page.
    let htmx = app.post_form_raw_with_headers(&format!("{LISTING}/{id}"), &sent, &[("HX-Request", "true"), ("HX-Current-URL", &page_url)]).await;
    assert_eq!(status(&htmx), 200);
    assert_eq!(htmx.headers()["hx-redirect"], format!("/login?next={}", edit_page.replace('/', "%2F")));
    assert!(htmx.text().await.unwrap().is_empty(), "nothing for htmx to swap into the form");

    // A plain form: a 303 to the sign-in page, back to the page it was on.
    let plain = app.post_form_raw_with_headers(&format!("{LISTING}/{id}"), &sent, &[("Referer", &page_url)]).await;
    assert_eq!(status(&plain), 303);
    assert_eq!(plain.headers()["location"], format!("/login?next={}", edit_page.replace('/', "%2F")).as_str());
    assert_eq!(app.snapshot().await, before, "nothing was saved");
}

#[tokio::test]
async fn every_page_carries_the_csrf_token_for_htmx() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let token = app.csrf_token().await;

    let page = app.get_html(LISTING).await;

    assert_eq!(attrs(&page, "meta[name=csrf-token]", "content"), vec![token.clone()]);
    assert!(attrs(&page, "input[name=csrf_token]", "value").iter().all(|t| *t == token));
}
