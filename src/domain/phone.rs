//! Phone numbers in E.164 form: a plus sign and 8 to 15 digits.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Enter a phone number in international format: + and 8 to 15 digits, e.g. +15550100001.")]
pub struct InvalidE164;

impl E164 {
    /// Accepts `+15550100001`, or the same with spaces, dashes, dots and
    /// brackets as people and Meta write them; digits only afterwards.
    pub fn parse(raw: &str) -> Result<Self, InvalidE164> {
        let raw = raw.trim();
        let rest = raw.strip_prefix('+').unwrap_or(raw);
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(InvalidE164),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(InvalidE164);
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the plus sign, as Meta's `to` and `wa_id` carry them.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formatted_numbers_are_normalised() {
        assert_eq!(E164::parse("+1 555-010-0001").unwrap().as_str(), "+15550100001");
        assert_eq!(E164::parse("447700900123").unwrap().digits(), "447700900123");
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for bad in ["", "+", "+12", "+0123456789", "+1555abc0001", "+1234567890123456", "++15550100001"] {
            assert!(E164::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_keeps_the_shape(raw in "\\PC{0,40}") {
            if let Ok(n) = E164::parse(&raw) {
                prop_assert!(n.as_str().starts_with('+'));
                prop_assert!((8..=15).contains(&n.digits().len()));
                prop_assert!(n.digits().bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}
