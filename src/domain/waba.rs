//! A WABA's status in the portal: what Meta last said of its ability to
//! send, or that Meta refused its access token.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WabaStatus {
    Pending,
    Active,
    /// Meta restricted, disabled or blocked it.
    Suspended,
    /// Meta refused its access token: an admin must link it again.
    ReconnectNeeded,
}

impl WabaStatus {
    /// The status its stored text names; the database admits no other.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "reconnect_needed" => Some(Self::ReconnectNeeded),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::ReconnectNeeded => "reconnect_needed",
        }
    }

    /// Able to send: its numbers may be in rotation.
    pub fn is_active(self) -> bool {
        self == Self::Active
    }

    pub fn needs_reconnect(self) -> bool {
        self == Self::ReconnectNeeded
    }
}

impl fmt::Display for WabaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialises as its stored text, so audit entries read as before.
impl serde::Serialize for WabaStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [WabaStatus; 4] = [WabaStatus::Pending, WabaStatus::Active, WabaStatus::Suspended, WabaStatus::ReconnectNeeded];

    #[test]
    fn statuses_round_trip_through_their_text() {
        for status in ALL {
            assert_eq!(WabaStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::json!(status), serde_json::json!(status.as_str()));
        }
    }

    #[test]
    fn only_an_active_waba_can_send() {
        assert_eq!(ALL.map(WabaStatus::is_active), [false, true, false, false]);
        assert_eq!(ALL.map(WabaStatus::needs_reconnect), [false, false, false, true]);
    }

    proptest! {
        #[test]
        fn any_text_round_trips_or_is_refused(text in "[a-z_]{0,18}") {
            if let Some(status) = WabaStatus::parse(&text) {
                prop_assert_eq!(status.as_str(), text.as_str());
            }
        }
    }
}
