//! Password rules (OWASP ASVS 5.0 §6.2): 12 to 128 characters, any
//! characters, no composition rules, not one of the commonly used passwords,
//! and not blank or one character repeated (which no dictionary lists).

use std::collections::HashSet;
use std::sync::OnceLock;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// Passwords of twelve or more characters seen most in breach corpora.
const COMMON: &str = include_str!("common_passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Use at least 12 characters; a few words make a good password.")]
    TooShort,
    #[error("Use at most 128 characters.")]
    TooLong,
    #[error("That password is one of the most commonly used; choose another.")]
    Common,
    #[error("The password cannot be your email address.")]
    IsEmail,
    #[error("The password cannot be only spaces or one character repeated.")]
    Monotonous,
}

/// All whitespace, or one character over and over ("            ", "aaaaaaaaaaaa").
fn is_monotonous(password: &str) -> bool {
    let mut chars = password.chars();
    let first = chars.next();
    password.chars().all(char::is_whitespace) || first.is_some_and(|first| chars.all(|c| c == first))
}

pub fn check(password: &str, email: &str) -> Result<(), PasswordProblem> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if is_monotonous(password) {
        return Err(PasswordProblem::Monotonous);
    }
    if password.eq_ignore_ascii_case(email.trim()) {
        return Err(PasswordProblem::IsEmail);
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_characters_of_anything_are_enough() {
        assert_eq!(check("correct horse", "a@b.example"), Ok(()));
        assert_eq!(check("ééééééééééé€", "a@b.example"), Ok(()));
    }

    #[test]
    fn short_long_common_and_email_passwords_are_refused() {
        assert_eq!(check("short", "a@b.example"), Err(PasswordProblem::TooShort));
        assert_eq!(check(&"x".repeat(129), "a@b.example"), Err(PasswordProblem::TooLong));
        assert_eq!(check("Password1234", "a@b.example"), Err(PasswordProblem::Common));
        assert_eq!(check("123456789012", "a@b.example"), Err(PasswordProblem::Common));
        assert_eq!(check("admin@acme.example", "admin@acme.example"), Err(PasswordProblem::IsEmail));
    }

    #[test]
    fn blank_and_single_character_passwords_are_refused() {
        for bad in [" ".repeat(12), "\t \u{a0}\u{3000}".repeat(4), "z".repeat(12), "é".repeat(20), "🔑".repeat(13)] {
            assert_eq!(check(&bad, "a@b.example"), Err(PasswordProblem::Monotonous), "{bad:?}");
        }
        assert_eq!(check("zzzzzzzzzzzy", "a@b.example"), Ok(()));
    }

    proptest::proptest! {
        #[test]
        fn any_one_character_repeated_is_refused(c in proptest::char::any(), n in 12usize..=128) {
            proptest::prop_assert_eq!(check(&c.to_string().repeat(n), "a@b.example"), Err(PasswordProblem::Monotonous));
        }

        #[test]
        fn any_whitespace_only_password_is_refused(s in "[ \t\u{a0}\u{2003}\u{3000}]{12,60}") {
            proptest::prop_assert_eq!(check(&s, "a@b.example"), Err(PasswordProblem::Monotonous));
        }
    }
}
