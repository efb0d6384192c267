//! `capydb integrations …`: deployment providers whose env vars follow the project database.

use crate::client::Api;
use crate::output::{self, opt};
use crate::{Cli, CliError, Format};
use capydb_api::integrations::{
    Integration, IntegrationDeleted, IntegrationList, IntegrationRequest, IntegrationResponse,
    NetlifyIntegrationRequest, SyncState, VercelIntegrationRequest,
};
use capydb_api::Empty;
use clap::Subcommand;

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
    match cmd {
        IntegrationsCmd::List => {
            let v: IntegrationList = api.get(&base).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::table(
                    &v.integrations,
                    &[
                        ("PROVIDER", &|i| output::name(&i.provider)),
                        ("TARGET", &target),
                        ("SYNC", &|i| output::name(&i.sync_state)),
                        ("LAST SYNCED", &|i| opt(&i.last_synced_at)),
                        ("LAST ERROR", &|i| opt(&i.last_sync_error)),
                    ],
                ),
            }
        }
        IntegrationsCmd::Set(set) => {
            let (provider, request) = match set {
                SetCmd::Vercel { vercel_project, team_id, token } => (
                    "vercel",
                    IntegrationRequest::Vercel(VercelIntegrationRequest {
                        project_id: vercel_project.clone(),
                        team_id: team_id.clone(),
                        token: token.clone(),
                    }),
                ),
                SetCmd::Netlify { site_id, token } => (
                    "netlify",
                    IntegrationRequest::Netlify(NetlifyIntegrationRequest {
                        site_id: site_id.clone(),
                        token: token.clone(),
                    }),
                ),
            };
            let v: IntegrationResponse = api.put(&format!("{base}/{provider}"), &request).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => print_sync(&v.integration, "connected"),
            }
        }
        IntegrationsCmd::Remove { provider } => {
            let v: IntegrationDeleted = api.delete(&format!("{base}/{provider}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("{provider} integration removed."),
            }
        }
        IntegrationsCmd::Sync { provider } => {
            let v: IntegrationResponse = api.post(&format!("{base}/{provider}/sync"), &Empty {}, None).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => print_sync(&v.integration, "synced"),
            }
            if v.integration.sync_state != SyncState::Synced {
                return Err(CliError::Other(format!(
                    "{provider} push did not succeed: {}",
                    opt(&v.integration.last_sync_error)
                )));
            }
        }
    }
    Ok(())
}

fn target(i: &Integration) -> String {
    let t = &i.target;
    match (&t.project_id, &t.team_id, &t.site_id) {
        (Some(p), Some(team), _) => format!("{team}/{p}"),
        (Some(p), None, _) => p.clone(),
        (_, _, Some(site)) => site.clone(),
        _ => "-".into(),
    }
}

fn print_sync(i: &Integration, what: &str) {
    let provider = output::name(&i.provider);
    match i.sync_state {
        SyncState::Synced => {
            println!("{provider} {what}: DATABASE_URL and DATABASE_URL_UNPOOLED pushed to {}.", target(i))
        }
        _ => println!(
            "{provider} {what}, but the push did not go through yet ({}); it is retried automatically.",
            opt(&i.last_sync_error)
        ),
    }
}
