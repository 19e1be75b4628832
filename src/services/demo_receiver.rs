//! The demo's own receiver of events (`wabapool demo` only). Each start
//! opens one event endpoint per demo enterprise, for every event type,
//! pointing back into the demo process; the process checks each delivery's
//! Standard Webhooks signature with that endpoint's secret and keeps the
//! last [`KEPT_PER_ENTERPRISE`] that arrived in memory, for the portal's
//! Demo receiver page. "Have a customer write in" asks the Graph API
//! sandbox to post a customer's reply to one of the enterprise's numbers,
//! so a newcomer sees `message.received` arrive within seconds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rand::seq::IndexedRandom as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use super::access::{EnterpriseChoices, chosen_enterprise, enterprise_choices};
use super::events::endpoints::{MAX_ENDPOINTS, signing_secrets};
use super::{Actor, DatabaseRunner, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::NumberStatus;
use crate::domain::events::{EventType, check_endpoint_url};
use crate::meta::sandbox::{ReplyRequest, ask_for_reply};
use crate::security::event_signing;
use crate::security::secrets::SecretKeys;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::events::{self as store, NewEndpoint};
use crate::store::{numbers, orgs};

/// Events kept per enterprise; older ones are dropped as new ones arrive.
pub const KEPT_PER_ENTERPRISE: usize = 100;
/// Where the receiver listens, followed by the enterprise's id.
pub const RECEIVER_PATH: &str = "/demo/receiver";
/// How the demo recognises its own endpoint among an enterprise's endpoints.
pub const DESCRIPTION: &str = "The demo's own receiver: what arrives is listed on the Demo receiver page.";
/// How far a delivery's timestamp may be from now (the specification's advice).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;
/// The most of an event's data a page shows, in characters.
const DATA_SHOWN: usize = 16 * 1024;

/// One delivery as it arrived.
#[derive(Debug, Clone)]
pub struct ArrivedEvent {
    pub arrived_at: chrono::DateTime<chrono::Utc>,
    pub webhook_id: String,
    pub event_type: String,
    /// The signature is the endpoint's and the timestamp within [`TOLERANCE_SECONDS`].
    pub verified: bool,
    /// Why it did not verify.
    pub problem: Option<&'static str>,
    /// The event's `data`, pretty-printed; the body as sent when it is not an event.
    pub data: String,
}

/// The newest events of one enterprise, at most `capacity`, newest first.
#[derive(Debug)]
pub struct Inbox {
    events: VecDeque<ArrivedEvent>,
    capacity: usize,
}

impl Inbox {
    pub fn new(capacity: usize) -> Self {
        Self { events: VecDeque::with_capacity(capacity), capacity }
    }

    /// Keeps `event` as the newest, dropping the oldest when full.
    pub fn push(&mut self, event: ArrivedEvent) {
        if self.capacity == 0 {
            return;
        }
        if self.events.len() == self.capacity {
            self.events.pop_back();
        }
        self.events.push_front(event);
    }

    pub fn newest_first(&self) -> Vec<ArrivedEvent> {
        self.events.iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The demo's receiver: each demo enterprise's endpoint and what arrived
/// for it. Only enterprises opened at start have an inbox, so a request
/// naming any other keeps nothing.
pub struct DemoReceiver {
    /// Enterprise id → its receiver endpoint's id.
    endpoints: HashMap<i64, i64>,
    inboxes: Mutex<HashMap<i64, Inbox>>,
    /// Where this process listens, as its endpoints reach it (`http://127.0.0.1:8080`).
    pub base_url: String,
    /// The Graph API sandbox's base URL.
    pub sandbox_url: Option<String>,
}

impl DemoReceiver {
    pub fn new(endpoints: HashMap<i64, i64>, base_url: String, sandbox_url: Option<String>) -> Self {
        let inboxes = endpoints.keys().map(|enterprise| (*enterprise, Inbox::new(KEPT_PER_ENTERPRISE))).collect();
        Self { endpoints, inboxes: Mutex::new(inboxes), base_url, sandbox_url }
    }

    /// Where Meta's webhooks reach this process; the sandbox posts customers' replies there.
    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/whatsapp", self.base_url.trim_end_matches('/'))
    }

    /// The URL of the enterprise's receiver endpoint, if the demo opened one.
    pub fn receiver_url(&self, enterprise_id: i64) -> Option<String> {
        self.endpoints.contains_key(&enterprise_id).then(|| receiver_url(&self.base_url, enterprise_id))
    }

    /// The enterprise's receiver endpoint, if the demo opened one.
    pub fn endpoint_of(&self, enterprise_id: i64) -> Option<i64> {
        self.endpoints.get(&enterprise_id).copied()
    }

    /// Keeps an arrived event; false when the enterprise has no receiver.
    pub fn record(&self, enterprise_id: i64, event: ArrivedEvent) -> bool {
        let Ok(mut inboxes) = self.inboxes.lock() else { return false };
        match inboxes.get_mut(&enterprise_id) {
            Some(inbox) => {
                inbox.push(event);
                true
            }
            None => false,
        }
    }

    /// What arrived for an enterprise, newest first.
    pub fn arrivals(&self, enterprise_id: i64) -> Vec<ArrivedEvent> {
        self.inboxes.lock().ok().and_then(|inboxes| inboxes.get(&enterprise_id).map(Inbox::newest_first)).unwrap_or_default()
    }
}

/// The receiver URL of an enterprise under `base` (`http://127.0.0.1:8080`).
pub fn receiver_url(base: &str, enterprise_id: i64) -> String {
    format!("{}{RECEIVER_PATH}/{enterprise_id}", base.trim_end_matches('/'))
}

/// Opens the receiver endpoint of each named enterprise that exists, under
/// `base`, for every event type; an enterprise that has one keeps it, moved
/// to `base` if the demo now listens elsewhere. Audited as wabapool's own
/// change. Answers enterprise id → endpoint id.
pub fn open_endpoints(conn: &mut DbConnection, keys: &SecretKeys, base: &str, enterprise_names: &[&str]) -> Result<HashMap<i64, i64>, ServiceError> {
    write_transaction(conn, |conn| {
        let mut opened = HashMap::new();
        for name in enterprise_names {
            let Some(enterprise) = orgs::find_enterprise_by_name(conn, name)? else { continue };
            let url = receiver_url(base, enterprise.id);
            check_endpoint_url(&url, true).map_err(|problem| ServiceError::invalid("url", problem.message()))?;
            let existing = store::endpoints_of(conn, &[enterprise.id])?;
            let id = match existing.iter().find(|e| e.description == DESCRIPTION) {
                Some(row) => {
                    if store::set_url(conn, row.id, &url)? {
                        record(conn, enterprise.id, "event_endpoint.update", row.id, Some(json!({ "url": row.url })), json!({ "url": url }))?;
                    }
                    row.id
                }
                None if existing.len() >= MAX_ENDPOINTS => {
                    tracing::warn!(enterprise = %enterprise.name, "no room for the demo's receiver endpoint");
                    continue;
                }
                None => {
                    let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                    let sealed = keys.seal(&event_signing::new_secret());
                    let id = store::insert_endpoint(
                        conn,
                        NewEndpoint {
                            enterprise_id: enterprise.id,
                            url: &url,
                            description: DESCRIPTION,
                            event_types: &types.join(" "),
                            pool_ids: "",
                            secret_ciphertext: sealed.ciphertext,
                            secret_key_id: &sealed.key_id,
                        },
                    )?;
                    record(conn, enterprise.id, "event_endpoint.create", id, None, json!({ "url": url, "event_types": types, "pool_ids": [] }))?;
                    id
                }
            };
            opened.insert(enterprise.id, id);
        }
        Ok(opened)
    })
}

/// An audit entry of wabapool's own change to the receiver endpoint (R10).
fn record(
    conn: &mut DbConnection,
    enterprise_id: i64,
    action: &'static str,
    id: i64,
    before: Option<Value>,
    after: Value,
) -> Result<(), ServiceError> {
    audit::record(
        conn,
        &NewAuditEntry {
            enterprise_id: Some(enterprise_id),
            action,
            subject_type: "event_endpoint",
            subject_id: Some(id.to_string()),
            before,
            after: Some(after),
            ..NewAuditEntry::default()
        },
    )?;
    Ok(())
}

/// A delivery as the receiver got it: the Standard Webhooks headers and the body.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub webhook_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// Checks a delivery against the endpoint's signing secrets (its own and,
/// while a rotation lasts, the one before) and reads it.
pub fn check_arrival(
    conn: &mut DbConnection,
    keys: &SecretKeys,
    endpoint_id: i64,
    delivery: &Delivery<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ArrivedEvent, ServiceError> {
    let row = store::find_endpoint(conn, endpoint_id)?.ok_or(ServiceError::NotFound)?;
    let secrets = signing_secrets(keys, &row)?;
    Ok(judge(&secrets, delivery, now))
}

/// What a delivery is, and whether it verifies under one of `secrets`.
pub fn judge(secrets: &[SecretString], delivery: &Delivery<'_>, now: chrono::DateTime<chrono::Utc>) -> ArrivedEvent {
    let body: Option<Value> = serde_json::from_slice(delivery.body).ok();
    let event_type = body.as_ref().and_then(|b| b["type"].as_str()).map_or_else(|| "(not an event)".to_owned(), |t| shortened(t, 64));
    let data = match &body {
        Some(body) => serde_json::to_string_pretty(body.get("data").unwrap_or(body)).unwrap_or_default(),
        None => String::from_utf8_lossy(delivery.body).into_owned(),
    };
    let problem = match (delivery.webhook_id, delivery.timestamp, delivery.signature) {
        (Some(id), Some(timestamp), Some(signature)) => match timestamp.trim().parse::<i64>() {
            Err(_) => Some("The webhook-timestamp is not a number of seconds."),
            Ok(at) if (now.timestamp() - at).abs() > TOLERANCE_SECONDS => Some("The webhook-timestamp is more than 5 minutes from now."),
            Ok(at) => {
                let secrets: Vec<&SecretString> = secrets.iter().collect();
                (!event_signing::verify(&secrets, id, at, delivery.body, signature)).then_some("The signature is not the endpoint's.")
            }
        },
        _ => Some("The webhook-id, webhook-timestamp or webhook-signature header is missing."),
    };
    ArrivedEvent {
        arrived_at: now,
        webhook_id: delivery.webhook_id.map_or_else(String::new, |id| shortened(id, 100)),
        event_type,
        verified: problem.is_none(),
        problem,
        data: shortened(&data, DATA_SHOWN),
    }
}

fn shortened(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The Demo receiver page's enterprise and, for aggregators, the others
/// they may choose.
pub struct ReceiverPage {
    pub enterprise: orgs::EnterpriseRow,
    pub choices: EnterpriseChoices,
}

/// The enterprise whose arrivals a user may see: their own, or one of
/// their aggregator's (the first by name unless chosen); NotFound for any
/// other (R2).
pub fn receiver_page(conn: &mut DbConnection, actor: &Actor, raw_enterprise: Option<&str>) -> Result<ReceiverPage, ServiceError> {
    let enterprise = match chosen_enterprise(conn, actor, raw_enterprise)? {
        Some(enterprise) => enterprise,
        None => enterprise_choices(conn, actor, None)?.offered.into_iter().next().ok_or(ServiceError::NotFound)?,
    };
    let choices = enterprise_choices(conn, actor, Some(&enterprise))?;
    Ok(ReceiverPage { enterprise, choices })
}

/// Customers of the demo: name, WhatsApp number (fictional ranges), what they write.
const DEMO_CUSTOMERS: &[(&str, &str, &str)] = &[
    ("Ada Lovelace", "447700900123", "Hello! Is my order on its way?"),
    ("Grace Hopper", "15550199001", "Can I change the delivery address of my order?"),
    ("Alan Turing", "447700900456", "Thanks, the parcel arrived this morning."),
    ("Katherine Johnson", "15550199002", "Do you have this in a larger size?"),
    ("Hedy Lamarr", "447700900789", "What time do you open on Saturday?"),
];

/// What became of "Have a customer write in".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerMessage {
    /// The sandbox posted the reply and the portal took it.
    Sent { enterprise: String, display_number: String, customer: String },
    /// The enterprise has no activated number to write to.
    NoNumber { enterprise: String },
    /// The demo talks to no sandbox, or the sandbox or the portal refused.
    Failed(String),
}

/// Has a demo customer write to one of the enterprise's activated
/// numbers, a pool's when it has one, through the sandbox.
pub async fn customer_writes_in<D: DatabaseRunner>(
    db: &D,
    actor: &Actor,
    raw_enterprise: Option<String>,
    receiver: &DemoReceiver,
    app_secret: &SecretString,
) -> Result<CustomerMessage, ServiceError> {
    let actor = actor.clone();
    let (enterprise, number) = db
        .run(move |conn| {
            let page = receiver_page(conn, &actor, raw_enterprise.as_deref())?;
            let activated: Vec<numbers::NumberListRow> = numbers::of_enterprise(conn, page.enterprise.id)?
                .into_iter()
                .filter(|row| row.number.status == NumberStatus::Activated && row.number.enterprise_id == Some(page.enterprise.id))
                .collect();
            let pooled: Vec<&numbers::NumberListRow> = activated.iter().filter(|row| row.pool_name.is_some()).collect();
            let chosen = pooled.choose(&mut rand::rng()).copied().or_else(|| activated.choose(&mut rand::rng())).map(|row| row.number.clone());
            Ok((page.enterprise.name, chosen))
        })
        .await?;
    let Some(number) = number else { return Ok(CustomerMessage::NoNumber { enterprise }) };
    let Some(sandbox_url) = receiver.sandbox_url.as_deref() else {
        return Ok(CustomerMessage::Failed("This demo talks to no Graph API sandbox.".to_owned()));
    };
    let Some(&(name, from, text)) = DEMO_CUSTOMERS.choose(&mut rand::rng()) else {
        return Ok(CustomerMessage::Failed("The demo has no customers.".to_owned()));
    };
    let request = ReplyRequest {
        url: receiver.webhook_url(),
        app_secret: app_secret.expose_secret().to_owned(),
        phone_number_id: number.phone_number_id.clone(),
        from: from.to_owned(),
        text: text.to_owned(),
        name: Some(name.to_owned()),
    };
    Ok(match ask_for_reply(sandbox_url, &request).await {
        Ok(posted) if posted.status == 200 => {
            CustomerMessage::Sent { enterprise, display_number: number.display_phone_number, customer: name.to_owned() }
        }
        Ok(posted) => CustomerMessage::Failed(format!("The sandbox posted the reply, and the portal answered {}.", posted.status)),
        Err(error) => {
            tracing::warn!(%error, "the sandbox did not post a customer's reply");
            CustomerMessage::Failed(format!("The sandbox did not post the reply: {error}."))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrived(webhook_id: &str) -> ArrivedEvent {
        ArrivedEvent {
            arrived_at: chrono::Utc::now(),
            webhook_id: webhook_id.to_owned(),
            event_type: "message.received".to_owned(),
            verified: true,
            problem: None,
            data: "{}".to_owned(),
        }
    }

    fn ids(events: &[ArrivedEvent]) -> Vec<String> {
        events.iter().map(|e| e.webhook_id.clone()).collect()
    }

    #[test]
    fn an_inbox_keeps_the_newest_events_first_up_to_its_capacity() {
        let mut inbox = Inbox::new(3);
        for n in 1..=5 {
            inbox.push(arrived(&format!("evt_{n}")));
        }
        assert_eq!(inbox.len(), 3);
        assert_eq!(ids(&inbox.newest_first()), vec!["evt_5", "evt_4", "evt_3"]);
    }

    #[test]
    fn an_inbox_of_no_capacity_keeps_nothing() {
        let mut inbox = Inbox::new(0);
        inbox.push(arrived("evt_1"));
        assert!(inbox.is_empty());
    }

    #[test]
    fn the_receiver_keeps_each_enterprises_events_apart_and_bounded() {
        let receiver = DemoReceiver::new(HashMap::from([(1, 11), (2, 12)]), "http://127.0.0.1:1".to_owned(), None);
        for n in 0..KEPT_PER_ENTERPRISE + 20 {
            assert!(receiver.record(1, arrived(&format!("evt_{n}"))));
        }
        assert!(receiver.record(2, arrived("evt_other")));

        let first = receiver.arrivals(1);
        assert_eq!(first.len(), KEPT_PER_ENTERPRISE);
        assert_eq!(first[0].webhook_id, format!("evt_{}", KEPT_PER_ENTERPRISE + 19));
        assert_eq!(ids(&receiver.arrivals(2)), vec!["evt_other"]);
    }

    #[test]
    fn the_receiver_keeps_nothing_for_an_enterprise_it_has_no_endpoint_for() {
        let receiver = DemoReceiver::new(HashMap::from([(1, 11)]), String::new(), None);
        assert!(!receiver.record(3, arrived("evt_1")));
        assert!(receiver.arrivals(3).is_empty());
        assert_eq!((receiver.endpoint_of(1), receiver.endpoint_of(3)), (Some(11), None));
        assert_eq!((receiver.receiver_url(1).as_deref(), receiver.receiver_url(3)), (Some("/demo/receiver/1"), None));
    }

    fn signed(secret: &SecretString, id: &str, at: i64, body: &[u8]) -> String {
        event_signing::signature_header(&[secret], id, at, body)
    }

    #[test]
    fn a_delivery_signed_with_the_endpoints_secret_verifies_and_its_data_is_shown() {
        let secret = event_signing::new_secret();
        let now = chrono::Utc::now();
        let body = br#"{"type":"message.received","timestamp":"2026-01-01T00:00:00Z","data":{"text":"Hello"}}"#;
        let signature = signed(&secret, "evt_1", now.timestamp(), body);
        let at = now.timestamp().to_string();
        let delivery = Delivery { webhook_id: Some("evt_1"), timestamp: Some(&at), signature: Some(&signature), body };

        let event = judge(std::slice::from_ref(&secret), &delivery, now);

        assert!(event.verified, "{:?}", event.problem);
        assert_eq!((event.event_type.as_str(), event.webhook_id.as_str()), ("message.received", "evt_1"));
        assert_eq!(event.data, "{\n  \"text\": \"Hello\"\n}");
    }

    #[test]
    fn a_delivery_with_another_secret_an_old_timestamp_or_no_headers_does_not_verify() {
        let (secret, other) = (event_signing::new_secret(), event_signing::new_secret());
        let now = chrono::Utc::now();
        let body = br#"{"type":"message.status","data":{}}"#;
        let fresh = now.timestamp().to_string();
        let old = (now.timestamp() - TOLERANCE_SECONDS - 1).to_string();
        let by_other = signed(&other, "evt_2", now.timestamp(), body);
        let old_signature = signed(&secret, "evt_2", now.timestamp() - TOLERANCE_SECONDS - 1, body);
        let judged = |timestamp: Option<&str>, signature: Option<&str>| {
            judge(std::slice::from_ref(&secret), &Delivery { webhook_id: Some("evt_2"), timestamp, signature, body }, now)
        };

        let wrong_secret = judged(Some(&fresh), Some(&by_other));
        let too_old = judged(Some(&old), Some(&old_signature));
        let unsigned = judged(Some(&fresh), None);
        let unreadable_time = judged(Some("soon"), Some(&by_other));

        for event in [&wrong_secret, &too_old, &unsigned, &unreadable_time] {
            assert!(!event.verified);
            assert!(event.problem.is_some());
        }
        assert_eq!(wrong_secret.problem, Some("The signature is not the endpoint's."));
        assert_eq!(too_old.problem, Some("The webhook-timestamp is more than 5 minutes from now."));
    }

    #[test]
    fn a_body_that_is_not_an_event_is_shown_as_sent_and_cut_short() {
        let now = chrono::Utc::now();
        let body = "x".repeat(DATA_SHOWN + 10);
        let event = judge(&[], &Delivery { webhook_id: None, timestamp: None, signature: None, body: body.as_bytes() }, now);
        assert_eq!(event.event_type, "(not an event)");
        assert_eq!(event.data.chars().count(), DATA_SHOWN + 1);
        assert!(!event.verified);
    }

    #[test]
    fn receiver_urls_name_the_enterprise_under_the_demos_address() {
        assert_eq!(receiver_url("http://127.0.0.1:8080/", 4), "http://127.0.0.1:8080/demo/receiver/4");
        assert!(check_endpoint_url(&receiver_url("http://127.0.0.1:8080", 4), true).is_ok());
    }
}
