//! argon2id password hashing at OWASP's parameters (m=19 MiB, t=2, p=1).
//! Callers run these off the async workers: each call takes tens of
//! milliseconds of CPU on purpose.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// Hashes and verifies passwords. Holds a dummy hash so that an unknown
/// email costs the same time as a wrong password.
#[derive(Clone)]
pub struct PasswordHasher {
    dummy_hash: String,
}

fn argon2() -> Argon2<'static> {
    // 19 MiB, two passes, one lane: OWASP's first argon2id recommendation.
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl PasswordHasher {
    pub fn new() -> anyhow::Result<Self> {
        let dummy_hash = hash_password(&SecretString::from("wabapool dummy password for unknown users"))?;
        Ok(Self { dummy_hash })
    }

    /// Verifies `candidate` against `stored`, or against the dummy hash when
    /// there is no such user; false in that case whatever was typed.
    pub fn verify(&self, stored: Option<&str>, candidate: &SecretString) -> bool {
        let hash = stored.unwrap_or(&self.dummy_hash);
        let matches = argon2().verify_password(candidate.expose_secret().as_bytes(), hash).is_ok();
        matches && stored.is_some()
    }
}

/// A fresh argon2id hash in PHC form, with a random salt.
pub fn hash_password(password: &SecretString) -> anyhow::Result<String> {
    argon2()
        .hash_password(password.expose_secret().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters() {
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    }

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hasher = PasswordHasher::new().unwrap();
        let hash = hash_password(&SecretString::from("correct horse battery")).unwrap();
        assert!(hasher.verify(Some(&hash), &SecretString::from("correct horse battery")));
        assert!(!hasher.verify(Some(&hash), &SecretString::from("wrong horse battery")));
    }

    #[test]
    fn an_unknown_user_never_verifies_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new().unwrap();
        assert!(!hasher.verify(None, &SecretString::from("wabapool dummy password for unknown users")));
    }

    #[test]
    fn a_malformed_stored_hash_does_not_verify() {
        let hasher = PasswordHasher::new().unwrap();
        assert!(!hasher.verify(Some("not a hash"), &SecretString::from("x")));
    }
}
