//! The one-time re-keying of pool names stored before name keys were
//! NFKC-normalised.

use crate::db::{DbConnection, write_transaction};
use crate::services::ServiceError;
use crate::store::pools;

/// Re-keys the pool names stored before keys were NFKC-normalised, once
/// after the upgrade that asks for it, in one transaction. Two old names
/// that now share a key both stay; the later one gets a key of its own
/// (its key, a U+0001 no name can hold, and its id), and a warning names it.
pub fn rekey_names_if_pending(conn: &mut DbConnection) -> Result<usize, ServiceError> {
    write_transaction(conn, |conn| {
        if !pools::take_pending_upgrade(conn, "pool_name_keys")? {
            return Ok(0);
        }
        let rows = pools::all_name_keys(conn)?;
        let mut taken: std::collections::HashSet<(i64, String)> = std::collections::HashSet::new();
        let mut changed = 0;
        for (id, enterprise_id, name, old_key) in rows {
            let mut key = crate::domain::pool_name::key_of(&name);
            if key.chars().count() > crate::domain::pool_name::MAX_KEY_CHARS || taken.contains(&(enterprise_id, key.clone())) {
                tracing::warn!(pool = id, enterprise = enterprise_id, %name, "pool name looks like another of its enterprise; kept under its own key");
                key = format!("{}\u{1}{id}", key.chars().take(200).collect::<String>());
            }
            if key != old_key {
                pools::set_name_key(conn, id, &key)?;
                changed += 1;
            }
            taken.insert((enterprise_id, key));
        }
        Ok(changed)
    })
}
