//! Webhooks as the Standard Webhooks specification has them (<https://www.standardwebhooks.com>):
//! the event types, the signature, the retry schedule, and which targets may be called.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

/// What happened.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum EventType {
    /// A decision was recorded: the communes it concerns and their due dates.
    #[serde(rename = "decision.recorded")]
    DecisionRecorded,
    /// The decision items that take effect on a day (in Vietnam's time zone), sent that morning.
    #[serde(rename = "items.effective")]
    ItemsEffective,
    /// The communes whose first finding became overdue on a day, sent that morning.
    #[serde(rename = "findings.overdue")]
    FindingsOverdue,
    /// An inspection was recorded.
    #[serde(rename = "inspection.recorded")]
    InspectionRecorded,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::DecisionRecorded,
        EventType::ItemsEffective,
        EventType::FindingsOverdue,
        EventType::InspectionRecorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DecisionRecorded => "decision.recorded",
            EventType::ItemsEffective => "items.effective",
            EventType::FindingsOverdue => "findings.overdue",
            EventType::InspectionRecorded => "inspection.recorded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// A subscription's signing secret: `whsec_` and the base64 of 32 random bytes.
pub const SECRET_PREFIX: &str = "whsec_";

/// The secret for `random` bytes.
pub fn secret_from(random: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random))
}

/// The key a secret signs with (the bytes after the prefix).
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX)?)
        .ok()
        .filter(|k| !k.is_empty())
}

/// The signature of one message under one key: `v1,` and the base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, separated by spaces (two during a
/// secret's rotation, so that a receiver holding either verifies).
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| sign(k, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seconds to wait after each failed attempt: quickly at first, then every few hours, about
/// three days in all (272,555 s); after the last the delivery has failed.
const SCHEDULE: [u64; 12] = [
    5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 43_200, 86_400, 86_400,
];

/// Attempts a delivery gets in all: the first, then one after each wait of the schedule.
pub const MAX_ATTEMPTS: u32 = SCHEDULE.len() as u32 + 1;

/// The wait after failed attempt number `attempt` (1 for the first), scaled by `scale` (1 in
/// service; tests shrink it), with `jitter` in [0, 1) spreading it by up to ±20% so that many
/// deliveries failing together do not retry together; `None` once the attempts are spent.
pub fn retry_after(attempt: u32, scale: f64, jitter: f64) -> Option<Duration> {
    let base = *SCHEDULE.get(usize::try_from(attempt.checked_sub(1)?).ok()?)? as f64;
    let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Some(Duration::from_secs_f64((base * scale * spread).max(0.0)))
}

/// Why an address may not be called without `NIEMYET_WEBHOOKS_ALLOW_PRIVATE`: loopback, private
/// networks, link-local (the cloud metadata service at 169.254.169.254 included), shared address
/// space, and addresses that are no host's.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() {
                Some("a private address")
            } else if v4.is_link_local() {
                Some("a link-local address (such as the metadata service)")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a shared (carrier-grade NAT) address")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || a == 0 {
                Some("not a host's address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a host's address")
            } else {
                None
            }
        }
    }
}

/// Checks a subscription's URL: absolute `https://` (or `http://` outside production), a host,
/// no credentials, at most 2,000 characters. Its addresses are checked when it is resolved.
pub fn check_url(raw: &str, production: bool) -> Result<url::Url, String> {
    if raw.chars().count() > 2000 {
        return Err("must be at most 2000 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if !production => {}
        "http" => return Err("must use https:// in production".into()),
        other => return Err(format!("must be an https:// URL, not {other}://")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a key");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let two = signature_header(&[key.clone(), vec![1, 2, 3]], "m", 1, b"{}");
        assert_eq!(two.split(' ').count(), 2);
        assert!(two.starts_with(&sign(&key, "m", 1, b"{}")));
    }

    #[test]
    fn secrets_round_trip() {
        let s = secret_from(&[7; 32]);
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_key(&s), Some(vec![7; 32]));
        assert_eq!(secret_key("nope"), None);
        assert_eq!(secret_key("whsec_"), None);
    }

    #[test]
    fn retries_spread_over_about_three_days() {
        let total: f64 = (1..MAX_ATTEMPTS)
            .map(|n| retry_after(n, 1.0, 0.5).expect("a wait").as_secs_f64())
            .sum();
        assert!((2.5 * 86_400.0..3.5 * 86_400.0).contains(&total), "{total}");
        assert_eq!(retry_after(MAX_ATTEMPTS, 1.0, 0.5), None);
        assert_eq!(retry_after(0, 1.0, 0.5), None);
        let low = retry_after(1, 1.0, 0.0).expect("a wait").as_secs_f64();
        let high = retry_after(1, 1.0, 0.999).expect("a wait").as_secs_f64();
        assert!((4.0..=4.01).contains(&low) && (5.99..6.0).contains(&high));
    }

    #[test]
    fn private_and_metadata_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = bad.parse().expect("an address");
            assert!(forbidden_address(ip).is_some(), "{bad}");
        }
        for good in ["203.113.130.1", "8.8.8.8", "2001:4860:4860::8888"] {
            let ip: IpAddr = good.parse().expect("an address");
            assert_eq!(forbidden_address(ip), None, "{good}");
        }
    }

    #[test]
    fn urls_must_be_https_in_production_and_carry_no_credentials() {
        assert!(check_url("https://portal.gialai.gov.vn/hooks/niemyet", true).is_ok());
        assert!(check_url("http://portal.gialai.gov.vn/hooks", true).is_err());
        assert!(check_url("http://127.0.0.1:9000/hooks", false).is_ok());
        assert!(check_url("ftp://example.vn/", false).is_err());
        assert!(check_url("https://user:pw@example.vn/", false).is_err());
        assert!(check_url("/relative", false).is_err());
        assert!(check_url("https://example.vn/#frag", false).is_err());
    }
}
