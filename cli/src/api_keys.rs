//! `capydb api-keys …`: the organisation's API keys.

use crate::client::Api;
use crate::output::{self, opt};
use crate::webhooks::org;
use crate::{Cli, CliError, Format, ListArgs};
use capydb_api::identity::{ApiKey, ApiKeyCreateRequest, ApiKeyCreated, ApiKeyList, ApiKeyResponse};
use clap::Subcommand;

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
    match cmd {
        ApiKeysCmd::List(list) => {
            let v: ApiKeyList = list.fetch(api, &base).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "API keys",
                    &[
                        ("ID", &|k| k.id.clone()),
                        ("NAME", &|k| k.name.clone()),
                        ("PREFIX", &|k| k.key_prefix.clone()),
                        ("SCOPES", &scopes_of),
                        ("PROJECT", &|k| opt(&k.project_id)),
                        ("ACTIVE", &|k| k.is_active.to_string()),
                        ("LAST USED", &|k| opt(&k.last_used_at)),
                        ("EXPIRES", &|k| opt(&k.expires_at)),
                        ("CREATED", &|k| k.created_at.to_string()),
                    ],
                ),
            }
        }
        ApiKeysCmd::Create { name, scopes, project_id, expires_at } => {
            let request = ApiKeyCreateRequest {
                name: name.clone(),
                scopes: (!scopes.is_empty()).then(|| scopes.clone()),
                project_id: project_id.clone(),
                expires_at: expires_at.clone(),
            };
            let v: ApiKeyCreated = api.post(&base, &request, None).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => {
                    let key = &v.api_key;
                    println!("API key {} ({}) created with scopes {}.", key.id, key.name, scopes_of(key));
                    println!("Its secret is shown only this once:\n  {}", opt(&v.plaintext_api_key));
                }
            }
        }
        ApiKeysCmd::Revoke { key_id } => {
            let v: ApiKeyResponse = api.delete(&format!("{base}/{key_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("API key {key_id} revoked; keys it created stop working too."),
            }
        }
    }
    Ok(())
}

fn scopes_of(k: &ApiKey) -> String {
    if k.scopes.is_empty() {
        "-".into()
    } else {
        k.scopes.join(",")
    }
}
