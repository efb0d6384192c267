//! `capydb integrations …`: deployment providers whose env vars follow the project database.

use crate::client::Api;
use crate::output::{self, field};
use crate::{Cli, CliError, Format};
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum IntegrationsCmd {
    /// The project's integrations and their last push.
    List,
    /// Connect (or reconnect) a provider; the token is checked with the provider, then the
    /// variables are pushed once.
    #[command(subcommand)]
    Set(SetCmd),
    /// Disconnect a provider (the variables it already has stay there).
    Remove {
        #[arg(value_parser = ["vercel", "netlify"])]
        provider: String,
    },
    /// Push DATABASE_URL and DATABASE_URL_UNPOOLED to the provider now.
    Sync {
        #[arg(value_parser = ["vercel", "netlify"])]
        provider: String,
    },
}

#[derive(Subcommand)]
pub enum SetCmd {
    Vercel {
        /// Vercel project id or name.
        #[arg(long)]
        vercel_project: String,
        /// Vercel team id, for a project owned by a team.
        #[arg(long)]
        team_id: Option<String>,
        /// A Vercel access token (or set VERCEL_TOKEN).
        #[arg(long, env = "VERCEL_TOKEN", hide_env_values = true)]
        token: String,
    },
    Netlify {
        #[arg(long)]
        site_id: String,
        /// A Netlify personal access token (or set NETLIFY_AUTH_TOKEN).
        #[arg(long, env = "NETLIFY_AUTH_TOKEN", hide_env_values = true)]
        token: String,
    },
}

pub async fn run(cli: &Cli, api: &Api, cmd: &IntegrationsCmd, out: Format) -> Result<(), CliError> {
    let base = format!("/v1/projects/{}/integrations", cli.project()?);
    let v = match cmd {
        IntegrationsCmd::List => {
            let v = api.get(&base).await?;
            if out == Format::Table {
                output::table(
                    v["integrations"].as_array().map(Vec::as_slice).unwrap_or_default(),
                    &[
                        ("PROVIDER", &|i| field(i, "provider")),
                        ("TARGET", &target),
                        ("SYNC", &|i| field(i, "sync_state")),
                        ("LAST SYNCED", &|i| field(i, "last_synced_at")),
                        ("LAST ERROR", &|i| field(i, "last_sync_error")),
                    ],
                );
                return Ok(());
            }
            v
        }
        IntegrationsCmd::Set(set) => {
            let (provider, body) = match set {
                SetCmd::Vercel { vercel_project, team_id, token } => {
                    let mut body = json!({ "project_id": vercel_project, "token": token });
                    if let Some(t) = team_id {
                        body["team_id"] = json!(t);
                    }
                    ("vercel", body)
                }
                SetCmd::Netlify { site_id, token } => ("netlify", json!({ "site_id": site_id, "token": token })),
            };
            let v = api.put(&format!("{base}/{provider}"), body).await?;
            if out == Format::Table {
                print_sync(&v["integration"], "connected");
                return Ok(());
            }
            v
        }
        IntegrationsCmd::Remove { provider } => {
            let v = api.delete(&format!("{base}/{provider}")).await?;
            if out == Format::Table {
                println!("{provider} integration removed.");
                return Ok(());
            }
            v
        }
        IntegrationsCmd::Sync { provider } => {
            let v = api.post(&format!("{base}/{provider}/sync"), json!({}), None).await?;
            if out == Format::Table {
                print_sync(&v["integration"], "synced");
            } else {
                output::json(&v);
            }
            return match v["integration"]["sync_state"].as_str() {
                Some("synced") => Ok(()),
                _ => Err(CliError::Other(format!(
                    "{provider} push did not succeed: {}",
                    field(&v["integration"], "last_sync_error")
                ))),
            };
        }
    };
    output::json(&v);
    Ok(())
}

fn target(i: &Value) -> String {
    let t = &i["target"];
    match (t["project_id"].as_str(), t["team_id"].as_str(), t["site_id"].as_str()) {
        (Some(p), Some(team), _) => format!("{team}/{p}"),
        (Some(p), None, _) => p.to_string(),
        (_, _, Some(site)) => site.to_string(),
        _ => "-".into(),
    }
}

fn print_sync(i: &Value, what: &str) {
    let provider = field(i, "provider");
    match i["sync_state"].as_str() {
        Some("synced") => {
            println!("{provider} {what}: DATABASE_URL and DATABASE_URL_UNPOOLED pushed to {}.", target(i))
        }
        _ => println!(
            "{provider} {what}, but the push did not go through yet ({}); it is retried automatically.",
            field(i, "last_sync_error")
        ),
    }
}
