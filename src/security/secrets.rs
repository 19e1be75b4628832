//! Secrets at rest (R12): AES-256-GCM with a random 96-bit nonce per value
//! and the key id stored beside the ciphertext, so keys can be rotated
//! while old values stay readable.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_BYTES: usize = 12;

/// A ciphertext (`nonce || sealed`) and the id of the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub key_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("no key with id {0} is configured")]
    UnknownKey(String),
    #[error("the stored secret is damaged or was sealed with another key")]
    Tampered,
    #[error("an encryption key must be 32 bytes")]
    BadKey,
}

/// The keys that can open stored secrets; new values are sealed with the current one.
#[derive(Clone)]
pub struct SecretKeys {
    keys: HashMap<String, Key<Aes256Gcm>>,
    current: String,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeys").field("current", &self.current).field("keys", &self.keys.len()).finish()
    }
}

/// A short public id for a key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(key: &[u8]) -> String {
    hex::encode(&Sha256::digest(key)[..8])
}

impl SecretKeys {
    /// `current` seals; `previous` only open values sealed before a rotation.
    pub fn new(current: &[u8], previous: &[&[u8]]) -> Result<Self, SecretError> {
        let mut keys = HashMap::new();
        for raw in previous.iter().chain(std::iter::once(&current)) {
            if raw.len() != 32 {
                return Err(SecretError::BadKey);
            }
            keys.insert(key_id(raw), *Key::<Aes256Gcm>::from_slice(raw));
        }
        Ok(Self { keys, current: key_id(current) })
    }

    /// A fresh random key (for demo mode and tests).
    pub fn random() -> Self {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        Self::new(&raw, &[]).unwrap_or_else(|_| unreachable!("32 bytes is a valid key"))
    }

    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    pub fn seal(&self, secret: &SecretString) -> Sealed {
        let key = &self.keys[&self.current];
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = Aes256Gcm::new(key)
            .encrypt(Nonce::from_slice(&nonce), secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a short value cannot fail"));
        let mut ciphertext = Vec::with_capacity(NONCE_BYTES + sealed.len());
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&sealed);
        Sealed { ciphertext, key_id: self.current.clone() }
    }

    pub fn open(&self, sealed: &Sealed) -> Result<SecretString, SecretError> {
        let key = self.keys.get(&sealed.key_id).ok_or_else(|| SecretError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.ciphertext.len() < NONCE_BYTES + 16 {
            return Err(SecretError::Tampered);
        }
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_BYTES);
        let plain = Aes256Gcm::new(key).decrypt(Nonce::from_slice(nonce), body).map_err(|_| SecretError::Tampered)?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| SecretError::Tampered)
    }
}

/// A new random key, as `WABAPOOL_ENCRYPTION_KEY` takes it.
pub fn new_key_base64() -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SecretString {
        SecretString::from("EAAG-test-token-0123456789")
    }

    #[test]
    fn a_sealed_token_opens_to_itself() {
        let keys = SecretKeys::random();
        let sealed = keys.seal(&token());
        assert_eq!(keys.open(&sealed).unwrap().expose_secret(), token().expose_secret());
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let keys = SecretKeys::random();
        assert_ne!(keys.seal(&token()).ciphertext, keys.seal(&token()).ciphertext);
    }

    #[test]
    fn a_tampered_ciphertext_is_refused() {
        let keys = SecretKeys::random();
        let mut sealed = keys.seal(&token());
        let last = sealed.ciphertext.len() - 1;
        sealed.ciphertext[last] ^= 1;
        assert_eq!(keys.open(&sealed).unwrap_err(), SecretError::Tampered);
        sealed.ciphertext.truncate(5);
        assert_eq!(keys.open(&sealed).unwrap_err(), SecretError::Tampered);
    }

    #[test]
    fn the_ciphertext_does_not_contain_the_token() {
        let keys = SecretKeys::random();
        let sealed = keys.seal(&token());
        let needle = token().expose_secret().as_bytes().to_vec();
        assert!(!sealed.ciphertext.windows(needle.len()).any(|w| w == needle.as_slice()));
    }

    #[test]
    fn values_sealed_under_a_previous_key_stay_readable_after_rotation() {
        let old = [7u8; 32];
        let new = [9u8; 32];
        let before = SecretKeys::new(&old, &[]).unwrap();
        let sealed = before.seal(&token());
        let after = SecretKeys::new(&new, &[&old]).unwrap();
        assert_eq!(after.open(&sealed).unwrap().expose_secret(), token().expose_secret());
        assert_ne!(after.seal(&token()).key_id, sealed.key_id);
        let forgotten = SecretKeys::new(&new, &[]).unwrap();
        assert!(matches!(forgotten.open(&sealed), Err(SecretError::UnknownKey(_))));
    }
}
