//! Typed identifiers, so a pool id can never be passed where a number id belongs.

use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            /// Only positive decimal integers are ids; anything else is
            /// refused rather than guessed at.
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                let s = s.trim();
                if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(InvalidId);
                }
                match s.parse::<i64>() {
                    Ok(v) if v > 0 => Ok(Self(v)),
                    _ => Err(InvalidId),
                }
            }
        }
    };
}

/// A value that is not a valid id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

id_type!(
    /// An aggregator (reseller) account.
    AggregatorId
);
id_type!(
    /// An enterprise (business customer).
    EnterpriseId
);
id_type!(
    /// A portal user.
    UserId
);
id_type!(
    /// A WABA as stored here (not Meta's WABA id).
    WabaId
);
id_type!(
    /// A WhatsApp number as stored here (not Meta's phone_number_id).
    NumberId
);
id_type!(
    /// A WABA Pool.
    PoolId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_positive_integers_only() {
        assert_eq!("42".parse::<PoolId>(), Ok(PoolId(42)));
        assert_eq!(" 7 ".parse::<NumberId>(), Ok(NumberId(7)));
        for bad in ["", "0", "-1", "1e3", "abc", "1 2", "+5", "99999999999999999999", "٣"] {
            assert!(bad.parse::<PoolId>().is_err(), "{bad:?} should be refused");
        }
    }
}
