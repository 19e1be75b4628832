//! The integration suite: the real app over HTTP, one fresh database per test.

mod administration;
mod auth;
mod bad_input;
mod big_tenants;
mod cli;
#[path = "../common/mod.rs"]
mod common;
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
mod metrics;
mod numbers;
mod pool_rules;
mod pools;
mod portal_polish;
mod readiness;
mod roles;
mod routing;
mod schema;
mod session_changes;
mod session_end;
mod slow_clients;
mod small_leaks;
mod tenancy;
mod throttle;
mod transport_security;
mod webhook_order;
mod webhooks;
