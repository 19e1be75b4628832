//! The pool listing: its query, the pools of one page with their members'
//! health, and the listing kept in memory while nothing it shows changed.

use std::borrow::Cow;
use std::sync::Arc;

use crate::db::DbConnection;
use crate::domain::pool::too_few_activated_numbers;
use crate::domain::{EnterpriseId, NumberStatus, OutOfRotation, QualityRating, Scope, WabaStatus, out_of_rotation};
use crate::services::access::{EnterpriseChoices, enterprise_choices, enterprise_in_scope, require_channel_admin};
use crate::services::caches::listing::{self as kept_listings, ListingKey};
use crate::services::{Actor, ServiceError};
use crate::store::numbers;
use crate::store::orgs::EnterpriseRow;
use crate::store::pools::{self, ListFilter, ListOrder, ListScope, MemberRow};
use crate::store::stamps;

/// Pools shown per listing page.
pub const PAGE_SIZE: i64 = 50;

/// The listings of this instance, kept by scope and query.
pub type ListingCache = kept_listings::ListingCache<ListQuery, PoolListing>;
/// A kept listing and, once drawn, its markup.
pub type CachedListing = kept_listings::CachedListing<PoolListing>;

/// The listing's query string, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Deserialize)]
pub struct ListQuery {
    pub enterprise_id: Option<String>,
    pub q: Option<String>,
    pub status: Option<String>,
    pub page: Option<String>,
    /// `name`, `enterprise` or `active`, with `-` in front for the other way.
    pub sort: Option<String>,
}

/// The listing's sort keys, as the address names them.
pub const SORTS: [(&str, ListOrder); 6] = [
    ("name", ListOrder::Name),
    ("-name", ListOrder::NameDescending),
    ("enterprise", ListOrder::Enterprise),
    ("-enterprise", ListOrder::EnterpriseDescending),
    ("active", ListOrder::ActiveFirst),
    ("-active", ListOrder::InactiveFirst),
];

/// A member number as pages show it.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub number_id: i64,
    pub display: String,
    pub verified_name: String,
    pub status: NumberStatus,
    pub quality: QualityRating,
    pub waba_status: WabaStatus,
    /// Why the member is out of rotation, if it is.
    pub out_of_rotation: Option<OutOfRotation>,
    /// The reason in words and since when.
    out_of_rotation_why: Option<(String, Option<chrono::NaiveDateTime>)>,
}

impl MemberView {
    pub(super) fn from_row(row: MemberRow) -> Self {
        let out_of_rotation = out_of_rotation(row.status, &row.quality_rating, row.waba_status);
        let out_of_rotation_why = out_of_rotation.map(|out| match out {
            OutOfRotation::WabaNotActive(status) => {
                let why = match status {
                    WabaStatus::ReconnectNeeded => "WABA needs reconnecting".to_owned(),
                    WabaStatus::Suspended => {
                        format!("WABA suspended by Meta{}", row.waba_status_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())
                    }
                    other => format!("WABA {other}"),
                };
                (why, row.waba_status_changed_at)
            }
            OutOfRotation::NotActivated(status) => (format!("Number {status}"), row.out_of_rotation_since),
            OutOfRotation::QualityRed => ("Quality RED at Meta".to_owned(), row.out_of_rotation_since),
        });
        Self {
            number_id: row.number_id,
            display: row.display_phone_number,
            verified_name: row.verified_name,
            status: row.status,
            quality: row.quality_rating,
            waba_status: row.waba_status,
            out_of_rotation,
            out_of_rotation_why,
        }
    }

    /// In rotation: see [`crate::domain::rotation`].
    pub fn in_rotation(&self) -> bool {
        self.out_of_rotation.is_none()
    }

    /// The badge beside an out-of-rotation member: "WABA suspended",
    /// "Deactivated" or its quality.
    pub fn out_of_rotation_badge(&self) -> Option<Cow<'_, str>> {
        self.out_of_rotation.map(|out| match out {
            OutOfRotation::WabaNotActive(status) => format!("WABA {status}").into(),
            OutOfRotation::NotActivated(status) => status.label().into(),
            OutOfRotation::QualityRed => self.quality.label(),
        })
    }

    /// "Quality RED at Meta since 2026-11-22 14:05 UTC".
    pub fn out_of_rotation_text(&self) -> Option<String> {
        self.out_of_rotation_why.as_ref().map(|(why, since)| match since {
            Some(at) => format!("{why} since {}", at.format("%Y-%m-%d %H:%M UTC")),
            None => why.clone(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PoolSummary {
    pub id: i64,
    pub name: String,
    pub enterprise_id: i64,
    pub enterprise_name: String,
    pub active: bool,
    pub version: i64,
    pub members: Vec<MemberView>,
    /// The enterprise's activated numbers: below three, R3 blocks changes and the pages warn.
    pub enterprise_activated: i64,
}

impl PoolSummary {
    /// R3's warning when the enterprise has dropped below three activated numbers.
    pub fn warning(&self) -> Option<String> {
        too_few_activated_numbers(&self.enterprise_name, self.enterprise_activated)
            .map(|m| format!("{m} This pool cannot be changed or reactivated until it has."))
    }

    pub fn in_rotation_count(&self) -> usize {
        self.members.iter().filter(|m| m.in_rotation()).count()
    }

    pub fn all_in_rotation(&self) -> bool {
        self.in_rotation_count() == self.members.len()
    }

    pub fn out_of_rotation_count(&self) -> usize {
        self.members.len() - self.in_rotation_count()
    }
}

#[derive(Debug, Clone, Default)]
pub struct PoolListing {
    pub pools: Vec<PoolSummary>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// The enterprises an aggregator user can filter by (none for enterprise
    /// users): a bounded few, never the whole tenant.
    pub enterprises: EnterpriseChoices,
    pub enterprise_filter: Option<i64>,
    pub q: String,
    pub status: String,
    /// The sort asked for, as the address names it; empty for by name.
    pub sort: String,
}

/// The listing, from `cache` while nothing it shows has changed since it
/// was read (see [`crate::services::caches::listing`]). `stamp` is the listing stamp,
/// read before this call, so a listing is never older than the stamp it is
/// kept under.
pub fn list_pools_cached(
    conn: &mut DbConnection,
    cache: &ListingCache,
    actor: &Actor,
    query: &ListQuery,
    stamp: i64,
) -> Result<Arc<CachedListing>, ServiceError> {
    if let Some(listing) = cached_listing(cache, actor, query, stamp)? {
        return Ok(listing);
    }
    let listing = Arc::new(CachedListing::new(list_pools(conn, actor, query)?));
    cache.put(ListingKey::new(actor.scope, query), stamp, listing.clone());
    Ok(listing)
}

/// The listing's and the session's stamps, read together: an unchanged
/// listing for a user already seen needs nothing else from the database.
pub fn listing_and_session_stamps(conn: &mut DbConnection) -> Result<stamps::Stamps, ServiceError> {
    Ok(stamps::both(conn)?)
}

/// The listing kept in `cache` under `stamp`, the listing stamp just read;
/// None when it must be read.
pub fn cached_listing(cache: &ListingCache, actor: &Actor, query: &ListQuery, stamp: i64) -> Result<Option<Arc<CachedListing>>, ServiceError> {
    require_channel_admin(actor)?;
    Ok(cache.get(&ListingKey::new(actor.scope, query), stamp))
}

/// The listing's query, checked: its scope, filters and order, and the page.
struct CheckedQuery {
    scope: ListScope,
    /// The enterprise filtered by, when one is.
    enterprise: Option<EnterpriseRow>,
    filter: ListFilter,
    page: i64,
    q: String,
    status: String,
    sort: String,
}

fn check_query(conn: &mut DbConnection, actor: &Actor, query: &ListQuery) -> Result<CheckedQuery, ServiceError> {
    require_channel_admin(actor)?;
    let mut filter = ListFilter::default();
    let mut enterprise = None;
    if let Some(raw) = query.enterprise_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let id: EnterpriseId = raw.parse().map_err(|_| ServiceError::NotFound)?;
        let found = enterprise_in_scope(conn, actor, id)?;
        filter.enterprise_id = Some(found.id);
        enterprise = Some(found);
    }
    let q = query.q.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if q.chars().count() > 100 || q.chars().any(char::is_control) {
        return Err(ServiceError::invalid("q", "Search text must be at most 100 characters, without control characters."));
    }
    filter.name_contains = (!q.is_empty()).then(|| crate::domain::pool_name::key_of(&q));
    filter.phone_digits = phone_digits(&q);
    let status = query.status.as_deref().map(str::trim).unwrap_or_default().to_owned();
    filter.active = match status.as_str() {
        "" | "all" => None,
        "active" => Some(true),
        "inactive" => Some(false),
        _ => return Err(ServiceError::invalid("status", "Status must be active, inactive or all.")),
    };
    let sort = query.sort.as_deref().map(str::trim).unwrap_or_default().to_owned();
    filter.order = match SORTS.iter().find(|(key, _)| *key == sort) {
        Some((_, order)) => *order,
        None if sort.is_empty() => ListOrder::Name,
        None => return Err(ServiceError::invalid("sort", "Sort by name, enterprise or active, with - in front for the other way.")),
    };
    let page = match query.page.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(raw) => match raw.parse::<i64>() {
            Ok(p) if (1..=1_000_000).contains(&p) => p,
            _ => return Err(ServiceError::invalid("page", "Page must be a whole number from 1.")),
        },
    };
    let scope = match actor.scope {
        Scope::Enterprise(id) => ListScope::Enterprise(id.get()),
        Scope::Aggregator(id) => ListScope::Aggregator(id.get()),
    };
    Ok(CheckedQuery { scope, enterprise, filter, page, q, status, sort })
}

/// The pools of `ids` with their members and their enterprise's count of
/// activated numbers, in the order of `ids`.
fn summaries(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<PoolSummary>, ServiceError> {
    let rows = pools::listed(conn, ids)?;
    // Members come ordered by pool id; rows in listing order: gather per pool.
    let mut by_pool: std::collections::HashMap<i64, Vec<MemberView>> = std::collections::HashMap::with_capacity(rows.len());
    for member in pools::members_of(conn, ids)? {
        by_pool.entry(member.pool_id).or_default().push(MemberView::from_row(member));
    }
    let mut listed: Vec<i64> = rows.iter().map(|r| r.pool.enterprise_id).collect();
    listed.sort_unstable();
    listed.dedup();
    let counts = numbers::activated_counts(conn, &listed)?;
    Ok(rows
        .into_iter()
        .map(|row| PoolSummary {
            id: row.pool.id,
            members: by_pool.remove(&row.pool.id).unwrap_or_default(),
            enterprise_activated: counts.iter().find(|(e, _)| *e == Some(row.pool.enterprise_id)).map(|(_, n)| *n).unwrap_or_default(),
            name: row.pool.name,
            enterprise_id: row.pool.enterprise_id,
            enterprise_name: row.enterprise_name,
            active: row.pool.active,
            version: row.pool.version,
        })
        .collect())
}

/// One page of the listing: its pools, counted and paged by the database.
pub fn list_pools(conn: &mut DbConnection, actor: &Actor, query: &ListQuery) -> Result<PoolListing, ServiceError> {
    let CheckedQuery { scope, enterprise, filter, page, q, status, sort } = check_query(conn, actor, query)?;
    let total = pools::count_matching(conn, scope, &filter)?;
    let page_ids = pools::page_of_ids(conn, scope, &filter, (page - 1) * PAGE_SIZE, PAGE_SIZE)?;
    let pools = summaries(conn, &page_ids)?;
    let enterprises = enterprise_choices(conn, actor, enterprise.as_ref())?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    Ok(PoolListing { pools, total, page, pages, enterprises, enterprise_filter: filter.enterprise_id, q, status, sort })
}

/// Pools one read of an export holds: the export streams chunk after
/// chunk. Each chunk's read skips the chunks before it (an offset), so
/// fewer, larger chunks cost less in all; 2,000 pools are about 2 MB.
pub const EXPORT_CHUNK: i64 = 2_000;

/// The pools the listing's filters match from `offset` on, in its order, at
/// most [`EXPORT_CHUNK`] of them: one chunk of an export. A chunk shorter
/// than that is the last.
pub fn export_pools(conn: &mut DbConnection, actor: &Actor, query: &ListQuery, offset: i64) -> Result<Vec<PoolSummary>, ServiceError> {
    let CheckedQuery { scope, filter, .. } = check_query(conn, actor, query)?;
    let ids = pools::page_of_ids(conn, scope, &filter, offset, EXPORT_CHUNK)?;
    summaries(conn, &ids)
}

/// The digits of a search that looks like a phone number (digits, spaces,
/// `+ - ( ) .`, at least four digits), to match members' numbers.
fn phone_digits(q: &str) -> Option<String> {
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = q.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (phone_like && digits.len() >= 4).then_some(digits)
}

#[cfg(test)]
mod phone_search_tests {
    use super::phone_digits;

    #[test]
    fn a_phone_number_in_any_format_searches_by_its_digits() {
        for q in ["+1 555-010-0101", "15550100101", "(555) 010.0101", "0101"] {
            assert!(phone_digits(q).is_some_and(|d| d.chars().all(|c| c.is_ascii_digit())), "{q}");
        }
        assert_eq!(phone_digits("+1 555-010-0101").as_deref(), Some("15550100101"));
        assert_eq!(phone_digits("Pool 03"), None, "a name with digits is a name");
        assert_eq!(phone_digits("123"), None, "too few digits to mean a number");
    }
}
