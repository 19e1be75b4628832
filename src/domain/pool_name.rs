//! A pool's name (R7): trimmed, 1–64 characters, no control characters,
//! unique within its enterprise ignoring case.

use std::fmt;

pub const MAX_POOL_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolNameError {
    #[error("Enter a pool name.")]
    Empty,
    #[error("Pool name must be at most 64 characters (this one has {0}).")]
    TooLong(usize),
    #[error("Pool name cannot contain control characters such as tabs or line breaks.")]
    ControlCharacter,
}

impl PoolName {
    pub fn parse(raw: &str) -> Result<Self, PoolNameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PoolNameError::Empty);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(PoolNameError::ControlCharacter);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_POOL_NAME_CHARS {
            return Err(PoolNameError::TooLong(chars));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which names are compared for uniqueness: two names
    /// that differ only in case share one key.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for PoolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PoolName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(PoolName::parse("  Acme Support ").unwrap().as_str(), "Acme Support");
    }

    #[test]
    fn blank_names_are_refused() {
        assert_eq!(PoolName::parse("   "), Err(PoolNameError::Empty));
        assert_eq!(PoolName::parse(""), Err(PoolNameError::Empty));
    }

    #[test]
    fn sixty_four_characters_fit_and_sixty_five_do_not() {
        assert!(PoolName::parse(&"é".repeat(64)).is_ok());
        assert_eq!(PoolName::parse(&"a".repeat(65)), Err(PoolNameError::TooLong(65)));
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["a\u{0}b", "a\tb", "line\nbreak", "bell\u{7}", "del\u{7f}", "c1\u{85}x"] {
            assert_eq!(PoolName::parse(bad), Err(PoolNameError::ControlCharacter), "{bad:?}");
        }
    }

    #[test]
    fn keys_ignore_case() {
        assert_eq!(PoolName::parse("Acme SUPPORT").unwrap().key(), PoolName::parse("acme support").unwrap().key());
    }

    proptest! {
        #[test]
        fn a_parsed_name_always_keeps_the_rules(raw in "\\PC{0,80}|[ \\t\\n\\x00-\\x1f]{0,5}\\PC{0,70}") {
            if let Ok(name) = PoolName::parse(&raw) {
                let s = name.as_str();
                prop_assert!(!s.is_empty());
                prop_assert!(s.chars().count() <= MAX_POOL_NAME_CHARS);
                prop_assert!(!s.chars().any(char::is_control));
                prop_assert_eq!(s, s.trim());
            }
        }

        #[test]
        fn parsing_is_idempotent(raw in "\\PC{1,64}") {
            if let Ok(name) = PoolName::parse(&raw) {
                prop_assert_eq!(PoolName::parse(name.as_str()), Ok(name.clone()));
            }
        }
    }
}
