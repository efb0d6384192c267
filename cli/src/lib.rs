//! `capydb`: the CapyDB command-line client. `main.rs` only calls [`main`].

mod api_keys;
mod backups;
mod client;
mod config;
mod download;
mod exit;
mod help;
mod integrations;
mod jobs;
mod output;
mod previews;
mod profile;
mod projects;
mod regions;
mod restore;
mod restore_points;
mod schedules;
mod wait;
mod webhooks;

use capydb_api::jobs::{Job, JobState};
use clap::{Args, Parser, Subcommand};
use client::Api;
use exit::CliError;
use output::{opt, Format};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "capydb", version, about = "Back up and restore CapyDB Postgres projects")]
struct Cli {
    #[arg(long, env = "CAPYDB_API_URL", global = true, hide_env_values = true)]
    api_url: Option<String>,
    #[arg(long, env = "CAPYDB_API_KEY", global = true, hide_env_values = true)]
    api_key: Option<String>,
    /// Project to act on.
    #[arg(long, env = "CAPYDB_PROJECT", global = true)]
    project: Option<String>,
    /// Organisation to act on (webhooks); defaults to the project's.
    #[arg(long, env = "CAPYDB_ORG", global = true)]
    org: Option<String>,
    #[arg(short, long, value_enum, default_value = "table", global = true)]
    output: Format,
    /// Profile of the config file to use (see `capydb login`).
    #[arg(long, env = "CAPYDB_PROFILE", global = true, default_value = "default")]
    profile: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check an API URL and key and keep them in the profile (asks for what flags and
    /// environment do not give; the key may come on stdin).
    #[command(
        after_help = "Example:\n  capydb login --api-url https://api.capydb.example\n  echo \"$KEY\" | capydb login --api-url https://api.capydb.example --profile ci"
    )]
    Login,
    /// The profile's defaults: `config set project prj_…`, `config show`, `config unset org`.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Print shell completions: `capydb completions bash > ~/.local/share/bash-completion/completions/capydb`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Create, list and inspect projects.
    #[command(subcommand)]
    Projects(projects::ProjectsCmd),
    /// Print the direct connection URL (ready for psql) of the project or of a preview.
    ConnectionString {
        /// A preview database (id or name) instead of the project.
        #[arg(long)]
        preview: Option<String>,
    },
    /// Take, list and delete backups.
    #[command(subcommand)]
    Backups(backups::BackupsCmd),
    /// Inspect asynchronous jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCmd),
    /// Restore a backup into a new preview (default), an existing preview, or the project.
    Restore(restore::RestoreArgs),
    /// Past and running restores.
    #[command(subcommand)]
    Restores(restore::RestoresCmd),
    /// Preview databases: restore targets beside production, with a time to live.
    #[command(subcommand)]
    Preview(previews::PreviewCmd),
    /// Named points to restore to later.
    #[command(subcommand)]
    RestorePoints(restore_points::RestorePointsCmd),
    /// The organisation's signed webhook endpoints.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCmd),
    /// Regions, and how far back point-in-time recovery reaches in each.
    #[command(subcommand)]
    Regions(regions::RegionsCmd),
    /// Vercel / Netlify: keep the project's DATABASE_URL in step after restores.
    #[command(subcommand)]
    Integrations(integrations::IntegrationsCmd),
    /// The organisation's API keys: list, create (scoped, per project, expiring) and revoke.
    #[command(subcommand)]
    ApiKeys(api_keys::ApiKeysCmd),
}

/// Paging of a list command.
#[derive(Args)]
pub(crate) struct ListArgs {
    /// Items per page (1-100).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: u32,
    /// Every page, following `next_cursor`.
    #[arg(long)]
    all: bool,
}

impl ListArgs {
    /// `path?limit=N` (or `&limit=N`), and every page with `--all`.
    pub(crate) async fn fetch<P: client::Paged>(&self, api: &Api, path: &str) -> Result<P, CliError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        api.list(&format!("{path}{separator}limit={}", self.limit), self.all).await
    }
}

#[derive(Args)]
struct WaitArgs {
    /// Wait until the job finishes (exit 1 if it fails).
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this long (90s, 15m, 2h).
    #[arg(long, default_value = "30m", value_parser = wait::parse_duration)]
    wait_timeout: Duration,
}

/// Parses the command line, runs it, and returns the process exit code.
pub fn main() -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    let matches = help::attach(Cli::command()).get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(e) = cli.fill_from_profile() {
        eprintln!("error: {e}");
        return e.code();
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.code()
        }
    }
}

impl Cli {
    /// What flags and environment left unset comes from the profile.
    fn fill_from_profile(&mut self) -> Result<(), CliError> {
        if matches!(self.command, Command::Completions { .. }) {
            return Ok(());
        }
        let config = profile::load()?;
        let Some(p) = config.profiles.get(&self.profile) else { return Ok(()) };
        // `login` checks what it is given, not what the profile held before.
        if !matches!(self.command, Command::Login) {
            self.api_url = self.api_url.take().or_else(|| p.api_url.clone());
            self.api_key = self.api_key.take().or_else(|| p.api_key.clone());
        }
        self.project = self.project.take().or_else(|| p.project.clone());
        self.org = self.org.take().or_else(|| p.org.clone());
        Ok(())
    }

    fn api(&self) -> Result<Api, CliError> {
        let url = self
            .api_url
            .as_deref()
            .ok_or_else(|| CliError::Usage("no API URL: set CAPYDB_API_URL or pass --api-url".into()))?;
        let key = self
            .api_key
            .as_deref()
            .ok_or_else(|| CliError::Auth("no API key: set CAPYDB_API_KEY or pass --api-key".into()))?;
        Api::new(url, key)
    }

    fn project(&self) -> Result<&str, CliError> {
        self.project
            .as_deref()
            .ok_or_else(|| CliError::Usage("no project: set CAPYDB_PROJECT or pass --project".into()))
    }
}

/// One module per resource, each with its own `run`.
async fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Login => return config::login(&cli).await,
        Command::Config(cmd) => return config::run(&cli, cmd),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut help::attach(Cli::command()), "capydb", &mut std::io::stdout());
            return Ok(());
        }
        _ => {}
    }
    let api = cli.api()?;
    let out = cli.output;
    match &cli.command {
        Command::Projects(cmd) => projects::run(&cli, &api, cmd, out).await,
        Command::ConnectionString { preview } => projects::connection_string(&cli, &api, preview.as_deref(), out).await,
        Command::Restore(args) => restore::run(&cli, &api, args, out).await,
        Command::Restores(cmd) => restore::history(&cli, &api, cmd, out).await,
        Command::Preview(cmd) => previews::run(&cli, &api, cmd, out).await,
        Command::RestorePoints(cmd) => restore_points::run(&cli, &api, cmd, out).await,
        Command::Backups(cmd) => backups::run(&cli, &api, cmd, out).await,
        Command::Jobs(cmd) => jobs::run(&cli, &api, cmd, out).await,
        Command::Webhooks(cmd) => webhooks::run(&cli, &api, cmd, out).await,
        Command::Integrations(cmd) => integrations::run(&cli, &api, cmd, out).await,
        Command::ApiKeys(cmd) => api_keys::run(&cli, &api, cmd, out).await,
        Command::Regions(cmd) => regions::run(&api, cmd, out).await,
        Command::Login | Command::Config(_) | Command::Completions { .. } => unreachable!("answered above"),
    }
}

fn fail_if_failed(job: &Job) -> Result<(), CliError> {
    match job.state {
        JobState::Failed => Err(CliError::JobFailed(format!("job {} failed: {}", job.id, opt(&job.error)))),
        JobState::Cancelled => Err(CliError::JobFailed(format!("job {} was {}", job.id, opt(&job.error)))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod help_tests {
    use super::Cli;
    use clap::CommandFactory;

    fn leaves(cmd: &clap::Command, path: String, out: &mut Vec<(String, bool, bool)>) {
        let subs: Vec<_> = cmd.get_subcommands().filter(|c| c.get_name() != "help").collect();
        if subs.is_empty() {
            let about = cmd.get_about().is_some_and(|a| !a.to_string().trim().is_empty());
            let example = cmd.get_after_help().is_some_and(|h| h.to_string().contains("Example"));
            out.push((path.clone(), about, example));
        }
        for s in subs {
            leaves(s, format!("{path} {}", s.get_name()), out);
        }
    }

    #[test]
    fn every_command_says_what_it_does_and_shows_an_example() {
        let mut all = Vec::new();
        leaves(&super::help::attach(Cli::command()), "capydb".into(), &mut all);
        let missing: Vec<_> = all.iter().filter(|(_, about, example)| !about || !example).collect();
        assert!(
            missing.is_empty(),
            "{} of {} commands lack a description or an example: {missing:#?}",
            missing.len(),
            all.len()
        );
    }
}
