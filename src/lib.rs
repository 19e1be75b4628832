//! wabapool: WhatsApp Business number pools. An admin portal where
//! enterprise and aggregator admins group a WABA's numbers into pools.
//! See docs/ARCHITECTURE.md for the map.

pub mod api;
pub mod app_state;
pub mod background;
pub mod bench_data;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
#[cfg(test)]
mod layering;
pub mod meta;
pub mod routing;
pub mod security;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod worker_placement;
