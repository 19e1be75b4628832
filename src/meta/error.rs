//! What can go wrong talking to Meta, in words an admin understands.

/// A failed Graph API call.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// Meta answered with its error envelope.
    #[error("Meta answered with error {code}: {message}")]
    Api { status: u16, code: i64, subcode: Option<i64>, message: String },
    #[error("Meta did not answer in time")]
    Timeout,
    #[error("Meta could not be reached")]
    Unreachable,
    /// An answer that is not the JSON Meta documents.
    #[error("Meta's answer could not be read: {0}")]
    InvalidResponse(String),
}

impl GraphError {
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Code 190: the access token is invalid or expired.
    pub fn is_token_invalid(&self) -> bool {
        self.code() == Some(190)
    }

    /// A sentence for the portal; never echoes the token.
    pub fn explain(&self) -> String {
        match self {
            Self::Api { code: 190, .. } => {
                "Meta refused the access token: it is invalid or has expired. Create a new token in Meta Business Manager and reconnect.".into()
            }
            Self::Api { code: 100, .. } => "Meta does not know that WABA ID, or the token cannot see it. Check the ID in WhatsApp Manager.".into(),
            Self::Api { code: 10 | 200..=299, .. } => {
                "The token lacks a permission: it needs whatsapp_business_management (and whatsapp_business_messaging to send).".into()
            }
            Self::Api { code: 4 | 80007, .. } => "Meta's rate limit for this account was reached. Try again in a while.".into(),
            Self::Api { status, code, .. } if *status >= 500 => format!("Meta had a server problem (error {code}). Try again shortly."),
            Self::Api { code, message, .. } => format!("Meta refused the request (error {code}: {}).", truncate(message, 200)),
            Self::Timeout => "Meta did not answer in time. Nothing was changed; try again shortly.".into(),
            Self::Unreachable => "Meta could not be reached. Nothing was changed; check the network and try again.".into(),
            Self::InvalidResponse(_) => "Meta's answer could not be understood. Nothing was changed; try again shortly.".into(),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}
