//! WABA Pool use cases: list, add, edit, deactivate and activate, under
//! rules R1–R11.

mod activity;
mod changes;
mod form;
mod listing;
mod names;

pub use activity::{MemberSends, PoolActivity, pool_activity, pool_detail};
pub use changes::{PoolChanged, PoolDraft, activate_pool, create_pool, deactivate_pool, update_pool};
pub use form::{EditPoolContext, NumberChoice, PoolFormContext, WabaChoices, add_pool_context, edit_pool_context};
pub use listing::{
    CachedListing, EXPORT_CHUNK, ListQuery, ListingCache, MemberView, PAGE_SIZE, PoolListing, PoolSummary, cached_listing, export_pools, list_pools,
    list_pools_cached, listing_and_session_stamps,
};
pub use names::rekey_names_if_pending;

use super::access::enterprise_in_scope;
use super::{Actor, ServiceError};
use crate::db::DbConnection;
use crate::domain::{EnterpriseId, PoolId};
use crate::store::orgs::EnterpriseRow;
use crate::store::pools::{self, PoolRow};

/// The pool and its enterprise, when the actor's scope covers them (R2).
fn pool_in_scope(conn: &mut DbConnection, actor: &Actor, id: PoolId) -> Result<(PoolRow, EnterpriseRow), ServiceError> {
    let pool = pools::find(conn, id.get())?.ok_or(ServiceError::NotFound)?;
    let enterprise = enterprise_in_scope(conn, actor, EnterpriseId(pool.enterprise_id))?;
    Ok((pool, enterprise))
}
