//! Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, the
//! HMAC-SHA256 of the raw body keyed with the app secret, checked in
//! constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header value Meta sends for `body`.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(app_secret).unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` under `app_secret`.
pub fn verify(app_secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_digest) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else { return false };
    let Ok(digest) = hex::decode(hex_digest) else { return false };
    let Ok(mut mac) = HmacSha256::new_from_slice(app_secret) else { return false };
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_signature_verifies_only_for_its_body_and_secret() {
        let header = sign(b"app-secret", b"{\"object\":\"whatsapp_business_account\"}");
        assert!(verify(b"app-secret", b"{\"object\":\"whatsapp_business_account\"}", Some(&header)));
        assert!(!verify(b"app-secret", b"{\"object\":\"whatsapp_business_account\"} ", Some(&header)));
        assert!(!verify(b"other-secret", b"{\"object\":\"whatsapp_business_account\"}", Some(&header)));
        assert!(!verify(b"app-secret", b"{}", None));
        assert!(!verify(b"app-secret", b"{}", Some("sha1=abcd")));
        assert!(!verify(b"app-secret", b"{}", Some("sha256=zz")));
    }

    proptest! {
        #[test]
        fn checking_arbitrary_headers_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256), header in "\\PC{0,80}") {
            let _ = verify(b"secret", &body, Some(&header));
        }

        #[test]
        fn what_is_signed_verifies(body in proptest::collection::vec(any::<u8>(), 0..256), secret in proptest::collection::vec(any::<u8>(), 1..64)) {
            prop_assert!(verify(&secret, &body, Some(&sign(&secret, &body))));
        }
    }
}
