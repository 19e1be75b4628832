//! API keys per enterprise (R1: super admins only): created with a label and
//! shown once, stored as a SHA-256 hash, revoked, their last use shown.

use rand::Rng as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::access::{chosen_enterprise, enterprise_in_scope, enterprises_in_scope};
use super::{Actor, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::EnterpriseId;
use crate::store::api_keys::{self, ApiKeyRow};
use crate::store::audit::{self, NewAuditEntry};
use crate::store::orgs::EnterpriseRow;

/// Letters and digits after the `wbp_` prefix.
const KEY_CHARS: usize = 40;

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let body: String = (0..KEY_CHARS).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("wbp_{body}")
}

fn require_super_admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role.manages_users() { Ok(()) } else { Err(ServiceError::Forbidden) }
}

/// A key as its page shows it: never its hash.
#[derive(Debug, Clone)]
pub struct ApiKeyView {
    pub id: i64,
    pub label: String,
    /// The enterprise the key sends for.
    pub enterprise_name: String,
    /// The first characters of the key, which tell keys apart.
    pub key_prefix: String,
    pub created_at: chrono::NaiveDateTime,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub revoked: bool,
}

impl ApiKeyView {
    fn new(row: ApiKeyRow, enterprise_name: String) -> Self {
        Self {
            id: row.id,
            label: row.label,
            enterprise_name,
            key_prefix: row.key_prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked: row.revoked_at.is_some(),
        }
    }
}

pub struct KeysPage {
    pub keys: Vec<ApiKeyView>,
    pub enterprises: Vec<EnterpriseRow>,
}

pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<KeysPage, ServiceError> {
    require_super_admin(actor)?;
    let enterprises = enterprises_in_scope(conn, actor)?;
    let ids: Vec<i64> = enterprises.iter().map(|e| e.id).collect();
    let keys = api_keys::of_enterprises(conn, &ids)?
        .into_iter()
        .map(|k| {
            let name = enterprises.iter().find(|e| e.id == k.enterprise_id).map(|e| e.name.clone()).unwrap_or_default();
            ApiKeyView::new(k, name)
        })
        .collect();
    Ok(KeysPage { keys, enterprises })
}

/// One key of the actor's enterprises, for the page that asks before revoking it.
pub fn find(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<ApiKeyView, ServiceError> {
    require_super_admin(actor)?;
    let key = api_keys::find(conn, id)?.ok_or(ServiceError::NotFound)?;
    let enterprise = enterprise_in_scope(conn, actor, EnterpriseId(key.enterprise_id))?;
    Ok(ApiKeyView::new(key, enterprise.name))
}

/// Creates a key; the clear key is returned once and never stored. The
/// label is as the form's rules took it: trimmed, 1 to 64 characters.
pub fn create(conn: &mut DbConnection, actor: &Actor, enterprise_id: Option<&str>, label: &str) -> Result<String, ServiceError> {
    require_super_admin(actor)?;
    write_transaction(conn, |conn| {
        let enterprise = chosen_enterprise(conn, actor, enterprise_id)?
            .ok_or_else(|| ServiceError::invalid("enterprise_id", "Choose the enterprise the key sends for."))?;
        // Labels tell an enterprise's keys apart: one label, one key in use.
        let taken = api_keys::of_enterprises(conn, &[enterprise.id])?.into_iter().any(|k| k.revoked_at.is_none() && k.label == label);
        if taken {
            return Err(ServiceError::invalid(
                "label",
                format!("{} already has a key labelled \u{201c}{label}\u{201d}; choose another label, or revoke that key first.", enterprise.name),
            ));
        }
        let key = new_key();
        let id = api_keys::insert(conn, enterprise.id, label, &hash_key(&key), &key[..8], actor.user_id.get())?;
        audit::record(
            conn,
            &NewAuditEntry {
                actor_user_id: Some(actor.user_id.get()),
                actor_email: Some(actor.email.clone()),
                enterprise_id: Some(enterprise.id),
                action: "api_key.create",
                subject_type: "api_key",
                subject_id: Some(id.to_string()),
                after: Some(json!({ "label": label, "prefix": &key[..8] })),
                client_ip: actor.client_ip.clone(),
                ..NewAuditEntry::default()
            },
        )?;
        Ok(key)
    })
}

pub fn revoke(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<ApiKeyView, ServiceError> {
    require_super_admin(actor)?;
    write_transaction(conn, |conn| {
        let key = api_keys::find(conn, id)?.ok_or(ServiceError::NotFound)?;
        let enterprise = enterprise_in_scope(conn, actor, EnterpriseId(key.enterprise_id))?;
        if key.revoked_at.is_none() {
            api_keys::revoke(conn, key.id)?;
            audit::record(
                conn,
                &NewAuditEntry {
                    actor_user_id: Some(actor.user_id.get()),
                    actor_email: Some(actor.email.clone()),
                    enterprise_id: Some(key.enterprise_id),
                    action: "api_key.revoke",
                    subject_type: "api_key",
                    subject_id: Some(key.id.to_string()),
                    client_ip: actor.client_ip.clone(),
                    ..NewAuditEntry::default()
                },
            )?;
        }
        Ok(ApiKeyView::new(key, enterprise.name))
    })
}

/// The application behind an API request: the key it presented and the
/// enterprise that key acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCaller {
    pub key_id: i64,
    pub enterprise_id: i64,
}

/// Who presents this key, if the key is known and not revoked.
pub fn authenticate(conn: &mut DbConnection, presented: &str) -> Result<Option<ApiCaller>, ServiceError> {
    let presented = presented.trim();
    if !presented.starts_with("wbp_") || presented.len() > 128 {
        return Ok(None);
    }
    let Some(key) = api_keys::find_active_by_hash(conn, &hash_key(presented))? else { return Ok(None) };
    // Last use is kept to the minute: most requests write nothing.
    if key.last_used_at.is_none_or(|t| t < crate::store::now() - chrono::Duration::minutes(1)) {
        api_keys::touch(conn, key.id)?;
    }
    Ok(Some(ApiCaller { key_id: key.id, enterprise_id: key.enterprise_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_wbp_and_forty_letters_and_digits() {
        let key = new_key();
        assert!(key.starts_with("wbp_"));
        assert_eq!(key.len(), 44);
        assert!(key[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(key, new_key());
    }
}
