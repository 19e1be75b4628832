//! Prometheus metrics kept in memory: requests by route and status, request
//! latency histograms by route, sends by pool and outcome, and the database
//! pool's connections (read when scraped).
//!
//! The maps hold one entry per label combination, so their size is bounded
//! only because every label comes from a closed set: the request middleware
//! passes a known method or `OTHER`, a route pattern or `unmatched`, and a
//! status; sends are keyed by pool id and a fixed outcome word.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    sends: BTreeMap<(i64, String), u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut inner) = self.inner.lock() else { return };
        *inner.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let histogram = inner.latency.entry((method.to_owned(), route.to_owned())).or_default();
        histogram.count += 1;
        histogram.sum += seconds;
        for (slot, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *slot += 1;
            }
        }
    }

    /// One message sent (or not) through a pool; `outcome` is a short word such as `sent` or `failed`.
    pub fn record_send(&self, pool_id: i64, outcome: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.sends.entry((pool_id, outcome.to_owned())).or_default() += 1;
        }
    }

    /// The exposition text; `pool` is (connections, idle connections, max size).
    pub fn render(&self, pool: (u32, u32, u32)) -> String {
        let mut out = String::with_capacity(4096);
        let Ok(inner) = self.inner.lock() else { return out };
        out.push_str("# HELP wabapool_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE wabapool_http_requests_total counter\n");
        for ((method, route, status), count) in &inner.requests {
            let _ =
                writeln!(out, "wabapool_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {count}", label(method), label(route));
        }
        out.push_str("# HELP wabapool_http_request_duration_seconds Time to answer, by method and route.\n");
        out.push_str("# TYPE wabapool_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &inner.latency {
            let (m, r) = (label(method), label(route));
            for (count, bound) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(out, "wabapool_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "wabapool_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "wabapool_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\"}} {}", h.sum);
            let _ = writeln!(out, "wabapool_http_request_duration_seconds_count{{method=\"{m}\",route=\"{r}\"}} {}", h.count);
        }
        out.push_str("# HELP wabapool_messages_total Messages through a pool, by outcome.\n");
        out.push_str("# TYPE wabapool_messages_total counter\n");
        for ((pool, outcome), count) in &inner.sends {
            let _ = writeln!(out, "wabapool_messages_total{{pool=\"{pool}\",outcome=\"{}\"}} {count}", label(outcome));
        }
        let (connections, idle, max) = pool;
        out.push_str("# HELP wabapool_db_connections Database pool connections by state.\n");
        out.push_str("# TYPE wabapool_db_connections gauge\n");
        let _ = writeln!(out, "wabapool_db_connections{{state=\"idle\"}} {idle}");
        let _ = writeln!(out, "wabapool_db_connections{{state=\"in_use\"}} {}", connections.saturating_sub(idle));
        let _ = writeln!(out, "wabapool_db_connections{{state=\"max\"}} {max}");
        out
    }
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status_with_latency_buckets() {
        let metrics = Metrics::default();
        metrics.record_request("GET", "/channels/whatsapp/pools", 200, Duration::from_millis(3));
        metrics.record_request("GET", "/channels/whatsapp/pools", 200, Duration::from_millis(30));
        let text = metrics.render((3, 1, 8));
        assert!(text.contains("wabapool_http_requests_total{method=\"GET\",route=\"/channels/whatsapp/pools\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("wabapool_db_connections{state=\"in_use\"} 2"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
