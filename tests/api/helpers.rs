//! `spawn_app`: the real application on port 0 with a fresh database
//! holding the demo dataset (see `common`), and a cookie-keeping client
//! that does not follow redirects.

use std::ops::Deref;

use diesel::prelude::*;
use wabapool::config::Settings;
use wabapool::db;
use wabapool::db::schema::*;
use wabapool::security::secrets::SecretKeys;

use crate::common::AppDatabase;
pub use crate::common::{LISTING, NUMBERS, PASSWORD, RETAIL_BANKING, SETTINGS, TestDatabase, seeded_database, with_pool};

pub struct TestApp {
    pub address: String,
    /// The Graph API sandbox this app talks to, holding the demo WABAs.
    pub sandbox_url: String,
    /// The keys that seal this app's Meta tokens.
    pub keys: SecretKeys,
    pub client: reqwest::Client,
    database: AppDatabase,
}

/// The app's database and the queries both suites share:
/// `app.db`, `app.with_db(…)`, `app.pool_id(…)`.
impl Deref for TestApp {
    type Target = AppDatabase;

    fn deref(&self) -> &AppDatabase {
        &self.database
    }
}

/// A new API key of Acme Retail, made through the service as its super admin.
pub fn acme_api_key(conn: &mut db::DbConnection, label: &str) -> String {
    use wabapool::domain::{EnterpriseId, Role, Scope, UserId};
    let user = wabapool::store::users::find_by_email(conn, "super@acme.example").unwrap().unwrap();
    let actor = wabapool::services::Actor {
        user_id: UserId(user.id),
        email: user.email,
        role: Role::SuperAdmin,
        scope: Scope::Enterprise(EnterpriseId(user.enterprise_id.unwrap())),
        client_ip: None,
    };
    wabapool::services::api_keys::create(conn, &actor, None, label).unwrap()
}

/// Starts the app on a fresh database holding the demo dataset.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// As `spawn_app`, with settings changed first (e.g. another Graph URL).
pub async fn spawn_app_with(customise: impl FnOnce(&mut Settings)) -> TestApp {
    let app = crate::common::start_app(customise).await;
    TestApp { address: app.address, sandbox_url: app.sandbox_url, keys: app.keys, client: browser(), database: app.database }
}

/// Signs `client` in as a demo user through the sign-in form of the app at
/// `address`, and asserts it worked.
pub async fn sign_in(client: &reqwest::Client, address: &str, email: &str) {
    let page = client.get(format!("{address}/login")).send().await.expect("GET sent").text().await.expect("body");
    let token = csrf_of(&page);
    let body = serde_urlencoded::to_string([("csrf_token", token.as_str()), ("email", email), ("password", PASSWORD)]).unwrap();
    let response = client
        .post(format!("{address}/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST sent");
    assert_eq!(response.status().as_u16(), 303, "sign-in of {email} should succeed");
}

/// Starts the app as `spawn_app` does, with its browser signed in as `email`.
pub async fn spawn_app_signed_in(email: &str) -> TestApp {
    let app = spawn_app().await;
    app.login(email).await;
    app
}

/// A cookie-keeping client that does not follow redirects, as a browser
/// tab that reports every redirect.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        // Well under the server's keep-alive (5 s): a connection the server
        // may be closing is never reused for the next request.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("client")
}

/// The hidden `csrf_token` (or the csrf-token meta tag) of a page.
pub fn csrf_of(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let input = scraper::Selector::parse("input[name=csrf_token]").unwrap();
    let meta = scraper::Selector::parse("meta[name=csrf-token]").unwrap();
    doc.select(&input)
        .next()
        .and_then(|e| e.value().attr("value"))
        .or_else(|| doc.select(&meta).next().and_then(|e| e.value().attr("content")))
        .expect("page has a CSRF token")
        .to_owned()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET sent")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// Posts url-encoded pairs as a browser would, without adding a token.
    pub async fn post_raw(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        self.client.post(self.url(path)).header("Content-Type", "application/x-www-form-urlencoded").body(body).send().await.expect("POST sent")
    }

    /// The session's CSRF token, read from a page.
    pub async fn csrf_token(&self) -> String {
        let page = self.get_html("/login").await;
        csrf_of(&page)
    }

    /// Posts a form with the session's CSRF token added.
    /// Creates an API key with this label as this signed-in super admin,
    /// says it is stored, and returns it.
    pub async fn create_api_key(&self, label: &str) -> String {
        let response = self.post_form("/channels/whatsapp/api-keys", &[("label", label)]).await;
        assert_eq!(response.status().as_u16(), 303, "a new key redirects to the keys page");
        let page = self.get_html("/channels/whatsapp/api-keys").await;
        let shown = crate::helpers::texts(&page, "code#new-key");
        assert_eq!(shown.len(), 1, "the new key is shown until it is stored");
        assert_eq!(self.post_form("/channels/whatsapp/api-keys/stored", &[]).await.status().as_u16(), 303);
        shown[0].clone()
    }

    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all).await
    }

    /// Signs in as a demo user and asserts it worked.
    pub async fn login(&self, email: &str) {
        sign_in(&self.client, &self.address, email).await;
    }

    /// Signs in as a demo user through the form and returns where the
    /// portal sends them.
    pub async fn login_landing(&self, email: &str) -> String {
        let token = csrf_of(&self.get_html("/login").await);
        let response = self.post_raw("/login", &[("csrf_token", token.as_str()), ("email", email), ("password", PASSWORD)]).await;
        assert_eq!(response.status().as_u16(), 303, "sign-in of {email} should succeed");
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Everything a pool or event endpoint request could change, as text:
    /// compared before and after a rejected request to show nothing changed (R11).
    pub async fn snapshot(&self) -> String {
        self.with_db(|c| {
            let pools: Vec<(i64, i64, i64, String, bool, i64)> = pools::table
                .order(pools::id)
                .select((pools::id, pools::enterprise_id, pools::waba_id, pools::name, pools::active, pools::version))
                .load(c)
                .unwrap();
            let members: Vec<(i64, i64, i32)> = pool_members::table
                .order(pool_members::id)
                .select((pool_members::pool_id, pool_members::number_id, pool_members::slot))
                .load(c)
                .unwrap();
            let numbers: Vec<(i64, String, Option<i64>)> =
                numbers::table.order(numbers::id).select((numbers::id, numbers::status, numbers::enterprise_id)).load(c).unwrap();
            let audit: Vec<(i64, String)> = audit_entries::table
                .filter(audit_entries::action.ne("login.success"))
                .filter(audit_entries::action.ne("login.failure"))
                .order(audit_entries::id)
                .select((audit_entries::id, audit_entries::action))
                .load(c)
                .unwrap();
            // What an event endpoint's routes could change; not what the
            // delivery worker writes meanwhile.
            let endpoints: Vec<(i64, i64, String, bool, String, Vec<u8>)> = event_endpoints::table
                .order(event_endpoints::id)
                .select((
                    event_endpoints::id,
                    event_endpoints::enterprise_id,
                    event_endpoints::url,
                    event_endpoints::enabled,
                    event_endpoints::event_types,
                    event_endpoints::secret_ciphertext,
                ))
                .load(c)
                .unwrap();
            let deliveries: i64 = event_deliveries::table.count().get_result(c).unwrap();
            format!("{pools:?}\n{members:?}\n{numbers:?}\n{audit:?}\n{endpoints:?}\n{deliveries}")
        })
        .await
    }
}

/// The text of every element a CSS selector matches, with runs of
/// whitespace collapsed, in document order.
pub fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css}: {e:?}"));
    doc.select(&selector).map(|e| e.text().collect::<Vec<_>>().join(" ").split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

/// One attribute of every element a CSS selector matches.
pub fn attrs(html: &str, css: &str, attr: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css}: {e:?}"));
    doc.select(&selector).filter_map(|e| e.value().attr(attr)).map(str::to_owned).collect()
}

/// The value of the `wabapool_session` cookie a response sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.trim().strip_prefix("wabapool_session="))
        .map(str::to_owned)
        .next()
}

/// The status code of a response as a number.
pub fn status(response: &reqwest::Response) -> u16 {
    response.status().as_u16()
}

/// One audit entry as the tests read it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub action: String,
    pub actor_email: Option<String>,
    pub enterprise_id: Option<i64>,
    pub subject_type: String,
    pub subject_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A pool's row: name, active, version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolState {
    pub name: String,
    pub active: bool,
    pub version: i64,
}

impl TestApp {
    /// Another browser on the same app and database, signed out, with
    /// its own cookies.
    pub fn new_browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            sandbox_url: self.sandbox_url.clone(),
            keys: self.keys.clone(),
            client: browser(),
            database: self.database.clone(),
        }
    }

    /// Another browser on the same app, signed in as `email`.
    pub async fn new_client_logged_in(&self, email: &str) -> TestApp {
        let other = self.new_browser();
        other.login(email).await;
        other
    }

    /// A GET that carries only the given session cookie, from a client
    /// that keeps none of its own: replays a cookie as an attacker would.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(self.url(path))
            .header("Cookie", format!("wabapool_session={cookie}"))
            .send()
            .await
            .expect("GET sent")
    }

    /// A GET with extra headers (for example `HX-Request`).
    pub async fn get_with_headers(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("GET sent")
    }

    /// Posts url-encoded pairs as they are, with extra headers.
    pub async fn post_form_raw_with_headers(&self, path: &str, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(pairs).unwrap());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("POST sent")
    }

    /// Posts url-encoded pairs with the session's CSRF token and extra headers.
    pub async fn post_form_with_headers(&self, path: &str, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(pairs);
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&all).unwrap());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("POST sent")
    }

    /// Posts any body with any content type.
    pub async fn post_body(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client.post(self.url(path)).header("Content-Type", content_type).body(body).send().await.expect("POST sent")
    }

    /// Adds a pool through the portal as the signed-in user and asserts it
    /// worked; returns its id.
    pub async fn add_pool(&self, enterprise_id: Option<i64>, name: &str, displays: &[&str]) -> i64 {
        let ids = self.number_ids(displays).await;
        let enterprise = enterprise_id.map(|e| e.to_string());
        let mut pairs: Vec<(&str, &str)> = vec![("name", name)];
        if let Some(e) = &enterprise {
            pairs.push(("enterprise_id", e));
        }
        pairs.extend(ids.iter().map(|id| ("phone_number_ids", id.as_str())));
        let response = self.post_form(LISTING, &pairs).await;
        assert_eq!(status(&response), 303, "adding {name} should succeed: {}", response.text().await.unwrap_or_default());
        self.pool_id(name).await
    }

    /// A pool's name, active flag and version, read from the database.
    pub async fn pool_state(&self, pool_id: i64) -> PoolState {
        self.with_db(move |c| {
            let (name, active, version) =
                pools::table.find(pool_id).select((pools::name, pools::active, pools::version)).first::<(String, bool, i64)>(c).expect("pool exists");
            PoolState { name, active, version }
        })
        .await
    }

    /// Sets a number's portal status directly in the database.
    pub async fn set_number_status(&self, display: &str, status: &'static str) {
        let display = display.to_owned();
        self.with_db(move |c| {
            diesel::update(numbers::table.filter(numbers::display_phone_number.eq(display)))
                .set(numbers::status.eq(status))
                .execute(c)
                .expect("status set")
        })
        .await;
    }

    /// Every audit entry with this action, oldest first.
    pub async fn audit_entries(&self, action: &str) -> Vec<AuditEntry> {
        let action = action.to_owned();
        let rows: Vec<AuditRowText> = self
            .with_db(move |c| {
                audit_entries::table
                    .filter(audit_entries::action.eq(action))
                    .order(audit_entries::id)
                    .select((
                        audit_entries::action,
                        audit_entries::actor_email,
                        audit_entries::enterprise_id,
                        audit_entries::subject_type,
                        audit_entries::subject_id,
                        audit_entries::before_state,
                        audit_entries::after_state,
                    ))
                    .load(c)
                    .unwrap()
            })
            .await;
        let json = |s: Option<String>| s.map(|s| serde_json::from_str(&s).expect("audit state is JSON"));
        rows.into_iter()
            .map(|(action, actor_email, enterprise_id, subject_type, subject_id, before, after)| AuditEntry {
                action,
                actor_email,
                enterprise_id,
                subject_type,
                subject_id,
                before: json(before),
                after: json(after),
            })
            .collect()
    }

    /// The `version` the edit page of a pool carries.
    pub async fn edit_version(&self, pool_id: i64) -> String {
        let page = self.get_html(&format!("/channels/whatsapp/pools/{pool_id}/edit")).await;
        attrs(&page, "input[name=version]", "value").into_iter().next().expect("edit form has a version")
    }
}

/// An audit row as text: action, actor, enterprise, subject type and id, before, after.
type AuditRowText = (String, Option<String>, Option<i64>, String, Option<String>, Option<String>, Option<String>);
