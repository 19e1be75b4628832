//! Events to the business's own systems (DESIGN.md section 14): their
//! types, a pool's health, the addresses an endpoint may have and the
//! retry schedule of a delivery. Pure: the outbox and the delivery worker
//! in `services::events` apply them.

use std::net::IpAddr;

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    MessageReceived,
    MessageStatus,
    NumberHealth,
    PoolHealth,
    WabaStatus,
}

impl EventType {
    pub const ALL: [Self; 5] = [Self::MessageReceived, Self::MessageStatus, Self::NumberHealth, Self::PoolHealth, Self::WabaStatus];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::MessageStatus => "message.status",
            Self::NumberHealth => "number.health",
            Self::PoolHealth => "pool.health",
            Self::WabaStatus => "waba.status",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// What it reports, for the form's checkboxes.
    pub fn describe(self) -> &'static str {
        match self {
            Self::MessageReceived => "A customer wrote to a number",
            Self::MessageStatus => "A sent message was sent, delivered, read or failed",
            Self::NumberHealth => "A number's quality, limit, throughput or rotation changed",
            Self::PoolHealth => "A pool became healthy, degraded or down",
            Self::WabaStatus => "A WhatsApp Business Account's status changed",
        }
    }
}

/// A pool's health: how many of its members are in rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolHealth {
    Healthy,
    /// Fewer members in rotation than the pool's threshold: by default,
    /// fewer than half of them.
    Degraded,
    /// None in rotation: the pool cannot send.
    Down,
}

/// The most a pool's degraded threshold may be: a pool's size (R7).
pub const MAX_DEGRADED_BELOW: i32 = 10;

impl PoolHealth {
    /// The health of a pool of `members` with `in_rotation` of them in
    /// rotation, degraded below `degraded_below` members (None: below half).
    pub fn of(members: usize, in_rotation: usize, degraded_below: Option<usize>) -> Self {
        let degraded = match degraded_below {
            Some(threshold) => in_rotation < threshold,
            None => in_rotation * 2 < members,
        };
        if in_rotation == 0 {
            Self::Down
        } else if degraded {
            Self::Degraded
        } else {
            Self::Healthy
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }
}

/// The longest endpoint URL taken.
pub const MAX_URL_CHARS: usize = 2048;

/// Why an endpoint URL is refused, worded for the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlProblem {
    TooLong,
    Unreadable,
    NotHttp,
    Credentials,
    PlainHttp,
    PrivateAddress,
}

impl UrlProblem {
    pub fn message(self) -> &'static str {
        match self {
            Self::TooLong => "Use a URL of at most 2,048 characters.",
            Self::Unreadable => "Enter a full URL, such as https://example.com/whatsapp/events.",
            Self::NotHttp => "Use an https:// URL.",
            Self::Credentials => "Leave the user name and password out of the URL: requests are signed instead.",
            Self::PlainHttp => "Use https://: events carry customers' messages.",
            Self::PrivateAddress => "This address is on a private, loopback or link-local network, which events are not sent to.",
        }
    }
}

/// Checks what can be known of an endpoint URL without the network: its
/// length, scheme and credentials, and an address written into it. A host
/// name is resolved by the caller, whose addresses [`is_public`] judges.
/// `allow_private` takes loopback and private addresses, and plain http
/// to them (demo and tests).
pub fn check_endpoint_url(raw: &str, allow_private: bool) -> Result<url::Url, UrlProblem> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(UrlProblem::TooLong);
    }
    let url = url::Url::parse(raw).map_err(|_| UrlProblem::Unreadable)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlProblem::NotHttp);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(UrlProblem::Unreadable),
    };
    if let Some(ip) = literal
        && !is_public(ip)
        && !allow_private
    {
        return Err(UrlProblem::PrivateAddress);
    }
    if url.scheme() == "http" && !allow_private {
        return Err(UrlProblem::PlainHttp);
    }
    Ok(url)
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared (carrier-grade NAT), unspecified, multicast,
/// broadcast or documentation, nor such an IPv4 address inside IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// How long a delivery is retried before it is `failed`, and how long an
/// endpoint may fail without a success before it is disabled.
pub const RETRY_FOR: chrono::Duration = chrono::Duration::hours(24);

/// The wait before attempt `attempts + 1`: 5 s doubled per attempt up to
/// an hour, less up to a fifth by `jitter` (0 to 1), so that deliveries
/// that failed together do not return together.
pub fn retry_delay(attempts: i32, jitter: f64) -> chrono::Duration {
    let base = 5_i64.saturating_mul(1_i64 << attempts.clamp(1, 20).saturating_sub(1)).min(3_600);
    let millis = (base as f64 * 1_000.0 * (1.0 - 0.2 * jitter.clamp(0.0, 1.0))) as i64;
    chrono::Duration::milliseconds(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("message.sent"), None);
    }

    #[test]
    fn a_pool_is_degraded_below_half_and_down_with_none_in_rotation() {
        assert_eq!(PoolHealth::of(4, 4, None), PoolHealth::Healthy);
        assert_eq!(PoolHealth::of(4, 2, None), PoolHealth::Healthy);
        assert_eq!(PoolHealth::of(5, 2, None), PoolHealth::Degraded);
        assert_eq!(PoolHealth::of(4, 1, None), PoolHealth::Degraded);
        assert_eq!(PoolHealth::of(4, 0, None), PoolHealth::Down);
        assert_eq!(PoolHealth::of(0, 0, None), PoolHealth::Down);
    }

    #[test]
    fn a_pools_own_threshold_replaces_half() {
        assert_eq!(PoolHealth::of(4, 3, Some(4)), PoolHealth::Degraded);
        assert_eq!(PoolHealth::of(4, 4, Some(4)), PoolHealth::Healthy);
        assert_eq!(PoolHealth::of(4, 1, Some(1)), PoolHealth::Healthy);
        assert_eq!(PoolHealth::of(4, 0, Some(1)), PoolHealth::Down);
    }

    #[test]
    fn endpoint_urls_must_be_https_without_credentials_or_private_addresses() {
        assert!(check_endpoint_url("https://hooks.example.com/wa", false).is_ok());
        assert_eq!(check_endpoint_url("ftp://example.com/", false), Err(UrlProblem::NotHttp));
        assert_eq!(check_endpoint_url("javascript:alert(1)", false), Err(UrlProblem::NotHttp));
        assert_eq!(check_endpoint_url("not a url", false), Err(UrlProblem::Unreadable));
        assert_eq!(check_endpoint_url("https://user:pw@example.com/", false), Err(UrlProblem::Credentials));
        assert_eq!(check_endpoint_url("http://example.com/", false), Err(UrlProblem::PlainHttp));
        assert_eq!(check_endpoint_url(&format!("https://example.com/{}", "a".repeat(2048)), false), Err(UrlProblem::TooLong));
        for private in [
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
        ] {
            assert_eq!(check_endpoint_url(private, false), Err(UrlProblem::PrivateAddress), "{private}");
        }
        assert!(check_endpoint_url("http://127.0.0.1:9000/events", true).is_ok(), "the setting takes loopback and plain http");
    }

    #[test]
    fn public_addresses_are_told_from_the_others() {
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in ["192.168.1.1", "172.16.0.1", "fc00::1", "224.0.0.1", "255.255.255.255", "198.18.0.1"] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn retries_back_off_exponentially_to_an_hour_with_jitter_below() {
        assert_eq!(retry_delay(1, 0.0), chrono::Duration::seconds(5));
        assert_eq!(retry_delay(2, 0.0), chrono::Duration::seconds(10));
        assert_eq!(retry_delay(4, 0.0), chrono::Duration::seconds(40));
        assert_eq!(retry_delay(30, 0.0), chrono::Duration::hours(1));
        assert_eq!(retry_delay(1, 1.0), chrono::Duration::seconds(4));
    }
}
