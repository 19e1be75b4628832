//! Small things of the portal a person notices: where the sign-out buttons
//! are, what the demo banner says, the flash's close button without
//! JavaScript, an inactive pool's health.

use crate::helpers::{LISTING, NUMBERS, SETTINGS, attrs, spawn_app, spawn_app_with, texts};

#[tokio::test]
async fn the_header_signs_out_here_and_the_password_page_signs_out_everywhere() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let listing = app.get_html(LISTING).await;
    assert_eq!(attrs(&listing, "header form", "action"), vec!["/logout"], "the header holds Sign out alone");

    let settings = app.get_html(SETTINGS).await;
    assert_eq!(attrs(&settings, "main form[action='/logout/everywhere'] button", "class"), vec!["button danger"]);
    assert!(texts(&settings, "main h2").contains(&"Sessions".to_owned()));
}

#[tokio::test]
async fn the_flash_close_button_is_there_only_with_javascript() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;
    let id = app.pool_id("Acme Support").await;
    app.post_form(&format!("{LISTING}/{id}/deactivate"), &[]).await;

    let listing = app.get_html(LISTING).await;

    assert_eq!(attrs(&listing, ".flash button", "class"), vec!["flash-dismiss js-only"]);
    let css = app.get_html("/static/css/app.css").await;
    assert!(css.contains("html:not(.js) .js-only"), "without JavaScript a js-only control is not shown");
}

#[tokio::test]
async fn the_demo_banner_names_the_password_setting() {
    let app = spawn_app_with(|settings| settings.demo = true).await;
    app.login("admin@acme.example").await;

    let banner = texts(&app.get_html(LISTING).await, ".demo-banner").join(" ");

    assert!(banner.contains("wabapool demo --demo-password") && banner.contains("wabapool-demo unless it was set"), "{banner}");
}

#[tokio::test]
async fn a_forbidden_or_missing_page_keeps_a_signed_in_user_inside_the_portal() {
    let app = spawn_app().await;
    app.login("agent@acme.example").await;

    let forbidden = app.get(LISTING).await;
    assert_eq!(forbidden.status().as_u16(), 403);
    let page = forbidden.text().await.unwrap();
    assert_eq!(texts(&page, "header.app-header form button"), vec!["Sign out"], "the header with its sign-out");
    assert!(!texts(&page, "nav.side-nav a").is_empty(), "the menu");
    assert_eq!(texts(&page, "main h1"), vec!["Not allowed"]);

    let missing = app.get("/channels/whatsapp/nothing-here").await;
    assert_eq!(missing.status().as_u16(), 404);
    let page = missing.text().await.unwrap();
    assert_eq!(texts(&page, "main h1"), vec!["Not found"]);
    assert!(!texts(&page, "nav.side-nav a").is_empty());
}

#[tokio::test]
async fn a_signed_out_visitor_gets_the_plain_missing_page() {
    let app = spawn_app().await;

    let missing = app.get("/channels/whatsapp/nothing-here").await;

    assert_eq!(missing.status().as_u16(), 404);
    let page = missing.text().await.unwrap();
    assert!(texts(&page, "nav.side-nav a").is_empty() && texts(&page, "header.app-header").is_empty());
    assert_eq!(texts(&page, "main h1"), vec!["Not found"]);
}

#[tokio::test]
async fn an_agent_lands_on_a_page_that_says_what_the_role_can_do() {
    let app = spawn_app().await;

    let landing = app.login_landing("agent@acme.example").await;

    assert_eq!(landing, SETTINGS);
    let page = app.get_html(SETTINGS).await;
    let notice = texts(&page, "main .notice").join(" ");
    assert!(notice.contains("What you can do as agent") && notice.contains("managed by the admins of Acme Retail"), "{notice}");
    app.login("admin@acme.example").await;
    assert!(texts(&app.get_html(SETTINGS).await, "main .notice").is_empty(), "an admin is not told");
}

#[tokio::test]
async fn the_numbers_page_puts_metas_codes_in_words_with_the_code_at_hand() {
    let app = spawn_app().await;
    app.login("admin@acme.example").await;

    let page = app.get_html(NUMBERS).await;

    let first_row = "tbody tr:first-child";
    assert_eq!(texts(&page, &format!("{first_row} td[data-label=Number]")), vec!["+1 555-010-0101"]);
    assert_eq!(texts(&page, &format!("{first_row} td[data-label=Capacity] span")), vec!["1,000 customers a day", "80 messages/s"]);
    assert_eq!(
        attrs(&page, &format!("{first_row} td[data-label=Capacity] span"), "title"),
        vec!["Meta's messaging limit: TIER_1K", "Meta's throughput level: STANDARD"]
    );
    assert_eq!(texts(&page, &format!("{first_row} td[data-label=Status] .cell-note")), vec!["At Meta: Connected"]);
    assert_eq!(attrs(&page, &format!("{first_row} td[data-label=Status] .cell-note"), "title"), vec!["Meta's status: CONNECTED"]);
}

#[tokio::test]
async fn an_aggregators_admin_lands_on_the_overview_of_its_enterprises() {
    let app = spawn_app().await;

    assert_eq!(app.login_landing("admin@northwind.example").await, "/overview");
    let page = app.get_html("/overview").await;

    let acme = app.enterprise_id("Acme Retail").await;
    let column = |page: &str, label: &str| texts(page, &format!("tbody td[data-label='{label}']"));
    assert_eq!(texts(&page, "tbody th[data-label=Enterprise]"), vec!["Acme Retail Needs attention", "Globex Health", "Initech Bank Needs attention"]);
    assert_eq!(column(&page, "Pools"), vec!["1", "0", "0"]);
    assert_eq!(column(&page, "In rotation"), vec!["5", "2", "13"]);
    assert_eq!(column(&page, "RED / YELLOW"), vec!["0 / 1", "0 / 0", "0 / 1"], "activated numbers only");
    assert_eq!(column(&page, "Failed, 24 h"), vec!["0", "0", "0"]);
    let links = attrs(&page, "tbody tr:first-child a", "href");
    assert_eq!(links[0], format!("{LISTING}?enterprise_id={acme}"), "the pools figure leads to the enterprise's pools");
    assert_eq!(links[1], format!("{NUMBERS}?enterprise_id={acme}"), "the numbers figures to its numbers");

    let attention = app.get_html("/overview?attention=1").await;
    assert_eq!(texts(&attention, "tbody th[data-label=Enterprise]"), vec!["Acme Retail Needs attention", "Initech Bank Needs attention"]);
    app.login("admin@acme.example").await;
    assert_eq!(app.get("/overview").await.status().as_u16(), 404, "an enterprise has no overview");
}
