//! Synchronizer CSRF tokens: one random token per session, sent back in a
//! hidden `csrf_token` field or the `X-CSRF-Token` header and compared in
//! constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "X-CSRF-Token";

/// A new random token: 32 bytes from the OS generator, URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether the submitted token is the session's.
pub fn tokens_match(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && expected.len() == submitted.len() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
    }

    #[test]
    fn only_the_same_token_matches() {
        let t = new_token();
        assert!(tokens_match(&t, &t.clone()));
        assert!(!tokens_match(&t, &new_token()));
        assert!(!tokens_match(&t, ""));
        assert!(!tokens_match("", ""));
    }
}
