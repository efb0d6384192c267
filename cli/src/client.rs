//! A small client for the CapyDB API: JSON in, JSON out, and API errors turned into
//! `CliError`s that carry the right exit code.

use crate::exit::CliError;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

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

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::DELETE, path, None, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.send(Method::PUT, path, Some(body), None).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.send(Method::PATCH, path, Some(body), None).await
    }

    pub async fn post(&self, path: &str, body: Value, idempotency_key: Option<&str>) -> Result<Value, CliError> {
        self.send(Method::POST, path, Some(body), idempotency_key).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method, &url).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(k) = idem {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| CliError::Other(format!("cannot reach the CapyDB API at {}: {e}", self.base)))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| CliError::Other(e.to_string()))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let message =
            value.get("error").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("HTTP {status}"));
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CliError::Auth(message),
            StatusCode::NOT_FOUND => CliError::NotFound(message),
            StatusCode::CONFLICT => CliError::Conflict(message),
            s if s.is_client_error() => CliError::Usage(message),
            _ => CliError::Other(message),
        })
    }
}
