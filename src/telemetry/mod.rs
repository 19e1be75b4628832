//! Logs and metrics: human-readable lines by default, JSON with
//! `WABAPOOL_LOG_FORMAT=json`; every line of a request carries its request
//! id; Prometheus counters and histograms at `/metrics`.

pub mod metrics;
pub mod middleware;

use tracing_subscriber::EnvFilter;

pub use metrics::Metrics;

pub fn init() {
    let filter = EnvFilter::try_from_env("WABAPOOL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let json = std::env::var("WABAPOOL_LOG_FORMAT").is_ok_and(|v| v == "json");
    let _ = if json { builder.json().with_current_span(true).with_span_list(false).try_init() } else { builder.try_init() };
}
