//! Diesel queries, one file per aggregate. Functions here return
//! `QueryResult` and know nothing of permissions or HTTP: services decide.
//!
//! Single-row lookups use `get_result`, not `first`: `first` binds its
//! `LIMIT 1` as a parameter, and SQLite (3.47 and later) re-prepares a
//! statement whenever a bound LIMIT is bound again, so a cached `first`
//! query was prepared anew on every call.

pub mod api_keys;
pub mod audit;
pub mod events;
pub mod idempotency;
pub mod login_failures;
pub mod numbers;
pub mod orgs;
pub mod overview;
pub mod pools;
pub mod prepared;
pub mod routing;
pub mod sessions;
pub mod stamps;
pub mod users;
pub mod values;
pub mod wabas;
pub mod webhook_deliveries;

/// The current time as stored: UTC without a zone, cut to the microsecond
/// so that a value reads back equal on PostgreSQL and SQLite.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now).naive_utc()
}

/// Escapes LIKE wildcards in user input; used with `ESCAPE '\'`.
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_in_input_are_escaped() {
        assert_eq!(super::like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }

    /// `first` binds a LIMIT, which SQLite re-prepares on every call; a
    /// lookup here reads one row with `get_result` instead.
    #[test]
    fn no_lookup_binds_a_limit() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
        let mut offenders = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains(&[".", "first(conn)"].concat()) {
                offenders.push(path.display().to_string());
            }
        }
        assert!(offenders.is_empty(), "use get_result for single-row lookups: {offenders:?}");
    }
}
