//! `capydb api-keys …`: the organisation's API keys.

use crate::client::Api;
use crate::output::{self, field};
use crate::webhooks::org;
use crate::{Cli, CliError, Format, ListArgs};
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum ApiKeysCmd {
    /// The organisation's keys (their secrets are never shown again).
    List(ListArgs),
    /// Create a key; prints its secret, shown only this once.
    Create {
        #[arg(long)]
        name: String,
        /// Scopes (comma-separated, e.g. backups:read,backups:write); all when omitted, and never
        /// more than the creating key holds.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Restrict the key to one project.
        #[arg(long)]
        project_id: Option<String>,
        /// When the key stops working (RFC 3339); never later than the creating key's expiry.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Revoke a key; every key it created stops working with it.
    Revoke { key_id: String },
}

pub async fn run(cli: &Cli, api: &Api, cmd: &ApiKeysCmd, out: Format) -> Result<(), CliError> {
    let base = format!("/v1/organizations/{}/api-keys", org(cli, api).await?);
    let v = match cmd {
        ApiKeysCmd::List(list) => {
            let v = list.fetch(api, &base, "api_keys").await?;
            if out == Format::Table {
                output::listing(
                    &v,
                    "api_keys",
                    &[
                        ("ID", &|k| field(k, "id")),
                        ("NAME", &|k| field(k, "name")),
                        ("PREFIX", &|k| field(k, "display_prefix")),
                        ("SCOPES", &scopes_of),
                        ("PROJECT", &|k| field(k, "project_id")),
                        ("EXPIRES", &|k| field(k, "expires_at")),
                        ("REVOKED", &|k| field(k, "revoked_at")),
                        ("CREATED", &|k| field(k, "created_at")),
                    ],
                );
                return Ok(());
            }
            v
        }
        ApiKeysCmd::Create { name, scopes, project_id, expires_at } => {
            let mut body = json!({ "name": name });
            if !scopes.is_empty() {
                body["scopes"] = json!(scopes);
            }
            if let Some(p) = project_id {
                body["project_id"] = json!(p);
            }
            if let Some(e) = expires_at {
                body["expires_at"] = json!(e);
            }
            let v = api.post(&base, body, None).await?;
            if out == Format::Table {
                let key = &v["api_key"];
                println!(
                    "API key {} ({}) created with scopes {}.",
                    field(key, "id"),
                    field(key, "name"),
                    scopes_of(key)
                );
                println!("Its secret is shown only this once:\n  {}", field(&v, "plaintext_key"));
                return Ok(());
            }
            v
        }
        ApiKeysCmd::Revoke { key_id } => {
            let v = api.delete(&format!("{base}/{key_id}")).await?;
            if out == Format::Table {
                println!("API key {key_id} revoked; keys it created stop working too.");
                return Ok(());
            }
            v
        }
    };
    output::json(&v);
    Ok(())
}

fn scopes_of(k: &Value) -> String {
    let list = k["scopes"].as_array().map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","));
    list.filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into())
}
