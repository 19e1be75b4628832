//! Signing in: a password check that costs the same for unknown emails,
//! and an audit entry for every attempt (R10). A password stored at a
//! former argon2 cost is hashed again at sign-in and stored at the current
//! one.

use super::caches::sessions as kept_sessions;
use super::{Actor, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::throttle::{self, FailureAudit};
use crate::domain::{Role, Scope, UserId};
use crate::security::password::Verified;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::login_failures;
use crate::store::orgs;
use crate::store::sessions;
use crate::store::stamps;
use crate::store::users::{self, UserRow};

/// The answer for every failed sign-in, whatever the reason.
pub const LOGIN_FAILED: &str = "That email and password do not match an active account.";

/// How long sessions last: idle and absolute limits (ASVS 7.3), held by
/// the cookie and by the session's row alike.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: std::time::Duration,
    pub absolute: std::time::Duration,
}

impl SessionPolicy {
    /// How often a used session's `last_seen_at` is written: about once a
    /// minute, and at least twice within the idle limit.
    pub fn touch_every(&self) -> chrono::Duration {
        duration(self.idle / 2).min(chrono::Duration::seconds(60))
    }

    fn idle(&self) -> chrono::Duration {
        duration(self.idle)
    }

    fn absolute(&self) -> chrono::Duration {
        duration(self.absolute)
    }
}

/// A limit as a chrono duration, at most a century, so that `now - limit` never overflows.
fn duration(d: std::time::Duration) -> chrono::Duration {
    let century = chrono::Duration::days(36_525);
    chrono::Duration::from_std(d).unwrap_or(century).min(century)
}

/// A signed-in user as the session remembers them, with the id of the
/// session's row.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: UserId,
    pub session_epoch: i64,
    pub role: Role,
    pub session_id: String,
    /// The user works for an aggregator, whose landing page is the overview.
    pub aggregator: bool,
}

/// What a session cookie names: its row, its user and the user's session
/// epoch when it was signed in.
#[derive(Debug, Clone)]
pub struct SessionKey {
    pub id: String,
    pub user_id: i64,
    pub epoch: i64,
}

/// A sign-in between its two database visits: the throttle's verdict and
/// the stored hash, read before the password is checked off the database.
pub struct LoginAttempt {
    email: String,
    since: chrono::NaiveDateTime,
    client_ip: Option<String>,
    /// The client address's failures in the window, when the address is known.
    address_failures: Option<i64>,
    allowed: bool,
    user: Option<UserRow>,
}

impl LoginAttempt {
    /// The hash to check the typed password against; none for an unknown
    /// email (the caller checks against the dummy hash, so timing tells nothing).
    pub fn stored_hash(&self) -> Option<String> {
        self.user.as_ref().map(|u| u.password_hash.clone())
    }

    /// Whether the right password signs in: the throttle allows the attempt
    /// and the account is enabled. Only then is a hash of a former cost
    /// renewed, so that the time a refused attempt takes never tells
    /// whether its password was right.
    pub fn signs_in_on_match(&self) -> bool {
        self.allowed && self.user.as_ref().is_some_and(|u| !u.disabled)
    }
}

/// First half of signing in: reads the brute-force throttle (counted per
/// account and per client address in the database, so across every
/// instance) and the account. The password is checked even when throttled,
/// so that a throttled, locked, unknown or wrong attempt looks the same.
pub fn begin_login(conn: &mut DbConnection, email: &str, client_ip: Option<String>) -> Result<LoginAttempt, ServiceError> {
    let email: String = email.trim().to_lowercase().chars().take(254).collect();
    let now = crate::store::now();
    let since = throttle::window_start(now);
    let by_account = login_failures::for_email(conn, &email, since)?;
    let by_client = match &client_ip {
        Some(ip) => Some(login_failures::for_client(conn, ip, since)?),
        None => None,
    };
    let allowed = throttle::attempt_allowed(throttle::PER_ACCOUNT, by_account.count, by_account.latest, now)
        && by_client.as_ref().is_none_or(|c| throttle::attempt_allowed(throttle::PER_ADDRESS, c.count, c.latest, now));
    let user = users::find_by_email(conn, &email)?;
    let address_failures = by_client.map(|c| c.count);
    Ok(LoginAttempt { email, since, client_ip, address_failures, allowed, user })
}

/// Second half: records the outcome of the password check (failures for
/// the throttle, an audit entry either way), stores a renewed hash, and
/// says who signed in, under a new session row (sessions past `policy`'s
/// absolute limit are dropped in the same transaction).
pub fn finish_login(
    conn: &mut DbConnection,
    attempt: LoginAttempt,
    verified: Verified,
    policy: SessionPolicy,
) -> Result<Option<SignedIn>, ServiceError> {
    let ok = attempt.signs_in_on_match() && verified.matches;
    let LoginAttempt { email, since, client_ip, address_failures, allowed, user } = attempt;
    // A burst of failures from one address is audited once, not once an attempt.
    let audit = match (ok, address_failures) {
        (false, Some(failures)) => throttle::failure_audit(failures, allowed),
        _ => FailureAudit::Each,
    };
    let after = match audit {
        FailureAudit::BurstStarts => Some(serde_json::json!({ "burst": true, "window_minutes": throttle::WINDOW_MINUTES })),
        _ => (!allowed).then(|| serde_json::json!({ "throttled": true })),
    };
    let entry = NewAuditEntry {
        actor_user_id: user.as_ref().map(|u| u.id),
        actor_email: Some(email.clone()),
        enterprise_id: user.as_ref().and_then(|u| u.enterprise_id),
        action: if ok { "login.success" } else { "login.failure" },
        subject_type: "user",
        subject_id: user.as_ref().map(|u| u.id.to_string()),
        after,
        client_ip: client_ip.clone(),
        ..NewAuditEntry::default()
    };
    let session_id = crate::security::csrf::new_token();
    let now = crate::store::now();
    write_transaction(conn, |conn| {
        if ok {
            login_failures::clear_email(conn, &email)?;
            if let Some(user) = &user {
                sessions::prune(conn, now - policy.absolute())?;
                sessions::create(conn, &session_id, user.id, now)?;
            }
            if let (Some(user), Some(renewed)) = (&user, &verified.renewed_hash) {
                // A password change in the meantime wins: its hash stays.
                users::renew_password_hash(conn, user.id, &user.password_hash, renewed)?;
            }
        } else if allowed {
            login_failures::record(conn, &email, client_ip.as_deref())?;
            login_failures::prune(conn, since)?;
        }
        if audit == FailureAudit::InBurst { Ok(()) } else { audit::record(conn, &entry) }
    })?;
    Ok(match (ok, user) {
        (true, Some(user)) => Some(SignedIn {
            user_id: UserId(user.id),
            session_epoch: user.session_epoch,
            role: Role::parse(&user.role).unwrap_or(Role::Agent),
            session_id,
            aggregator: user.aggregator_id.is_some(),
        }),
        _ => None,
    })
}

/// The signed-in sessions of this instance, by session id.
pub type SessionCache = kept_sessions::SessionCache<SessionUser>;
/// A signed-in session as read under one stamp.
pub type KeptSession = kept_sessions::KeptSession<SessionUser>;

/// The header's view of a user: who they are and for which organisation.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub actor: Actor,
    pub organisation: String,
}

/// What checking a session found.
#[derive(Debug, Clone)]
pub enum SessionCheck {
    /// The session is live and its user enabled and of the session's epoch.
    SignedIn(SessionUser),
    /// The session ended, timed out, or its user is gone, disabled or of a newer epoch.
    Ended,
    /// The session is live as far as is known, but its `last_seen_at` is
    /// due to be written, which the caller did not allow.
    TouchDue,
}

/// Loads the user a session names, if the session's row is live (not
/// ended, within the idle and absolute limits), the user still exists, is
/// enabled, and the session is of their current epoch: from `cache` while
/// nothing a session is checked against has changed (see
/// [`super::caches::sessions`]).
pub fn session_user(
    conn: &mut DbConnection,
    cache: &SessionCache,
    key: &SessionKey,
    policy: SessionPolicy,
) -> Result<Option<SessionUser>, ServiceError> {
    let stamp = stamps::session(conn)?;
    Ok(match session_user_at(conn, cache, key, policy, stamp, true)? {
        SessionCheck::SignedIn(user) => Some(user),
        SessionCheck::Ended | SessionCheck::TouchDue => None,
    })
}

/// [`session_user`] under `stamp`, the session stamp just read. A live
/// session's `last_seen_at` is written when [`SessionPolicy::touch_every`]
/// has passed since it was last known, and only if `may_write`; that write
/// is conditional, so the database, not this instance's memory, decides
/// whether the session is still live.
pub fn session_user_at(
    conn: &mut DbConnection,
    cache: &SessionCache,
    key: &SessionKey,
    policy: SessionPolicy,
    stamp: i64,
    may_write: bool,
) -> Result<SessionCheck, ServiceError> {
    let kept = match cache.get(&key.id, stamp) {
        Some(kept) => kept,
        None => match read_session(conn, key)? {
            Some(kept) => {
                // Kept under the stamp read before the rows, so never newer than them.
                cache.put(key.id.clone(), stamp, kept.clone());
                kept
            }
            None => return Ok(SessionCheck::Ended),
        },
    };
    let now = crate::store::now();
    if kept.user_id != key.user_id || kept.epoch != key.epoch || now - kept.created_at > policy.absolute() {
        return Ok(SessionCheck::Ended);
    }
    if now - kept.seen_at >= policy.touch_every() {
        if !may_write {
            return Ok(SessionCheck::TouchDue);
        }
        let live = write_transaction(conn, |conn| sessions::touch(conn, &key.id, now, now - policy.idle(), now - policy.absolute()))?;
        if !live {
            return Ok(SessionCheck::Ended);
        }
        cache.put(key.id.clone(), stamp, KeptSession { seen_at: now, ..kept.clone() });
    }
    Ok(SessionCheck::SignedIn(kept.user))
}

/// A session's row and its user, if the row is not ended and the user is enabled.
fn read_session(conn: &mut DbConnection, key: &SessionKey) -> Result<Option<KeptSession>, ServiceError> {
    let Some(row) = sessions::find(conn, &key.id)? else { return Ok(None) };
    if row.ended_at.is_some() || row.user_id != key.user_id {
        return Ok(None);
    }
    let Some(user) = users::find(conn, row.user_id)? else { return Ok(None) };
    if user.disabled {
        return Ok(None);
    }
    let Some(actor) = actor_of(&user) else { return Ok(None) };
    let organisation = match actor.scope {
        Scope::Enterprise(id) => orgs::find_enterprise(conn, id.get())?.map(|e| e.name),
        Scope::Aggregator(id) => orgs::find_aggregator(conn, id.get())?.map(|a| a.name),
    }
    .unwrap_or_default();
    Ok(Some(KeptSession {
        user_id: user.id,
        epoch: user.session_epoch,
        user: SessionUser { actor, organisation },
        created_at: row.created_at,
        seen_at: row.last_seen_at,
    }))
}

/// Ends one session: signing out. Its copies are refused on every
/// instance from the next request (the end moves the session stamp).
pub fn end_session(conn: &mut DbConnection, session_id: &str) -> Result<(), ServiceError> {
    write_transaction(conn, |conn| Ok(sessions::end(conn, session_id)?))
}

fn actor_of(user: &UserRow) -> Option<Actor> {
    Some(Actor {
        user_id: UserId(user.id),
        email: user.email.clone(),
        role: Role::parse(&user.role)?,
        scope: Scope::from_columns(user.enterprise_id, user.aggregator_id)?,
        client_ip: None,
    })
}

/// Ends every session of the actor, on every instance (R10: audited).
pub fn end_every_session(conn: &mut DbConnection, actor: &Actor) -> Result<(), ServiceError> {
    write_transaction(conn, |conn| {
        users::bump_session_epoch(conn, actor.user_id.get())?;
        sessions::end_for_user(conn, actor.user_id.get(), None)?;
        audit::record(
            conn,
            &NewAuditEntry {
                actor_user_id: Some(actor.user_id.get()),
                actor_email: Some(actor.email.clone()),
                enterprise_id: match actor.scope {
                    Scope::Enterprise(id) => Some(id.get()),
                    Scope::Aggregator(_) => None,
                },
                action: "user.sessions_ended",
                subject_type: "user",
                subject_id: Some(actor.user_id.to_string()),
                client_ip: actor.client_ip.clone(),
                ..NewAuditEntry::default()
            },
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(allowed: bool, user: Option<bool>) -> LoginAttempt {
        LoginAttempt {
            email: "admin@acme.example".to_owned(),
            since: chrono::NaiveDateTime::default(),
            client_ip: None,
            address_failures: None,
            allowed,
            user: user.map(|disabled| UserRow {
                id: 1,
                email: "admin@acme.example".to_owned(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
                role: "admin".to_owned(),
                enterprise_id: Some(1),
                aggregator_id: None,
                disabled,
                session_epoch: 0,
            }),
        }
    }

    #[test]
    fn only_an_allowed_attempt_on_an_enabled_account_signs_in_on_a_match_and_so_renews() {
        assert!(attempt(true, Some(false)).signs_in_on_match());
        assert!(!attempt(false, Some(false)).signs_in_on_match(), "throttled");
        assert!(!attempt(true, Some(true)).signs_in_on_match(), "disabled");
        assert!(!attempt(true, None).signs_in_on_match(), "unknown email");
    }
}
