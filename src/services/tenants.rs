//! Bootstrapping tenants and users from the command line (and the demo).

use secrecy::SecretString;
use serde_json::json;

use super::ServiceError;
use crate::db::{DbConnection, write_transaction};
use crate::domain::Role;
use crate::security::password::hash_password;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::{orgs, users};

fn check_org_name(name: &str) -> Result<&str, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid("name", "A name has 1 to 120 characters and no control characters."));
    }
    Ok(name)
}

pub fn create_aggregator(conn: &mut DbConnection, name: &str) -> Result<i64, ServiceError> {
    let name = check_org_name(name)?;
    write_transaction(conn, |conn| {
        if orgs::find_aggregator_by_name(conn, name)?.is_some() {
            return Err(ServiceError::invalid("name", format!("An aggregator named {name} already exists.")));
        }
        Ok(orgs::insert_aggregator(conn, name)?)
    })
}

pub fn create_enterprise(conn: &mut DbConnection, name: &str, aggregator: Option<&str>) -> Result<i64, ServiceError> {
    let name = check_org_name(name)?;
    write_transaction(conn, |conn| {
        let aggregator_id = match aggregator {
            Some(a) => Some(
                orgs::find_aggregator_by_name(conn, a.trim())?
                    .ok_or_else(|| ServiceError::invalid("aggregator", format!("There is no aggregator named {a}.")))?
                    .id,
            ),
            None => None,
        };
        if orgs::find_enterprise_by_name(conn, name)?.is_some() {
            return Err(ServiceError::invalid("name", format!("An enterprise named {name} already exists.")));
        }
        Ok(orgs::insert_enterprise(conn, name, aggregator_id)?)
    })
}

/// Where a new user belongs.
pub enum UserHome<'a> {
    Enterprise(&'a str),
    Aggregator(&'a str),
}

/// Creates a user with an argon2id hash (computed before the transaction).
pub fn create_user(conn: &mut DbConnection, email: &str, role: Role, home: UserHome<'_>, password: &SecretString) -> Result<i64, ServiceError> {
    let email = email.trim().to_lowercase();
    if email.len() > 254 || !email.contains('@') || email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ServiceError::invalid("email", "Enter a valid email address."));
    }
    let hash = hash_password(password)?;
    create_user_with_hash(conn, &email, role, home, &hash)
}

/// As `create_user`, with a hash made earlier (the demo reuses one).
pub fn create_user_with_hash(conn: &mut DbConnection, email: &str, role: Role, home: UserHome<'_>, password_hash: &str) -> Result<i64, ServiceError> {
    write_transaction(conn, |conn| {
        let (enterprise_id, aggregator_id) = match home {
            UserHome::Enterprise(name) => (
                Some(
                    orgs::find_enterprise_by_name(conn, name)?
                        .ok_or_else(|| ServiceError::invalid("enterprise", format!("There is no enterprise named {name}.")))?
                        .id,
                ),
                None,
            ),
            UserHome::Aggregator(name) => (
                None,
                Some(
                    orgs::find_aggregator_by_name(conn, name)?
                        .ok_or_else(|| ServiceError::invalid("aggregator", format!("There is no aggregator named {name}.")))?
                        .id,
                ),
            ),
        };
        if users::find_by_email(conn, email)?.is_some() {
            return Err(ServiceError::invalid("email", format!("A user with the email {email} already exists.")));
        }
        let id = users::insert(conn, &users::NewUser { email, password_hash, role: role.as_str(), enterprise_id, aggregator_id })?;
        audit::record(
            conn,
            &NewAuditEntry {
                enterprise_id,
                action: "user.create",
                subject_type: "user",
                subject_id: Some(id.to_string()),
                after: Some(json!({ "email": email, "role": role.as_str() })),
                ..NewAuditEntry::default()
            },
        )?;
        Ok(id)
    })
}
