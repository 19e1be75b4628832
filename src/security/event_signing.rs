//! Signing events as the Standard Webhooks specification asks
//! (standardwebhooks.com): a secret `whsec_` + base64 of random bytes, and
//! `webhook-signature` = `v1,` + base64 of HMAC-SHA256 over
//! `{id}.{timestamp}.{body}` keyed with the secret's decoded bytes. Several
//! signatures, space-separated, while a rotated secret still verifies.
//! [`verify`] is the receiving side, as the demo's receiver checks them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// Random bytes in a new secret (the specification asks 24 or more).
const SECRET_BYTES: usize = 32;

/// A new signing secret, shown once to the endpoint's owner.
pub fn new_secret() -> SecretString {
    let mut bytes = [0_u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

/// One `v1,` signature of `body` sent as `id` at `timestamp` (Unix seconds);
/// None when the secret is not `whsec_` + base64.
pub fn sign(secret: &SecretString, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.expose_secret().strip_prefix(PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: a signature with each secret given.
pub fn signature_header(secrets: &[&SecretString], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().filter_map(|secret| sign(secret, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Whether `header` (a `webhook-signature`: `v1,` signatures separated by
/// spaces) holds a signature of `body` sent as `id` at `timestamp` under one
/// of `secrets`, compared in constant time. The caller judges the timestamp.
pub fn verify(secrets: &[&SecretString], id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let expected: Vec<String> = secrets.iter().filter_map(|secret| sign(secret, id, timestamp, body)).collect();
    header
        .split_whitespace()
        .any(|given| expected.iter().any(|wanted| wanted.len() == given.len() && bool::from(wanted.as_bytes().ct_eq(given.as_bytes()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_specifications_published_test_vector() {
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn new_secrets_are_prefixed_base64_of_enough_random_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a.expose_secret(), b.expose_secret());
        let bytes = STANDARD.decode(a.expose_secret().strip_prefix(PREFIX).unwrap()).unwrap();
        assert!(bytes.len() >= 24);
        assert!(sign(&a, "id", 1, b"{}").is_some());
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_new_one_and_a_bad_one_is_left_out() {
        let (new, old, bad) = (new_secret(), new_secret(), SecretString::from("not-a-secret"));
        let header = signature_header(&[&new, &old, &bad], "evt_1", 5, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(Some(parts[0].to_owned()), sign(&new, "evt_1", 5, b"{}"));
        assert_eq!(Some(parts[1].to_owned()), sign(&old, "evt_1", 5, b"{}"));
    }

    #[test]
    fn a_signature_verifies_only_for_its_secret_id_timestamp_and_body() {
        let (secret, other) = (new_secret(), new_secret());
        let header = signature_header(&[&secret], "evt_7", 1_765_000_000, b"{\"type\":\"message.received\"}");

        assert!(verify(&[&secret], "evt_7", 1_765_000_000, b"{\"type\":\"message.received\"}", &header));
        assert!(verify(&[&other, &secret], "evt_7", 1_765_000_000, b"{\"type\":\"message.received\"}", &format!("v1,bm9wZQ== {header}")));
        assert!(!verify(&[&other], "evt_7", 1_765_000_000, b"{\"type\":\"message.received\"}", &header));
        assert!(!verify(&[&secret], "evt_8", 1_765_000_000, b"{\"type\":\"message.received\"}", &header));
        assert!(!verify(&[&secret], "evt_7", 1_765_000_001, b"{\"type\":\"message.received\"}", &header));
        assert!(!verify(&[&secret], "evt_7", 1_765_000_000, b"{\"type\":\"message.status\"}", &header));
        assert!(!verify(&[&secret], "evt_7", 1_765_000_000, b"{}", ""));
        assert!(!verify(&[&secret], "evt_7", 1_765_000_000, b"{\"type\":\"message.received\"}", &header.replacen("v1,", "v2,", 1)));
    }
}
