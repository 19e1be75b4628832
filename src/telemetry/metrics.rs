//! Prometheus metrics kept in memory with `prometheus-client`: requests by
//! route and status, request latency histograms by route, sends by pool and
//! outcome, and the database pool's connections (read when scraped).
//!
//! Counting a request touches only its own series: a shared read lock finds
//! it and an atomic adds to it. A series exists for each label combination,
//! so their number is bounded only because every label comes from a closed
//! set: the request middleware passes a known method or `OTHER`, a route
//! pattern or `unmatched`, and a status; sends are keyed by pool id and a
//! fixed outcome word.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SendLabels {
    pool: i64,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    sends: Family<SendLabels, Counter>,
    connections: Family<ConnectionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let sends = Family::<SendLabels, Counter>::default();
        let connections = Family::<ConnectionLabels, Gauge>::default();
        let mut registry = Registry::default();
        registry.register("wabapool_http_requests", "HTTP requests by method, route and status", requests.clone());
        registry.register("wabapool_http_request_duration_seconds", "Time to answer, by method and route", latency.clone());
        registry.register("wabapool_messages", "Messages through a pool, by outcome", sends.clone());
        registry.register("wabapool_db_connections", "Database pool connections by state", connections.clone());
        Self { registry, requests, latency, sends, connections }
    }
}

impl Metrics {
    /// One answered request; `method` is a known method or `OTHER`, `route`
    /// the matched pattern or `unmatched`.
    pub fn record_request(&self, method: &'static str, route: String, status: u16, elapsed: Duration) {
        self.latency.get_or_create(&RouteLabels { method, route: route.clone() }).observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    /// One message sent (or not) through a pool; `outcome` is a short word such as `sent` or `failed`.
    pub fn record_send(&self, pool_id: i64, outcome: &str) {
        self.sends.get_or_create(&SendLabels { pool: pool_id, outcome: outcome.to_owned() }).inc();
    }

    /// The exposition text (Prometheus text format 0.0.4); `pool` is
    /// (connections, idle connections, max size).
    pub fn render(&self, pool: (u32, u32, u32)) -> String {
        let (connections, idle, max) = pool;
        for (state, value) in [("idle", idle), ("in_use", connections.saturating_sub(idle)), ("max", max)] {
            self.connections.get_or_create(&ConnectionLabels { state }).set(i64::from(value));
        }
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status_with_latency_buckets() {
        let metrics = Metrics::default();
        metrics.record_request("GET", "/channels/whatsapp/pools".to_owned(), 200, Duration::from_millis(3));
        metrics.record_request("GET", "/channels/whatsapp/pools".to_owned(), 200, Duration::from_millis(30));
        let text = metrics.render((3, 1, 8));
        assert!(text.contains("wabapool_http_requests_total{method=\"GET\",route=\"/channels/whatsapp/pools\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("wabapool_db_connections{state=\"in_use\"} 2"));
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::default();
        metrics.record_send(7, "a\"b\\c");
        assert!(metrics.render((0, 0, 0)).contains("outcome=\"a\\\"b\\\\c\""));
    }

    #[test]
    fn every_family_says_what_it_counts_once() {
        let metrics = Metrics::default();
        metrics.record_request("GET", "/healthz".to_owned(), 200, Duration::from_millis(1));
        metrics.record_request("POST", "/login".to_owned(), 303, Duration::from_millis(2));
        metrics.record_send(7, "sent");
        metrics.record_send(8, "failed");
        let text = metrics.render((0, 0, 0));
        for name in ["wabapool_http_requests_total", "wabapool_http_request_duration_seconds", "wabapool_messages_total", "wabapool_db_connections"] {
            assert_eq!(text.matches(&format!("# HELP {name} ")).count(), 1, "{text}");
            assert_eq!(text.matches(&format!("# TYPE {name} ")).count(), 1, "{text}");
        }
        assert!(text.contains("# HELP wabapool_messages_total Messages through a pool, by outcome.\n"), "{text}");
    }
}
