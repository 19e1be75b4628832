//! User management for super admins (R1): list, create, change role,
//! disable, reset a password; and every user's own password change.
//! Super admins manage the admins and agents of their own enterprise or
//! aggregator; other super admins and themselves are out of reach.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{Actor, FieldErrors, ServiceError};
use crate::db::{DbConnection, write_transaction};
use crate::domain::password_policy;
use crate::domain::{Role, Scope};
use crate::security::password::{PasswordHasher, hash_password};
use crate::store::audit::{self, NewAuditEntry};
use crate::store::sessions;
use crate::store::users::{self, NewUser, UserRow};

fn require_super_admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role.manages_users() { Ok(()) } else { Err(ServiceError::Forbidden) }
}

fn scope_columns(actor: &Actor) -> (Option<i64>, Option<i64>) {
    match actor.scope {
        Scope::Enterprise(id) => (Some(id.get()), None),
        Scope::Aggregator(id) => (None, Some(id.get())),
    }
}

fn enterprise_of(actor: &Actor) -> Option<i64> {
    scope_columns(actor).0
}

fn entry(actor: &Actor, action: &'static str, user: &UserRow) -> NewAuditEntry {
    NewAuditEntry {
        actor_user_id: Some(actor.user_id.get()),
        actor_email: Some(actor.email.clone()),
        enterprise_id: enterprise_of(actor),
        action,
        subject_type: "user",
        subject_id: Some(user.id.to_string()),
        client_ip: actor.client_ip.clone(),
        ..NewAuditEntry::default()
    }
}

/// A user as the list shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    /// The actor may change this user (an admin or agent other than themselves).
    pub manageable: bool,
}

pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<UserView>, ServiceError> {
    require_super_admin(actor)?;
    let (enterprise, aggregator) = scope_columns(actor);
    Ok(users::in_scope(conn, enterprise, aggregator)?
        .into_iter()
        .filter_map(|u| {
            let role = Role::parse(&u.role)?;
            Some(UserView {
                id: u.id,
                manageable: u.id != actor.user_id.get() && role != Role::SuperAdmin,
                email: u.email,
                role,
                disabled: u.disabled,
            })
        })
        .collect())
}

/// A user one of the changes below was made to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedUser {
    pub id: i64,
    pub email: String,
}

impl From<UserRow> for ChangedUser {
    fn from(user: UserRow) -> Self {
        Self { id: user.id, email: user.email }
    }
}

/// The user `id`, if the actor may manage them; otherwise NotFound (R2).
fn manageable(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<UserRow, ServiceError> {
    require_super_admin(actor)?;
    let user = users::find(conn, id)?.ok_or(ServiceError::NotFound)?;
    let (enterprise, aggregator) = scope_columns(actor);
    let same_scope = (enterprise.is_some() && user.enterprise_id == enterprise) || (aggregator.is_some() && user.aggregator_id == aggregator);
    if !same_scope {
        return Err(ServiceError::NotFound);
    }
    if user.id == actor.user_id.get() || user.role == Role::SuperAdmin.as_str() {
        return Err(ServiceError::Forbidden);
    }
    Ok(user)
}

fn parse_role(raw: &str, errors: &mut FieldErrors) -> Option<Role> {
    match Role::parse(raw.trim()) {
        Some(role @ (Role::Admin | Role::Agent)) => Some(role),
        _ => {
            errors.add("role", "Choose Admin or Agent.");
            None
        }
    }
}

fn parse_email(raw: &str, errors: &mut FieldErrors) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Some(email)
    } else {
        errors.add("email", "Enter an email address like name@example.com.");
        None
    }
}

/// The answer for an email some account already uses, in any tenant.
pub const EMAIL_UNUSABLE: &str = "That email cannot be used; choose another.";

/// Creates an admin or agent in the actor's own enterprise or aggregator.
pub fn create(conn: &mut DbConnection, actor: &Actor, email: &str, role: &str, password: &SecretString) -> Result<i64, ServiceError> {
    require_super_admin(actor)?;
    let mut errors = FieldErrors::default();
    let email = parse_email(email, &mut errors);
    let role = parse_role(role, &mut errors);
    if let Err(problem) = password_policy::check(password.expose_secret(), email.as_deref().unwrap_or_default()) {
        errors.add("password", problem.to_string());
    }
    errors.into_result()?;
    let (Some(email), Some(role)) = (email, role) else { return Err(ServiceError::invalid("email", "Enter an email address.")) };
    let hash = hash_password(password)?;
    write_transaction(conn, |conn| {
        // One answer whether the email is taken here or in another tenant,
        // so creating users never tells whose addresses exist elsewhere.
        if users::find_by_email(conn, &email)?.is_some() {
            return Err(ServiceError::invalid("email", EMAIL_UNUSABLE));
        }
        let (enterprise_id, aggregator_id) = scope_columns(actor);
        let id = users::insert(conn, &NewUser { email: &email, password_hash: &hash, role: role.as_str(), enterprise_id, aggregator_id })?;
        let user = users::find(conn, id)?.ok_or(ServiceError::NotFound)?;
        let mut audit_entry = entry(actor, "user.create", &user);
        audit_entry.after = Some(json!({ "email": email, "role": role.as_str() }));
        audit::record(conn, &audit_entry)?;
        Ok(id)
    })
}

pub fn change_role(conn: &mut DbConnection, actor: &Actor, id: i64, role: &str) -> Result<ChangedUser, ServiceError> {
    write_transaction(conn, |conn| {
        let user = manageable(conn, actor, id)?;
        let mut errors = FieldErrors::default();
        let role = parse_role(role, &mut errors);
        errors.into_result()?;
        let Some(role) = role else { return Err(ServiceError::invalid("role", "Choose Admin or Agent.")) };
        if user.role != role.as_str() {
            users::set_role(conn, user.id, role.as_str())?;
            let mut audit_entry = entry(actor, "user.role_change", &user);
            audit_entry.before = Some(json!({ "role": user.role }));
            audit_entry.after = Some(json!({ "role": role.as_str() }));
            audit::record(conn, &audit_entry)?;
        }
        Ok(user.into())
    })
}

/// Disables (or enables) a user: every session of theirs ends at once, on every instance.
pub fn set_disabled(conn: &mut DbConnection, actor: &Actor, id: i64, disabled: bool) -> Result<ChangedUser, ServiceError> {
    write_transaction(conn, |conn| {
        let user = manageable(conn, actor, id)?;
        if user.disabled != disabled {
            users::set_disabled(conn, user.id, disabled)?;
            sessions::end_for_user(conn, user.id, None)?;
            let mut audit_entry = entry(actor, if disabled { "user.disable" } else { "user.enable" }, &user);
            audit_entry.before = Some(json!({ "disabled": user.disabled }));
            audit_entry.after = Some(json!({ "disabled": disabled }));
            audit::record(conn, &audit_entry)?;
        }
        Ok(user.into())
    })
}

/// Sets a new password for a user (they are signed out everywhere).
pub fn reset_password(conn: &mut DbConnection, actor: &Actor, id: i64, password: &SecretString) -> Result<ChangedUser, ServiceError> {
    let user = manageable(conn, actor, id)?;
    if let Err(problem) = password_policy::check(password.expose_secret(), &user.email) {
        return Err(ServiceError::invalid("password", problem.to_string()));
    }
    let hash = hash_password(password)?;
    write_transaction(conn, |conn| {
        users::set_password_hash(conn, user.id, &hash)?;
        sessions::end_for_user(conn, user.id, None)?;
        audit::record(conn, &entry(actor, "user.password_reset", &user))?;
        Ok(ChangedUser::from(user.clone()))
    })
}

/// A user changes their own password; their other sessions end. Returns the
/// new session epoch, so the current session can carry on.
pub fn change_own_password(
    conn: &mut DbConnection,
    hasher: &PasswordHasher,
    actor: &Actor,
    current: &SecretString,
    new: &SecretString,
    this_session: Option<&str>,
) -> Result<i64, ServiceError> {
    let user = users::find(conn, actor.user_id.get())?.ok_or(ServiceError::NotFound)?;
    let mut errors = FieldErrors::default();
    if !hasher.verify_blocking(Some(&user.password_hash), current) {
        errors.add("current_password", "That is not your current password.");
    }
    if let Err(problem) = password_policy::check(new.expose_secret(), &user.email) {
        errors.add("new_password", problem.to_string());
    }
    errors.into_result()?;
    let hash = hash_password(new)?;
    write_transaction(conn, |conn| {
        let epoch = users::set_password_hash(conn, user.id, &hash)?;
        sessions::end_for_user(conn, user.id, this_session)?;
        audit::record(conn, &entry(actor, "user.password_change", &user))?;
        Ok(epoch)
    })
}
