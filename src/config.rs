//! Typed settings: defaults, then an optional `wabapool.toml`, then
//! `WABAPOOL_*` variables, then command-line flags. Secrets are held in
//! `secrecy` types and never printed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ipnet::IpNet;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Deserialize;

use crate::db::{Backend, DatabaseUrl};
use crate::security::secrets::SecretKeys;
use std::time::Duration;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_FILE: &str = "wabapool.sqlite3";
/// actix-session signs and encrypts with a 64-byte key.
const SESSION_KEY_BYTES: usize = 64;
/// AES-256-GCM keys are 32 bytes.
const ENCRYPTION_KEY_BYTES: usize = 32;
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";
/// The shortest background sync interval: keeps each WABA far inside
/// Meta's budget of about 200 management calls an hour.
pub const MIN_SYNC_INTERVAL: Duration = Duration::from_secs(300);
/// Browsers and proxies send a request's headers at once; five seconds
/// (actix-web's own default) spares slow mobile links.
const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 5;
/// The largest body taken (a 1 MiB webhook) arrives in well under a second
/// from Meta or from a proxy, which buffers bodies before passing them on.
const DEFAULT_BODY_TIMEOUT_SECS: u64 = 5;
/// Well under the usual open-files limits of a service (`LimitNOFILE`
/// 4096 and above, less the database pool, files and logs), far above the
/// few hundred connections a proxy keeps open.
const DEFAULT_MAX_CONNECTIONS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub session_key: SecretSlice<u8>,
    /// Mark cookies Secure (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Show the demo banner.
    pub demo: bool,
    pub db_pool_size: u32,
    pub log_format: LogFormat,
    /// Graph API base URL; None: Meta's own (or, in demo mode, the in-process sandbox).
    pub meta_graph_url: Option<String>,
    pub meta_graph_version: String,
    /// Every Graph API call gives up after this long.
    pub meta_timeout: Duration,
    /// Seals Meta access tokens at rest (R12).
    pub secret_keys: SecretKeys,
    /// How often the background sync refreshes each WABA.
    pub sync_interval: Duration,
    /// Proxies whose X-Forwarded-For is believed (nobody else's is).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Meta's app secret: webhook signatures are HMAC-SHA256 under it.
    pub meta_app_secret: SecretString,
    /// The token Meta echoes when verifying the webhook URL.
    pub meta_verify_token: SecretString,
    /// Webhook bodies larger than this are refused.
    pub webhook_max_bytes: usize,
    /// A session unused this long is signed out.
    pub session_idle: Duration,
    /// A session this old is signed out, however busy.
    pub session_absolute: Duration,
    /// Keep each HTTP worker on a core of its own (`cores`).
    pub pin_workers: bool,
    /// Client addresses and networks `/metrics` is served to; others get 404.
    pub metrics_allow: Vec<IpNet>,
    /// A request's headers must arrive within this long of its connection
    /// (or of the previous response); a connection idle longer is closed.
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this long of its headers.
    pub body_timeout: Duration,
    /// Connections held open at once by the instance; more wait in the
    /// listen queue until one closes.
    pub max_connections: usize,
    /// Event endpoints may be on loopback and private addresses, over plain
    /// http (`WABAPOOL_ALLOW_PRIVATE_EVENT_URLS=true`; set by `demo` and tests).
    pub allow_private_event_urls: bool,
    /// How long an event endpoint has to answer (10 s; shorter in tests).
    pub event_timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("session_key", &"[redacted]")
            .field("secure_cookies", &self.secure_cookies)
            .field("demo", &self.demo)
            .finish()
    }
}

/// A database URL with any password removed, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The keys `wabapool.toml` may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    secure_cookies: Option<bool>,
    db_pool_size: Option<u32>,
    log_format: Option<String>,
    meta_graph_url: Option<String>,
    meta_graph_version: Option<String>,
    meta_timeout_ms: Option<u64>,
    sync_interval_secs: Option<u64>,
    pin_workers: Option<bool>,
    metrics_allow: Option<Vec<String>>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
}

/// What the command line may override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub demo: bool,
    /// The command opens no secrets and serves nothing (migrate, user and
    /// org commands): missing keys are random, no key file is written.
    pub keys_unused: bool,
}

impl Settings {
    /// Reads the layers in order. A missing session key or encryption key
    /// is generated once into the data directory (mode 0600), in demo mode
    /// too, so that a restart keeps people signed in and stored tokens
    /// readable. Demo mode makes up the Meta app secret and verify token.
    pub fn load(overrides: Overrides) -> anyhow::Result<Self> {
        let file = read_file_settings(Path::new(&std::env::var("WABAPOOL_CONFIG").unwrap_or_else(|_| "wabapool.toml".to_owned())))?;
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        let data_dir = env("WABAPOOL_DATA_DIR").map(PathBuf::from).or(file.data_dir).unwrap_or_else(|| PathBuf::from("data"));
        let bind = overrides.bind.or_else(|| env("WABAPOOL_BIND")).or(file.bind).unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let database_url = overrides
            .database_url
            .or_else(|| env("DATABASE_URL"))
            .or_else(|| env("WABAPOOL_DATABASE_URL"))
            .or(file.database_url)
            .unwrap_or_else(|| data_dir.join(DEFAULT_DATABASE_FILE).to_string_lossy().into_owned());
        let secure_cookies = match env("WABAPOOL_SECURE_COOKIES") {
            Some(v) => matches!(v.as_str(), "1" | "true" | "yes"),
            None => file.secure_cookies.unwrap_or(false),
        };
        let pin_workers = match env("WABAPOOL_PIN_WORKERS") {
            Some(v) => !matches!(v.as_str(), "0" | "false" | "no"),
            None => file.pin_workers.unwrap_or(true),
        };
        let db_pool_size =
            env("WABAPOOL_DB_POOL_SIZE").and_then(|v| v.parse().ok()).or(file.db_pool_size).unwrap_or_else(|| default_pool_size(&database_url));
        let log_format = match env("WABAPOOL_LOG_FORMAT").or(file.log_format).as_deref() {
            Some("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let session_key = match env("WABAPOOL_SESSION_KEY") {
            Some(encoded) => decode_key(&encoded, SESSION_KEY_BYTES).context("WABAPOOL_SESSION_KEY must be base64 of at least 64 bytes")?,
            None if overrides.keys_unused => random_key(SESSION_KEY_BYTES),
            None => key_file(&data_dir.join("session.key"), SESSION_KEY_BYTES)?,
        };
        let encryption_key = match env("WABAPOOL_ENCRYPTION_KEY") {
            Some(encoded) => decode_key(&encoded, ENCRYPTION_KEY_BYTES).context("WABAPOOL_ENCRYPTION_KEY must be base64 of 32 bytes")?,
            None if overrides.keys_unused => random_key(ENCRYPTION_KEY_BYTES),
            None => key_file(&data_dir.join("encryption.key"), ENCRYPTION_KEY_BYTES)?,
        };
        let previous: Vec<SecretSlice<u8>> = env("WABAPOOL_PREVIOUS_ENCRYPTION_KEYS")
            .map(|list| list.split(',').map(|k| decode_key(k, ENCRYPTION_KEY_BYTES)).collect::<anyhow::Result<Vec<_>>>())
            .transpose()
            .context("WABAPOOL_PREVIOUS_ENCRYPTION_KEYS must be a comma-separated list of base64 32-byte keys")?
            .unwrap_or_default();
        let previous: Vec<&[u8]> = previous.iter().map(|k| k.expose_secret()).collect();
        let secret_keys = SecretKeys::new(encryption_key.expose_secret(), &previous).context("encryption keys must be 32 bytes")?;
        let meta_graph_url = env("WABAPOOL_META_GRAPH_URL").or(file.meta_graph_url);
        let meta_graph_version = env("WABAPOOL_META_GRAPH_VERSION").or(file.meta_graph_version).unwrap_or_else(|| DEFAULT_GRAPH_VERSION.to_owned());
        let meta_timeout = Duration::from_millis(
            env("WABAPOOL_META_TIMEOUT_MS").and_then(|v| v.parse().ok()).or(file.meta_timeout_ms).unwrap_or(10_000).clamp(100, 120_000),
        );
        let sync_interval =
            Duration::from_secs(env("WABAPOOL_SYNC_INTERVAL_SECS").and_then(|v| v.parse().ok()).or(file.sync_interval_secs).unwrap_or(900))
                .max(MIN_SYNC_INTERVAL);
        let trusted_proxies = env("WABAPOOL_TRUSTED_PROXIES")
            .map(|list| list.split(',').map(|ip| ip.trim().parse()).collect::<Result<Vec<std::net::IpAddr>, _>>())
            .transpose()
            .context("WABAPOOL_TRUSTED_PROXIES must be a comma-separated list of IP addresses")?
            .unwrap_or_default();
        let metrics_allow = match env("WABAPOOL_METRICS_ALLOW") {
            Some(list) => parse_networks(list.split(','))?,
            None => match file.metrics_allow {
                Some(list) => parse_networks(list.iter().map(String::as_str))?,
                None => default_metrics_allow(),
            },
        };
        let seconds = |key: &str, file: Option<u64>, default: u64| {
            Duration::from_secs(env(key).and_then(|v| v.parse().ok()).or(file).unwrap_or(default).clamp(1, 300))
        };
        let header_timeout = seconds("WABAPOOL_HEADER_TIMEOUT_SECS", file.header_timeout_secs, DEFAULT_HEADER_TIMEOUT_SECS);
        let body_timeout = seconds("WABAPOOL_BODY_TIMEOUT_SECS", file.body_timeout_secs, DEFAULT_BODY_TIMEOUT_SECS);
        let max_connections = env("WABAPOOL_MAX_CONNECTIONS")
            .and_then(|v| v.parse().ok())
            .or(file.max_connections)
            .unwrap_or(DEFAULT_MAX_CONNECTIONS)
            .clamp(1, 1_000_000);
        let meta_app_secret = match env("WABAPOOL_META_APP_SECRET") {
            Some(secret) => SecretString::from(secret),
            None if overrides.demo || overrides.keys_unused => random_text(),
            None => text_file(
                &data_dir.join("meta-app-secret"),
                "the Meta app secret: webhook signatures will fail until WABAPOOL_META_APP_SECRET holds the app's real secret",
            )?,
        };
        let meta_verify_token = match env("WABAPOOL_META_VERIFY_TOKEN") {
            Some(token) => SecretString::from(token),
            None if overrides.demo || overrides.keys_unused => random_text(),
            None => text_file(&data_dir.join("meta-verify-token"), "the webhook verify token to paste into Meta's app settings")?,
        };
        let webhook_max_bytes = env("WABAPOOL_WEBHOOK_MAX_BYTES").and_then(|v| v.parse().ok()).unwrap_or(1024 * 1024).clamp(1024, 16 * 1024 * 1024);
        let session_idle =
            Duration::from_secs(60 * env("WABAPOOL_SESSION_IDLE_MINUTES").and_then(|v| v.parse().ok()).unwrap_or(30u64).clamp(1, 24 * 60));
        let session_absolute =
            Duration::from_secs(60 * 60 * env("WABAPOOL_SESSION_MAX_HOURS").and_then(|v| v.parse().ok()).unwrap_or(12u64).clamp(1, 24 * 7));
        Ok(Self {
            bind,
            database_url,
            data_dir,
            session_key,
            secure_cookies,
            demo: overrides.demo,
            db_pool_size: db_pool_size.clamp(1, 128),
            log_format,
            meta_graph_url,
            meta_graph_version,
            meta_timeout,
            secret_keys,
            sync_interval,
            trusted_proxies,
            meta_app_secret,
            meta_verify_token,
            webhook_max_bytes,
            session_idle,
            session_absolute,
            pin_workers,
            metrics_allow,
            header_timeout,
            body_timeout,
            max_connections,
            allow_private_event_urls: overrides.demo || env("WABAPOOL_ALLOW_PRIVATE_EVENT_URLS").is_some_and(|v| v == "true"),
            event_timeout: crate::services::events::delivery::TIMEOUT,
        })
    }

    /// Settings for tests and tools: a given database, a random key.
    pub fn for_database(database_url: &str) -> Self {
        Self {
            bind: "127.0.0.1:0".to_owned(),
            database_url: database_url.to_owned(),
            data_dir: PathBuf::from("data"),
            session_key: random_key(SESSION_KEY_BYTES),
            secure_cookies: false,
            demo: false,
            db_pool_size: 8,
            log_format: LogFormat::Text,
            meta_graph_url: None,
            meta_graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            meta_timeout: Duration::from_secs(5),
            secret_keys: SecretKeys::random(),
            sync_interval: Duration::from_secs(900),
            trusted_proxies: Vec::new(),
            meta_app_secret: random_text(),
            meta_verify_token: random_text(),
            webhook_max_bytes: 1024 * 1024,
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 60 * 60),
            pin_workers: true,
            metrics_allow: default_metrics_allow(),
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            allow_private_event_urls: false,
            event_timeout: crate::services::events::delivery::TIMEOUT,
        }
    }

    pub fn session_key_bytes(&self) -> &[u8] {
        self.session_key.expose_secret()
    }
}

/// Only this host may read `/metrics` unless told otherwise.
fn default_metrics_allow() -> Vec<IpNet> {
    vec![IpNet::from(std::net::IpAddr::from([127, 0, 0, 1])), IpNet::from(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST))]
}

/// Addresses (`10.0.0.7`) and networks (`10.0.0.0/8`), as the allow list takes them.
fn parse_networks<'a>(items: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<IpNet>> {
    items
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .with_context(|| format!("metrics_allow: {item:?} is neither an IP address nor a network such as 10.0.0.0/8"))
        })
        .collect()
}

/// Pooled database connections when none are configured. SQLite has one
/// writer and its readers run on this machine's cores, so two connections a
/// core serve as well as more, and each connection holds its own page and
/// statement caches (up to about 2 MiB). PostgreSQL's connections mostly
/// wait on another process or host, so more of them help.
fn default_pool_size(database_url: &str) -> u32 {
    match DatabaseUrl::parse(database_url).backend() {
        Backend::Sqlite => std::thread::available_parallelism().map_or(4, |n| (2 * n.get() as u32).clamp(4, 16)),
        Backend::Postgres => 8,
    }
}

fn read_file_settings(path: &Path) -> anyhow::Result<FileSettings> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileSettings::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn decode_key(encoded: &str, len: usize) -> anyhow::Result<SecretSlice<u8>> {
    let bytes = STANDARD.decode(encoded.trim())?;
    anyhow::ensure!(bytes.len() >= len, "key too short");
    Ok(SecretSlice::from(bytes))
}

fn random_key(len: usize) -> SecretSlice<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    SecretSlice::from(bytes)
}

/// Reads a key file, or creates it (mode 0600) with a fresh random key.
fn key_file(path: &Path, len: usize) -> anyhow::Result<SecretSlice<u8>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return decode_key(&text, len).with_context(|| format!("{} does not hold a valid key", path.display()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let key = random_key(len);
    let encoded = STANDARD.encode(key.expose_secret());
    write_private(path, encoded.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new key (mode 0600); keep it, and share it between instances");
    Ok(key)
}

/// A random URL-safe secret.
fn random_text() -> SecretString {
    SecretString::from(crate::security::csrf::new_token())
}

/// Reads a secret from a file, or creates the file (mode 0600) with a random one.
fn text_file(path: &Path, what: &str) -> anyhow::Result<SecretString> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let text = text.trim().to_owned();
        anyhow::ensure!(!text.is_empty(), "{} is empty", path.display());
        return Ok(SecretString::from(text));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let secret = random_text();
    write_private(path, secret.expose_secret().as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated {what} (mode 0600)");
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_removed_from_database_urls() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/wb"), "postgres://app:***@db:5432/wb");
        assert_eq!(redact_url("data/wabapool.sqlite3"), "data/wabapool.sqlite3");
    }

    #[test]
    fn sqlite_pools_two_connections_a_core_and_postgres_eight_by_default() {
        assert!((4..=16).contains(&default_pool_size("data/wabapool.sqlite3")));
        assert_eq!(default_pool_size("postgres://app@db/wb"), 8);
    }

    #[test]
    fn the_metrics_allow_list_takes_addresses_and_networks_and_refuses_anything_else() {
        let allowed = parse_networks(["127.0.0.1", " 10.0.0.0/8", "::1", ""].into_iter()).unwrap();
        assert_eq!(allowed.len(), 3);
        assert!(allowed[1].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_networks(["localhost"].into_iter()).is_err());
    }

    #[test]
    fn a_generated_key_file_is_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.key");
        let first = key_file(&path, SESSION_KEY_BYTES).unwrap();
        let again = key_file(&path, SESSION_KEY_BYTES).unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
