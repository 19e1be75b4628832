//! A pool's name (R7): trimmed, 1–64 characters, no control or invisible
//! format characters, unique within its enterprise under its key: the name
//! after NFKC normalisation and lowercasing, with runs of spaces as one,
//! so names that look alike ("Acme Support", "ＡＣＭＥ Support",
//! "acme  support") share one key.

use std::fmt;

use unicode_normalization::UnicodeNormalization as _;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

pub const MAX_POOL_NAME_CHARS: usize = 64;

/// The database's bound on a key; NFKC may lengthen a name (one ligature
/// can become eighteen letters), so a key is checked, not assumed.
pub const MAX_KEY_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolName {
    name: String,
    key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolNameError {
    #[error("Enter a pool name.")]
    Empty,
    #[error("Pool name must be at most 64 characters (this one has {0}).")]
    TooLong(usize),
    #[error("Pool name cannot contain control characters such as tabs or line breaks.")]
    ControlCharacter,
    #[error("Pool name cannot contain invisible formatting characters such as zero-width spaces or direction marks.")]
    FormatCharacter,
    #[error("Pool name is too long once its characters are written out; shorten it.")]
    KeyTooLong,
}

/// The form under which pool names are compared: compatibility-normalised
/// (NFKC folds fullwidth, ligature and other lookalike forms) and then
/// lowercased with Unicode's full mapping, normalised again because
/// lowercasing can leave a string that NFKC would still change.
///
/// `to_lowercase` rather than full case folding: the two differ only for a
/// few letters (ß against "ss", final sigma) whose names do not look alike,
/// and it keeps the key the same as before for every ASCII name.
/// Runs of white space count as one space, as a page shows them.
pub fn key_of(text: &str) -> String {
    let compatible: String = text.nfkc().collect();
    let lowered: String = compatible.to_lowercase().nfkc().collect();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Invisible characters that change how a name reads without showing:
/// zero-width spaces and joiners, direction overrides, byte-order marks, tags.
fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
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
        if trimmed.chars().any(is_format) {
            return Err(PoolNameError::FormatCharacter);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_POOL_NAME_CHARS {
            return Err(PoolNameError::TooLong(chars));
        }
        let key = key_of(trimmed);
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(PoolNameError::KeyTooLong);
        }
        Ok(Self { name: trimmed.to_owned(), key })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The form under which names are compared for uniqueness (see [`key_of`]).
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for PoolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<str> for PoolName {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_that_differ_only_in_runs_of_spaces_share_a_key() {
        assert_eq!(PoolName::parse("Acme  Support").unwrap().key(), PoolName::parse("Acme Support").unwrap().key());
        assert_eq!(PoolName::parse("Acme\u{3000}Support").unwrap().key(), "acme support");
    }

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

    #[test]
    fn names_that_look_alike_share_one_key() {
        let plain = PoolName::parse("Acme Support").unwrap();
        for lookalike in ["\u{ff21}\u{ff43}\u{ff4d}\u{ff45} Support", "ACME SUPPORT", "Acme\u{3000}Support", "\u{ff21}cme \u{1d42c}upport"] {
            assert_eq!(PoolName::parse(lookalike).unwrap().key(), plain.key(), "{lookalike:?}");
        }
        assert_eq!(PoolName::parse("\u{fb01}le").unwrap().key(), "file");
    }

    #[test]
    fn invisible_format_characters_are_refused() {
        for bad in ["Acme\u{200b}Support", "\u{202e}troppuS", "\u{feff}Acme", "Acme\u{e0041}", "soft\u{ad}hyphen", "a\u{200d}b", "a\u{2066}b"] {
            assert_eq!(PoolName::parse(bad), Err(PoolNameError::FormatCharacter), "{bad:?}");
        }
    }

    #[test]
    fn a_name_whose_key_outgrows_the_column_is_refused() {
        assert_eq!(PoolName::parse(&"\u{fdfa}".repeat(20)), Err(PoolNameError::KeyTooLong));
    }

    proptest! {
        #[test]
        fn a_parsed_name_always_keeps_the_rules(raw in "\\PC{0,80}|[ \\t\\n\\x00-\\x1f]{0,5}\\PC{0,70}") {
            if let Ok(name) = PoolName::parse(&raw) {
                let s = name.as_str();
                prop_assert!(!s.is_empty());
                prop_assert!(s.chars().count() <= MAX_POOL_NAME_CHARS);
                prop_assert!(!s.chars().any(char::is_control));
                prop_assert!(!s.chars().any(is_format));
                prop_assert_eq!(s, s.trim());
                prop_assert!(!name.key().is_empty() && name.key().chars().count() <= MAX_KEY_CHARS);
            }
        }

        #[test]
        fn a_key_is_its_own_key(raw in "\\PC{1,64}") {
            let key = key_of(&raw);
            prop_assert_eq!(key_of(&key), key.clone());
        }

        #[test]
        fn case_and_width_never_change_a_key(raw in "[a-zA-Z0-9 ]{1,40}") {
            let fullwidth: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xfee0).unwrap_or(c) } else { c }).collect();
            prop_assert_eq!(key_of(&fullwidth), key_of(&raw.to_uppercase()));
            let words: Vec<String> = raw.split_whitespace().map(str::to_lowercase).collect();
            prop_assert_eq!(key_of(&raw), words.join(" "));
        }

        #[test]
        fn a_format_character_anywhere_is_refused(prefix in "[a-z]{0,10}", suffix in "[a-z]{1,10}", c in proptest::sample::select(vec!['\u{200b}', '\u{200e}', '\u{202e}', '\u{2060}', '\u{feff}', '\u{e0001}', '\u{e0067}', '\u{61c}'])) {
            prop_assert_eq!(PoolName::parse(&format!("{prefix}{c}{suffix}")), Err(PoolNameError::FormatCharacter));
        }

        #[test]
        fn parsing_is_idempotent(raw in "\\PC{1,64}") {
            if let Ok(name) = PoolName::parse(&raw) {
                prop_assert_eq!(PoolName::parse(name.as_str()), Ok(name.clone()));
            }
        }
    }
}
