//! The Graph API sandbox: a Graph-compatible HTTP server that serves WABAs
//! and numbers from a fixture, pages like Meta, and can be told to fail a
//! token, a number or a recipient with a given Meta error code, or to be
//! slow. Tests, the demo and load tests reach it over a real socket.
//!
//! On command it also plays Meta's side of a conversation: a customer's
//! reply to a number (`POST /_sandbox/replies`) and the delivery statuses
//! of a message it accepted (`POST /_sandbox/statuses`), each built as
//! Meta's `messages` webhook and posted signed with the app secret.
//!
//! It counts each number's sends per second (`GET /_sandbox/rates`) and,
//! once told to (`POST /_sandbox/throughput`), refuses a number's sends
//! beyond its Meta throughput with 130429, as Meta does.

mod rates;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use self::rates::SendRates;
use super::types::{PhoneNumberInfo, Throughput};
use crate::domain::ThroughputLevel;

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
    /// Sends per number and second, accepted and refused.
    rates: SendRates,
    /// Refuse a number's sends beyond its throughput; off unless a test asks.
    enforce_throughput: bool,
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

    /// Messages a second Meta accepts from a number: its fixture's
    /// throughput level, STANDARD when absent.
    fn messages_per_second(&self, phone_number_id: &str) -> i64 {
        let level = self
            .waba_of_number(phone_number_id)
            .and_then(|w| w.phone_numbers.iter().find(|n| n.id == phone_number_id))
            .and_then(|n| n.throughput.as_ref()?.level.clone())
            .map(ThroughputLevel::from);
        ThroughputLevel::messages_per_second_of(level.as_ref())
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
                .route("/_sandbox/replies", web::post().to(post_reply))
                .route("/_sandbox/statuses", web::post().to(post_status))
                .route("/_sandbox/wabas/{id}/numbers", web::post().to(add_numbers))
                .route("/_sandbox/sent", web::get().to(sent))
                .route("/_sandbox/throughput", web::post().to(set_throughput))
                .route("/_sandbox/rates", web::get().to(rates))
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
    let limit = s.enforce_throughput.then(|| u32::try_from(s.messages_per_second(&number_id)).unwrap_or(u32::MAX));
    if !s.rates.take(&number_id, chrono::Utc::now().timestamp(), limit) {
        return throughput_reached();
    }
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

/// Meta's answer to a send beyond the number's throughput in this second.
fn throughput_reached() -> HttpResponse {
    HttpResponse::BadRequest().json(json!({
        "error": {
            "message": "(#130429) Rate limit hit",
            "type": "OAuthException",
            "code": 130_429,
            "error_data": { "messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached." },
            "fbtrace_id": "SandboxTrace"
        }
    }))
}

/// `POST /_sandbox/throughput {"enforce": true|false}`: whether sends
/// beyond a number's throughput are refused; answers the setting.
async fn set_throughput(state: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Command {
        enforce: bool,
    }
    let Ok(command) = serde_json::from_slice::<Command>(&body) else {
        return sandbox_refusal(actix_web::http::StatusCode::BAD_REQUEST, r#"send {"enforce": true} or {"enforce": false}"#);
    };
    let Ok(mut s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    s.enforce_throughput = command.enforce;
    HttpResponse::Ok().json(json!({ "enforce": s.enforce_throughput }))
}

/// `GET /_sandbox/rates`: for each number that sent, its throughput, the
/// most it had accepted in one second, and its last seconds' counts, oldest first.
async fn rates(state: web::Data<Shared>) -> HttpResponse {
    let Ok(s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    let counted = s.rates.numbers();
    // One pass over the fixture, not a search of it for each counted number;
    // a number listed twice is the one its sends reach, as in the index.
    let levels: HashMap<&str, Option<ThroughputLevel>> = s
        .fixture
        .wabas
        .iter()
        .enumerate()
        .flat_map(|(at, w)| w.phone_numbers.iter().map(move |n| (at, n)))
        .filter(|(at, n)| counted.contains_key(&n.id) && s.index.numbers.get(&n.id) == Some(at))
        .map(|(_, n)| n)
        .map(|n| (n.id.as_str(), n.throughput.as_ref().and_then(|t| t.level.clone()).map(ThroughputLevel::from)))
        .collect();
    let numbers: serde_json::Map<String, serde_json::Value> = counted
        .iter()
        .map(|(id, rates)| {
            let level = levels.get(id.as_str()).and_then(Option::as_ref);
            let answer = json!({
                "messages_per_second": ThroughputLevel::messages_per_second_of(level),
                "max_accepted": rates.max_accepted,
                "seconds": rates.seconds,
            });
            (id.clone(), answer)
        })
        .collect();
    HttpResponse::Ok().json(numbers)
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
    match deliver_signed(&delivery.url, &delivery.app_secret, &delivery.payload).await {
        Ok(status) => HttpResponse::Ok().json(json!({ "status": status })),
        Err(refused) => refused,
    }
}

/// Signs `payload` as Meta does and posts it to `url`: the receiver's
/// status code, or the answer to give when it could not be reached.
async fn deliver_signed(url: &str, app_secret: &str, payload: &serde_json::Value) -> Result<u16, HttpResponse> {
    let body = payload.to_string();
    let signature = super::signature::sign(app_secret.as_bytes(), body.as_bytes());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build();
    let Ok(client) = client else { return Err(HttpResponse::InternalServerError().finish()) };
    match client.post(url).header("Content-Type", "application/json").header("X-Hub-Signature-256", signature).body(body).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => Err(HttpResponse::BadGateway().json(json!({ "error": error.to_string() }))),
    }
}

/// A customer's text reply for the sandbox to deliver as Meta would.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyRequest {
    /// Where to post it, e.g. `http://127.0.0.1:8080/webhooks/whatsapp`.
    pub url: String,
    pub app_secret: String,
    /// The business number the customer writes to.
    pub phone_number_id: String,
    /// The customer's WhatsApp number (digits; `+`, spaces and dashes are dropped).
    pub from: String,
    pub text: String,
    /// The customer's profile name; a plain one when absent.
    #[serde(default)]
    pub name: Option<String>,
}

/// A delivery status for the sandbox to report for a message it accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusRequest {
    pub url: String,
    pub app_secret: String,
    /// The message; the latest one accepted when absent.
    #[serde(default)]
    pub wamid: Option<String>,
    /// `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    /// Meta's error code of a failure (131000, "Something went wrong", when absent).
    #[serde(default)]
    pub error_code: Option<i64>,
}

/// The statuses Meta reports for a message it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

/// The business number a webhook is about, as Meta names it.
#[derive(Debug, Clone, Copy)]
pub struct BusinessNumber<'a> {
    pub waba_id: &'a str,
    pub phone_number_id: &'a str,
    /// The display number as written in the fixture; sent as its digits.
    pub display_phone_number: &'a str,
}

impl BusinessNumber<'_> {
    fn metadata(&self) -> serde_json::Value {
        json!({ "display_phone_number": digits_of(self.display_phone_number), "phone_number_id": self.phone_number_id })
    }
}

/// A customer's text message to a business number.
#[derive(Debug, Clone, Copy)]
pub struct CustomerText<'a> {
    /// The customer's number, digits only.
    pub from: &'a str,
    pub name: &'a str,
    pub text: &'a str,
    pub wamid: &'a str,
    /// Unix seconds.
    pub at: i64,
}

/// A status of a message the business sent.
#[derive(Debug, Clone, Copy)]
pub struct StatusChange<'a> {
    pub wamid: &'a str,
    /// The customer the message went to, digits only.
    pub recipient: &'a str,
    pub status: DeliveryStatus,
    /// The failure's code, for `failed` only.
    pub error_code: Option<i64>,
    /// Unix seconds.
    pub at: i64,
}

/// Meta's envelope of one `messages` change of one WABA.
fn messages_envelope(number: &BusinessNumber<'_>, at: i64, value: serde_json::Value) -> serde_json::Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": number.waba_id, "time": at, "changes": [{ "field": "messages", "value": value }] }]
    })
}

/// The `messages` webhook Meta posts when a customer writes a text.
pub fn reply_envelope(number: &BusinessNumber<'_>, reply: &CustomerText<'_>) -> serde_json::Value {
    messages_envelope(
        number,
        reply.at,
        json!({
            "messaging_product": "whatsapp",
            "metadata": number.metadata(),
            "contacts": [{ "profile": { "name": reply.name }, "wa_id": reply.from }],
            "messages": [{
                "from": reply.from,
                "id": reply.wamid,
                "timestamp": reply.at.to_string(),
                "type": "text",
                "text": { "body": reply.text }
            }]
        }),
    )
}

/// The `messages` webhook Meta posts when a sent message changes status.
pub fn status_envelope(number: &BusinessNumber<'_>, change: &StatusChange<'_>) -> serde_json::Value {
    let mut status = json!({
        "id": change.wamid,
        "status": change.status.as_str(),
        "timestamp": change.at.to_string(),
        "recipient_id": change.recipient,
    });
    if change.status == DeliveryStatus::Failed {
        let code = change.error_code.unwrap_or(131_000);
        status["errors"] = json!([{ "code": code, "title": error_title(code), "message": error_title(code) }]);
    }
    messages_envelope(number, change.at, json!({ "messaging_product": "whatsapp", "metadata": number.metadata(), "statuses": [status] }))
}

/// Meta's title of a delivery failure's code (META.md), for the codes
/// tests and demos use; a general one otherwise.
fn error_title(code: i64) -> &'static str {
    match code {
        130_429 => "Rate limit hit",
        130_472 => "User's number is part of an experiment",
        131_026 => "Message undeliverable",
        131_047 => "Re-engagement message",
        131_048 => "Spam rate limit hit",
        131_049 => "Meta chose not to deliver",
        131_050 => "User stopped marketing messages",
        131_056 => "Pair rate limit hit",
        131_057 => "Account in maintenance mode",
        _ => "Something went wrong",
    }
}

fn digits_of(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// A customer's number as Meta writes a wa_id: 1 to 15 digits, once `+`,
/// spaces, dashes and brackets are dropped; None for anything else.
pub fn customer_digits(text: &str) -> Option<String> {
    if !text.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')')) {
        return None;
    }
    let digits = digits_of(text);
    (1..=15).contains(&digits.len()).then_some(digits)
}

/// The longest reply text accepted, in characters (Meta's text limit).
const MAX_REPLY_CHARS: usize = 4_096;

fn sandbox_refusal(status: actix_web::http::StatusCode, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message.into() }))
}

/// `POST /_sandbox/replies`: a customer writes to a number of the fixture;
/// answers the receiver's status and the inbound message's wamid.
async fn post_reply(state: web::Data<Shared>, request: web::Json<ReplyRequest>) -> HttpResponse {
    use actix_web::http::StatusCode;
    let request = request.into_inner();
    let Some(from) = customer_digits(&request.from) else {
        return sandbox_refusal(StatusCode::UNPROCESSABLE_ENTITY, "from must be the customer's number: 1 to 15 digits");
    };
    let text_chars = request.text.chars().count();
    if request.text.trim().is_empty() || text_chars > MAX_REPLY_CHARS {
        return sandbox_refusal(StatusCode::UNPROCESSABLE_ENTITY, "text must hold 1 to 4,096 characters");
    }
    let name = request.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or("WhatsApp customer").to_owned();
    let (envelope, wamid) = {
        let Ok(mut s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
        let Some((waba_id, display)) = s
            .waba_of_number(&request.phone_number_id)
            .and_then(|w| w.phone_numbers.iter().find(|n| n.id == request.phone_number_id).map(|n| (w.id.clone(), n.display_phone_number.clone())))
        else {
            return sandbox_refusal(StatusCode::NOT_FOUND, format!("the sandbox has no number {}", request.phone_number_id));
        };
        s.wamids += 1;
        let wamid = format!("wamid.SANDBOXIN{:08x}{:012}{}", s.run, s.wamids, from);
        let number = BusinessNumber { waba_id: &waba_id, phone_number_id: &request.phone_number_id, display_phone_number: &display };
        let reply = CustomerText { from: &from, name: &name, text: &request.text, wamid: &wamid, at: chrono::Utc::now().timestamp() };
        (reply_envelope(&number, &reply), wamid)
    };
    match deliver_signed(&request.url, &request.app_secret, &envelope).await {
        Ok(status) => HttpResponse::Ok().json(json!({ "status": status, "wamid": wamid })),
        Err(refused) => refused,
    }
}

/// `POST /_sandbox/statuses`: a message the sandbox accepted was sent,
/// delivered, read or failed; answers the receiver's status.
async fn post_status(state: web::Data<Shared>, request: web::Json<StatusRequest>) -> HttpResponse {
    use actix_web::http::StatusCode;
    let request = request.into_inner();
    let Some(status) = DeliveryStatus::parse(&request.status) else {
        return sandbox_refusal(StatusCode::UNPROCESSABLE_ENTITY, "status must be sent, delivered, read or failed");
    };
    let (envelope, wamid) = {
        let Ok(s) = state.lock() else { return HttpResponse::InternalServerError().finish() };
        let sent = match request.wamid.as_deref() {
            Some(wamid) => s.sent.iter().rev().find(|m| m["wamid"] == wamid),
            None => s.sent.back(),
        };
        let Some(sent) = sent else {
            let which = request.wamid.as_deref().map_or_else(|| "no message yet".to_owned(), |w| format!("no message {w}"));
            return sandbox_refusal(StatusCode::NOT_FOUND, format!("the sandbox accepted {which}"));
        };
        let wamid = sent["wamid"].as_str().unwrap_or_default();
        let phone_number_id = sent["phone_number_id"].as_str().unwrap_or_default();
        let recipient = digits_of(sent["message"]["to"].as_str().unwrap_or_default());
        let Some((waba_id, display)) = s
            .waba_of_number(phone_number_id)
            .and_then(|w| w.phone_numbers.iter().find(|n| n.id == phone_number_id).map(|n| (w.id.clone(), n.display_phone_number.clone())))
        else {
            return sandbox_refusal(StatusCode::NOT_FOUND, format!("the sandbox has no number {phone_number_id}"));
        };
        let number = BusinessNumber { waba_id: &waba_id, phone_number_id, display_phone_number: &display };
        let change = StatusChange { wamid, recipient: &recipient, status, error_code: request.error_code, at: chrono::Utc::now().timestamp() };
        (status_envelope(&number, &change), wamid.to_owned())
    };
    match deliver_signed(&request.url, &request.app_secret, &envelope).await {
        Ok(receiver) => HttpResponse::Ok().json(json!({ "status": receiver, "wamid": wamid })),
        Err(refused) => refused,
    }
}

/// Why asking a sandbox for a customer's reply did not work.
#[derive(Debug, thiserror::Error)]
pub enum SandboxCallError {
    #[error("the sandbox at {url} could not be reached: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("the sandbox refused: {0}")]
    Refused(String),
    #[error("the sandbox's answer could not be read")]
    Unreadable,
}

/// What the sandbox did with a reply: the receiver's status and the
/// inbound message's wamid.
#[derive(Debug, Clone, Deserialize)]
pub struct ReplyPosted {
    pub status: u16,
    pub wamid: String,
}

/// Asks the sandbox at `sandbox_url` to deliver a customer's reply (the
/// demo's "Have a customer write in").
pub async fn ask_for_reply(sandbox_url: &str, request: &ReplyRequest) -> Result<ReplyPosted, SandboxCallError> {
    let url = format!("{}/_sandbox/replies", sandbox_url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| SandboxCallError::Unreachable { url: url.clone(), cause: e.to_string() })?;
    let response =
        client.post(&url).json(request).send().await.map_err(|e| SandboxCallError::Unreachable { url: url.clone(), cause: e.to_string() })?;
    if !response.status().is_success() {
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        return Err(SandboxCallError::Refused(answer["error"].as_str().unwrap_or("no reason given").to_owned()));
    }
    response.json().await.map_err(|_| SandboxCallError::Unreadable)
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

    const NUMBER: BusinessNumber<'static> =
        BusinessNumber { waba_id: "102000000000101", phone_number_id: "1015550100101", display_phone_number: "+1 555-010-0101" };

    #[test]
    fn a_reply_is_metas_messages_webhook_that_the_portal_reads() {
        let reply = CustomerText { from: "447700900123", name: "Ada", text: "Is my order on its way?", wamid: "wamid.IN1", at: 1_765_000_000 };
        let envelope = reply_envelope(&NUMBER, &reply);

        assert_eq!(envelope["object"], "whatsapp_business_account");
        assert_eq!(envelope["entry"][0]["id"], "102000000000101");
        assert_eq!(envelope["entry"][0]["time"], 1_765_000_000);
        let change = &envelope["entry"][0]["changes"][0];
        assert_eq!(change["field"], "messages");
        assert_eq!(change["value"]["metadata"], json!({ "display_phone_number": "15550100101", "phone_number_id": "1015550100101" }));
        assert_eq!(change["value"]["contacts"], json!([{ "profile": { "name": "Ada" }, "wa_id": "447700900123" }]));
        let parsed = crate::meta::webhook::parse(envelope.to_string().as_bytes()).unwrap();
        let value: crate::meta::webhook::MessagesValue = serde_json::from_value(parsed.entry[0].changes[0].value.clone()).unwrap();
        let message = &value.messages[0];
        assert_eq!((message.from.as_str(), message.id.as_str(), message.timestamp.as_str()), ("447700900123", "wamid.IN1", "1765000000"));
        assert_eq!(message.kind.as_deref(), Some("text"));
        assert_eq!(message.text.as_ref().map(|t| t.body.as_str()), Some("Is my order on its way?"));
    }

    #[test]
    fn a_status_names_the_message_and_its_recipient_and_only_a_failure_carries_an_error() {
        let change = |status, error_code| StatusChange { wamid: "wamid.OUT1", recipient: "447700900123", status, error_code, at: 1_765_000_001 };
        let delivered = status_envelope(&NUMBER, &change(DeliveryStatus::Delivered, Some(131_026)));
        let failed = status_envelope(&NUMBER, &change(DeliveryStatus::Failed, Some(131_026)));
        let failed_plainly = status_envelope(&NUMBER, &change(DeliveryStatus::Failed, None));

        let status = &delivered["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(delivered["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(delivered["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"], "1015550100101");
        assert_eq!((status["id"].as_str(), status["status"].as_str()), (Some("wamid.OUT1"), Some("delivered")));
        assert_eq!((status["recipient_id"].as_str(), status["timestamp"].as_str()), (Some("447700900123"), Some("1765000001")));
        assert!(status.get("errors").is_none());
        let errors = &failed["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"];
        assert_eq!((errors[0]["code"].as_i64(), errors[0]["title"].as_str()), (Some(131_026), Some("Message undeliverable")));
        assert_eq!(failed_plainly["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]["code"], 131_000);
        let parsed = crate::meta::webhook::parse(failed.to_string().as_bytes()).unwrap();
        let value: crate::meta::webhook::MessagesValue = serde_json::from_value(parsed.entry[0].changes[0].value.clone()).unwrap();
        assert_eq!((value.statuses[0].status.as_str(), value.statuses[0].errors[0].code), ("failed", 131_026));
    }

    #[test]
    fn only_the_four_statuses_meta_reports_are_read() {
        for status in [DeliveryStatus::Sent, DeliveryStatus::Delivered, DeliveryStatus::Read, DeliveryStatus::Failed] {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        for other in ["", "queued", "DELIVERED", "deleted"] {
            assert_eq!(DeliveryStatus::parse(other), None, "{other}");
        }
    }

    #[test]
    fn a_customers_number_is_kept_as_its_digits() {
        assert_eq!(customer_digits("+44 7700 900123").as_deref(), Some("447700900123"));
        assert_eq!(customer_digits("1 (555) 010-0199").as_deref(), Some("15550100199"));
        for bad in ["", "+", "ada", "4477009001234567", "44\n77"] {
            assert_eq!(customer_digits(bad), None, "{bad:?}");
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
    fn a_numbers_throughput_follows_its_level_and_is_standard_without_one() {
        let mut fixture = Fixture { wabas: vec![waba("1", &["11", "12", "13", "14"])] };
        for (at, level) in [(1, "HIGH"), (2, "COEXISTENCE"), (3, "STANDARD")] {
            fixture.wabas[0].phone_numbers[at].throughput = Some(Throughput { level: Some(level.to_owned()) });
        }
        let state = State::new(fixture);

        let rates: Vec<i64> = ["11", "12", "13", "14", "99"].iter().map(|n| state.messages_per_second(n)).collect();

        assert_eq!(rates, [80, 1_000, 20, 80, 80]);
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
