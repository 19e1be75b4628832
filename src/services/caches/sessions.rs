//! Signed-in sessions, kept in memory while nothing a session is checked
//! against has changed.
//!
//! Every signed-in request checks that its session's row is live, that its
//! user still exists, is enabled and is of the session's epoch, and shows
//! the user's organisation: three rows read on every page. Each kept
//! session carries the `session_stamp` it was read under; triggers move the
//! stamp with every change to those rows (a session ended, a user's role,
//! disabled flag or epoch, an organisation renamed; see `store::stamps`),
//! whichever instance or process writes, so a request reads the stamp (one
//! row) and trusts the kept session only while the two agree. Signing out,
//! disabling a user, ending their sessions or changing their role therefore
//! takes effect on the next request everywhere. Creating a session and
//! writing its `last_seen_at` leave the stamp alone.

use chrono::NaiveDateTime;

use super::stamped::Stamped;

/// Sessions kept at most; a portal has far fewer signed in at once.
const CAPACITY: usize = 4096;

/// A session as read under one stamp: its user `U` (the service's type, so
/// this module needs none of the service that uses it) with the session
/// epoch they had then, when it was created and when it was last known to
/// be used.
#[derive(Debug, Clone)]
pub struct KeptSession<U> {
    pub user_id: i64,
    pub epoch: i64,
    pub user: U,
    pub created_at: NaiveDateTime,
    pub seen_at: NaiveDateTime,
}

/// The signed-in sessions of this instance, by session id.
#[derive(Debug)]
pub struct SessionCache<U> {
    sessions: Stamped<String, KeptSession<U>, CAPACITY>,
}

impl<U> Default for SessionCache<U> {
    fn default() -> Self {
        Self { sessions: Stamped::default() }
    }
}

impl<U: Clone> SessionCache<U> {
    /// What is kept of session `id` under `stamp`; None when it must be read.
    pub fn get(&self, id: &str, stamp: i64) -> Option<KeptSession<U>> {
        self.sessions.get(id, stamp)
    }

    /// Keeps a live session read under `stamp`.
    pub fn put(&self, id: String, stamp: i64, kept: KeptSession<U>) {
        self.sessions.put(id, stamp, kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signed-in user: their organisation's name.
    #[derive(Debug, Clone)]
    struct User {
        organisation: String,
    }

    type SessionCache = super::SessionCache<User>;

    fn kept(id: i64, organisation: &str) -> KeptSession<User> {
        KeptSession {
            user_id: id,
            epoch: 0,
            user: User { organisation: organisation.to_owned() },
            created_at: NaiveDateTime::default(),
            seen_at: NaiveDateTime::default(),
        }
    }

    #[test]
    fn a_session_is_trusted_only_under_the_stamp_it_was_read_under() {
        let cache = SessionCache::default();
        cache.put("a".to_owned(), 7, kept(1, "Acme Retail"));

        assert_eq!(cache.get("a", 7).map(|k| k.user.organisation), Some("Acme Retail".to_owned()));
        assert!(cache.get("a", 8).is_none(), "a moved stamp means reading the session again");
        assert!(cache.get("b", 7).is_none(), "another session is not kept");
    }
}
