//! Sending a message through a pool, the API's main use case: the key check
//! and the plan share one database visit, Meta is asked through each planned
//! member in turn until one sends or its error says stop, and the outcome is
//! recorded. A retry whose Idempotency-Key another request holds waits a
//! little for that request's answer.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::ServiceError;
use super::api_keys;
use super::routing::{self, Attempt, CheckedMessage, Plan, Planned, Refusal, SendEnd, SendFailure};
use crate::meta::{GraphClient, GraphError};
use crate::routing::{ErrorClass, classify};
use crate::security::secrets::SecretKeys;

/// How long a retry waits for the send that holds its Idempotency-Key
/// before it is told to come back.
const KEY_WAIT: Duration = Duration::from_millis(1500);
const KEY_WAIT_STEP: Duration = Duration::from_millis(100);

/// How long a send that reached Meta keeps asking a database that is not
/// answering to store its outcome, and the pauses between its tries.
const RECORD_PATIENCE: Duration = Duration::from_secs(15);
const RECORD_FIRST_PAUSE: Duration = Duration::from_millis(100);
const RECORD_LAST_PAUSE: Duration = Duration::from_secs(2);

/// A send that reached Meta, waiting to be stored: who sent, the plan,
/// the request, Meta's answers and the place of the member that sent.
struct Outcome {
    caller: api_keys::ApiCaller,
    plan: Box<Plan>,
    request: SendRequest,
    tried: Tried,
    served: Option<usize>,
}

/// What a send needs besides the request: the database, Meta's Graph API
/// and the keys that open the members' stored tokens.
pub struct Sender<'a, D> {
    pub db: &'a D,
    pub graph: &'a GraphClient,
    pub keys: &'a SecretKeys,
}

/// A send request whose pool id, message and Idempotency-Key passed their checks.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub pool_id: i64,
    pub message: CheckedMessage,
    pub idempotency_key: Option<String>,
}

/// What Meta's answers came to: every member tried, and whether one sent.
#[derive(Debug, Clone)]
pub struct Tried {
    pub pool_id: i64,
    pub attempts: Vec<Attempt>,
    pub delivery: Delivery,
}

#[derive(Debug, Clone)]
pub enum Delivery {
    Sent { wamid: String, phone_number_id: String, display_phone_number: String },
    Failed { failure: SendFailure, meta_error_code: Option<i64> },
}

/// A send that reached Meta and is in the send log as message `id`.
#[derive(Debug, Clone)]
pub struct Ended {
    pub id: i64,
    pub tried: Tried,
}

/// Words a send's answer for a retry with the same Idempotency-Key, from
/// the message id and what Meta's answers came to.
pub type StoredAnswer = fn(i64, &Tried) -> String;

pub enum SendOutcome {
    /// The key is unknown or revoked.
    Unauthorized,
    /// The key is valid; the request had failed its checks, so nothing was planned.
    Unchecked,
    /// The same Idempotency-Key was answered before: its stored answer.
    Replayed(Value),
    Refused(Refusal),
    Ended(Ended),
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Nothing was sent.
    #[error(transparent)]
    NotSent(ServiceError),
    /// Meta was asked, but what happened could not be stored.
    #[error("the send's outcome was not stored: {cause}")]
    NotStored { tried: Box<Tried>, cause: ServiceError },
}

impl<D: super::DatabaseRunner> Sender<'_, D> {
    /// Checks the key presented and, for a request that passed its checks,
    /// plans, asks Meta and records. `stored_answer` words the answer kept
    /// with an Idempotency-Key.
    pub async fn send(&self, presented: String, request: Option<SendRequest>, stored_answer: StoredAnswer) -> Result<SendOutcome, SendError> {
        let keys = self.keys.clone();
        // The key check and the plan's turn, and later the outcome, are
        // writes that commit together with concurrent sends'.
        let visited = self
            .db
            .write(move |conn| {
                let Some(caller) = api_keys::authenticate(conn, &presented)? else { return Ok(None) };
                let planned = match request {
                    Some(request) => {
                        let key = request.idempotency_key.as_deref();
                        let planned = routing::plan(conn, Some(&keys), &caller, request.pool_id, &request.message, key)?;
                        Some((request, planned))
                    }
                    None => None,
                };
                Ok(Some((caller, planned)))
            })
            .await
            .map_err(SendError::NotSent)?;
        let Some((caller, planned)) = visited else { return Ok(SendOutcome::Unauthorized) };
        let Some((request, planned)) = planned else { return Ok(SendOutcome::Unchecked) };
        let plan = match planned {
            Planned::Send(plan) => plan,
            Planned::Replay(answer) => return Ok(SendOutcome::Replayed(answer)),
            Planned::Refused(Refusal::IdempotencyInProgress) => {
                return self.wait_for_first_answer(caller.enterprise_id, &request).await.map_err(SendError::NotSent);
            }
            Planned::Refused(refused) => return Ok(SendOutcome::Refused(refused)),
        };
        let (tried, served) = ask_meta(self.graph, &plan, &request.message).await;
        let outcome = std::sync::Arc::new(Outcome { caller, plan, request, tried, served });
        match self.record_patiently(&outcome, stored_answer).await {
            Ok(id) => {
                crate::services::events::wake_deliveries();
                Ok(SendOutcome::Ended(Ended { id, tried: outcome.tried.clone() }))
            }
            Err(cause) => Err(SendError::NotStored { tried: Box::new(outcome.tried.clone()), cause }),
        }
    }

    /// Stores a send's outcome. Meta has sent the message (or refused it),
    /// so a database that is not answering (restarting, failing over) is
    /// asked again for up to [`RECORD_PATIENCE`]: the client then hears of
    /// the send instead of an error that would make it send again.
    async fn record_patiently(&self, outcome: &std::sync::Arc<Outcome>, stored_answer: StoredAnswer) -> Result<i64, ServiceError> {
        let started = Instant::now();
        let mut pause = RECORD_FIRST_PAUSE;
        loop {
            let outcome = outcome.clone();
            let recorded = self
                .db
                .write(move |conn| {
                    let Outcome { caller, plan, request, tried, served } = &*outcome;
                    let end = send_end(plan, *served, &tried.delivery);
                    let key = request.idempotency_key.as_deref();
                    routing::record(conn, caller, plan, &request.message, &tried.attempts, &end, key, |id| stored_answer(id, tried))
                })
                .await;
            match recorded {
                Err(cause) if cause.is_unavailable() && started.elapsed() + pause < RECORD_PATIENCE => {
                    tracing::warn!(error = %cause, "the send's outcome waits for the database");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECORD_LAST_PAUSE);
                }
                other => return other,
            }
        }
    }

    /// Answers a retry whose Idempotency-Key another request holds: that
    /// request's answer once it is stored, if within [`KEY_WAIT`], else
    /// "in progress".
    async fn wait_for_first_answer(&self, enterprise_id: i64, request: &SendRequest) -> Result<SendOutcome, ServiceError> {
        let key = request.idempotency_key.clone().unwrap_or_default();
        let hash = routing::request_hash(request.pool_id, &request.message);
        let started = Instant::now();
        while started.elapsed() < KEY_WAIT {
            tokio::time::sleep(KEY_WAIT_STEP).await;
            let (key, hash) = (key.clone(), hash.clone());
            match self.db.run(move |conn| routing::settled_answer(conn, enterprise_id, &key, &hash)).await? {
                Some(Planned::Replay(answer)) => return Ok(SendOutcome::Replayed(answer)),
                Some(Planned::Refused(refused)) => return Ok(SendOutcome::Refused(refused)),
                _ => {}
            }
        }
        Ok(SendOutcome::Refused(Refusal::IdempotencyInProgress))
    }
}

/// How the send ends for the send log.
fn send_end<'a>(plan: &'a Plan, served: Option<usize>, delivery: &Delivery) -> SendEnd<'a> {
    match (delivery, served.and_then(|index| plan.targets.get(index))) {
        (Delivery::Sent { wamid, .. }, Some(target)) => SendEnd::Sent { target, wamid: wamid.clone() },
        (Delivery::Failed { failure, meta_error_code }, _) => SendEnd::Failed { error_code: *meta_error_code, failure: *failure },
        // Not reached: the member that sent is one of the plan's.
        (Delivery::Sent { .. }, None) => SendEnd::Failed { error_code: None, failure: SendFailure::AllMembersFailed },
    }
}

/// Asks Meta through the plan's members in order, failing over while the
/// error's class allows; with the place of the member that sent, if one did.
async fn ask_meta(graph: &GraphClient, plan: &Plan, message: &CheckedMessage) -> (Tried, Option<usize>) {
    let mut attempts = Vec::new();
    let mut failed = (None, SendFailure::AllMembersFailed);
    // Attempts Meta never answered (timeouts, unreachable).
    let mut unanswered = 0;
    for (index, target) in plan.targets.iter().enumerate() {
        match graph.send_message(&target.phone_number_id, &target.token, &message.body).await {
            Ok(answer) => {
                attempts.push(Attempt {
                    number_id: target.number_id,
                    phone_number_id: target.phone_number_id.clone(),
                    error_code: None,
                    class: None,
                });
                let wamid = answer.messages.first().map(|m| m.id.clone()).unwrap_or_default();
                let delivery =
                    Delivery::Sent { wamid, phone_number_id: target.phone_number_id.clone(), display_phone_number: target.display.clone() };
                return (Tried { pool_id: plan.pool.id, attempts, delivery }, Some(index));
            }
            Err(graph_error) => {
                let status = match &graph_error {
                    GraphError::Api { status, .. } => Some(*status),
                    _ => None,
                };
                let class = classify(graph_error.code(), status);
                unanswered += usize::from(matches!(graph_error, GraphError::Timeout | GraphError::Unreachable));
                attempts.push(Attempt {
                    number_id: target.number_id,
                    phone_number_id: target.phone_number_id.clone(),
                    error_code: graph_error.code(),
                    class: Some(class),
                });
                failed = (
                    graph_error.code(),
                    match class {
                        ErrorClass::TryNextMember => continue,
                        ErrorClass::CoolDownMember => SendFailure::NumberCoolingDown,
                        ErrorClass::WabaOutOfRotation => SendFailure::WabaOutOfRotation,
                        ErrorClass::RecipientRejected => SendFailure::RecipientRejected,
                        ErrorClass::NeedsTemplate => SendFailure::NeedsTemplate,
                        ErrorClass::Other => SendFailure::MetaRefused,
                    },
                );
                break;
            }
        }
    }
    if failed.1 == SendFailure::AllMembersFailed && unanswered > 0 && unanswered == attempts.len() {
        failed.1 = SendFailure::MetaUnreachable;
    }
    let delivery = Delivery::Failed { failure: failed.1, meta_error_code: failed.0 };
    (Tried { pool_id: plan.pool.id, attempts, delivery }, None)
}
