//! The bodies the API reads and answers with. Their fields are declared in
//! alphabetical order: that is the order the answers have always had, and
//! an answer stored for an Idempotency-Key is replayed byte for byte.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routing::{Decision, Outcome};
use crate::services::routing::MemberPhones;
use crate::services::sending::{Delivery, Ended, Tried};

use super::problem::Problem;

/// A message to send: a Cloud API message object as Meta's `/messages`
/// endpoint takes it (`messaging_product` may be left out), plus the
/// department whose members should send it. The object of its `type`
/// (`text`, `template`, `image`, …) is passed to Meta as sent.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({ "to": "447700900123", "type": "template", "template": { "name": "order_shipped", "language": { "code": "en" } } }))]
pub struct MessageRequest {
    /// The recipient's phone number, digits with or without a leading +.
    pub to: String,
    /// The kind of message; `text` when left out. Outside the 24 hours after
    /// the recipient last wrote, only a `template` is delivered.
    #[serde(rename = "type")]
    pub kind: Option<MessageKind>,
    /// Sends from the members tagged with this department only.
    pub department: Option<String>,
    /// The object named by `type`, and any other field of Meta's message object.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub content: serde_json::Map<String, serde_json::Value>,
}

/// The kinds of message the API sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Template,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Interactive,
}

/// What went wrong: a stable snake_case code and a sentence for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
}

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorAnswer {
    pub error: ErrorDetail,
}

/// One member Meta was asked through, and Meta's error code if it refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptAnswer {
    pub error_code: Option<i64>,
    pub phone_number_id: String,
}

/// A message Meta accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentAnswer {
    pub attempts: Vec<AttemptAnswer>,
    pub display_phone_number: String,
    /// Our id of the message, in the send log.
    pub id: i64,
    pub phone_number_id: String,
    /// Always `sent`.
    #[schema(value_type = String, example = "sent")]
    pub status: &'static str,
    /// Meta's id of the message.
    pub wamid: String,
}

/// A message no member could send: the problem, our id of the attempt in
/// the send log and Meta's error code of the last member tried.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedSendAnswer {
    pub attempts: Vec<AttemptAnswer>,
    pub error: ErrorDetail,
    pub id: i64,
    pub meta_error_code: Option<i64>,
}

/// One member of a pool in a routing decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberAnswer {
    pub eligible: bool,
    pub phone_number_id: String,
    /// Why the member is (not) eligible.
    pub reason: String,
}

/// How a pool would route a message: the member chosen (none when no
/// member is eligible) and each member's verdict; `refusal` names the
/// problem a send would meet.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoutingAnswer {
    pub members: Vec<MemberAnswer>,
    pub phone_number_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub refusal: Option<&'static str>,
}

/// A refusal that tells how the pool would have routed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusalWithRouting {
    pub error: ErrorDetail,
    pub routing: RoutingAnswer,
}

impl RoutingAnswer {
    pub fn new(decision: &Decision, phones: &MemberPhones) -> Self {
        let phone = |id: i64| phones.iter().find(|(n, _)| *n == id).map(|(_, p)| p.clone()).unwrap_or_default();
        let chosen = match &decision.outcome {
            Outcome::Send(order) => order.first().map(|id| phone(*id)),
            _ => None,
        };
        let members = decision
            .verdicts
            .iter()
            .map(|v| MemberAnswer { eligible: v.eligible, phone_number_id: phone(v.number_id), reason: v.reason.to_string() })
            .collect();
        Self { members, phone_number_id: chosen, refusal: None }
    }
}

fn attempts(tried: &Tried) -> Vec<AttemptAnswer> {
    tried.attempts.iter().map(|a| AttemptAnswer { error_code: a.error_code, phone_number_id: a.phone_number_id.clone() }).collect()
}

/// The answer to a send that reached Meta, and the problem when it failed.
pub enum SendAnswer {
    Sent(SentAnswer),
    Failed(Problem, FailedSendAnswer),
}

impl SendAnswer {
    pub fn new(id: i64, tried: &Tried) -> Self {
        match &tried.delivery {
            Delivery::Sent { wamid, phone_number_id, display_phone_number } => Self::Sent(SentAnswer {
                attempts: attempts(tried),
                display_phone_number: display_phone_number.clone(),
                id,
                phone_number_id: phone_number_id.clone(),
                status: "sent",
                wamid: wamid.clone(),
            }),
            Delivery::Failed { failure, meta_error_code } => {
                let problem = Problem::from(*failure);
                let error = problem.detail(None);
                Self::Failed(problem, FailedSendAnswer { attempts: attempts(tried), error, id, meta_error_code: *meta_error_code })
            }
        }
    }

    pub fn of(ended: &Ended) -> Self {
        Self::new(ended.id, &ended.tried)
    }

    /// The answer as stored for a retry with the same Idempotency-Key.
    pub fn stored(id: i64, tried: &Tried) -> String {
        let text = match Self::new(id, tried) {
            Self::Sent(sent) => serde_json::to_string(&sent),
            Self::Failed(_, failed) => serde_json::to_string(&failed),
        };
        text.unwrap_or_default()
    }
}

/// One event, as delivered to endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventAnswer {
    /// `evt_` and a number: the `webhook-id` of the event's deliveries.
    #[schema(example = "evt_42")]
    pub id: String,
    /// `message.received`, `message.status`, `number.health`, `pool.health` or `waba.status`.
    #[serde(rename = "type")]
    #[schema(example = "message.status")]
    pub event_type: String,
    /// When the change happened (RFC 3339).
    #[schema(value_type = String)]
    pub timestamp: serde_json::Value,
    /// The event's fields, as DESIGN.md section 14 lists them per type.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A page of the enterprise's events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPageAnswer {
    pub data: Vec<EventAnswer>,
    /// Pass as `after` for the next page; the same cursor when nothing is newer yet.
    pub next: String,
}

/// One status a message reached.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChangeAnswer {
    #[schema(value_type = String, example = "delivered")]
    pub status: serde_json::Value,
    #[schema(value_type = String)]
    pub at: serde_json::Value,
    #[schema(value_type = Option<i64>)]
    pub error_code: serde_json::Value,
}

/// A message of the send log and the statuses it went through.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageAnswer {
    pub id: i64,
    pub pool_id: i64,
    pub to: String,
    /// The latest status: sent, delivered, read or failed.
    pub status: String,
    pub wamid: Option<String>,
    /// The number that sent it, or tried last.
    pub phone_number_id: Option<String>,
    /// Each member tried, in order.
    #[schema(value_type = Vec<Object>)]
    pub attempts: serde_json::Value,
    pub history: Vec<StatusChangeAnswer>,
}
