//! Meta's webhook payloads, read leniently: unknown fields and values are
//! kept or ignored, never a crash; a payload without its envelope is refused.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub object: String,
    pub entry: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// The WABA id.
    pub id: String,
    /// When the change happened at Meta, in Unix seconds (a number, or
    /// digits in a string); read with [`Entry::happened_at`].
    #[serde(default)]
    pub time: Option<serde_json::Value>,
    #[serde(default)]
    pub changes: Vec<Change>,
}

impl Entry {
    /// The moment Meta dates the change; None when absent or unreadable.
    pub fn happened_at(&self) -> Option<chrono::NaiveDateTime> {
        let seconds = match self.time.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64()?,
            serde_json::Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub field: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// `phone_number_quality_update`: names the number by its display digits.
#[derive(Debug, Clone, Deserialize)]
pub struct QualityUpdate {
    pub display_phone_number: String,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub current_limit: Option<String>,
    #[serde(default)]
    pub old_limit: Option<String>,
    /// Some payloads carry the rating itself.
    #[serde(default)]
    pub quality_rating: Option<String>,
}

/// `account_update`: restrictions, bans, reconnects.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountUpdate {
    pub event: String,
    #[serde(default)]
    pub restriction_info: Option<serde_json::Value>,
    #[serde(default)]
    pub ban_info: Option<serde_json::Value>,
}

/// `messages`: inbound messages and delivery statuses of one business number.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesValue {
    pub metadata: Metadata,
    #[serde(default)]
    pub messages: Vec<InboundMessage>,
    #[serde(default)]
    pub statuses: Vec<StatusUpdate>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

/// The customer behind inbound messages, as their profile names them.
#[derive(Debug, Clone, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
}

/// The body of a text message.
#[derive(Debug, Clone, Deserialize)]
pub struct TextBody {
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    pub phone_number_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InboundMessage {
    pub from: String,
    pub id: String,
    pub timestamp: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub text: Option<TextBody>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusUpdate {
    /// The wamid of the message this status is about.
    pub id: String,
    pub status: String,
    pub timestamp: String,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub errors: Vec<StatusError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusError {
    pub code: i64,
    #[serde(default)]
    pub title: Option<String>,
}

/// A payload that is not Meta's envelope.
#[derive(Debug, thiserror::Error)]
#[error("the webhook payload is not a WhatsApp Business Account envelope: {0}")]
pub struct BadPayload(pub String);

pub fn parse(body: &[u8]) -> Result<Envelope, BadPayload> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| BadPayload(e.to_string()))?;
    if envelope.object != "whatsapp_business_account" {
        return Err(BadPayload(format!("object is {:?}", envelope.object)));
    }
    Ok(envelope)
}

/// Digits only, to match a display number ("+1 631-555-5555", "16315555555") to a stored one.
pub fn digits(display: &str) -> String {
    display.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_envelope_with_unknown_fields_parses() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":1,"changes":[{"field":"whatever","value":{"x":1}}]}]}"#;
        let envelope = parse(body).unwrap();
        assert_eq!(envelope.entry[0].changes[0].field, "whatever");
    }

    #[test]
    fn other_objects_and_non_json_are_refused() {
        assert!(parse(br#"{"object":"page","entry":[]}"#).is_err());
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"entry":[]}"#).is_err());
    }

    #[test]
    fn an_entry_is_dated_by_its_time_in_seconds_or_not_at_all() {
        let dated = |time: &str| {
            parse(format!(r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","time":{time}}}]}}"#).as_bytes()).unwrap().entry[0]
                .happened_at()
        };
        assert_eq!(dated("1763800000").map(|t| t.and_utc().timestamp()), Some(1_763_800_000));
        assert_eq!(dated("\"1763800000\"").map(|t| t.and_utc().timestamp()), Some(1_763_800_000));
        assert_eq!(dated("null"), None);
        assert_eq!(dated("\"soon\""), None);
        assert_eq!(dated("1e300"), None);
    }

    #[test]
    fn display_numbers_match_by_digits() {
        assert_eq!(digits("+1 631-555-5555"), "16315555555");
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&body);
        }

        #[test]
        fn parsing_arbitrary_json_never_panics(value in "\\{\"object\":\"whatsapp_business_account\",\"entry\":\\[\\{\"id\":\"[0-9]{1,5}\",\"changes\":\\[\\{\"field\":\"[a-z_]{1,30}\",\"value\":\\{\\}\\}\\]\\}\\]\\}") {
            let _ = parse(value.as_bytes());
        }
    }
}
