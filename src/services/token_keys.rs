//! Encryption key rotation (R12): every stored Meta token is opened with
//! whichever configured key sealed it and sealed again under the current
//! key, in one transaction. Old ciphertexts stay readable until rotated,
//! as long as their key is listed among the previous keys.

use super::ServiceError;
use crate::db::{DbConnection, write_transaction};
use crate::security::secrets::{Sealed, SecretKeys};
use crate::store::wabas;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub resealed: usize,
    pub already_current: usize,
}

pub fn rotate(conn: &mut DbConnection, keys: &SecretKeys) -> Result<Rotation, ServiceError> {
    write_transaction(conn, |conn| {
        let mut rotation = Rotation::default();
        for link in wabas::links_with_tokens(conn)? {
            let (Some(ciphertext), Some(key_id)) = (link.access_token_ciphertext, link.access_token_key_id) else { continue };
            if key_id == keys.current_key_id() {
                rotation.already_current += 1;
                continue;
            }
            let token = keys.open(&Sealed { ciphertext, key_id: key_id.clone() }).map_err(|e| {
                ServiceError::Internal(anyhow::anyhow!(
                    "token of WABA link {} (key {key_id}): {e}; list that key in WABAPOOL_PREVIOUS_ENCRYPTION_KEYS",
                    link.id
                ))
            })?;
            let sealed = keys.seal(&token);
            wabas::replace_token(conn, link.id, &sealed.ciphertext, &sealed.key_id)?;
            rotation.resealed += 1;
        }
        Ok(rotation)
    })
}
