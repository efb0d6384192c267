//! The deployment providers' APIs: Vercel project env vars and Netlify site env vars. Base
//! URLs come from config, so tests (and self-hosters) can point them elsewhere.

use crate::domain::integrations::{Provider, Target};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// The provider said no (bad token, unknown project): retrying will not help.
    #[error("{0}")]
    Rejected(String),
    /// The provider could not be reached or failed; worth retrying.
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct EnvProviders {
    http: reqwest::Client,
    vercel_base: String,
    netlify_base: String,
}

impl EnvProviders {
    pub fn new(vercel_base: &str, netlify_base: &str) -> EnvProviders {
        let http = reqwest::Client::builder()
            .user_agent("capydb-integrations/1.0")
            .timeout(Duration::from_secs(15))
            .build()
            .expect("the provider HTTP client builds");
        EnvProviders {
            http,
            vercel_base: vercel_base.trim_end_matches('/').to_string(),
            netlify_base: netlify_base.trim_end_matches('/').to_string(),
        }
    }

    /// Checks that `token` can see `target`, with the provider's own reason when it cannot.
    pub async fn validate(&self, provider: Provider, target: &Target, token: &str) -> Result<(), ProviderError> {
        match provider {
            Provider::Vercel => {
                let url = format!("{}/v9/projects/{}{}", self.vercel_base, target.id, team_query(target, '?'));
                self.call(provider, Method::GET, &url, token, None).await.map(drop)
            }
            Provider::Netlify => self.netlify_account(target, token).await.map(drop),
        }
    }

    /// Creates or updates each variable (all environments), leaving the target's other
    /// variables alone.
    pub async fn push(
        &self,
        provider: Provider,
        target: &Target,
        token: &str,
        vars: &[(&str, &str)],
    ) -> Result<(), ProviderError> {
        match provider {
            Provider::Vercel => {
                let body: Vec<Value> = vars
                    .iter()
                    .map(|(k, v)| {
                        json!({ "key": k, "value": v, "type": "encrypted",
                                "target": ["production", "preview", "development"] })
                    })
                    .collect();
                let url = format!(
                    "{}/v10/projects/{}/env?upsert=true{}",
                    self.vercel_base,
                    target.id,
                    team_query(target, '&')
                );
                self.call(provider, Method::POST, &url, token, Some(json!(body))).await.map(drop)
            }
            Provider::Netlify => {
                let account = self.netlify_account(target, token).await?;
                for (key, value) in vars {
                    let var = json!({ "key": key, "is_secret": true,
                                      "scopes": ["builds", "functions", "runtime", "post-processing"],
                                      "values": [{ "value": value, "context": "all" }] });
                    let update =
                        format!("{}/api/v1/accounts/{account}/env/{key}?site_id={}", self.netlify_base, target.id);
                    match self.call(provider, Method::PUT, &update, token, Some(var.clone())).await {
                        Err(ProviderError::Rejected(reason)) if reason.contains("HTTP 404") => {
                            let create =
                                format!("{}/api/v1/accounts/{account}/env?site_id={}", self.netlify_base, target.id);
                            self.call(provider, Method::POST, &create, token, Some(json!([var]))).await?;
                        }
                        other => {
                            other?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Netlify keeps env vars on the account (team) that owns the site.
    async fn netlify_account(&self, target: &Target, token: &str) -> Result<String, ProviderError> {
        let url = format!("{}/api/v1/sites/{}", self.netlify_base, target.id);
        let site = self.call(Provider::Netlify, Method::GET, &url, token, None).await?;
        site["account_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Unavailable("netlify returned a site without an account_id".into()))
    }

    async fn call(
        &self,
        provider: Provider,
        method: Method,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value, ProviderError> {
        let mut req = self.http.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{provider} API unreachable: {}", root_cause(&e))))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(parsed);
        }
        let reason = parsed["error"]["message"]
            .as_str()
            .or(parsed["message"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        let message = format!("{provider} answered HTTP {}: {reason}", status.as_u16());
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Err(ProviderError::Unavailable(message))
        } else {
            Err(ProviderError::Rejected(message))
        }
    }
}

fn team_query(target: &Target, sep: char) -> String {
    target.team_id.as_ref().map(|t| format!("{sep}teamId={t}")).unwrap_or_default()
}

fn root_cause(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}
