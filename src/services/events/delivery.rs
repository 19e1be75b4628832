//! The delivery worker, one on every instance: it claims due deliveries
//! (PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite through its writer), posts
//! each as the Standard Webhooks specification asks and settles it: 2xx
//! within the timeout is delivered; anything else is retried with
//! exponential backoff and jitter for 24 hours, then failed. An endpoint
//! has at most [`PER_ENDPOINT`] deliveries in flight per instance, so a
//! slow or dead one holds only its own; one customer's events leave in
//! order because only the oldest pending delivery of a customer is claimed.
//! Redirects are not followed, answers are read up to [`ANSWER_BYTES`],
//! and a host that resolves to a private address is refused at delivery
//! time too, unless private addresses are allowed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;
use serde_json::json;

use super::super::{DatabaseRunner, ServiceError};
use super::endpoints::signing_secrets;
use crate::db::{write_transaction, write_transaction_unflushed};
use crate::domain::events::{RETRY_FOR, check_endpoint_url, is_public, retry_delay};
use crate::security::event_signing::signature_header;
use crate::security::secrets::SecretKeys;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::events::{self as store, AttemptRecord, DueDelivery, EndpointRow};

/// Deliveries in flight per endpoint on one instance.
pub const PER_ENDPOINT: usize = 32;
/// How long an attempt may take, unless set otherwise.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim holds a delivery: past it, another instance may take
/// it (its claimer died); longer than an attempt.
const CLAIM_FOR: chrono::Duration = chrono::Duration::seconds(20);
/// The first bytes of an answer kept with the attempt.
pub const ANSWER_BYTES: usize = 512;
/// How often the worker looks for due deliveries when nothing woke it.
const POLL: Duration = Duration::from_millis(500);
/// How long a woken worker waits for more to claim in the same pass: a
/// pass per event would cost a read and a write each.
const GATHER: Duration = Duration::from_millis(3);
/// Endpoints served per pass.
const ENDPOINTS_PER_PASS: i64 = 200;

/// The worker's settings and its HTTP client.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    keys: SecretKeys,
    allow_private: bool,
    in_flight: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Deliverer {
    pub fn new(keys: SecretKeys, allow_private: bool, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the host itself, past the resolver below.
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(PER_ENDPOINT)
            .user_agent(concat!("wabapool/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .build()?;
        Ok(Self { client, keys, allow_private, in_flight: Arc::default() })
    }

    /// Delivers forever: each pass claims what is due on each endpoint with
    /// room, then the worker sleeps until woken (a new delivery, a slot
    /// freed, a delivery settled) or for [`POLL`].
    pub async fn run<D: DatabaseRunner + Clone + Send + 'static>(self, db: D) {
        loop {
            if let Err(error) = self.pass(&db).await {
                tracing::warn!(error = %error, "claiming event deliveries failed");
            }
            tokio::select! {
                // What else is written or answered meanwhile joins the pass.
                () = super::WAKE.notified() => tokio::time::sleep(GATHER).await,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One pass: the number of deliveries claimed.
    pub async fn pass<D: DatabaseRunner + Clone + Send + 'static>(&self, db: &D) -> Result<usize, ServiceError> {
        let now = crate::store::now();
        let due = db.run(move |conn| Ok(store::endpoints_due(conn, now, ENDPOINTS_PER_PASS)?)).await?;
        let mut claimed = 0;
        for endpoint_id in due {
            let room = PER_ENDPOINT.saturating_sub(self.in_flight(endpoint_id));
            if room == 0 {
                continue;
            }
            let (endpoint, batch) = db
                .write(move |conn| {
                    write_transaction(conn, |conn| {
                        let Some(endpoint) = store::find_endpoint(conn, endpoint_id)?.filter(|e| e.enabled) else { return Ok((None, Vec::new())) };
                        let now = crate::store::now();
                        let batch = store::claim(conn, endpoint_id, now, now + CLAIM_FOR, room as i64)?;
                        Ok((Some(endpoint), batch))
                    })
                })
                .await?;
            let Some(endpoint) = endpoint else { continue };
            let endpoint = Arc::new(endpoint);
            claimed += batch.len();
            for delivery in batch {
                self.take_slot(endpoint_id);
                let (worker, db, endpoint) = (self.clone(), db.clone(), endpoint.clone());
                tokio::spawn(async move {
                    let started = Instant::now();
                    let at = crate::store::now();
                    let answered = worker.post(&endpoint, &delivery).await;
                    // The endpoint is free for the next delivery; this one
                    // stays claimed, and its customer's next unclaimable,
                    // until it is settled.
                    worker.free_slot(endpoint_id);
                    super::wake_now();
                    settle(&db, &endpoint, delivery, at, started.elapsed(), answered).await;
                });
            }
        }
        Ok(claimed)
    }

    fn in_flight(&self, endpoint_id: i64) -> usize {
        self.in_flight.lock().map_or(PER_ENDPOINT, |map| map.get(&endpoint_id).copied().unwrap_or(0))
    }

    fn take_slot(&self, endpoint_id: i64) {
        if let Ok(mut map) = self.in_flight.lock() {
            *map.entry(endpoint_id).or_default() += 1;
        }
    }

    fn free_slot(&self, endpoint_id: i64) {
        if let Ok(mut map) = self.in_flight.lock()
            && let Some(count) = map.get_mut(&endpoint_id)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&endpoint_id);
            }
        }
    }

    /// The answer's status and first bytes, or why there was none.
    async fn post(&self, endpoint: &EndpointRow, delivery: &DueDelivery) -> Result<(Option<i32>, String), String> {
        // Checked again at each attempt: the setting may have changed.
        check_endpoint_url(&endpoint.url, self.allow_private).map_err(|problem| problem.message().to_owned())?;
        let secrets = signing_secrets(&self.keys, endpoint).map_err(|error| {
            tracing::error!(error = %error, endpoint = endpoint.id, "an event endpoint's secret cannot be opened");
            "The signing secret cannot be opened; rotate it.".to_owned()
        })?;
        let id = format!("evt_{}", delivery.event_id);
        let timestamp = chrono::Utc::now().timestamp();
        let refs: Vec<&secrecy::SecretString> = secrets.iter().collect();
        let signature = signature_header(&refs, &id, timestamp, delivery.body.as_bytes());
        let sent = self
            .client
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return Err("No answer in time.".to_owned()),
            Err(error) if error.is_connect() => return Err(format!("Could not connect: {}", root_cause(&error))),
            Err(error) => return Err(format!("The request failed: {}", root_cause(&error))),
        };
        let status = i32::from(response.status().as_u16());
        let mut first = Vec::with_capacity(ANSWER_BYTES);
        // Only the first bytes are read; the rest is dropped with the connection.
        while first.len() < ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => first.extend_from_slice(&chunk[..chunk.len().min(ANSWER_BYTES - first.len())]),
                Ok(None) | Err(_) => break,
            }
        }
        let mut answer = String::from_utf8_lossy(&first).into_owned();
        if let Some(location) = response.headers().get("location").and_then(|l| l.to_str().ok()).filter(|_| response.status().is_redirection()) {
            answer = format!("Redirect to {} not followed. {answer}", location.chars().take(200).collect::<String>());
        }
        Ok((Some(status), answer))
    }
}

/// Settles an attempt with what it found: delivered on a 2xx, else due
/// again after a backoff or, past 24 hours, failed; the endpoint's failing
/// streak noted, and the endpoint disabled after 24 hours of it. Committed
/// without waiting for a flush on PostgreSQL: a settle lost in a crash of
/// the database server sends the event again, which at least once allows.
/// A failure to settle leaves the delivery claimed until its claim lapses,
/// when it is attempted again.
async fn settle<D: DatabaseRunner>(
    db: &D,
    endpoint: &EndpointRow,
    delivery: DueDelivery,
    at: chrono::NaiveDateTime,
    took: Duration,
    answered: Result<(Option<i32>, String), String>,
) {
    let (status, answer) = answered.unwrap_or_else(|why| (None, why));
    let latency_ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
    let delivered = status.is_some_and(|s| (200..300).contains(&s));
    let (endpoint_id, enterprise_id, delivery_id) = (endpoint.id, endpoint.enterprise_id, delivery.id);
    // Only an endpoint that was failing when this delivery was claimed has a streak to end.
    let was_failing = endpoint.failing_since.is_some();
    let jitter = rand::rng().random::<f64>();
    let settled = db
        .write(move |conn| {
            write_transaction_unflushed(conn, |conn| {
                let record = AttemptRecord { delivery_id: delivery.id, at, status_code: status, latency_ms, answer: &answer };
                if delivered {
                    store::settle(conn, &record, "delivered", at)?;
                    if was_failing {
                        store::note_success(conn, endpoint_id)?;
                    }
                    return Ok(());
                }
                let next = crate::store::now() + retry_delay(delivery.attempts + 1, jitter);
                let state = if next > delivery.event_created_at + RETRY_FOR { "failed" } else { "pending" };
                store::settle(conn, &record, state, next)?;
                let since = store::note_failure(conn, endpoint_id, at)?;
                if since.is_some_and(|since| at - since >= RETRY_FOR) {
                    disable_failing(conn, endpoint_id, enterprise_id, since)?;
                }
                Ok(())
            })
        })
        .await;
    match settled {
        Ok(()) if !delivered => {}
        // Its customer's next event may go now.
        Ok(()) => super::wake_now(),
        Err(error) => {
            tracing::warn!(error = %error, delivery = delivery_id, "settling an event delivery failed; it is attempted again when its claim lapses")
        }
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string().chars().take(200).collect()
}

/// The reason an endpoint disabled by wabapool shows, which its pages flag.
pub const AUTO_DISABLE_REASON: &str = "Disabled by wabapool: every delivery failed for 24 hours.";

/// Disables an endpoint that has failed without a success for 24 hours, audited.
fn disable_failing(
    conn: &mut crate::db::DbConnection,
    endpoint_id: i64,
    enterprise_id: i64,
    since: Option<chrono::NaiveDateTime>,
) -> Result<(), ServiceError> {
    let reason = AUTO_DISABLE_REASON;
    if store::set_enabled(conn, endpoint_id, false, Some(reason))? {
        tracing::warn!(endpoint = endpoint_id, "event endpoint disabled after failing for 24 hours");
        audit::record(
            conn,
            &NewAuditEntry {
                enterprise_id: Some(enterprise_id),
                action: "event_endpoint.auto_disable",
                subject_type: "event_endpoint",
                subject_id: Some(endpoint_id.to_string()),
                before: Some(json!({ "enabled": true, "failing_since": since.map(|s| s.to_string()) })),
                after: Some(json!({ "enabled": false, "reason": reason })),
                ..NewAuditEntry::default()
            },
        )?;
    }
    Ok(())
}

/// Resolves endpoint hosts and keeps only public addresses, unless private
/// ones are allowed: a name that points inside the network is refused at
/// delivery time, whatever it resolved to when the endpoint was added.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = resolve(&host, allow_private).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses of `host` an event may be sent to; an error when none.
pub async fn resolve(host: &str, allow_private: bool) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| allow_private || is_public(a.ip())).collect();
    if allowed.is_empty() {
        return Err(format!("{host} resolves only to private, loopback or link-local addresses").into());
    }
    Ok(allowed)
}
