//! The pool listing, kept in memory while nothing it shows has changed.
//!
//! Each cached listing carries the `listing_stamp` it was read under.
//! Triggers move the stamp with every change to what a listing shows, in
//! the transaction that makes the change, whichever instance or process
//! writes. A request reads the stamp (one row) and is served the cached
//! listing only while the two agree; otherwise the listing is read again.
//! The stamp is read before the listing, so a listing is never older than
//! the stamp it is kept under.
//!
//! A cached listing also keeps its markup once a page has drawn it: the
//! same listing always draws the same table.

use std::sync::{Arc, OnceLock};

use super::stamped::Stamped;
use crate::domain::Scope;

/// Listings kept at most: each is a page of up to 50 pools.
const CAPACITY: usize = 64;

/// Whose listing, with which query `Q`: users of one scope see the same
/// listing. The query's type is the service's, so this module needs none
/// of the service that uses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListingKey<Q> {
    scope: Scope,
    query: Q,
}

impl<Q: Clone> ListingKey<Q> {
    pub fn new(scope: Scope, query: &Q) -> Self {
        Self { scope, query: query.clone() }
    }
}

/// A listing `L` and, once drawn, its markup.
#[derive(Debug, Default)]
pub struct CachedListing<L> {
    pub listing: L,
    drawn: OnceLock<Arc<str>>,
}

impl<L> CachedListing<L> {
    pub fn new(listing: L) -> Self {
        Self { listing, drawn: OnceLock::new() }
    }

    /// The markup `draw` makes of this listing, drawn on first use. A failed
    /// draw is not kept.
    pub fn drawn<E>(&self, draw: impl FnOnce(&L) -> Result<String, E>) -> Result<Arc<str>, E> {
        if let Some(markup) = self.drawn.get() {
            return Ok(markup.clone());
        }
        let markup: Arc<str> = draw(&self.listing)?.into();
        Ok(self.drawn.get_or_init(|| markup).clone())
    }
}

/// The listings of this instance, each under the stamp it was read under.
pub type ListingCache<Q, L> = Stamped<ListingKey<Q>, Arc<CachedListing<L>>, CAPACITY>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EnterpriseId;

    /// A query: the page asked for.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct Query {
        page: String,
    }

    /// A listing: how many pools it counts.
    #[derive(Debug, Default)]
    struct Listing {
        total: i64,
    }

    type ListingCache = super::ListingCache<Query, Listing>;

    fn listing(total: i64) -> Arc<CachedListing<Listing>> {
        Arc::new(CachedListing::new(Listing { total }))
    }

    fn key(enterprise: i64, page: &str) -> ListingKey<Query> {
        ListingKey::new(Scope::Enterprise(EnterpriseId(enterprise)), &Query { page: page.to_owned() })
    }

    #[test]
    fn a_listing_is_served_only_under_the_stamp_it_was_read_under() {
        let cache = ListingCache::default();
        cache.put(key(1, "1"), 7, listing(3));

        assert_eq!(cache.get(&key(1, "1"), 7).map(|l| l.listing.total), Some(3));
        assert!(cache.get(&key(1, "1"), 8).is_none(), "a newer stamp misses");
        assert!(cache.get(&key(1, "2"), 7).is_none(), "another page misses");
        assert!(cache.get(&key(2, "1"), 7).is_none(), "another tenant misses");
    }

    #[test]
    fn a_listing_is_drawn_once_and_a_failed_draw_is_tried_again() {
        let cached = listing(2);
        let mut draws = 0;

        let failed: Result<Arc<str>, &str> = cached.drawn(|_| {
            draws += 1;
            Err("no")
        });
        let first = cached.drawn::<&str>(|l| {
            draws += 1;
            Ok(format!("{} pools", l.total))
        });
        let again = cached.drawn::<&str>(|_| {
            draws += 1;
            Ok("drawn again".to_owned())
        });

        assert!(failed.is_err());
        assert_eq!(first.as_deref(), Ok("2 pools"));
        assert_eq!(again.as_deref(), Ok("2 pools"));
        assert_eq!(draws, 2);
    }

    #[test]
    fn an_older_read_never_replaces_a_newer_listing() {
        let cache = ListingCache::default();
        cache.put(key(1, "1"), 9, listing(4));
        cache.put(key(1, "1"), 8, listing(3));

        assert_eq!(cache.get(&key(1, "1"), 9).map(|l| l.listing.total), Some(4));
    }

    #[test]
    fn a_full_cache_drops_older_stamps_first_and_never_grows_past_its_capacity() {
        let cache = ListingCache::default();
        for page in 0..CAPACITY {
            cache.put(key(1, &page.to_string()), 1, listing(1));
        }
        cache.put(key(1, "new"), 2, listing(2));
        assert_eq!(cache.len(), 1, "the stale listings went");

        for page in 0..(CAPACITY * 2) {
            cache.put(key(2, &page.to_string()), 2, listing(1));
            assert!(cache.len() <= CAPACITY);
        }
    }
}
