//! `capydb`: the CapyDB command-line client. `main.rs` only calls [`main`].

mod api_keys;
mod client;
mod download;
mod exit;
mod help;
mod integrations;
mod output;
mod profile;
mod restore;
mod wait;
mod webhooks;

use capydb_api::backups::{
    Backup, BackupCreateRequest, BackupCreated, BackupDeleted, BackupList, BackupResponse, VerificationState,
};
use capydb_api::identity::Me;
use capydb_api::jobs::{Job, JobList, JobResponse, JobState};
use capydb_api::previews::PreviewList;
use capydb_api::projects::{
    Connections, Project, ProjectConnections, ProjectCreateRequest, ProjectCreated, ProjectDetail, ProjectList,
    RegionList,
};
use capydb_api::schedules::{ScheduleList, ScheduleRequest, ScheduleResponse, ScheduledBackup};
use clap::{Args, Parser, Subcommand};
use client::Api;
use exit::CliError;
use output::{opt, size, Format};
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
    Config(ConfigCmd),
    /// Print shell completions: `capydb completions bash > ~/.local/share/bash-completion/completions/capydb`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Create, list and inspect projects.
    #[command(subcommand)]
    Projects(ProjectsCmd),
    /// Print the direct connection URL (ready for psql) of the project or of a preview.
    ConnectionString {
        /// A preview database (id or name) instead of the project.
        #[arg(long)]
        preview: Option<String>,
    },
    /// Take, list and delete backups.
    #[command(subcommand)]
    Backups(BackupsCmd),
    /// Inspect asynchronous jobs.
    #[command(subcommand)]
    Jobs(JobsCmd),
    /// Restore a backup into a new preview (default), an existing preview, or the project.
    Restore(RestoreArgs),
    /// Past and running restores.
    #[command(subcommand)]
    Restores(RestoresCmd),
    /// Preview databases: restore targets beside production, with a time to live.
    #[command(subcommand)]
    Preview(PreviewCmd),
    /// Named points to restore to later.
    #[command(subcommand)]
    RestorePoints(RestorePointsCmd),
    /// The organisation's signed webhook endpoints.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCmd),
    /// Regions, and how far back point-in-time recovery reaches in each.
    #[command(subcommand)]
    Regions(RegionsCmd),
    /// Vercel / Netlify: keep the project's DATABASE_URL in step after restores.
    #[command(subcommand)]
    Integrations(integrations::IntegrationsCmd),
    /// The organisation's API keys: list, create (scoped, per project, expiring) and revoke.
    #[command(subcommand)]
    ApiKeys(api_keys::ApiKeysCmd),
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Set a default of the profile (flags and environment variables still win).
    Set {
        #[arg(value_enum)]
        name: ConfigName,
        value: String,
    },
    /// Remove a default from the profile.
    Unset {
        #[arg(value_enum)]
        name: ConfigName,
    },
    /// Show the profile (the key masked) and where it is kept.
    Show,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ConfigName {
    Project,
    Org,
    ApiUrl,
}

#[derive(Subcommand)]
enum RegionsCmd {
    List,
}

#[derive(Subcommand)]
enum RestorePointsCmd {
    /// Pin a label to a backup (kind backup) or to a moment (kind pitr).
    Create {
        #[arg(long)]
        label: String,
        #[arg(long, value_parser = ["backup", "pitr"])]
        kind: Option<String>,
        #[arg(long)]
        backup_key: Option<String>,
        /// The moment (RFC 3339, kind pitr); default now, marked exactly in the WAL.
        #[arg(long)]
        pitr_time: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    List(ListArgs),
    Delete {
        restore_point_id: String,
    },
}

#[derive(Args)]
struct RestoreArgs {
    /// Key of the backup to restore (see `capydb backups list -o json`).
    #[arg(long)]
    backup_key: Option<String>,
    /// A restore point to restore.
    #[arg(long)]
    restore_point: Option<String>,
    /// Point-in-time recovery target (RFC 3339).
    #[arg(long)]
    restore_time: Option<String>,
    /// new_preview, preview or project; inferred from --preview / --preview-name.
    #[arg(long, value_parser = ["new_preview", "preview", "project"])]
    target_kind: Option<String>,
    /// An existing preview database (id or name) to overwrite.
    #[arg(long, conflicts_with = "preview_name")]
    preview: Option<String>,
    /// Name of the new preview database.
    #[arg(long)]
    preview_name: Option<String>,
    /// Hours the new preview lives (1-168, default 24).
    #[arg(long)]
    ttl_hours: Option<u32>,
    /// Confirms overwriting the project's production database.
    #[arg(long)]
    confirm_project_overwrite: bool,
    /// Restore an archive that failed verification.
    #[arg(long)]
    allow_unverified: bool,
    #[command(flatten)]
    wait: WaitArgs,
}

#[derive(Subcommand)]
enum RestoresCmd {
    List(ListArgs),
    Get { restore_id: String },
}

#[derive(Subcommand)]
enum PreviewCmd {
    List(ListArgs),
    /// Show a preview database (id or name), with its connection URL.
    Get {
        preview: String,
    },
    Delete {
        preview: String,
    },
    /// Give the preview a new time to live, counted from now.
    Extend {
        preview: String,
        #[arg(long)]
        ttl_hours: u32,
    },
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

#[derive(Subcommand)]
enum ProjectsCmd {
    Create {
        #[arg(long)]
        name: String,
        /// Region (default: the service's first).
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    List(ListArgs),
    /// Show a project (default: --project).
    Get {
        id: Option<String>,
    },
}

#[derive(Subcommand)]
enum BackupsCmd {
    /// Queue a backup of the project database.
    Create {
        #[arg(long)]
        label: Option<String>,
        /// Makes retries of this exact request safe (the API returns the first result).
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    List(ListArgs),
    Get {
        backup_id: String,
    },
    Delete {
        backup_id: String,
    },
    /// Download a completed backup's archive, its SHA-256 checked as it is written.
    Download {
        backup_id: String,
        /// Where to write it (default `<backup id>.dump.zst`, or `.dump` with --decompress).
        #[arg(short = 'f', long = "file")]
        file: Option<std::path::PathBuf>,
        /// Write the plain pg_dump archive, ready for `pg_restore -d <database> <file>`.
        #[arg(long)]
        decompress: bool,
    },
    /// The project's daily backup schedule.
    #[command(subcommand)]
    Schedule(ScheduleCmd),
}

#[derive(Subcommand)]
enum ScheduleCmd {
    Get,
    /// Create or replace the daily schedule (UTC) and turn it on.
    Set {
        #[arg(long)]
        hour: u32,
        #[arg(long)]
        minute: u32,
        /// Days each scheduled backup is kept (1-365, default 14).
        #[arg(long)]
        retention_days: Option<u32>,
        #[arg(long)]
        label: Option<String>,
    },
    /// Keep the schedule's settings but stop running it.
    Disable,
}

#[derive(Subcommand)]
enum JobsCmd {
    Get {
        job_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    List(ListArgs),
    Cancel {
        job_id: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
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

async fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Login => return login(&cli).await,
        Command::Config(cmd) => return config(&cli, cmd),
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
        Command::Projects(cmd) => projects(&cli, &api, cmd, out).await,
        Command::ConnectionString { preview: None } => {
            let v: ProjectConnections = api.get(&format!("/v1/projects/{}/connections", cli.project()?)).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("{}", v.connections.direct_url),
            }
            Ok(())
        }
        Command::ConnectionString { preview: Some(preview) } => {
            let id = preview_id(&cli, &api, preview).await?;
            let c: Connections = api.get(&format!("/v1/preview-databases/{id}/connections")).await?;
            match out {
                Format::Json => output::json(&c),
                Format::Table => println!("{}", c.direct_url),
            }
            Ok(())
        }
        Command::Restore(args) => restore::run(&cli, &api, args, out).await,
        Command::Restores(cmd) => restore::history(&cli, &api, cmd, out).await,
        Command::Preview(cmd) => restore::previews(&cli, &api, cmd, out).await,
        Command::RestorePoints(cmd) => restore::points(&cli, &api, cmd, out).await,
        Command::Backups(cmd) => backups(&cli, &api, cmd, out).await,
        Command::Jobs(cmd) => jobs(&cli, &api, cmd, out).await,
        Command::Webhooks(cmd) => webhooks::run(&cli, &api, cmd, out).await,
        Command::Integrations(cmd) => integrations::run(&cli, &api, cmd, out).await,
        Command::ApiKeys(cmd) => api_keys::run(&cli, &api, cmd, out).await,
        Command::Login | Command::Config(_) | Command::Completions { .. } => unreachable!("answered above"),
        Command::Regions(RegionsCmd::List) => {
            let v: RegionList = api.get("/v1/regions").await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::table(
                    &v.region_details,
                    &[
                        ("REGION", &|r| r.id.clone()),
                        ("NAME", &|r| r.display_name.clone()),
                        ("PITR", &|r| r.pitr_available.to_string()),
                        ("EARLIEST", &|r| opt(&r.earliest_restore_time)),
                        ("LATEST", &|r| opt(&r.latest_restore_time)),
                        ("ARCHIVE LAG (S)", &|r| opt(&r.archive_lag_seconds)),
                    ],
                ),
            }
            Ok(())
        }
    }
}

/// A preview's id from its id or its name (names are unique per project).
async fn preview_id(cli: &Cli, api: &Api, id_or_name: &str) -> Result<String, CliError> {
    if id_or_name.starts_with("pvw_") {
        return Ok(id_or_name.to_string());
    }
    let path = format!("/v1/projects/{}/preview-databases?limit=100", cli.project()?);
    let list: PreviewList = api.list(&path, true).await?;
    list.preview_databases
        .into_iter()
        .find(|p| p.name == id_or_name)
        .map(|p| p.id)
        .ok_or_else(|| CliError::NotFound(format!("no preview database named {id_or_name} in this project")))
}

fn project_record(p: &Project) -> Vec<(&'static str, String)> {
    let mut record = vec![
        ("id", p.id.clone()),
        ("name", p.name.clone()),
        ("region", p.region.clone()),
        ("state", output::name(&p.state)),
        ("database", p.database_name.clone()),
        ("created", p.created_at.to_string()),
    ];
    if let Some(e) = &p.last_error {
        record.push(("error", e.clone()));
    }
    record
}

async fn projects(cli: &Cli, api: &Api, cmd: &ProjectsCmd, out: Format) -> Result<(), CliError> {
    match cmd {
        ProjectsCmd::Create { name, region, wait } => {
            let request = ProjectCreateRequest { name: name.clone(), region: region.clone() };
            let v: ProjectCreated = api.post("/v1/projects", &request, None).await?;
            if wait.wait {
                let job = wait::job(api, &v.job.id, wait.wait_timeout).await?;
                fail_if_failed(&job)?;
            }
            let project: ProjectDetail = api.get(&format!("/v1/projects/{}", v.project.id)).await?;
            match out {
                Format::Json => output::json(&project),
                Format::Table => output::record(&project_record(&project.project)),
            }
        }
        ProjectsCmd::List(list) => {
            let v: ProjectList = list.fetch(api, "/v1/projects").await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "projects",
                    &[
                        ("ID", &|p| p.id.clone()),
                        ("NAME", &|p| p.name.clone()),
                        ("REGION", &|p| p.region.clone()),
                        ("STATE", &|p| output::name(&p.state)),
                        ("CREATED", &|p| p.created_at.to_string()),
                    ],
                ),
            }
        }
        ProjectsCmd::Get { id } => {
            let id = match id {
                Some(id) => id.as_str(),
                None => cli.project()?,
            };
            let v: ProjectDetail = api.get(&format!("/v1/projects/{id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => {
                    let r = &v.region;
                    let pitr = match (r.pitr_available, r.earliest_restore_time, r.latest_restore_time) {
                        (true, Some(from), Some(to)) => {
                            format!("{from} to {to} (archive {} s behind)", opt(&r.archive_lag_seconds))
                        }
                        _ if r.wal_archiving => "not yet (no base backup with complete WAL)".into(),
                        _ => "not offered in this region".into(),
                    };
                    let mut record = project_record(&v.project);
                    record.push(("point-in-time", pitr));
                    output::record(&record);
                }
            }
        }
    }
    Ok(())
}

fn fail_if_failed(job: &Job) -> Result<(), CliError> {
    match job.state {
        JobState::Failed => Err(CliError::JobFailed(format!("job {} failed: {}", job.id, opt(&job.error)))),
        JobState::Cancelled => Err(CliError::JobFailed(format!("job {} was {}", job.id, opt(&job.error)))),
        _ => Ok(()),
    }
}

fn print_backup(b: &Backup) {
    let verification = match (b.verification_state, &b.verification_error) {
        (VerificationState::Verified, _) => format!("verified at {}", opt(&b.verified_at)),
        (VerificationState::Failed, Some(e)) => format!("failed: {e}"),
        (state, _) => output::name(&state),
    };
    output::record(&[
        ("id", b.id.clone()),
        ("label", opt(&b.label)),
        ("state", output::name(&b.state)),
        ("kind", output::name(&b.kind)),
        ("verification", verification),
        ("size", size(b.size_bytes)),
        ("backup_key", opt(&b.backup_key)),
        ("sha256", opt(&b.sha256)),
        ("pinned", b.pinned.to_string()),
        ("expires", opt(&b.expires_at)),
        ("created", b.created_at.to_string()),
    ]);
}

async fn backups(cli: &Cli, api: &Api, cmd: &BackupsCmd, out: Format) -> Result<(), CliError> {
    let project = cli.project()?;
    match cmd {
        BackupsCmd::Create { label, idempotency_key, wait } => {
            let request = BackupCreateRequest { label: label.clone() };
            let path = format!("/v1/projects/{project}/backups");
            let v: BackupCreated = api.post(&path, &request, idempotency_key.as_deref()).await?;
            let backup_id = &v.backup.id;
            if !wait.wait {
                match out {
                    Format::Json => output::json(&v),
                    Format::Table => println!("Backup {backup_id} queued (job {}).", v.job.id),
                }
                return Ok(());
            }
            let job = wait::job(api, &v.job.id, wait.wait_timeout).await?;
            let backup: BackupResponse = api.get(&format!("/v1/projects/{project}/backups/{backup_id}")).await?;
            match out {
                Format::Json => output::json(&backup),
                Format::Table => {
                    if job.state == JobState::Completed {
                        println!("Backup {backup_id} completed and verified.");
                    }
                    print_backup(&backup.backup);
                }
            }
            fail_if_failed(&job)
        }
        BackupsCmd::List(list) => {
            let v: BackupList = list.fetch(api, &format!("/v1/projects/{project}/backups")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "backups",
                    &[
                        ("ID", &|b| b.id.clone()),
                        ("LABEL", &|b| opt(&b.label)),
                        ("STATE", &|b| output::name(&b.state)),
                        ("VERIFIED", &|b| output::name(&b.verification_state)),
                        ("SIZE", &|b| size(b.size_bytes)),
                        ("KIND", &|b| output::name(&b.kind)),
                        ("PINNED", &|b| if b.pinned { "yes".into() } else { "-".into() }),
                        ("EXPIRES", &|b| opt(&b.expires_at)),
                        ("CREATED", &|b| b.created_at.to_string()),
                    ],
                ),
            }
            Ok(())
        }
        BackupsCmd::Get { backup_id } => {
            let v: BackupResponse = api.get(&format!("/v1/projects/{project}/backups/{backup_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => print_backup(&v.backup),
            }
            Ok(())
        }
        BackupsCmd::Schedule(cmd) => schedule(api, project, cmd, out).await,
        BackupsCmd::Download { backup_id, file, decompress } => {
            download::run(api, project, backup_id, file.as_deref(), *decompress, out).await
        }
        BackupsCmd::Delete { backup_id } => {
            let v: BackupDeleted = api.delete(&format!("/v1/projects/{project}/backups/{backup_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("Backup {backup_id} deleted (archive and record)."),
            }
            Ok(())
        }
    }
}

fn describe_schedule(s: &ScheduledBackup) -> String {
    let time = format!("{:02}:{:02}", s.cron_hour, s.cron_minute);
    let state = if s.is_active { "" } else { " (disabled)" };
    let mut text = format!("daily at {time} UTC, retention {}d, label {}{state}", s.retention_days, s.label);
    if s.is_active {
        text.push_str(&format!("\nnext run: {}", opt(&s.next_run_at)));
    }
    if let Some(at) = s.last_run_at {
        text.push_str(&format!("\nlast run: {at} (job {})", opt(&s.last_job_id)));
    }
    text
}

async fn schedule(api: &Api, project: &str, cmd: &ScheduleCmd, out: Format) -> Result<(), CliError> {
    let path = format!("/v1/projects/{project}/scheduled-backups");
    let current = || async { api.get::<ScheduleList>(&path).await.map(|l| l.scheduled_backups.into_iter().next()) };
    let schedule = match cmd {
        ScheduleCmd::Get => match current().await? {
            Some(s) => s,
            None if out == Format::Json => {
                output::json(&ScheduleList { scheduled_backups: vec![] });
                return Ok(());
            }
            None => {
                println!("no backup schedule (set one with: capydb backups schedule set --hour H --minute M)");
                return Ok(());
            }
        },
        ScheduleCmd::Set { hour, minute, retention_days, label } => {
            let request = ScheduleRequest {
                cron_hour: Some((*hour).into()),
                cron_minute: Some((*minute).into()),
                is_active: Some(true),
                label: label.clone(),
                retention_days: retention_days.map(Into::into),
            };
            api.put::<ScheduleResponse>(&format!("{path}/default"), &request).await?.scheduled_backup
        }
        ScheduleCmd::Disable => {
            let Some(s) = current().await? else {
                return Err(CliError::NotFound("this project has no backup schedule".into()));
            };
            let request = ScheduleRequest {
                cron_hour: Some(s.cron_hour.into()),
                cron_minute: Some(s.cron_minute.into()),
                is_active: Some(false),
                label: Some(s.label),
                retention_days: Some(s.retention_days.into()),
            };
            api.put::<ScheduleResponse>(&format!("{path}/default"), &request).await?.scheduled_backup
        }
    };
    match out {
        Format::Json => output::json(&ScheduleResponse { scheduled_backup: schedule }),
        Format::Table => println!("{}", describe_schedule(&schedule)),
    }
    Ok(())
}

fn print_job(j: &Job) {
    output::record(&[
        ("id", j.id.clone()),
        ("type", j.job_type.as_str().to_string()),
        ("state", output::name(&j.state)),
        ("phase", j.progress.as_ref().map_or_else(|| "-".into(), |p| p.phase.clone())),
        ("attempts", format!("{}/{}", j.attempts, j.max_attempts)),
        ("error", opt(&j.error)),
        (
            "last error",
            match j.retry_classification {
                Some(c) => format!("{} ({})", opt(&j.last_error), output::name(&c)),
                None => "-".into(),
            },
        ),
        ("next attempt", opt(&j.next_attempt_at)),
        ("created", j.created_at.to_string()),
        ("completed", opt(&j.completed_at)),
    ]);
}

async fn jobs(cli: &Cli, api: &Api, cmd: &JobsCmd, out: Format) -> Result<(), CliError> {
    match cmd {
        JobsCmd::Get { job_id, wait } => {
            let job = if wait.wait {
                wait::job(api, job_id, wait.wait_timeout).await?
            } else {
                api.get::<JobResponse>(&format!("/v1/jobs/{job_id}")).await?.job
            };
            if wait.wait {
                fail_if_failed(&job).inspect_err(|_| match out {
                    Format::Json => output::json(&JobResponse { job: job.clone() }),
                    Format::Table => print_job(&job),
                })?;
            }
            match out {
                Format::Json => output::json(&JobResponse { job }),
                Format::Table => print_job(&job),
            }
        }
        JobsCmd::Cancel { job_id, wait } => {
            let v: JobResponse = api.post(&format!("/v1/jobs/{job_id}/cancel"), &capydb_api::Empty {}, None).await?;
            let job = if wait.wait && !v.job.state.is_terminal() {
                wait::job(api, job_id, wait.wait_timeout).await?
            } else {
                v.job
            };
            match out {
                Format::Json => output::json(&JobResponse { job: job.clone() }),
                Format::Table if job.state == JobState::Cancelled => println!("Job {job_id} cancelled."),
                Format::Table if job.state.is_terminal() => {
                    println!("Job {job_id} ended {} before it could stop.", output::name(&job.state))
                }
                Format::Table => println!("Job {job_id} is stopping; `capydb jobs get {job_id} --wait` follows it."),
            }
            if wait.wait && job.state != JobState::Cancelled {
                return Err(CliError::JobFailed(format!(
                    "job {job_id} ended {}, not cancelled",
                    output::name(&job.state)
                )));
            }
        }
        JobsCmd::List(list) => {
            let v: JobList = list.fetch(api, &format!("/v1/projects/{}/jobs", cli.project()?)).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "jobs",
                    &[
                        ("ID", &|j| j.id.clone()),
                        ("TYPE", &|j| j.job_type.as_str().to_string()),
                        ("STATE", &|j| output::name(&j.state)),
                        ("ATTEMPTS", &|j| j.attempts.to_string()),
                        ("CREATED", &|j| j.created_at.to_string()),
                        ("ERROR", &|j| opt(&j.error)),
                    ],
                ),
            }
        }
    }
    Ok(())
}

/// A line from stdin, after a prompt when a person is typing.
fn ask(prompt: &str) -> Result<String, CliError> {
    use std::io::{BufRead, IsTerminal, Write};
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::Other(e.to_string()))?;
    let line = line.trim().to_string();
    if line.is_empty() {
        return Err(CliError::Usage(format!("no {}: pass it as a flag or on stdin", prompt.to_lowercase())));
    }
    Ok(line)
}

async fn login(cli: &Cli) -> Result<(), CliError> {
    let url = match &cli.api_url {
        Some(u) => u.clone(),
        None => ask("API URL")?,
    };
    let key = match &cli.api_key {
        Some(k) => k.clone(),
        None => ask("API key")?,
    };
    let me: Me = Api::new(&url, &key)?.get("/v1/me").await?;
    let mut config = profile::load()?;
    let entry = config.profiles.entry(cli.profile.clone()).or_default();
    entry.api_url = Some(url.clone());
    entry.api_key = Some(key);
    entry.org = Some(me.organization_id.clone());
    if let Some(p) = &me.project_id {
        entry.project.get_or_insert_with(|| p.clone());
    }
    let path = profile::save(&config)?;
    println!(
        "Logged in to {url} as organization {} (profile {}, kept in {}).",
        me.organization_id,
        cli.profile,
        path.display()
    );
    Ok(())
}

fn config(cli: &Cli, cmd: &ConfigCmd) -> Result<(), CliError> {
    let mut config = profile::load()?;
    match cmd {
        ConfigCmd::Show => {
            let p = config.profiles.get(&cli.profile).cloned().unwrap_or_default();
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            output::record(&[
                ("profile", cli.profile.clone()),
                ("file", profile::path()?.display().to_string()),
                ("api_url", shown(&p.api_url)),
                ("api_key", p.api_key.as_deref().map(profile::masked).unwrap_or_else(|| "-".into())),
                ("project", shown(&p.project)),
                ("org", shown(&p.org)),
            ]);
            return Ok(());
        }
        ConfigCmd::Set { name, value } => {
            let entry = config.profiles.entry(cli.profile.clone()).or_default();
            *slot(entry, *name) = Some(value.clone());
        }
        ConfigCmd::Unset { name } => {
            let entry = config.profiles.entry(cli.profile.clone()).or_default();
            *slot(entry, *name) = None;
        }
    }
    profile::save(&config)?;
    Ok(())
}

fn slot(p: &mut profile::Profile, name: ConfigName) -> &mut Option<String> {
    match name {
        ConfigName::Project => &mut p.project,
        ConfigName::Org => &mut p.org,
        ConfigName::ApiUrl => &mut p.api_url,
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
