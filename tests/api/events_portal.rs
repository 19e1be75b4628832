//! Settings → Events: adding event endpoints (the signing secret shown
//! once, refused URLs beside the field, no request into the network), who
//! may see them, each endpoint's deliveries with the attempts a local
//! receiver answered, the actions on them and their audit entries, and the
//! aggregator overview's count of failing deliveries.

use std::time::Duration;

use diesel::prelude::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wabapool::db::schema::{audit_entries, event_deliveries, event_endpoints};
use wabapool::domain::events::UrlProblem;
use wabapool::domain::{AggregatorId, EnterpriseId, Role, Scope, UserId};
use wabapool::services::Actor;
use wabapool::services::events::delivery::AUTO_DISABLE_REASON;
use wabapool::services::events::endpoints::{self as endpoints, NewEndpointInput};

use crate::helpers::{TestApp, attrs, spawn_app, spawn_app_with, status, texts};

const EVENTS: &str = "/settings/events";

/// The portal's actor for a demo user, as the services take it.
fn actor_of(conn: &mut wabapool::db::DbConnection, email: &str) -> Actor {
    let user = wabapool::store::users::find_by_email(conn, email).unwrap().unwrap();
    let scope = match (user.enterprise_id, user.aggregator_id) {
        (Some(e), _) => Scope::Enterprise(EnterpriseId(e)),
        (None, Some(a)) => Scope::Aggregator(AggregatorId(a)),
        (None, None) => panic!("{email} belongs to no tenant"),
    };
    Actor { user_id: UserId(user.id), email: user.email, role: Role::parse(&user.role).unwrap(), scope, client_ip: None }
}

impl TestApp {
    /// Adds an endpoint of Acme Retail through the service, as its super
    /// admin, taking every event type; returns its id.
    async fn acme_endpoint(&self, url: &str) -> i64 {
        let (keys, url) = (self.keys.clone(), url.to_owned());
        self.with_db(move |c| {
            let actor = actor_of(c, "super@acme.example");
            let input = NewEndpointInput { url, event_types: vec!["message.status".into(), "pool.health".into()], ..NewEndpointInput::default() };
            endpoints::create(c, &actor, &keys, &input, true).unwrap().0
        })
        .await
    }

    async fn endpoint_enabled(&self, id: i64) -> bool {
        self.with_db(move |c| event_endpoints::table.find(id).select(event_endpoints::enabled).first(c).unwrap()).await
    }

    async fn endpoint_count(&self) -> i64 {
        self.with_db(|c| event_endpoints::table.count().get_result(c).unwrap()).await
    }

    /// Audit entries of an event action about `endpoint`.
    async fn event_audits(&self, action: &'static str, endpoint: i64) -> i64 {
        self.with_db(move |c| {
            audit_entries::table
                .filter(audit_entries::action.eq(action))
                .filter(audit_entries::subject_type.eq("event_endpoint"))
                .filter(audit_entries::subject_id.eq(endpoint.to_string()))
                .count()
                .get_result(c)
                .unwrap()
        })
        .await
    }

    /// The endpoint's deliveries: id and state, oldest first.
    async fn deliveries(&self, endpoint: i64) -> Vec<(i64, String)> {
        self.with_db(move |c| {
            event_deliveries::table
                .filter(event_deliveries::endpoint_id.eq(endpoint))
                .order(event_deliveries::id)
                .select((event_deliveries::id, event_deliveries::state))
                .load(c)
                .unwrap()
        })
        .await
    }

    /// Polls the endpoint's page until `done` holds of it, for up to 10 seconds.
    async fn page_when(&self, endpoint: i64, done: impl Fn(&str) -> bool) -> String {
        let path = format!("{EVENTS}/{endpoint}");
        for _ in 0..100 {
            let page = self.get_html(&path).await;
            if done(&page) {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path} never showed what was awaited:\n{}", self.get_html(&path).await);
    }
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A small HTTP receiver on 127.0.0.1 answering every request with 200
/// and "thanks"; each request it read (head and body) comes out of the channel.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let (requests, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let read = match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    seen.extend_from_slice(&buffer[..read]);
                    let Some(end) = position(&seen, b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                    let length =
                        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        let _ = requests.send(String::from_utf8_lossy(&seen).into_owned());
                        let answer = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nconnection: close\r\n\r\nthanks";
                        let _ = stream.write_all(answer.as_bytes()).await;
                        let _ = stream.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn an_enterprise_super_admin_adds_an_endpoint_whose_secret_is_shown_once() {
    // Arrange
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let pool = app.pool_id("Acme Support").await.to_string();

    // Act
    let response = app
        .post_form(
            EVENTS,
            &[
                ("url", "http://127.0.0.1:9/orders"),
                ("description", "Order service"),
                ("event_types", "message.status"),
                ("event_types", "pool.health"),
                ("pool_ids", &pool),
            ],
        )
        .await;

    // Assert
    assert_eq!(status(&response), 303);
    let (id, acme) =
        (app.with_db(|c| event_endpoints::table.select(event_endpoints::id).first::<i64>(c).unwrap()).await, app.enterprise_id("Acme Retail").await);
    assert_eq!(location(&response), format!("{EVENTS}/{id}"));
    let row: (i64, String, String, String, bool) = app
        .with_db(move |c| {
            event_endpoints::table
                .find(id)
                .select((
                    event_endpoints::enterprise_id,
                    event_endpoints::description,
                    event_endpoints::event_types,
                    event_endpoints::pool_ids,
                    event_endpoints::enabled,
                ))
                .first(c)
                .unwrap()
        })
        .await;
    assert_eq!(row, (acme, "Order service".into(), "message.status pool.health".into(), pool.clone(), true));
    let first = app.get_html(&location(&response)).await;
    let shown = texts(&first, "code#new-secret");
    assert_eq!(shown.len(), 1, "the page after the redirect shows the secret");
    assert!(shown[0].starts_with("whsec_") && shown[0].len() >= 6 + 32, "{}", shown[0]);
    let again = app.get_html(&location(&response)).await;
    assert!(!again.contains("whsec_"), "a second visit shows the secret no more");
    assert_eq!(app.event_audits("event_endpoint.create", id).await, 1);
    let listing = app.get_html(EVENTS).await;
    assert!(texts(&listing, "table.data-table td").iter().any(|t| t.contains("http://127.0.0.1:9/orders") && t.contains("Order service")));
    assert!(texts(&listing, "table.data-table td").contains(&"Acme Support".to_owned()), "the pool it takes");
    assert!(!listing.contains("whsec_"));
}

#[tokio::test]
async fn saying_the_secret_is_stored_hides_it_for_good() {
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let response = app.post_form(EVENTS, &[("url", "http://127.0.0.1:9/x"), ("event_types", "waba.status")]).await;
    assert_eq!(status(&response), 303);

    let stored = app.post_form(&format!("{EVENTS}/secret-stored"), &[]).await;

    assert_eq!(status(&stored), 303);
    assert_eq!(location(&stored), location(&response), "back to the endpoint");
    let page = app.get_html(&location(&response)).await;
    assert!(!page.contains("whsec_"), "the secret is gone once said to be stored");
    assert!(texts(&page, ".flash").iter().any(|t| t.contains("no longer shown")));
}

#[tokio::test]
async fn an_aggregator_super_admin_adds_an_endpoint_for_the_enterprise_it_chooses() {
    // Arrange
    let app = spawn_app().await;
    app.login("super@northwind.example").await;
    let globex = app.enterprise_id("Globex Health").await;
    let form = app.get_html(EVENTS).await;
    assert!(attrs(&form, "select#enterprise_id option", "value").contains(&globex.to_string()), "the enterprise is offered");

    // Act
    let response =
        app.post_form(EVENTS, &[("enterprise_id", &globex.to_string()), ("url", "http://10.1.2.3/hooks"), ("event_types", "number.health")]).await;

    // Assert
    assert_eq!(status(&response), 303);
    let owner: i64 = app.with_db(|c| event_endpoints::table.select(event_endpoints::enterprise_id).first(c).unwrap()).await;
    assert_eq!(owner, globex);
    assert!(app.get_html(&location(&response)).await.contains("whsec_"));
    let listing = app.get_html(EVENTS).await;
    assert!(texts(&listing, "td[data-label=Enterprise]").contains(&"Globex Health".to_owned()));
}

#[tokio::test]
async fn an_aggregator_super_admin_must_choose_one_of_its_own_enterprises() {
    let app = spawn_app().await;
    app.login("super@northwind.example").await;
    let hooli = app.enterprise_id("Hooli Travel").await.to_string();

    let unchosen = app.post_form(EVENTS, &[("url", "ftp://x"), ("event_types", "number.health")]).await;
    let foreign = app.post_form(EVENTS, &[("enterprise_id", &hooli), ("url", "http://10.1.2.3/hooks"), ("event_types", "number.health")]).await;

    assert_eq!(status(&unchosen), 422);
    let page = unchosen.text().await.unwrap();
    assert_eq!(texts(&page, "#enterprise_id-error").len(), 1, "the message beside the select");
    assert_eq!(attrs(&page, ".error-summary a", "href"), vec!["#enterprise_id", "#url"], "one answer names everything to fix");
    assert_eq!(status(&foreign), 404, "another aggregator's enterprise is not revealed");
    assert_eq!(app.endpoint_count().await, 0);
}

/// Posts the add form with this URL and returns the status and the
/// message beside the URL field.
async fn refused(app: &TestApp, url: &str) -> (u16, Vec<String>, Vec<String>) {
    let response = app.post_form(EVENTS, &[("url", url), ("event_types", "message.received")]).await;
    let code = status(&response);
    let page = response.text().await.unwrap();
    (code, texts(&page, "#url-error"), attrs(&page, "input#url", "value"))
}

#[tokio::test]
async fn urls_that_are_not_https_carry_credentials_or_are_too_long_are_refused_beside_the_field() {
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let too_long = format!("https://example.com/{}", "a".repeat(2049 - "https://example.com/".len()));
    assert_eq!(too_long.chars().count(), 2049);

    for (url, problem) in
        [("ftp://x", UrlProblem::NotHttp), ("https://user:pw@example.com/hooks", UrlProblem::Credentials), (too_long.as_str(), UrlProblem::TooLong)]
    {
        let (code, message, kept) = refused(&app, url).await;
        assert_eq!(code, 422, "{url}");
        assert_eq!(message, vec![problem.message().to_owned()], "{url}");
        assert_eq!(kept, vec![url.to_owned()], "the URL as typed stays in the field");
    }
    assert_eq!(app.endpoint_count().await, 0, "nothing saved");
}

#[tokio::test]
async fn private_and_loopback_addresses_are_refused_when_they_are_not_allowed() {
    let app = spawn_app_with(|settings| settings.allow_private_event_urls = false).await;
    app.login("super@acme.example").await;

    for url in ["http://127.0.0.1/events", "https://10.0.0.1/"] {
        let (code, message, _) = refused(&app, url).await;
        assert_eq!(code, 422, "{url}");
        assert_eq!(message, vec![UrlProblem::PrivateAddress.message().to_owned()], "{url}");
    }
    let (code, message, _) = refused(&app, "https://localhost/x").await;
    assert_eq!(code, 422, "a name that resolves to loopback");
    assert_eq!(message.len(), 1);
    assert!(message[0].contains("localhost") && message[0].contains("loopback"), "{message:?}");
    assert_eq!(app.endpoint_count().await, 0, "nothing saved");
}

#[tokio::test]
async fn a_form_without_an_event_type_is_refused_beside_the_types() {
    let app = spawn_app().await;
    app.login("super@acme.example").await;

    let response = app.post_form(EVENTS, &[("url", "http://127.0.0.1:9/x"), ("description", "kept")]).await;

    assert_eq!(status(&response), 422);
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, "#event_types-error"), vec!["Choose at least one of the event types listed."]);
    assert_eq!(attrs(&page, "input#description", "value"), vec!["kept"]);
    assert_eq!(texts(&page, ".error-summary li").len(), 1);
    assert_eq!(app.endpoint_count().await, 0);
}

#[tokio::test]
async fn admins_who_are_not_super_admins_get_no_events_pages() {
    let app = spawn_app().await;
    let id = app.acme_endpoint("http://127.0.0.1:9/x").await;
    app.login("admin@acme.example").await;

    let listing = app.get(EVENTS).await;
    let endpoint = app.get(&format!("{EVENTS}/{id}")).await;
    let added = app.post_form(EVENTS, &[("url", "http://127.0.0.1:9/y"), ("event_types", "waba.status")]).await;
    let disabled = app.post_form(&format!("{EVENTS}/{id}/disable"), &[]).await;

    assert_eq!((status(&listing), status(&endpoint), status(&added), status(&disabled)), (403, 403, 403, 403));
    assert_eq!(app.endpoint_count().await, 1);
    assert!(!texts(&app.get_html(crate::helpers::LISTING).await, "nav.side-nav a").contains(&"Events".to_owned()));
}

#[tokio::test]
async fn super_admins_find_events_in_the_settings_menu() {
    let app = spawn_app().await;
    app.login("super@acme.example").await;

    let page = app.get_html(EVENTS).await;

    assert!(texts(&page, "nav.side-nav a").contains(&"Events".to_owned()));
    assert_eq!(texts(&page, "nav.side-nav a[aria-current=page]"), vec!["Events"]);
    assert_eq!(texts(&page, ".empty-state h2"), vec!["No event endpoints yet"]);
    assert_eq!(attrs(&page, "input[name=event_types]", "value").len(), 5, "one box per event type");
}

#[tokio::test]
async fn another_enterprises_endpoint_is_not_found_on_every_route() {
    // Arrange
    let app = spawn_app().await;
    let id = app.acme_endpoint("http://127.0.0.1:9/x").await;
    app.with_db(move |c| {
        let actor = actor_of(c, "super@acme.example");
        endpoints::send_test(c, &actor, id).unwrap()
    })
    .await;
    let delivery = app.deliveries(id).await[0].0;
    let before = app.snapshot().await;
    let other = app.new_client_logged_in("super@umbrella.example").await;

    // Act
    let mut answers = vec![status(&other.get(&format!("{EVENTS}/{id}")).await)];
    for action in ["test", "disable", "enable", "rotate-secret"] {
        answers.push(status(&other.post_form(&format!("{EVENTS}/{id}/{action}"), &[]).await));
    }
    answers.push(status(&other.post_form(&format!("{EVENTS}/deliveries/{delivery}/resend"), &[]).await));

    // Assert
    assert_eq!(answers, vec![404; 6]);
    assert_eq!(app.snapshot().await, before, "nothing changed");
    assert_eq!(app.deliveries(id).await.len(), 1, "no test event was added");
    assert!(!other.get_html(EVENTS).await.contains("127.0.0.1:9/x"), "the listing shows only Umbrella's endpoints");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    let id = app.acme_endpoint("http://127.0.0.1:9/x").await;
    app.login("super@acme.example").await;

    let response = app.post_raw(&format!("{EVENTS}/{id}/disable"), &[]).await;

    assert_eq!(status(&response), 403);
    assert_eq!(app.event_audits("event_endpoint.disable", id).await, 0);
}

#[tokio::test]
async fn the_deliveries_page_shows_a_test_events_attempt_with_the_receivers_answer() {
    // Arrange
    let (url, mut received) = receiver().await;
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let id = app.acme_endpoint(&url).await;

    // Act
    let sent = app.post_form(&format!("{EVENTS}/{id}/test"), &[]).await;

    // Assert
    assert_eq!(status(&sent), 303);
    let page = app.page_when(id, |page| texts(page, ".attempt-status").contains(&"HTTP 200".to_owned())).await;
    assert_eq!(texts(&page, "td[data-label=Event] code"), vec!["endpoint.test"]);
    assert_eq!(texts(&page, "td[data-label=State] .badge"), vec!["Delivered"]);
    assert_eq!(texts(&page, ".attempt-answer"), vec!["thanks"], "the first bytes of the answer");
    assert!(texts(&page, ".attempt").iter().all(|t| t.contains(" ms")), "with its latency");
    let request = tokio::time::timeout(Duration::from_secs(5), received.recv()).await.unwrap().unwrap().to_lowercase();
    assert!(request.starts_with("post /hooks"), "{request}");
    assert!(request.contains("webhook-signature: v1,") && request.contains("webhook-id:"), "{request}");
    assert!(request.contains("\"type\":\"endpoint.test\""), "{request}");
    assert_eq!(app.event_audits("event_endpoint.test", id).await, 1);
}

#[tokio::test]
async fn disabling_enabling_rotating_and_resending_are_each_audited() {
    // Arrange
    let (url, _received) = receiver().await;
    let app = spawn_app().await;
    app.login("super@acme.example").await;
    let id = app.acme_endpoint(&url).await;
    assert_eq!(status(&app.post_form(&format!("{EVENTS}/{id}/test"), &[]).await), 303);
    app.page_when(id, |page| texts(page, "td[data-label=State] .badge").contains(&"Delivered".to_owned())).await;
    let delivery = app.deliveries(id).await[0].0;

    // Act and assert: disable, enable
    let disabled = app.post_form(&format!("{EVENTS}/{id}/disable"), &[]).await;
    assert_eq!((status(&disabled), location(&disabled)), (303, format!("{EVENTS}/{id}")));
    assert!(!app.endpoint_enabled(id).await);
    let page = app.get_html(&format!("{EVENTS}/{id}")).await;
    assert!(texts(&page, ".page-subtitle .badge").contains(&"Disabled".to_owned()));
    assert_eq!(status(&app.post_form(&format!("{EVENTS}/{id}/enable"), &[]).await), 303);
    assert!(app.endpoint_enabled(id).await);

    // Rotate: the new secret shown once, with the old one's 24 hours.
    let rotated = app.post_form(&format!("{EVENTS}/{id}/rotate-secret"), &[]).await;
    assert_eq!(status(&rotated), 303);
    let page = app.get_html(&location(&rotated)).await;
    assert_eq!(texts(&page, "code#new-secret").len(), 1);
    assert!(texts(&page, "code#new-secret")[0].starts_with("whsec_"));
    assert!(page.contains("24 hours"));
    assert!(!app.get_html(&location(&rotated)).await.contains("whsec_"));

    // Resend the delivered test event.
    let resent = app.post_form(&format!("{EVENTS}/deliveries/{delivery}/resend"), &[]).await;
    assert_eq!((status(&resent), location(&resent)), (303, format!("{EVENTS}/{id}")));

    for action in ["event_endpoint.disable", "event_endpoint.enable", "event_endpoint.rotate_secret", "event_delivery.resend"] {
        assert_eq!(app.event_audits(action, id).await, 1, "{action}");
    }
    let log = app.get_html("/audit").await;
    let sentences = texts(&log, "td.audit-sentence");
    for words in
        ["disabled event endpoint", "enabled event endpoint", "rotated the signing secret of event endpoint", "resent a delivery to event endpoint"]
    {
        assert!(sentences.iter().any(|s| s.contains(words)), "the audit log says {words:?}: {sentences:?}");
    }
    assert!(attrs(&log, "td.audit-sentence a", "href").contains(&format!("{EVENTS}/{id}")), "each links to the endpoint");
}

#[tokio::test]
async fn the_deliveries_filter_by_type_and_state_and_page_by_fifty() {
    // Arrange: 51 test events to a disabled endpoint, which keeps them pending.
    let app = spawn_app().await;
    let id = app.acme_endpoint("http://127.0.0.1:9/x").await;
    app.with_db(move |c| {
        let actor = actor_of(c, "super@acme.example");
        endpoints::set_enabled(c, &actor, id, false).unwrap();
        for _ in 0..51 {
            endpoints::send_test(c, &actor, id).unwrap();
        }
    })
    .await;
    app.login("super@acme.example").await;

    // Act
    let first = app.get_html(&format!("{EVENTS}/{id}")).await;
    let second = app.get_html(&format!("{EVENTS}/{id}?type=endpoint.test&state=pending&page=2")).await;
    let none = app.get_html(&format!("{EVENTS}/{id}?type=message.status")).await;
    let failed = app.get_html(&format!("{EVENTS}/{id}?state=failed")).await;

    // Assert
    assert_eq!(texts(&first, "tbody tr").len(), 50);
    assert_eq!(texts(&first, ".pagination [aria-current=page]"), vec!["Page 1 of 2"]);
    assert_eq!(attrs(&first, ".pagination a[rel=next]", "href"), vec![format!("{EVENTS}/{id}?page=2")]);
    assert_eq!(texts(&first, "td[data-label='Next retry']")[0], "when enabled");
    assert_eq!(texts(&second, "tbody tr").len(), 1);
    assert_eq!(attrs(&second, ".pagination a[rel=prev]", "href"), vec![format!("{EVENTS}/{id}?type=endpoint.test&state=pending&page=1")]);
    assert_eq!(texts(&none, ".empty-state h2"), vec!["No deliveries match"]);
    assert_eq!(texts(&failed, ".empty-state h2"), vec!["No deliveries match"]);
    assert_eq!(attrs(&none, "select#f-type option[selected]", "value"), vec!["message.status"]);
}

#[tokio::test]
async fn an_endpoint_disabled_by_wabapool_says_so_prominently() {
    // Arrange
    let app = spawn_app().await;
    let id = app.acme_endpoint("http://127.0.0.1:9/x").await;
    app.with_db(move |c| {
        diesel::update(event_endpoints::table.find(id))
            .set((event_endpoints::enabled.eq(false), event_endpoints::disabled_reason.eq(Some(AUTO_DISABLE_REASON))))
            .execute(c)
            .unwrap()
    })
    .await;
    app.login("super@acme.example").await;

    // Act
    let page = app.get_html(&format!("{EVENTS}/{id}")).await;
    let listing = app.get_html(EVENTS).await;

    // Assert
    assert_eq!(attrs(&page, "#auto-disabled", "role"), vec!["alert"]);
    assert!(texts(&page, "#auto-disabled")[0].contains(AUTO_DISABLE_REASON));
    assert_eq!(texts(&page, ".page-subtitle .badge"), vec!["Disabled by wabapool"]);
    assert!(texts(&page, "form[action$='/enable'] button").iter().any(|t| t.starts_with("Enable")), "and offers to enable it");
    assert!(texts(&listing, "[role=alert]").iter().any(|t| t.contains(AUTO_DISABLE_REASON)));
    assert_eq!(texts(&listing, "td[data-label=State] .badge"), vec!["Disabled by wabapool"]);
}

#[tokio::test]
async fn the_overview_counts_each_enterprises_failing_event_deliveries() {
    // Arrange
    let app = spawn_app().await;
    app.login("super@northwind.example").await;
    let quiet = app.get_html("/overview").await;
    let id = app.acme_endpoint("http://127.0.0.1:9/x").await;
    app.with_db(move |c| {
        let actor = actor_of(c, "super@acme.example");
        endpoints::set_enabled(c, &actor, id, false).unwrap();
        endpoints::send_test(c, &actor, id).unwrap();
        endpoints::send_test(c, &actor, id).unwrap();
        // Failed for good, as after a day of attempts.
        diesel::update(event_deliveries::table.filter(event_deliveries::endpoint_id.eq(id)))
            .set((event_deliveries::state.eq("failed"), event_deliveries::attempts.eq(17)))
            .execute(c)
            .unwrap();
    })
    .await;

    // Act
    let page = app.get_html("/overview").await;

    // Assert
    assert!(texts(&quiet, ".event-trouble").is_empty(), "nothing shown while nothing fails");
    assert_eq!(texts(&page, ".event-trouble"), vec!["2 event deliveries failing"]);
    let row = texts(&page, "th[scope=row]").into_iter().find(|t| t.starts_with("Acme Retail")).unwrap();
    assert!(row.contains("2 event deliveries failing") && row.contains("Needs attention"), "{row}");
    assert_eq!(attrs(&page, ".event-trouble a", "href"), vec![EVENTS]);
}
