//! A WhatsApp number's portal status and what Meta reports of its health:
//! quality rating and throughput level.
//!
//! Each is read once from its stored text and written back with
//! `as_str()`, which gives that text unchanged. Meta's values are kept
//! as sent, so one Meta adds later survives a round trip through the
//! portal; only their meaning is read leniently (any case, spaces around).

use std::borrow::Cow;
use std::fmt;

/// The portal status an admin controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberStatus {
    Activated,
    Pending,
    Deactivated,
}

impl NumberStatus {
    /// The status its stored text names; the database admits no other.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "activated" => Some(Self::Activated),
            "pending" => Some(Self::Pending),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::Pending => "pending",
            Self::Deactivated => "deactivated",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Activated => "Activated",
            Self::Pending => "Pending",
            Self::Deactivated => "Deactivated",
        }
    }

    /// Activated by an admin: counts towards R3 and may join a pool (R5).
    pub fn is_activated(self) -> bool {
        self == Self::Activated
    }
}

/// Meta's quality rating, as Meta sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QualityRating {
    Green,
    Yellow,
    Red,
    Unknown,
    /// Any other text, kept exactly: another spelling of a known rating
    /// ("NA", "red") or a value Meta adds later.
    Other(String),
}

/// What a quality rating means, whatever its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grade {
    Green,
    Yellow,
    Red,
    Unknown,
    Unlisted,
}

impl QualityRating {
    pub fn parse(text: &str) -> Self {
        Self::known(text).unwrap_or_else(|| Self::Other(text.to_owned()))
    }

    fn known(text: &str) -> Option<Self> {
        match text {
            "GREEN" => Some(Self::Green),
            "YELLOW" => Some(Self::Yellow),
            "RED" => Some(Self::Red),
            "UNKNOWN" => Some(Self::Unknown),
            _ => None,
        }
    }

    /// The text as stored and as Meta sent it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Green => "GREEN",
            Self::Yellow => "YELLOW",
            Self::Red => "RED",
            Self::Unknown => "UNKNOWN",
            Self::Other(text) => text,
        }
    }

    fn grade(&self) -> Grade {
        let text = match self {
            Self::Green => return Grade::Green,
            Self::Yellow => return Grade::Yellow,
            Self::Red => return Grade::Red,
            Self::Unknown => return Grade::Unknown,
            Self::Other(text) => text.trim(),
        };
        let is = |name: &str| text.eq_ignore_ascii_case(name);
        if is("GREEN") {
            Grade::Green
        } else if is("YELLOW") {
            Grade::Yellow
        } else if is("RED") {
            Grade::Red
        } else if is("UNKNOWN") || is("NA") || text.is_empty() {
            Grade::Unknown
        } else {
            Grade::Unlisted
        }
    }

    /// The rating as pages show it: upper case, "UNKNOWN" for none.
    pub fn label(&self) -> Cow<'_, str> {
        match (self.grade(), self) {
            (Grade::Green, _) => "GREEN".into(),
            (Grade::Yellow, _) => "YELLOW".into(),
            (Grade::Red, _) => "RED".into(),
            (Grade::Unknown, _) => "UNKNOWN".into(),
            (Grade::Unlisted, other) => other.as_str().trim().to_ascii_uppercase().into(),
        }
    }

    /// The CSS badge variant; the label always carries the meaning too.
    pub fn badge(&self) -> &'static str {
        match self.grade() {
            Grade::Green => "badge-green",
            Grade::Yellow => "badge-yellow",
            Grade::Red => "badge-red",
            Grade::Unknown | Grade::Unlisted => "badge-unknown",
        }
    }

    /// YELLOW: Meta warns the number's quality is falling.
    pub fn is_yellow(&self) -> bool {
        self.grade() == Grade::Yellow
    }

    /// RED: Meta has flagged the number, which leaves rotation.
    pub fn is_red(&self) -> bool {
        self.grade() == Grade::Red
    }
}

impl From<String> for QualityRating {
    /// Keeps the text's allocation for a value it does not know.
    fn from(text: String) -> Self {
        Self::known(&text).unwrap_or(Self::Other(text))
    }
}

/// Meta's throughput level for a number, as Meta sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThroughputLevel {
    Standard,
    High,
    /// Any other text, kept exactly (coexistence levels, later values).
    Other(String),
}

impl ThroughputLevel {
    /// Messages per second of a number Meta reports no level for, or a
    /// level it does not raise.
    pub const STANDARD_MESSAGES_PER_SECOND: i64 = 80;
    pub const HIGH_MESSAGES_PER_SECOND: i64 = 1000;
    /// A number shared with the WhatsApp Business app (coexistence).
    pub const COEXISTENCE_MESSAGES_PER_SECOND: i64 = 20;

    pub fn parse(text: &str) -> Self {
        Self::known(text).unwrap_or_else(|| Self::Other(text.to_owned()))
    }

    fn known(text: &str) -> Option<Self> {
        match text {
            "STANDARD" => Some(Self::Standard),
            "HIGH" => Some(Self::High),
            _ => None,
        }
    }

    /// The text as stored and as Meta sent it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Standard => "STANDARD",
            Self::High => "HIGH",
            Self::Other(text) => text,
        }
    }

    /// How many messages a second Meta accepts from a number at this level.
    pub fn messages_per_second(&self) -> i64 {
        match self {
            Self::Standard => Self::STANDARD_MESSAGES_PER_SECOND,
            Self::High => Self::HIGH_MESSAGES_PER_SECOND,
            Self::Other(text) if text.eq_ignore_ascii_case("HIGH") => Self::HIGH_MESSAGES_PER_SECOND,
            Self::Other(text) if text.as_bytes().windows(4).any(|w| w.eq_ignore_ascii_case(b"COEX")) => Self::COEXISTENCE_MESSAGES_PER_SECOND,
            Self::Other(_) => Self::STANDARD_MESSAGES_PER_SECOND,
        }
    }

    /// The limit of a number whose level Meta may not have reported.
    pub fn messages_per_second_of(level: Option<&Self>) -> i64 {
        level.map_or(Self::STANDARD_MESSAGES_PER_SECOND, Self::messages_per_second)
    }
}

impl From<String> for ThroughputLevel {
    /// Keeps the text's allocation for a value it does not know.
    fn from(text: String) -> Self {
        Self::known(&text).unwrap_or(Self::Other(text))
    }
}

/// Each type shows and serialises as its stored text, so audit entries and
/// pages read exactly as the text did.
macro_rules! as_text {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    )*};
}

as_text!(NumberStatus, QualityRating, ThroughputLevel);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn statuses_round_trip() {
        for s in [NumberStatus::Activated, NumberStatus::Pending, NumberStatus::Deactivated] {
            assert_eq!(NumberStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(NumberStatus::parse("Activated"), None, "the stored text is exact");
    }

    #[test]
    fn known_quality_ratings_need_no_allocation() {
        assert_eq!(QualityRating::parse("GREEN"), QualityRating::Green);
        assert_eq!(QualityRating::parse("YELLOW"), QualityRating::Yellow);
        assert_eq!(QualityRating::parse("RED"), QualityRating::Red);
        assert_eq!(QualityRating::parse("UNKNOWN"), QualityRating::Unknown);
        assert_eq!(QualityRating::from("RED".to_owned()), QualityRating::Red);
    }

    #[test]
    fn unknown_quality_values_are_kept_as_text() {
        assert_eq!(QualityRating::parse("PURPLE"), QualityRating::Other("PURPLE".into()));
        assert_eq!(QualityRating::parse("PURPLE").label(), "PURPLE");
        assert_eq!(QualityRating::parse(" purple ").label(), "PURPLE");
        assert_eq!(QualityRating::parse("PURPLE").badge(), "badge-unknown");
    }

    #[test]
    fn other_spellings_of_a_rating_keep_their_text_and_meaning() {
        let na = QualityRating::parse("NA");
        assert_eq!((na.as_str(), na.label().as_ref(), na.badge()), ("NA", "UNKNOWN", "badge-unknown"));
        assert_eq!(QualityRating::parse("").label(), "UNKNOWN");
        let green = QualityRating::parse("green");
        assert_eq!((green.as_str(), green.label().as_ref(), green.badge()), ("green", "GREEN", "badge-green"));
        assert!(QualityRating::parse(" red").is_red());
        assert!(QualityRating::Red.is_red());
        assert!(!QualityRating::Yellow.is_red());
        assert!(!QualityRating::parse("REDDISH").is_red());
    }

    #[test]
    fn throughput_levels_give_metas_limits() {
        assert_eq!(ThroughputLevel::parse("STANDARD").messages_per_second(), 80);
        assert_eq!(ThroughputLevel::parse("HIGH").messages_per_second(), 1000);
        assert_eq!(ThroughputLevel::parse("high").messages_per_second(), 1000);
        assert_eq!(ThroughputLevel::parse("COEXISTENCE").messages_per_second(), 20);
        assert_eq!(ThroughputLevel::parse("coex_standard").messages_per_second(), 20);
        assert_eq!(ThroughputLevel::parse("NOT_APPLICABLE").messages_per_second(), 80);
        assert_eq!(ThroughputLevel::messages_per_second_of(None), 80);
        assert_eq!(ThroughputLevel::parse("ULTRA"), ThroughputLevel::Other("ULTRA".into()));
    }

    #[test]
    fn values_serialise_as_their_stored_text() {
        let json = serde_json::json!({ "s": NumberStatus::Pending, "q": QualityRating::parse("NA"), "t": Some(ThroughputLevel::High) });
        assert_eq!(json, serde_json::json!({ "s": "pending", "q": "NA", "t": "HIGH" }));
        assert_eq!(format!("{} {}", NumberStatus::Deactivated, QualityRating::Green), "deactivated GREEN");
    }

    proptest! {
        #[test]
        fn any_quality_text_round_trips(text in any::<String>()) {
            let (parsed, converted) = (QualityRating::parse(&text), QualityRating::from(text.clone()));
            prop_assert_eq!(parsed.as_str(), text.as_str());
            prop_assert_eq!(converted.as_str(), text.as_str());
        }

        #[test]
        fn any_throughput_text_round_trips(text in any::<String>()) {
            let (parsed, converted) = (ThroughputLevel::parse(&text), ThroughputLevel::from(text.clone()));
            prop_assert_eq!(parsed.as_str(), text.as_str());
            prop_assert_eq!(converted.as_str(), text.as_str());
        }

        #[test]
        fn any_status_text_round_trips_or_is_refused(text in "[a-z_]{0,12}") {
            if let Some(status) = NumberStatus::parse(&text) {
                prop_assert_eq!(status.as_str(), text.as_str());
            }
        }

        #[test]
        fn a_ratings_meaning_ignores_case_and_spaces(pick in 0..4usize, lower in any::<bool>(), pad in "[ ]{0,2}") {
            let known = [QualityRating::Green, QualityRating::Yellow, QualityRating::Red, QualityRating::Unknown][pick].clone();
            let word = if lower { known.as_str().to_ascii_lowercase() } else { known.as_str().to_owned() };
            let spelled = QualityRating::parse(&format!("{pad}{word}{pad}"));
            prop_assert_eq!(spelled.label(), known.label());
            prop_assert_eq!(spelled.is_red(), known.is_red());
        }
    }
}
