//! Webhook endpoints: the event catalogue, receiver URL rules (the SSRF guard's pure half) and
//! the Stripe-style signature.

use crate::ids::{OrgId, WebhookId};
use crate::Error;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr};

/// Every event a receiver can subscribe to.
pub const EVENT_TYPES: [&str; 12] = [
    "backup.completed",
    "backup.failed",
    "backup.missed",
    "backup.downloaded",
    "restore.completed",
    "restore.failed",
    "preview.ready",
    "preview.deleted",
    "job.completed",
    "job.failed",
    "job.cancelled",
    "webhook.test",
];

pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    /// Deliveries have been failing for a while; they are still attempted.
    Failing,
    /// Deliveries have failed for days; still attempted, never silently dropped.
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub url: String,
    pub description: Option<String>,
    /// Empty: every event.
    pub event_types: Vec<String>,
    pub is_active: bool,
    /// The `whsec_…` signing secret, sealed.
    pub secret_enc: String,
    pub health: Health,
    /// Since when deliveries have been failing without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Subscribed event types, each from the catalogue, without duplicates.
pub fn parse_event_types(raw: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        if !EVENT_TYPES.contains(&t.as_str()) {
            return Err(Error::invalid(
                "event_types",
                format!("unknown event type `{t}`; allowed: {}", EVENT_TYPES.join(", ")),
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

pub fn parse_description(raw: Option<&str>) -> Result<Option<String>, Error> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) if d.chars().count() > MAX_DESCRIPTION_LEN => {
            Err(Error::invalid("description", format!("description must be at most {MAX_DESCRIPTION_LEN} characters")))
        }
        Some(d) => Ok(Some(d.to_string())),
    }
}

/// A receiver URL that passed the checks that need no DNS: `https://` (or `http://` where
/// private targets are allowed), a host, no credentials, and no literal address we refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: url::Url,
}

impl WebhookUrl {
    pub fn parse(raw: &str, allow_private: bool) -> Result<WebhookUrl, Error> {
        let bad = |why: &str| Error::invalid("url", format!("url {why}"));
        if raw.len() > MAX_URL_LEN {
            return Err(bad(&format!("must be at most {MAX_URL_LEN} characters")));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("must be an absolute https:// URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            _ => return Err(bad("must use https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry credentials; the signature authenticates us"));
        }
        if url.fragment().is_some() {
            return Err(bad("must not have a #fragment"));
        }
        let ip = match url.host() {
            None => return Err(bad("must have a host")),
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
        };
        if let (Some(ip), false) = (ip, allow_private) {
            if let Some(class) = refused_address(ip) {
                return Err(bad(&format!("points at a {class} address ({ip}); receivers must be public")));
            }
        }
        Ok(WebhookUrl { url })
    }

    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(443)
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

/// Why a receiver may not be at `ip`, or `None` for a public address.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refused_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if v6.segments()[..6] == [0, 0, 0, 0, 0, 0] {
                // IPv4-compatible (deprecated) addresses reach IPv4 space.
                refused_v4(Ipv4Addr::from(((v6.segments()[6] as u32) << 16) | v6.segments()[7] as u32))
            } else if first == 0x64 && v6.segments()[1] == 0xff9b {
                // NAT64 (64:ff9b::/32) translates to IPv4 space we cannot vet here.
                Some("NAT64")
            } else {
                None
            }
        }
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        // 169.254.0.0/16 holds the cloud metadata service (169.254.169.254).
        Some("link-local or metadata")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if a == 0 || ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("IETF protocol")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else {
        None
    }
}

/// `X-CapyDB-Signature`: `t=<unix>,v1=<hex HMAC-SHA256 over "<t>.<body>">`, keyed with the
/// whole secret string — Stripe's scheme, so off-the-shelf verifiers accept it.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A new signing secret: `whsec_` and 32 random bytes, base64url.
pub fn generate_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_non_public_range() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(refused_address(ip.parse().unwrap()).is_some(), "{ip} must be refused");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "100.128.0.1", "172.32.0.1"] {
            assert_eq!(refused_address(ip.parse().unwrap()), None, "{ip} is public");
        }
    }

    #[test]
    fn urls_must_be_https_public_and_without_credentials() {
        let err = |raw: &str| WebhookUrl::parse(raw, false).unwrap_err().to_string();
        assert!(err("http://example.com/hook").contains("https://"));
        assert!(err("https://127.0.0.1/hook").contains("loopback"));
        assert!(err("https://[::1]/hook").contains("loopback"));
        assert!(err("https://169.254.169.254/latest/meta-data").contains("metadata"));
        assert!(err("https://10.0.0.8/").contains("private"));
        assert!(err("https://user:pw@example.com/").contains("credentials"));
        assert!(err("not a url").contains("https://"));
        assert!(err(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))).contains("2048"));
        assert_eq!(
            WebhookUrl::parse("https://hooks.example.com/capydb?x=1", false).unwrap().host(),
            "hooks.example.com"
        );
        // The local runtime and tests allow private receivers, plain http included.
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true).is_ok());
    }

    #[test]
    fn event_types_come_from_the_catalogue() {
        let ok = parse_event_types(&["backup.completed".into(), "backup.completed".into()]).unwrap();
        assert_eq!(ok, vec!["backup.completed"]);
        let e = parse_event_types(&["backup.done".into()]).unwrap_err().to_string();
        assert!(e.contains("backup.done") && e.contains("restore.completed"), "{e}");
    }

    #[test]
    fn signature_matches_an_independently_computed_vector() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn secrets_are_prefixed_and_unique() {
        let (a, b) = (generate_secret(), generate_secret());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 43, "{a}");
        assert_ne!(a, b);
    }
}
