//! Signed-in users, kept in memory while nothing a session is checked
//! against has changed.
//!
//! Every signed-in request checks that its user still exists, is enabled
//! and is of the session's epoch, and shows the user's organisation: two
//! rows read on every page. Each kept user carries the `session_stamp` it
//! was read under; triggers move the stamp with every change to those rows
//! (see `store::stamps`), whichever instance or process writes, so a
//! request reads the stamp (one row) and trusts the kept user only while
//! the two agree. Disabling a user, ending their sessions or changing
//! their role therefore takes effect on the next request everywhere.

use super::auth::SessionUser;
use super::stamped::Stamped;

/// Users kept at most; a portal has far fewer signed in at once.
const CAPACITY: usize = 4096;

/// A user as read under one stamp, with the session epoch they had then.
#[derive(Debug, Clone)]
struct Kept {
    epoch: i64,
    user: SessionUser,
}

/// What the cache knows of a session's user under the current stamp.
#[derive(Debug, Clone)]
pub enum KeptSession {
    /// The user, enabled, and of the session's epoch.
    SignedIn(SessionUser),
    /// The user's sessions of that epoch were ended.
    Ended,
}

/// The signed-in users of this instance, by user id.
#[derive(Debug, Default)]
pub struct SessionCache {
    users: Stamped<i64, Kept, CAPACITY>,
}

impl SessionCache {
    /// What is kept of `user_id` under `stamp`, for a session of `epoch`;
    /// None when the user must be read.
    pub fn get(&self, user_id: i64, epoch: i64, stamp: i64) -> Option<KeptSession> {
        let kept = self.users.get(&user_id, stamp)?;
        Some(if kept.epoch == epoch { KeptSession::SignedIn(kept.user) } else { KeptSession::Ended })
    }

    /// Keeps an enabled user read under `stamp`, with their current epoch.
    pub fn put(&self, user_id: i64, stamp: i64, epoch: i64, user: SessionUser) {
        self.users.put(user_id, stamp, Kept { epoch, user });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EnterpriseId, Role, Scope, UserId};
    use crate::services::Actor;

    fn user(id: i64, organisation: &str) -> SessionUser {
        SessionUser {
            actor: Actor {
                user_id: UserId(id),
                email: format!("user{id}@example.test"),
                role: Role::Admin,
                scope: Scope::Enterprise(EnterpriseId(1)),
                client_ip: None,
            },
            organisation: organisation.to_owned(),
        }
    }

    fn organisation(kept: Option<KeptSession>) -> Option<String> {
        match kept {
            Some(KeptSession::SignedIn(user)) => Some(user.organisation),
            Some(KeptSession::Ended) => Some("ended".to_owned()),
            None => None,
        }
    }

    #[test]
    fn a_user_is_trusted_only_under_the_stamp_they_were_read_under() {
        let cache = SessionCache::default();
        cache.put(1, 7, 0, user(1, "Acme Retail"));

        assert_eq!(organisation(cache.get(1, 0, 7)), Some("Acme Retail".to_owned()));
        assert_eq!(organisation(cache.get(1, 0, 8)), None, "a moved stamp means reading the user again");
        assert_eq!(organisation(cache.get(2, 0, 7)), None, "another user is not kept");
    }

    #[test]
    fn a_session_of_another_epoch_is_ended_without_reading_the_user() {
        let cache = SessionCache::default();
        cache.put(1, 7, 3, user(1, "Acme Retail"));

        assert!(matches!(cache.get(1, 2, 7), Some(KeptSession::Ended)));
        assert!(matches!(cache.get(1, 3, 7), Some(KeptSession::SignedIn(_))));
    }
}
