//! Graph API payloads. Enumerations Meta extends over time (status,
//! quality, tier, throughput) are kept as text, never parsed strictly.

use serde::{Deserialize, Serialize};

use crate::domain::WabaStatus;

/// `GET /{version}/{waba-id}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct WabaInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub timezone_id: Option<String>,
    #[serde(default)]
    pub message_template_namespace: Option<String>,
    /// Whether Meta lets the WABA send; absent in some answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
}

/// `health_status` of a Graph object: `can_send_message` AVAILABLE, LIMITED or BLOCKED.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct HealthStatus {
    #[serde(default)]
    pub can_send_message: Option<String>,
}

impl WabaInfo {
    /// The status a sync gives the WABA: suspended when Meta says it cannot
    /// send (BLOCKED), active for any other answer Meta gave with the token.
    pub fn portal_status(&self) -> WabaStatus {
        let blocked = self.health_status.as_ref().and_then(|h| h.can_send_message.as_deref()).is_some_and(|c| c.eq_ignore_ascii_case("BLOCKED"));
        if blocked { WabaStatus::Suspended } else { WabaStatus::Active }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct Throughput {
    #[serde(default)]
    pub level: Option<String>,
}

/// One entry of `GET /{version}/{waba-id}/phone_numbers`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PhoneNumberInfo {
    pub id: String,
    pub display_phone_number: String,
    #[serde(default)]
    pub verified_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub quality_rating: Option<String>,
    #[serde(default)]
    pub code_verification_status: Option<String>,
    #[serde(default)]
    pub messaging_limit_tier: Option<String>,
    #[serde(default)]
    pub throughput: Option<Throughput>,
}

impl PhoneNumberInfo {
    /// Meta reports the number ready to send: connected (or linked) and verified.
    pub fn is_ready(&self) -> bool {
        let status = self.status.as_deref().unwrap_or_default().to_ascii_uppercase();
        let verified = self.code_verification_status.as_deref().unwrap_or_default().to_ascii_uppercase();
        matches!(status.as_str(), "CONNECTED" | "LINKED") && verified == "VERIFIED"
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct Cursors {
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// Meta's error envelope.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// What Meta answered for a WABA: its details and every number.
#[derive(Debug, Clone)]
pub struct MetaWaba {
    pub info: WabaInfo,
    pub numbers: Vec<PhoneNumberInfo>,
}

/// Meta's answer to a send.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SendAnswer {
    #[serde(default)]
    pub contacts: Vec<SendContact>,
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SendContact {
    #[serde(default)]
    pub input: String,
    #[serde(default)]
    pub wa_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SentMessage {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(can_send: Option<&str>) -> WabaInfo {
        let health = can_send.map(|c| serde_json::json!({ "can_send_message": c })).unwrap_or(serde_json::Value::Null);
        serde_json::from_value(serde_json::json!({ "id": "1", "health_status": health })).unwrap()
    }

    #[test]
    fn a_waba_meta_says_is_blocked_is_suspended_and_any_other_answer_is_active() {
        assert_eq!(info(Some("BLOCKED")).portal_status(), WabaStatus::Suspended);
        for other in [Some("AVAILABLE"), Some("LIMITED"), None] {
            assert_eq!(info(other).portal_status(), WabaStatus::Active, "{other:?}");
        }
    }
}
