//! Posts webhook deliveries. Every connection resolves its host through a resolver that
//! refuses non-public addresses, so the SSRF guard holds at delivery time too (DNS can change
//! after the endpoint was saved, and the check cannot be raced), and redirects are never
//! followed.

use crate::domain::deliveries::RESPONSE_EXCERPT_BYTES;
use crate::domain::webhooks::refused_address;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const USER_AGENT: &str = "capydb-webhooks/1.0";
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What one POST came to.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

#[derive(Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
}

struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((addr, class)) = addrs.iter().find_map(|a| refused_address(a.ip()).map(|c| (a, c))) {
                return Err(format!("{host} resolves to a {class} address ({}); refused", addr.ip()).into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl WebhookSender {
    /// `allow_private` (local runtime and tests only) lets receivers be on private addresses.
    pub fn new(allow_private: bool) -> WebhookSender {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            // A fresh connection per attempt: each one resolves (and is checked) anew, and
            // receivers are too many and too rarely hit for a pool to pay.
            .pool_max_idle_per_host(0);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        WebhookSender { http: builder.build().expect("the webhook HTTP client builds") }
    }

    pub async fn send(&self, url: &str, headers: &[(&'static str, String)], body: String) -> SendOutcome {
        let mut req = self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let started = Instant::now();
        let result = req.send().await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match result {
            Err(e) => SendOutcome { status_code: None, latency_ms, error: Some(describe(&e)), response_excerpt: None },
            Ok(mut resp) => {
                let status = resp.status();
                let mut excerpt = Vec::new();
                while excerpt.len() < RESPONSE_EXCERPT_BYTES {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                excerpt.truncate(RESPONSE_EXCERPT_BYTES);
                let excerpt = String::from_utf8_lossy(&excerpt).trim().to_string();
                let error = if status.is_success() {
                    None
                } else if status.is_redirection() {
                    Some(format!("HTTP {}: redirects are not followed", status.as_u16()))
                } else {
                    Some(format!("HTTP {}", status.as_u16()))
                };
                SendOutcome {
                    status_code: Some(status.as_u16()),
                    latency_ms,
                    error,
                    response_excerpt: (!excerpt.is_empty()).then_some(excerpt),
                }
            }
        }
    }
}

/// The error with its causes: reqwest's own message alone says little ("error sending request").
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", TIMEOUT.as_secs());
    }
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
