//! The demo's receiver of events (`wabapool demo` only): the route its
//! event endpoints post to, the Demo receiver page that lists what arrived
//! (htmx asks for it again every 2 s; its Refresh link does without
//! JavaScript), and "Have a customer write in". Startup calls [`open`] and
//! [`configure`] in demo mode only: elsewhere these paths do not exist.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::form::FormPost;
use super::layout::{Chrome, Nav};
use super::session::{CurrentUser, FlashKind, set_flash};
use super::{AppState, htmx, render};
use crate::error::AppError;
use crate::services::demo_receiver::{self as service, ArrivedEvent, CustomerMessage, Delivery, DemoReceiver, RECEIVER_PATH};

/// The Demo receiver page.
pub const PAGE: &str = "/settings/events/demo-receiver";
/// The largest event body the receiver reads.
const MAX_BODY: usize = 256 * 1024;

/// Opens the receiver endpoint of each demo enterprise for a demo
/// listening on `local`, and the receiver that keeps what arrives. A
/// failure is logged and leaves the demo without endpoints, never stopped.
pub async fn open(
    state: &AppState,
    local: SocketAddr,
    enterprise_names: &'static [&'static str],
    sandbox_url: Option<String>,
) -> web::Data<DemoReceiver> {
    let host = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_owned(),
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let base = format!("http://{host}:{}", local.port());
    let (keys, at) = (state.secrets.clone(), base.clone());
    let endpoints = match state.write(move |conn| Ok(service::open_endpoints(conn, &keys, &at, enterprise_names)?)).await {
        Ok(endpoints) => endpoints,
        Err(error) => {
            tracing::warn!(error = ?error, "the demo's receiver endpoints could not be opened");
            Default::default()
        }
    };
    web::Data::new(DemoReceiver::new(endpoints, base, sandbox_url))
}

/// The receiver's routes, before the route table so that the page's path
/// is not taken for an endpoint's id.
pub fn configure(cfg: &mut web::ServiceConfig, receiver: web::Data<DemoReceiver>) {
    cfg.app_data(receiver).route(&format!("{RECEIVER_PATH}/{{enterprise_id}}"), web::post().to(receive)).service(page).service(customer_writes_in);
}

fn plain(status: StatusCode, text: &'static str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(text)
}

/// An event delivery to an enterprise's receiver: kept whether or not its
/// signature verifies (the page says which); answered 204 when it does and
/// 401 when it does not, as an application refuses what it cannot trust.
async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    receiver: web::Data<DemoReceiver>,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let Some((enterprise_id, endpoint_id)) = path.parse::<i64>().ok().and_then(|e| receiver.endpoint_of(e).map(|endpoint| (e, endpoint))) else {
        return plain(StatusCode::NOT_FOUND, "no demo receiver here");
    };
    let body = match super::webhooks::read_body(&req, payload, MAX_BODY).await {
        Ok(body) => body.freeze(),
        Err(refused) => return refused,
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let (keys, now) = (state.secrets.clone(), chrono::Utc::now());
    let checked = state
        .run(move |conn| {
            let delivery = Delivery { webhook_id: id.as_deref(), timestamp: timestamp.as_deref(), signature: signature.as_deref(), body: &body };
            Ok(service::check_arrival(conn, &keys, endpoint_id, &delivery, now)?)
        })
        .await;
    match checked {
        Ok(event) => {
            let verified = event.verified;
            receiver.record(enterprise_id, event);
            if verified { HttpResponse::NoContent().finish() } else { plain(StatusCode::UNAUTHORIZED, "the signature does not verify") }
        }
        Err(AppError::NotFound) => plain(StatusCode::NOT_FOUND, "no demo receiver here"),
        Err(error) => {
            tracing::error!(error = ?error, "the demo's receiver could not check a delivery");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ReceiverQuery {
    enterprise_id: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/demo_receiver.html")]
struct ReceiverPage {
    chrome: Chrome,
    /// The enterprise shown and, for aggregators, the others to choose from.
    found: service::ReceiverPage,
    /// Where the enterprise's events go; None when the demo opened no receiver for it.
    receiver_url: Option<String>,
    endpoint_id: Option<i64>,
    arrivals: Vec<ArrivedEvent>,
    /// This page, for the Refresh link and htmx's polling.
    refresh: String,
}

/// The list alone, which htmx swaps in every 2 seconds.
#[derive(Template)]
#[template(path = "settings/_demo_arrivals.html")]
struct ArrivalsList {
    arrivals: Vec<ArrivedEvent>,
    refresh: String,
}

fn page_of(enterprise_id: i64, is_aggregator: bool) -> String {
    if is_aggregator { format!("{PAGE}?enterprise_id={enterprise_id}") } else { PAGE.to_owned() }
}

#[get("/settings/events/demo-receiver")]
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    receiver: web::Data<DemoReceiver>,
    user: CurrentUser,
    query: web::Query<ReceiverQuery>,
) -> Result<HttpResponse, AppError> {
    let (actor, raw) = (user.actor.clone(), query.into_inner().enterprise_id);
    let found = state.run(move |conn| Ok(service::receiver_page(conn, &actor, raw.as_deref())?)).await?;
    let enterprise_id = found.enterprise.id;
    let arrivals = receiver.arrivals(enterprise_id);
    let refresh = page_of(enterprise_id, user.actor.scope.is_aggregator());
    if htmx::wants_fragment(&req) {
        return render(StatusCode::OK, &ArrivalsList { arrivals, refresh });
    }
    render(
        StatusCode::OK,
        &ReceiverPage {
            chrome: Chrome::new(&user, Nav::Events, state.demo),
            found,
            receiver_url: receiver.receiver_url(enterprise_id),
            endpoint_id: receiver.endpoint_of(enterprise_id),
            arrivals,
            refresh,
        },
    )
}

/// "Have a customer write in": the sandbox posts a demo customer's reply
/// to one of the enterprise's numbers; the page then shows the event.
#[post("/settings/events/demo-receiver/customer-message")]
pub async fn customer_writes_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    receiver: web::Data<DemoReceiver>,
    user: CurrentUser,
    form: FormPost,
) -> Result<HttpResponse, AppError> {
    let raw = form.get("enterprise_id").map(str::to_owned);
    let outcome = service::customer_writes_in(&**state, &user.actor, raw.clone(), &receiver, &state.webhooks.app_secret).await?;
    match outcome {
        CustomerMessage::Sent { enterprise, display_number, customer } => set_flash(
            &user.session,
            FlashKind::Success,
            format!("{customer} wrote to {enterprise} on {display_number}; its message.received event arrives below in a moment."),
        ),
        CustomerMessage::NoNumber { enterprise } => {
            set_flash(&user.session, FlashKind::Error, format!("{enterprise} has no activated WhatsApp number for a customer to write to."))
        }
        CustomerMessage::Failed(why) => set_flash(&user.session, FlashKind::Error, why),
    }
    let back = match raw.as_deref().map(str::trim).and_then(|id| id.parse::<i64>().ok()) {
        Some(id) if user.actor.scope.is_aggregator() => page_of(id, true),
        _ => PAGE.to_owned(),
    };
    Ok(htmx::see_other(&req, &back))
}
