//! The tenant-isolation matrix: every route of the portal ×
//! {signed out, agent, admin of the owning enterprise, admin of another
//! enterprise, admin of the owning aggregator, admin of another aggregator,
//! super admin of the owning enterprise, super admin of another enterprise}
//! → the expected answer; a refused request changes nothing and shows no
//! foreign data. The routes come from the handlers' own attributes in the
//! source, so a new route without a row here fails the build of this test.

use std::collections::BTreeSet;

use diesel::prelude::*;
use wabapool::db::schema::{users, wabas};

use crate::helpers::{TestApp, spawn_app};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone; only "never a 5xx" is checked.
    Public,
    /// Any signed-in user.
    SignedIn,
    /// Admins and super admins (R1); no tenant id in the request.
    ChannelAdmin,
    /// Admins and super admins of the tenant that owns the id (R1, R2).
    ChannelAdminOwned,
    /// Super admins only.
    SuperAdmin,
    /// Super admins of the tenant that owns the user, key, event endpoint or delivery id.
    SuperAdminOwned,
    /// Admins and super admins of an aggregator; an enterprise's have no such page.
    AggregatorAdmin,
    /// The JSON API: a portal session is no API key, so 401 for everyone.
    ApiKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    SignedOut,
    Agent,
    OwnerAdmin,
    OtherEnterpriseAdmin,
    OwnerAggregatorAdmin,
    OtherAggregatorAdmin,
    OwnerSuperAdmin,
    OtherSuperAdmin,
}

impl Actor {
    fn email(self) -> Option<&'static str> {
        match self {
            Self::SignedOut => None,
            Self::Agent => Some("agent@acme.example"),
            Self::OwnerAdmin => Some("admin@acme.example"),
            Self::OtherEnterpriseAdmin => Some("admin@umbrella.example"),
            Self::OwnerAggregatorAdmin => Some("admin@northwind.example"),
            Self::OtherAggregatorAdmin => Some("admin@southwind.example"),
            Self::OwnerSuperAdmin => Some("super@acme.example"),
            Self::OtherSuperAdmin => Some("super@umbrella.example"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    SignIn,
    Forbidden,
    NotFound,
    AnythingBut5xx,
    Unauthorized,
}

fn expected(access: Access, actor: Actor) -> Expect {
    use Actor::*;
    match (access, actor) {
        (Access::Public, _) => Expect::AnythingBut5xx,
        (Access::ApiKey, _) => Expect::Unauthorized,
        (_, SignedOut) => Expect::SignIn,
        (Access::SignedIn, _) => Expect::Allowed,
        (Access::ChannelAdmin | Access::ChannelAdminOwned | Access::AggregatorAdmin, Agent) => Expect::Forbidden,
        (Access::AggregatorAdmin, OwnerAggregatorAdmin | OtherAggregatorAdmin) => Expect::Allowed,
        (Access::AggregatorAdmin, _) => Expect::NotFound,
        (Access::ChannelAdmin, _) => Expect::Allowed,
        (Access::ChannelAdminOwned, OwnerAdmin | OwnerAggregatorAdmin | OwnerSuperAdmin) => Expect::Allowed,
        (Access::ChannelAdminOwned, OtherEnterpriseAdmin | OtherAggregatorAdmin | OtherSuperAdmin) => Expect::NotFound,
        (Access::SuperAdmin | Access::SuperAdminOwned, OwnerSuperAdmin) => Expect::Allowed,
        (Access::SuperAdmin, OtherSuperAdmin) => Expect::Allowed,
        (Access::SuperAdminOwned, OtherSuperAdmin) => Expect::NotFound,
        (Access::SuperAdmin | Access::SuperAdminOwned, _) => Expect::Forbidden,
    }
}

/// The ids of Acme Retail's objects that the owned routes name.
struct Ids {
    pool: i64,
    number: i64,
    waba: i64,
    user: i64,
    api_key: i64,
    event_endpoint: i64,
    event_delivery: i64,
}

struct Row {
    method: &'static str,
    pattern: &'static str,
    access: Access,
    body: &'static [(&'static str, &'static str)],
}

const fn row(method: &'static str, pattern: &'static str, access: Access) -> Row {
    Row { method, pattern, access, body: &[] }
}

/// Every portal route. Order matters only for the sign-outs, which go last.
const ROUTES: &[Row] = &[
    row("GET", "/healthz", Access::Public),
    row("GET", "/readyz", Access::Public),
    row("GET", "/metrics", Access::Public),
    row("GET", "/static/{path:.*}", Access::Public),
    row("GET", "/", Access::Public),
    row("GET", "/login", Access::Public),
    Row { method: "POST", pattern: "/login", access: Access::Public, body: &[("email", "nobody@x.example"), ("password", "wrong wrong wrong")] },
    row("GET", "/webhooks/whatsapp", Access::Public),
    row("POST", "/webhooks/whatsapp", Access::Public),
    row("GET", "/channels/whatsapp/pools", Access::ChannelAdmin),
    row("GET", "/channels/whatsapp/pools/new", Access::ChannelAdmin),
    Row { method: "POST", pattern: "/channels/whatsapp/pools", access: Access::ChannelAdmin, body: &[("name", "")] },
    row("GET", "/channels/whatsapp/pools/{id}/edit", Access::ChannelAdminOwned),
    row("GET", "/channels/whatsapp/pools/{id}/deactivate", Access::ChannelAdminOwned),
    row("GET", "/channels/whatsapp/pools/{id}", Access::ChannelAdminOwned),
    row("GET", "/channels/whatsapp/pools/{id}/routing", Access::ChannelAdminOwned),
    Row { method: "POST", pattern: "/channels/whatsapp/pools/{id}/routing", access: Access::ChannelAdminOwned, body: &[("strategy", "bogus")] },
    Row {
        method: "POST",
        pattern: "/channels/whatsapp/pools/{id}",
        access: Access::ChannelAdminOwned,
        body: &[("name", "Renamed"), ("version", "1")],
    },
    row("POST", "/channels/whatsapp/pools/{id}/deactivate", Access::ChannelAdminOwned),
    row("POST", "/channels/whatsapp/pools/{id}/activate", Access::ChannelAdminOwned),
    row("GET", "/channels/whatsapp/numbers", Access::ChannelAdmin),
    row("GET", "/overview", Access::AggregatorAdmin),
    row("GET", "/channels/whatsapp/numbers.csv", Access::ChannelAdmin),
    row("GET", "/channels/whatsapp/pools.csv", Access::ChannelAdmin),
    Row { method: "POST", pattern: "/channels/whatsapp/wabas", access: Access::ChannelAdmin, body: &[("waba_id", "x"), ("access_token", "y")] },
    row("POST", "/channels/whatsapp/wabas/{id}/sync", Access::ChannelAdminOwned),
    row("GET", "/channels/whatsapp/numbers/{id}/deactivate", Access::ChannelAdminOwned),
    row("POST", "/channels/whatsapp/numbers/{id}/deactivate", Access::ChannelAdminOwned),
    row("POST", "/channels/whatsapp/numbers/{id}/activate", Access::ChannelAdminOwned),
    row("GET", "/settings/users", Access::SuperAdmin),
    Row { method: "POST", pattern: "/settings/users", access: Access::SuperAdmin, body: &[("email", "bad"), ("role", "agent"), ("password", "x")] },
    Row { method: "POST", pattern: "/settings/users/{id}/role", access: Access::SuperAdminOwned, body: &[("role", "agent")] },
    row("POST", "/settings/users/{id}/enable", Access::SuperAdminOwned),
    Row { method: "POST", pattern: "/settings/users/{id}/password", access: Access::SuperAdminOwned, body: &[("password", "short")] },
    row("POST", "/settings/users/{id}/disable", Access::SuperAdminOwned),
    row("GET", "/audit", Access::SuperAdmin),
    row("GET", "/audit.csv", Access::SuperAdmin),
    row("GET", "/channels/whatsapp/api-keys", Access::SuperAdmin),
    Row { method: "POST", pattern: "/channels/whatsapp/api-keys", access: Access::SuperAdmin, body: &[("label", "")] },
    row("GET", "/channels/whatsapp/api-keys/{id}/revoke", Access::SuperAdminOwned),
    row("POST", "/channels/whatsapp/api-keys/{id}/revoke", Access::SuperAdminOwned),
    row("POST", "/channels/whatsapp/api-keys/stored", Access::SignedIn),
    row("GET", "/settings/events", Access::SuperAdmin),
    Row { method: "POST", pattern: "/settings/events", access: Access::SuperAdmin, body: &[("url", ""), ("event_types", "message.status")] },
    row("POST", "/settings/events/secret-stored", Access::SignedIn),
    row("GET", "/settings/events/{id}", Access::SuperAdminOwned),
    row("POST", "/settings/events/{id}/test", Access::SuperAdminOwned),
    row("POST", "/settings/events/{id}/disable", Access::SuperAdminOwned),
    row("POST", "/settings/events/{id}/enable", Access::SuperAdminOwned),
    row("POST", "/settings/events/{id}/rotate-secret", Access::SuperAdminOwned),
    row("POST", "/settings/events/deliveries/{id}/resend", Access::SuperAdminOwned),
    row("POST", "/api/v1/pools/{id}/messages", Access::ApiKey),
    row("GET", "/api/v1/openapi.json", Access::Public),
    row("GET", "/channels/whatsapp/api-reference", Access::SignedIn),
    row("GET", "/api/v1/pools/{id}/route", Access::ApiKey),
    // Served in demo mode only (tests/api/sandbox_events.rs checks its tenancy); 404 here.
    row("GET", "/settings/events/demo-receiver", Access::Public),
    row("POST", "/settings/events/demo-receiver/customer-message", Access::Public),
    row("GET", "/api/v1/events", Access::ApiKey),
    row("GET", "/api/v1/messages/{id}", Access::ApiKey),
    row("GET", "/settings/password", Access::SignedIn),
    Row { method: "POST", pattern: "/settings/password", access: Access::SignedIn, body: &[("current_password", "wrong"), ("new_password", "x")] },
    row("POST", "/logout/everywhere", Access::SignedIn),
    row("POST", "/logout", Access::Public),
];

/// `#[get("…")]`-style attributes of every handler under src/.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let line = line.trim();
                for method in ["get", "post", "put", "patch", "delete"] {
                    if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                        let pattern = rest.split('"').next().unwrap().to_owned();
                        found.insert((method.to_uppercase(), pattern));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_route_in_the_source_has_a_row_in_the_matrix() {
    let in_source = routes_in_source();
    let in_matrix: BTreeSet<(String, String)> = ROUTES.iter().map(|r| (r.method.to_owned(), r.pattern.to_owned())).collect();
    let missing: Vec<_> = in_source.difference(&in_matrix).collect();
    let stale: Vec<_> = in_matrix.difference(&in_source).collect();
    assert!(missing.is_empty(), "routes without a row in the isolation matrix: {missing:?}");
    assert!(stale.is_empty(), "matrix rows for routes that no longer exist: {stale:?}");
}

fn concrete(row: &Row, ids: &Ids) -> String {
    let id = if row.pattern.starts_with("/channels/whatsapp/pools") || row.pattern.starts_with("/api/v1/pools") {
        ids.pool
    } else if row.pattern.starts_with("/channels/whatsapp/api-keys") {
        ids.api_key
    } else if row.pattern.starts_with("/channels/whatsapp/numbers") {
        ids.number
    } else if row.pattern.starts_with("/channels/whatsapp/wabas") {
        ids.waba
    } else if row.pattern.starts_with("/settings/events/deliveries") {
        ids.event_delivery
    } else if row.pattern.starts_with("/settings/events") {
        ids.event_endpoint
    } else {
        ids.user
    };
    row.pattern.replace("{id}", &id.to_string()).replace("{path:.*}", "css/app.css")
}

/// Text only Acme Retail's users may see.
const ACME_PRIVATE: &[&str] = &["Acme Support", "+1 555-010-0101", "agent@acme.example", "127.0.0.1:9/matrix"];

/// An event endpoint of Acme Retail with one delivery (a test event): their ids.
async fn acme_event_endpoint(app: &TestApp) -> (i64, i64) {
    use wabapool::domain::{EnterpriseId, Role, Scope, UserId};
    use wabapool::services::events::endpoints;
    let keys = app.keys.clone();
    app.with_db(move |c| {
        let user = wabapool::store::users::find_by_email(c, "super@acme.example").unwrap().unwrap();
        let actor = wabapool::services::Actor {
            user_id: UserId(user.id),
            email: user.email,
            role: Role::SuperAdmin,
            scope: Scope::Enterprise(EnterpriseId(user.enterprise_id.unwrap())),
            client_ip: None,
        };
        let input = endpoints::NewEndpointInput {
            url: "http://127.0.0.1:9/matrix".into(),
            event_types: vec!["message.status".into()],
            ..endpoints::NewEndpointInput::default()
        };
        let (endpoint, _) = endpoints::create(c, &actor, &keys, &input, true).unwrap();
        endpoints::send_test(c, &actor, endpoint).unwrap();
        let delivery = endpoints::detail(c, &actor, endpoint, &endpoints::DeliveryFilter::default()).unwrap().deliveries[0].row.id;
        (endpoint, delivery)
    })
    .await
}

async fn run_matrix_for(actor: Actor) {
    let app = spawn_app().await;
    let (event_endpoint, event_delivery) = acme_event_endpoint(&app).await;
    let ids = Ids {
        pool: app.pool_id("Acme Support").await,
        number: app.number_id("+1 555-010-0101").await,
        waba: app.with_db(|c| wabas::table.filter(wabas::meta_waba_id.eq("102000000000101")).select(wabas::id).first(c).unwrap()).await,
        user: app.with_db(|c| users::table.filter(users::email.eq("agent@acme.example")).select(users::id).first(c).unwrap()).await,
        api_key: app
            .with_db(|c| {
                let acme = wabapool::store::orgs::find_enterprise_by_name(c, "Acme Retail").unwrap().unwrap();
                wabapool::store::api_keys::insert(c, acme.id, "Matrix", "matrixhash", "wbp_matr", 1).unwrap()
            })
            .await,
        event_endpoint,
        event_delivery,
    };
    let client: TestApp = match actor.email() {
        Some(email) => app.new_client_logged_in(email).await,
        None => app.new_browser(),
    };
    for row in ROUTES {
        let path = concrete(row, &ids);
        let before = app.snapshot().await;
        let response = if row.method == "GET" { client.get(&path).await } else { client.post_form(&path, row.body).await };
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = response.text().await.unwrap_or_default();
        let what = format!("{actor:?} {} {path} → {status}", row.method);
        assert!(status < 500, "{what}: a server error");
        match expected(row.access, actor) {
            Expect::AnythingBut5xx => {}
            Expect::Allowed => {
                assert!(matches!(status, 200 | 303 | 409 | 422), "{what}: expected to be allowed");
                assert!(!location.starts_with("/login?next="), "{what}: sent to sign in");
            }
            Expect::SignIn => {
                assert_eq!(status, 303, "{what}: expected a sign-in redirect");
                assert!(location.starts_with("/login?next="), "{what}: to {location}");
            }
            Expect::Unauthorized => assert_eq!(status, 401, "{what}"),
            Expect::Forbidden | Expect::NotFound => {
                let want = if expected(row.access, actor) == Expect::Forbidden { 403 } else { 404 };
                assert_eq!(status, want, "{what}");
            }
        }
        if matches!(expected(row.access, actor), Expect::SignIn | Expect::Forbidden | Expect::NotFound | Expect::Unauthorized) {
            assert_eq!(app.snapshot().await, before, "{what}: a refused request changed the database");
            // A signed-in user's own email heads every portal page, refused ones included.
            for private in ACME_PRIVATE.iter().filter(|p| actor.email() != Some(**p)) {
                assert!(!body.contains(private), "{what}: the answer shows {private}");
            }
        }
    }
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_everywhere_but_public_routes() {
    run_matrix_for(Actor::SignedOut).await;
}

#[tokio::test]
async fn agents_are_refused_every_channel_and_user_route() {
    run_matrix_for(Actor::Agent).await;
}

#[tokio::test]
async fn the_owning_enterprises_admin_reaches_every_channel_route() {
    run_matrix_for(Actor::OwnerAdmin).await;
}

#[tokio::test]
async fn another_enterprises_admin_gets_404_for_every_owned_id() {
    run_matrix_for(Actor::OtherEnterpriseAdmin).await;
}

#[tokio::test]
async fn the_owning_aggregators_admin_reaches_its_enterprises_objects() {
    run_matrix_for(Actor::OwnerAggregatorAdmin).await;
}

#[tokio::test]
async fn another_aggregators_admin_gets_404_for_every_owned_id() {
    run_matrix_for(Actor::OtherAggregatorAdmin).await;
}

#[tokio::test]
async fn the_owning_super_admin_reaches_user_management_and_the_audit_log() {
    run_matrix_for(Actor::OwnerSuperAdmin).await;
}

#[tokio::test]
async fn another_enterprises_super_admin_gets_404_for_every_owned_id() {
    run_matrix_for(Actor::OtherSuperAdmin).await;
}
