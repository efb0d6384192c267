//! `capydb restore` and `capydb restores …`.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, Format};
use crate::previews::preview_id;
use crate::{fail_if_failed, wait, Cli, ListArgs, WaitArgs};
use capydb_api::backups::BackupResponse;
use capydb_api::jobs::{Job, JobState};
use capydb_api::previews::PreviewResponse;
use capydb_api::projects::ProjectDetail;
use capydb_api::restores::{Restore, RestoreCreateRequest, RestoreCreated, RestoreList, RestoreResponse, TargetKind};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::io::{BufRead, IsTerminal, Write};

#[derive(Args)]
pub struct RestoreArgs {
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
pub enum RestoresCmd {
    List(ListArgs),
    Get { restore_id: String },
}

fn target_kind(args: &RestoreArgs) -> TargetKind {
    match (args.target_kind.as_deref(), &args.preview) {
        (Some("project"), _) => TargetKind::Project,
        (Some("preview"), _) | (None, Some(_)) => TargetKind::Preview,
        _ => TargetKind::NewPreview,
    }
}

/// Overwriting production needs the flag, or — on a terminal — the project's name typed back.
async fn confirm_overwrite(api: &Api, project: &str) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "--target-kind project overwrites the production database: pass --confirm-project-overwrite".into(),
        ));
    }
    let name = api.get::<ProjectDetail>(&format!("/v1/projects/{project}")).await?.project.name;
    eprint!(
        "This replaces the production database of project {name} ({project}).\nType the project name to continue: "
    );
    std::io::stderr().flush().ok();
    let mut typed = String::new();
    std::io::stdin().lock().read_line(&mut typed).map_err(|e| CliError::Other(e.to_string()))?;
    if typed.trim() != name {
        return Err(CliError::Usage("the name did not match; nothing was changed".into()));
    }
    Ok(())
}

/// What `restore --wait -o json` prints: the restore as it ended and its job.
#[derive(Serialize)]
struct Finished {
    restore: Restore,
    job: Job,
}

pub async fn run(cli: &Cli, api: &Api, args: &RestoreArgs, out: Format) -> Result<(), CliError> {
    let project = cli.project()?;
    let kind = target_kind(args);
    if kind == TargetKind::Project && !args.confirm_project_overwrite {
        confirm_overwrite(api, project).await?;
    }
    let preview = match &args.preview {
        Some(p) => Some(preview_id(cli, api, p).await?),
        None => None,
    };
    let request = RestoreCreateRequest {
        backup_key: args.backup_key.clone(),
        restore_point_id: args.restore_point.clone(),
        restore_time: args.restore_time.clone(),
        target_kind: Some(kind),
        preview_id: preview,
        preview_name: args.preview_name.clone(),
        ttl_hours: args.ttl_hours.map(Into::into),
        confirm_project_overwrite: Some(kind == TargetKind::Project),
        allow_unverified_backup: Some(args.allow_unverified),
    };
    let v: RestoreCreated = api.post(&format!("/v1/projects/{project}/restores"), &request, None).await?;
    if let (Format::Table, Some(p)) = (out, &v.pitr) {
        if p.restore_time_clamped {
            // Stderr: the notice must not mix with output scripts read.
            eprintln!(
                "Note: {} is past the latest restorable moment; restoring to the latest one, {}.",
                opt(&p.requested_restore_time),
                p.restore_time
            );
        }
    }
    if !args.wait.wait {
        match out {
            Format::Json => output::json(&v),
            Format::Table => println!("Restore {} queued (job {}).", v.restore.id, v.job.id),
        }
        return Ok(());
    }
    let job = wait::job(api, &v.job.id, args.wait.wait_timeout).await?;
    let restore =
        api.get::<RestoreResponse>(&format!("/v1/projects/{project}/restores/{}", v.restore.id)).await?.restore;
    match out {
        Format::Json => output::json(&Finished { restore, job: job.clone() }),
        Format::Table if job.state == JobState::Completed => describe_outcome(api, project, &restore).await?,
        Format::Table => {}
    }
    fail_if_failed(&job)
}

/// Where the data now is and how to reach it, in plain words.
async fn describe_outcome(api: &Api, project: &str, r: &Restore) -> Result<(), CliError> {
    let source = match &r.pitr {
        Some(p) => format!("{} (point in time)", p.restore_time),
        None => opt(&r.source_backup_key),
    };
    if r.target_kind == TargetKind::Project {
        println!("The production database of project {project} now holds the data of {source}.");
        println!("Connection strings are unchanged: capydb connection-string");
        if let Some(safety) = &r.safety_backup_id {
            let b: BackupResponse = api.get(&format!("/v1/projects/{project}/backups/{safety}")).await?;
            println!("The data from just before is saved as backup {safety} (kept 7 days). To undo:");
            println!(
                "  capydb restore --backup-key {} --target-kind project --confirm-project-overwrite --wait",
                opt(&b.backup.backup_key)
            );
        }
    } else {
        let preview = opt(&r.preview_id);
        let p = api.get::<PreviewResponse>(&format!("/v1/preview-databases/{preview}")).await?.preview_database;
        println!("Restored {source} into preview database {} ({preview}).", p.name);
        println!(
            "It is deleted at {} unless extended (capydb preview extend {} --ttl-hours N).",
            p.ttl_expires_at, p.name
        );
        println!("Connect: psql \"$(capydb connection-string --preview {})\"", p.name);
    }
    Ok(())
}

pub async fn history(cli: &Cli, api: &Api, cmd: &RestoresCmd, out: Format) -> Result<(), CliError> {
    let project = cli.project()?;
    match cmd {
        RestoresCmd::List(list) => {
            let v: RestoreList = list.fetch(api, &format!("/v1/projects/{project}/restores")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "restores",
                    &[
                        ("ID", &|r| r.id.clone()),
                        ("STATE", &|r| output::name(&r.state)),
                        ("TARGET", &|r| output::name(&r.target_kind)),
                        ("PREVIEW", &|r| opt(&r.preview_id)),
                        ("SOURCE", &source_of),
                        ("CREATED", &|r| r.created_at.to_string()),
                        ("ERROR", &|r| opt(&r.error)),
                    ],
                ),
            }
        }
        RestoresCmd::Get { restore_id } => {
            let v: RestoreResponse = api.get(&format!("/v1/projects/{project}/restores/{restore_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => {
                    let r = &v.restore;
                    output::record(&[
                        ("id", r.id.clone()),
                        ("state", output::name(&r.state)),
                        ("target", output::name(&r.target_kind)),
                        ("preview", opt(&r.preview_id)),
                        ("source", source_of(r)),
                        ("safety backup", opt(&r.safety_backup_id)),
                        ("error", opt(&r.error)),
                        ("created", r.created_at.to_string()),
                        ("completed", opt(&r.completed_at)),
                    ])
                }
            }
        }
    }
    Ok(())
}

/// The backup key restored, or the moment.
fn source_of(r: &Restore) -> String {
    match &r.pitr {
        Some(p) => p.restore_time.to_string(),
        None => opt(&r.source_backup_key),
    }
}
