//! The Graph API sandbox: a Graph-compatible HTTP server that serves WABAs
//! and numbers from a fixture, pages like Meta, and can be told to fail a
//! token, a number or a recipient with a given Meta error code, or to be
//! slow. Tests, the demo and load tests reach it over a real socket.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::types::{PhoneNumberInfo, Throughput};

/// The WABAs the sandbox knows, with the token each accepts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fixture {
    pub wabas: Vec<FixtureWaba>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixtureWaba {
    pub id: String,
    pub name: String,
    pub access_token: String,
    pub phone_numbers: Vec<PhoneNumberInfo>,
}

impl Fixture {
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    }
}

/// A failure to inject: the first matching request answers Meta's error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Failure {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub waba_id: Option<String>,
    #[serde(default)]
    pub phone_number_id: Option<String>,
    #[serde(default)]
    pub recipient: Option<String>,
    pub code: i64,
    #[serde(default)]
    pub http_status: Option<u16>,
    /// How many requests it fails; none means until cleared.
    #[serde(default)]
    pub times: Option<u32>,
    /// How many matching requests pass before it starts failing.
    #[serde(default)]
    pub skip: Option<u32>,
}

#[derive(Debug, Default)]
struct State {
    fixture: Fixture,
    index: Index,
    failures: Vec<Failure>,
    delay_ms: u64,
    /// A body to answer instead of JSON (to test unreadable answers).
    garbage: Option<String>,
    calls: u64,
    /// Messages accepted, newest last (the last 10,000).
    sent: std::collections::VecDeque<serde_json::Value>,
    wamids: u64,
    /// Random for each sandbox, so wamids stay unique across restarts as Meta's are.
    run: u32,
}

/// Where each WABA and number sits in the fixture: a send to one of 20,000
/// numbers finds its WABA without scanning them all. Built when the fixture
/// is loaded and kept up to date as WABAs and numbers are added.
#[derive(Debug, Default)]
struct Index {
    /// WABA id → position in `fixture.wabas`.
    wabas: HashMap<String, usize>,
    /// Phone number id → position of its WABA in `fixture.wabas`.
    numbers: HashMap<String, usize>,
}

impl State {
    fn new(fixture: Fixture) -> Self {
        let mut index = Index::default();
        for (at, waba) in fixture.wabas.iter().enumerate() {
            // The first WABA listing an id keeps it, as a scan in order would find.
            index.wabas.entry(waba.id.clone()).or_insert(at);
            for number in &waba.phone_numbers {
                index.numbers.entry(number.id.clone()).or_insert(at);
            }
        }
        Self { fixture, index, run: rand::random(), ..Self::default() }
    }

    fn waba(&self, id: &str) -> Option<&FixtureWaba> {
        self.index.wabas.get(id).and_then(|&at| self.fixture.wabas.get(at))
    }

    fn waba_of_number(&self, phone_number_id: &str) -> Option<&FixtureWaba> {
        self.index.numbers.get(phone_number_id).and_then(|&at| self.fixture.wabas.get(at))
    }

    fn number_mut(&mut self, phone_number_id: &str) -> Option<&mut PhoneNumberInfo> {
        let at = *self.index.numbers.get(phone_number_id)?;
        self.fixture.wabas.get_mut(at)?.phone_numbers.iter_mut().find(|n| n.id == phone_number_id)
    }

    /// Adds a WABA, or replaces the one with its id in place.
    fn put_waba(&mut self, waba: FixtureWaba) {
        let at = match self.index.wabas.get(&waba.id) {
            Some(&at) => {
                for number in &self.fixture.wabas[at].phone_numbers {
                    if self.index.numbers.get(&number.id) == Some(&at) {
                        self.index.numbers.remove(&number.id);
                    }
                }
                self.fixture.wabas[at] = waba;
                at
            }
            None => {
                self.index.wabas.insert(waba.id.clone(), self.fixture.wabas.len());
                self.fixture.wabas.push(waba);
                self.fixture.wabas.len() - 1
            }
        };
        for number in &self.fixture.wabas[at].phone_numbers {
            self.index.numbers.insert(number.id.clone(), at);
        }
    }

    /// Adds numbers to a known WABA; false when there is no such WABA.
    fn add_numbers(&mut self, waba_id: &str, numbers: Vec<PhoneNumberInfo>) -> bool {
        let Some(&at) = self.index.wabas.get(waba_id) else { return false };
        for number in &numbers {
            self.index.numbers.insert(number.id.clone(), at);
        }
        self.fixture.wabas[at].phone_numbers.extend(numbers);
        true
    }
}

/// How many accepted messages the sandbox remembers.
const SENT_KEPT: usize = 10_000;

type Shared = Arc<Mutex<State>>;

/// A running sandbox.
pub struct Sandbox {
    pub base_url: String,
    pub port: u16,
    server: Option<Server>,
}

impl Sandbox {
    /// Binds and builds the server; spawn or await `run` to serve.
    pub fn bind(fixture: Fixture, bind: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind)?;
        let port = listener.local_addr()?.port();
        let host = listener.local_addr()?.ip();
        let state: Shared = Arc::new(Mutex::new(State::new(fixture)));
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/_sandbox/failures", web::post().to(add_failure))
                .route("/_sandbox/failures", web::delete().to(clear_failures))
                .route("/_sandbox/delay", web::post().to(set_delay))
                .route("/_sandbox/garbage", web::post().to(set_garbage))
                .route("/_sandbox/calls", web::get().to(calls))
                .route("/_sandbox/numbers/{id}", web::post().to(update_number))
                .route("/_sandbox/wabas", web::post().to(add_waba))
                .route("/_sandbox/webhooks", web::post().to(post_webhook))
                .route("/_sandbox/wabas/{id}/numbers", web::post().to(add_numbers))
                .route("/_sandbox/sent", web::get().to(sent))
                .route("/{version}/{phone_number_id}/messages", web::post().to(send_message))
                .route("/{version}/{waba_id}/phone_numbers", web::get().to(phone_numbers))
                .route("/{version}/{id}", web::get().to(object))
        })
        .workers(1)
        .listen(listener)?
        .run();
        Ok(Self { base_url: format!("http://{host}:{port}"), port, server: Some(server) })
    }

    /// Serves in the background of the current runtime.
    pub fn spawn(mut self) -> Self {
        if let Some(server) = self.server.take() {
            tokio::spawn(server);
        }
        self
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        match self.server.take() {
            Some(server) => server.await,
            None => Ok(()),
        }
    }
}

fn meta_error(status: u16, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST)).json(json!({
        "error": { "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "SandboxTrace" }
    }))
}

fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers().get("Authorization")?.to_str().ok()?.strip_prefix("Bearer ").map(str::to_owned)
}

/// Applies delay, garbage and injected failures; None lets the request through.
async fn interfere(
    state: &Shared,
    token: Option<&str>,
    waba_id: Option<&str>,
    number: Option<&str>,
    recipient: Option<&str>,
) -> Option<HttpResponse> {
    let delay = {
        let mut s = state.lock().ok()?;
        s.calls += 1;
        s.delay_ms
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let mut s = state.lock().ok()?;
    if let Some(body) = &s.garbage {
        return Some(HttpResponse::Ok().content_type("text/html").body(body.clone()));
    }
    let hit = s.failures.iter().position(|f| {
        (f.token.is_none() || f.token.as_deref() == token)
            && (f.waba_id.is_none() || f.waba_id.as_deref() == waba_id)
            && (f.phone_number_id.is_none() || f.phone_number_id.as_deref() == number)
            && (f.recipient.is_none() || f.recipient.as_deref() == recipient)
    })?;
    let failure = s.failures[hit].clone();
    if let Some(skip) = failure.skip.filter(|n| *n > 0) {
        s.failures[hit].skip = Some(skip - 1);
        return None;
    }
    if let Some(times) = failure.times {
        if times <= 1 {
            s.failures.remove(hit);
        } else {
            s.failures[hit].times = Some(times - 1);
        }
    }
    let status = failure.http_status.unwrap_or(if failure.code == 190 { 401 } else { 400 });
    Some(meta_error(status, failure.code, "Sandbox failure"))
}

async fn object(req: HttpRequest, state: web::Data<Shared>, path: web::Path<(String, String)>) -> HttpResponse {
    let (_, id) = path.into_inner();
    let token = bearer(&req);
    if let Some(response) = interfere(&state, token.as_deref(), Some(&id), None, None).await {
        return response;
    }
    let Ok(s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    match s.waba(&id) {
        Some(waba) if token.as_deref() == Some(waba.access_token.as_str()) => HttpResponse::Ok().json(json!({
            "id": waba.id, "name": waba.name, "currency": "USD", "timezone_id": "1", "message_template_namespace": "sandbox_namespace"
        })),
        Some(_) => meta_error(401, 190, "Error validating access token: The session has expired or is invalid."),
        None => meta_error(400, 100, "Unsupported get request. Object does not exist or cannot be loaded."),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    limit: Option<usize>,
    after: Option<String>,
}

async fn phone_numbers(req: HttpRequest, state: web::Data<Shared>, path: web::Path<(String, String)>, query: web::Query<PageQuery>) -> HttpResponse {
    let (_, waba_id) = path.into_inner();
    let token = bearer(&req);
    if let Some(response) = interfere(&state, token.as_deref(), Some(&waba_id), None, None).await {
        return response;
    }
    let Ok(s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    let Some(waba) = s.waba(&waba_id) else {
        return meta_error(400, 100, "Unsupported get request. Object does not exist or cannot be loaded.");
    };
    if token.as_deref() != Some(waba.access_token.as_str()) {
        return meta_error(401, 190, "Error validating access token: The session has expired or is invalid.");
    }
    let limit = query.limit.unwrap_or(25).clamp(1, 100);
    let start = match query.after.as_deref() {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("cursor-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => return meta_error(400, 100, "Invalid parameter: after"),
        },
    };
    let page: Vec<&PhoneNumberInfo> = waba.phone_numbers.iter().skip(start).take(limit).collect();
    let end = start + page.len();
    let mut paging = json!({ "cursors": { "before": format!("cursor-{start}"), "after": format!("cursor-{end}") } });
    if end < waba.phone_numbers.len() {
        paging["next"] = json!(format!("{}?after=cursor-{end}&limit={limit}", req.path()));
    }
    HttpResponse::Ok().json(json!({ "data": page, "paging": paging }))
}

async fn add_failure(state: web::Data<Shared>, failure: web::Json<Failure>) -> HttpResponse {
    if let Ok(mut s) = state.lock() {
        s.failures.push(failure.into_inner());
    }
    HttpResponse::NoContent().finish()
}

async fn clear_failures(state: web::Data<Shared>) -> HttpResponse {
    if let Ok(mut s) = state.lock() {
        s.failures.clear();
        s.delay_ms = 0;
        s.garbage = None;
    }
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct Delay {
    ms: u64,
}

async fn set_delay(state: web::Data<Shared>, delay: web::Json<Delay>) -> HttpResponse {
    if let Ok(mut s) = state.lock() {
        s.delay_ms = delay.ms.min(60_000);
    }
    HttpResponse::NoContent().finish()
}

async fn set_garbage(state: web::Data<Shared>, body: String) -> HttpResponse {
    if let Ok(mut s) = state.lock() {
        s.garbage = (!body.is_empty()).then_some(body);
    }
    HttpResponse::NoContent().finish()
}

async fn calls(state: web::Data<Shared>) -> HttpResponse {
    let calls = state.lock().map(|s| s.calls).unwrap_or_default();
    HttpResponse::Ok().json(json!({ "calls": calls }))
}

/// Changes fields of a number (quality, status, tier, throughput level, verified name).
async fn update_number(state: web::Data<Shared>, path: web::Path<String>, changes: web::Json<HashMap<String, String>>) -> HttpResponse {
    let id = path.into_inner();
    let Ok(mut s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    let Some(number) = s.number_mut(&id) else {
        return HttpResponse::NotFound().finish();
    };
    for (field, value) in changes.into_inner() {
        match field.as_str() {
            "quality_rating" => number.quality_rating = Some(value),
            "status" => number.status = Some(value),
            "messaging_limit_tier" => number.messaging_limit_tier = Some(value),
            "code_verification_status" => number.code_verification_status = Some(value),
            "verified_name" => number.verified_name = Some(value),
            "throughput" => number.throughput = Some(Throughput { level: Some(value) }),
            _ => return HttpResponse::BadRequest().body(format!("unknown field {field}")),
        }
    }
    HttpResponse::NoContent().finish()
}

/// `POST /{version}/{phone_number_id}/messages`, answered as Meta answers.
async fn send_message(req: HttpRequest, state: web::Data<Shared>, path: web::Path<(String, String)>, body: web::Bytes) -> HttpResponse {
    let (_, number_id) = path.into_inner();
    let token = bearer(&req);
    let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return meta_error(400, 100, "(#100) The parameter messaging_product is required.");
    };
    let to = message["to"].as_str().unwrap_or_default().to_owned();
    let (waba_id, expected_token) = {
        let Ok(s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
        match s.waba_of_number(&number_id) {
            Some(waba) => (waba.id.clone(), waba.access_token.clone()),
            None => return meta_error(400, 100, "Unsupported post request. Object does not exist or cannot be loaded."),
        }
    };
    if let Some(response) = interfere(&state, token.as_deref(), Some(&waba_id), Some(&number_id), Some(&to)).await {
        return response;
    }
    if token.as_deref() != Some(expected_token.as_str()) {
        return meta_error(401, 190, "Error validating access token: The session has expired or is invalid.");
    }
    if message["messaging_product"] != "whatsapp" || to.is_empty() || !to.bytes().all(|b| b.is_ascii_digit()) {
        return meta_error(400, 100, "(#100) Invalid parameter");
    }
    let Ok(mut s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    s.wamids += 1;
    let wamid = format!("wamid.SANDBOX{:08x}{:012}{}", s.run, s.wamids, number_id);
    if s.sent.len() == SENT_KEPT {
        s.sent.pop_front();
    }
    s.sent.push_back(json!({ "wamid": wamid, "phone_number_id": number_id, "message": message }));
    HttpResponse::Ok().json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": to }],
        "messages": [{ "id": wamid }]
    }))
}

/// What the sandbox accepted, oldest first.
async fn sent(state: web::Data<Shared>) -> HttpResponse {
    let sent: Vec<serde_json::Value> = state.lock().map(|s| s.sent.iter().cloned().collect()).unwrap_or_default();
    HttpResponse::Ok().json(sent)
}

/// A webhook for the sandbox to deliver, signed as Meta signs them.
#[derive(Deserialize)]
struct WebhookDelivery {
    /// Where to post it, e.g. `http://127.0.0.1:8080/webhooks/whatsapp`.
    url: String,
    app_secret: String,
    payload: serde_json::Value,
}

/// Posts a payload with `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`
/// and answers the receiver's status code.
async fn post_webhook(delivery: web::Json<WebhookDelivery>) -> HttpResponse {
    let delivery = delivery.into_inner();
    let body = delivery.payload.to_string();
    let signature = super::signature::sign(delivery.app_secret.as_bytes(), body.as_bytes());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build();
    let Ok(client) = client else { return HttpResponse::InternalServerError().finish() };
    match client.post(&delivery.url).header("Content-Type", "application/json").header("X-Hub-Signature-256", signature).body(body).send().await {
        Ok(response) => HttpResponse::Ok().json(json!({ "status": response.status().as_u16() })),
        Err(error) => HttpResponse::BadGateway().json(json!({ "error": error.to_string() })),
    }
}

/// Adds (or replaces) a WABA.
async fn add_waba(state: web::Data<Shared>, waba: web::Json<FixtureWaba>) -> HttpResponse {
    let Ok(mut s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    s.put_waba(waba.into_inner());
    HttpResponse::NoContent().finish()
}

/// Adds numbers to a WABA (to test pagination and new numbers on sync).
async fn add_numbers(state: web::Data<Shared>, path: web::Path<String>, numbers: web::Json<Vec<PhoneNumberInfo>>) -> HttpResponse {
    let id = path.into_inner();
    let Ok(mut s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    if s.add_numbers(&id, numbers.into_inner()) { HttpResponse::NoContent().finish() } else { HttpResponse::NotFound().finish() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(id: &str) -> PhoneNumberInfo {
        PhoneNumberInfo {
            id: id.to_owned(),
            display_phone_number: format!("+{id}"),
            verified_name: None,
            status: None,
            quality_rating: None,
            code_verification_status: None,
            messaging_limit_tier: None,
            throughput: None,
        }
    }

    fn waba(id: &str, numbers: &[&str]) -> FixtureWaba {
        FixtureWaba {
            id: id.to_owned(),
            name: id.to_owned(),
            access_token: format!("token-{id}"),
            phone_numbers: numbers.iter().map(|n| number(n)).collect(),
        }
    }

    #[test]
    fn a_number_of_the_fixture_leads_to_its_waba() {
        let state = State::new(Fixture { wabas: vec![waba("1", &["11", "12"]), waba("2", &["21"])] });
        assert_eq!(state.waba_of_number("12").map(|w| w.id.as_str()), Some("1"));
        assert_eq!(state.waba_of_number("21").map(|w| w.id.as_str()), Some("2"));
        assert!(state.waba_of_number("99").is_none());
    }

    #[test]
    fn a_replaced_waba_forgets_its_old_numbers_and_added_numbers_are_found() {
        let mut state = State::new(Fixture { wabas: vec![waba("1", &["11", "12"]), waba("2", &["21"])] });
        state.put_waba(waba("1", &["13"]));
        state.put_waba(waba("3", &["31"]));
        assert!(state.add_numbers("2", vec![number("22")]));
        assert!(!state.add_numbers("9", vec![number("91")]));

        assert!(state.waba_of_number("11").is_none());
        assert_eq!(state.waba_of_number("13").map(|w| w.id.as_str()), Some("1"));
        assert_eq!(state.waba_of_number("22").map(|w| w.id.as_str()), Some("2"));
        assert_eq!(state.waba_of_number("31").map(|w| w.id.as_str()), Some("3"));
        assert!(state.waba_of_number("91").is_none());
        assert_eq!(state.fixture.wabas.len(), 3);
    }
}
