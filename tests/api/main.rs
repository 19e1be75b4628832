//! The integration suite: the real app over HTTP, one fresh database per test.

mod administration;
mod auth;
mod bad_input;
mod cli;
mod concurrency;
mod failures;
mod headers;
mod helpers;
mod hostile_input;
mod htmx;
mod idempotency;
mod instances;
mod listing;
mod listing_changes;
mod matrix;
mod numbers;
mod pool_rules;
mod pools;
mod roles;
mod routing;
mod schema;
mod session_changes;
mod tenancy;
mod throttle;
mod webhooks;
