//! A small client for the CapyDB API: the contract's request types in, its response types out
//! (so a renamed field breaks this crate's build), and API errors turned into `CliError`s that
//! carry the right exit code.

use crate::exit::CliError;
use capydb_api::ErrorBody;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// A list answer: its items and the cursor of the next page.
pub trait Paged: DeserializeOwned + Serialize {
    type Item;
    fn items(&mut self) -> &mut Vec<Self::Item>;
    fn next_cursor(&mut self) -> &mut Option<String>;
}

macro_rules! paged {
    ($($list:ty => $item:ty, $field:ident;)*) => {$(
        impl Paged for $list {
            type Item = $item;
            fn items(&mut self) -> &mut Vec<$item> { &mut self.$field }
            fn next_cursor(&mut self) -> &mut Option<String> { &mut self.next_cursor }
        }
    )*};
}

paged! {
    capydb_api::projects::ProjectList => capydb_api::projects::Project, projects;
    capydb_api::backups::BackupList => capydb_api::backups::Backup, backups;
    capydb_api::jobs::JobList => capydb_api::jobs::Job, jobs;
    capydb_api::restores::RestoreList => capydb_api::restores::Restore, restores;
    capydb_api::previews::PreviewList => capydb_api::previews::PreviewDatabase, preview_databases;
    capydb_api::restore_points::RestorePointList => capydb_api::restore_points::RestorePoint, restore_points;
    capydb_api::webhooks::WebhookEndpointList => capydb_api::webhooks::WebhookEndpoint, webhook_endpoints;
    capydb_api::webhooks::DeliveryList => capydb_api::webhooks::Delivery, deliveries;
    capydb_api::identity::ApiKeyList => capydb_api::identity::ApiKey, api_keys;
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    pub fn new(base: &str, key: &str) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("capydb-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Other(e.to_string()))?;
        Ok(Api { http, base: base.trim_end_matches('/').to_string(), key: key.to_string() })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        typed(self.send(Method::GET, path, None, None).await?)
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        typed(self.send(Method::DELETE, path, None, None).await?)
    }

    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, CliError> {
        typed(self.send(Method::PUT, path, Some(to_json(body)?), None).await?)
    }

    pub async fn patch<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, CliError> {
        typed(self.send(Method::PATCH, path, Some(to_json(body)?), None).await?)
    }

    /// GETs an absolute URL handed out by the API (a presigned download), without our key: the
    /// URL carries its own authorisation, and the key must never reach object storage.
    pub async fn fetch(&self, url: &str) -> Result<reqwest::Response, CliError> {
        let resp = self.http.get(url).timeout(Duration::from_secs(24 * 3600)).send().await;
        let resp = resp.map_err(|e| CliError::Other(format!("cannot download: {e}")))?;
        if !resp.status().is_success() {
            return Err(CliError::Other(format!("the download answered HTTP {}", resp.status())));
        }
        Ok(resp)
    }

    /// POSTs `body`. Every POST carries an `Idempotency-Key` (the caller's, or one made here), so
    /// a retry after a lost answer, a 429 or a 503 cannot do the work twice.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        idempotency_key: Option<&str>,
    ) -> Result<T, CliError> {
        let key = idempotency_key
            .map(str::to_string)
            .unwrap_or_else(|| format!("capydb-cli-{}", ulid::Ulid::new().to_string().to_lowercase()));
        typed(self.send(Method::POST, path, Some(to_json(body)?), Some(&key)).await?)
    }

    /// A list route (`path` may carry `?limit=`): one page, or with `all` every page, following
    /// `next_cursor`; the answer is the first page's, holding every item.
    pub async fn list<P: Paged>(&self, path: &str, all: bool) -> Result<P, CliError> {
        let mut first: P = self.get(path).await?;
        if !all {
            return Ok(first);
        }
        let mut cursor = first.next_cursor().take();
        while let Some(c) = cursor {
            let separator = if path.contains('?') { '&' } else { '?' };
            let encoded: String = url::form_urlencoded::byte_serialize(c.as_bytes()).collect();
            let mut page: P = self.get(&format!("{path}{separator}cursor={encoded}")).await?;
            first.items().append(page.items());
            cursor = page.next_cursor().take();
        }
        Ok(first)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{}", self.base, path);
        let mut attempt = 1;
        loop {
            let mut req = self.http.request(method.clone(), &url).bearer_auth(&self.key);
            if let Some(b) = &body {
                req = req.json(b);
            }
            if let Some(k) = idem {
                req = req.header("Idempotency-Key", k);
            }
            let outcome = req.send().await;
            let retry_in = match &outcome {
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => Some(backoff(attempt, None)),
                Ok(resp) if RETRYABLE.contains(&resp.status()) => Some(backoff(attempt, retry_after(resp))),
                _ => None,
            };
            match retry_in {
                Some(wait) if attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return self.answer(outcome).await,
            }
        }
    }

    async fn answer(&self, outcome: reqwest::Result<reqwest::Response>) -> Result<Value, CliError> {
        let resp =
            outcome.map_err(|e| CliError::Other(format!("cannot reach the CapyDB API at {}: {e}", self.base)))?;
        let status = resp.status();
        let request_id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = resp.text().await.map_err(|e| CliError::Other(e.to_string()))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let mut message = match serde_json::from_value::<ErrorBody>(value) {
            Ok(e) => e.error,
            Err(_) => format!("HTTP {status}"),
        };
        if status.is_server_error() {
            if let Some(id) = request_id {
                message.push_str(&format!(" (request {id})"));
            }
        }
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CliError::Auth(message),
            StatusCode::NOT_FOUND => CliError::NotFound(message),
            StatusCode::CONFLICT => CliError::Conflict(message),
            s if s.is_client_error() => CliError::Usage(message),
            _ => CliError::Other(message),
        })
    }
}

/// Answers worth another try: throttled, or the service briefly unavailable.
const RETRYABLE: [StatusCode; 4] = [
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
];
const MAX_ATTEMPTS: u32 = 5;

/// The server's `Retry-After` (capped at 30 s), else 0.5 s doubling per attempt.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    retry_after.map(|d| d.min(Duration::from_secs(30))).unwrap_or(Duration::from_millis(500 << (attempt - 1).min(5)))
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let seconds = resp.headers().get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds))
}

fn to_json(body: &impl Serialize) -> Result<Value, CliError> {
    serde_json::to_value(body).map_err(|e| CliError::Other(e.to_string()))
}

/// The answer as its contract type; a mismatch means this CLI and the API disagree.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, CliError> {
    serde_json::from_value(value).map_err(|e| {
        CliError::Other(format!("the API answered in a shape this capydb does not understand ({e}); upgrade capydb"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_retry_after_up_to_a_cap() {
        assert_eq!(backoff(1, None), Duration::from_millis(500));
        assert_eq!(backoff(3, None), Duration::from_secs(2));
        assert_eq!(backoff(2, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(backoff(2, Some(Duration::from_secs(3600))), Duration::from_secs(30));
    }
}
