//! Use cases shared by the portal and the API: each checks permission,
//! applies the domain rules, writes in one transaction and audits.

pub mod access;
pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod caches;
pub mod demo_receiver;
pub mod events;
pub mod numbers;
pub mod overview;
pub mod pools;
pub mod routing;
pub mod routing_settings;
pub mod sending;
pub mod tenants;
pub mod token_keys;
pub mod users;
pub mod webhooks;

use crate::db::{DbConnection, DbPool};
use crate::domain::{Role, Scope, UserId};

/// Where a use case that also talks to Meta runs its blocking database
/// work, away from the async workers: the handlers' shared state, or the
/// pool itself for the background sync. The Graph calls happen between
/// two pieces of such work, outside any transaction.
pub trait DatabaseRunner: Sync {
    /// Runs `work` (one service call, one transaction) on a blocking thread.
    fn run<T, F>(&self, work: F) -> impl Future<Output = Result<T, ServiceError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ServiceError> + Send + 'static;

    /// Runs `work` that writes where writes are cheapest; by default like [`Self::run`].
    fn write<T, F>(&self, work: F) -> impl Future<Output = Result<T, ServiceError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ServiceError> + Send + 'static,
    {
        self.run(work)
    }
}

/// The pool alone, as the background sync uses it: each piece of work on
/// tokio's blocking pool.
impl DatabaseRunner for DbPool {
    fn run<T, F>(&self, work: F) -> impl Future<Output = Result<T, ServiceError>> + Send
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ServiceError> + Send + 'static,
    {
        let db = self.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = db.get().map_err(|cause| crate::db::DbError::Unavailable(cause.into()))?;
                work(&mut conn)
            })
            .await
            .map_err(|cause| ServiceError::Internal(cause.into()))?
        }
    }
}

/// The signed-in user on whose behalf a service acts.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub scope: Scope,
    pub client_ip: Option<String>,
}

/// Messages for the fields of a form, in the order found. A field is named
/// as its input is (`name`, or `priority_12` for one of a list's inputs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(std::borrow::Cow<'static, str>, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<std::borrow::Cow<'static, str>>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message for a field, shown beside it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    pub fn all(&self) -> &[(std::borrow::Cow<'static, str>, String)] {
        &self.0
    }

    pub fn into_result(self) -> Result<(), ServiceError> {
        if self.is_empty() { Ok(()) } else { Err(ServiceError::Invalid(self)) }
    }

    /// The messages of `validator`'s errors in the order of `fields`, each
    /// field's in the order of its rules; an error on a field outside that
    /// list (a struct-level rule) comes last.
    pub fn from_validation(fields: &[&'static str], found: &validator::ValidationErrors) -> Self {
        let by_field = found.field_errors();
        let mut others: Vec<&'static str> = by_field
            .keys()
            .filter_map(|name| match name {
                std::borrow::Cow::Borrowed(name) => Some(*name),
                std::borrow::Cow::Owned(_) => None,
            })
            .filter(|name| !fields.contains(name))
            .collect();
        others.sort_unstable();
        let mut errors = Self::default();
        for field in fields.iter().chain(&others) {
            for error in by_field.get(*field).into_iter().flat_map(|list| list.iter()) {
                errors.add(*field, error.message.as_deref().unwrap_or("Check this field."));
            }
        }
        errors
    }
}

/// Why a use case did not happen. Each maps to one response at the edge.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Unknown, or another tenant's: the same answer, so existence is never revealed (R2).
    #[error("not found")]
    NotFound,
    /// The role may not do this (R1).
    #[error("forbidden")]
    Forbidden,
    /// The input breaks a rule; nothing was written.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The record changed since the form was loaded (R9).
    #[error("stale version")]
    Stale,
    /// A stored Meta access token cannot be opened with the configured
    /// keys (sealed under a key this server does not have, or damaged):
    /// only reconnecting the WABA with a new token helps.
    #[error("the stored access token (sealed under key {key_id}) cannot be opened: {cause}")]
    TokenUnreadable { key_id: String, cause: crate::security::secrets::SecretError },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    /// The database could not take the work (see [`crate::db::DbError`]).
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    /// Whether the database could not take the work (gone, restarting,
    /// locked past its timeout), so the same work may succeed later.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            Self::Db(crate::db::DbError::Unavailable(_))
                | Self::Database(
                    Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _)
                        | Error::BrokenTransactionManager
                )
        )
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Self::Invalid(errors)
    }
}
