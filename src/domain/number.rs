//! A WhatsApp number's portal status and Meta quality rating.

/// The portal status an admin controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberStatus {
    Activated,
    Pending,
    Deactivated,
}

impl NumberStatus {
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
}

/// Meta's quality rating. Values Meta adds later are kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QualityRating {
    Green,
    Yellow,
    Red,
    Unknown,
    Other(String),
}

impl QualityRating {
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_uppercase().as_str() {
            "GREEN" => Self::Green,
            "YELLOW" => Self::Yellow,
            "RED" => Self::Red,
            "UNKNOWN" | "NA" | "" => Self::Unknown,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Self::Green => "GREEN",
            Self::Yellow => "YELLOW",
            Self::Red => "RED",
            Self::Unknown => "UNKNOWN",
            Self::Other(s) => s,
        }
    }

    /// The CSS badge variant; the label always carries the meaning too.
    pub fn badge(&self) -> &'static str {
        match self {
            Self::Green => "badge-green",
            Self::Yellow => "badge-yellow",
            Self::Red => "badge-red",
            Self::Unknown | Self::Other(_) => "badge-unknown",
        }
    }

    /// A RED number is out of rotation.
    pub fn is_healthy(&self) -> bool {
        !matches!(self, Self::Red)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_quality_values_are_kept_as_text() {
        assert_eq!(QualityRating::parse("PURPLE"), QualityRating::Other("PURPLE".into()));
        assert_eq!(QualityRating::parse("PURPLE").label(), "PURPLE");
        assert_eq!(QualityRating::parse("na"), QualityRating::Unknown);
        assert_eq!(QualityRating::parse("green"), QualityRating::Green);
    }

    #[test]
    fn statuses_round_trip() {
        for s in [NumberStatus::Activated, NumberStatus::Pending, NumberStatus::Deactivated] {
            assert_eq!(NumberStatus::parse(s.as_str()), Some(s));
        }
    }
}
