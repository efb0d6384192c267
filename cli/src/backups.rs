//! `capydb backups …`.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, size, Format};
use crate::{download, fail_if_failed, schedules, wait, Cli, ListArgs, WaitArgs};
use capydb_api::backups::{
    Backup, BackupCreateRequest, BackupCreated, BackupDeleted, BackupList, BackupResponse, VerificationState,
};
use capydb_api::jobs::JobState;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BackupsCmd {
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
        /// Where to write it (default `<backup id>.dump.zst`, or `.dump` with --decompress; a
        /// directory-format backup becomes the folder `<backup id>/`).
        #[arg(short = 'f', long = "file")]
        file: Option<std::path::PathBuf>,
        /// Write the plain pg_dump archive, ready for `pg_restore -d <database> <file>` (a
        /// directory archive's files, for `pg_restore --format=directory`).
        #[arg(long)]
        decompress: bool,
    },
    /// The project's daily backup schedule.
    #[command(subcommand)]
    Schedule(schedules::ScheduleCmd),
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

pub async fn run(cli: &Cli, api: &Api, cmd: &BackupsCmd, out: Format) -> Result<(), CliError> {
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
        BackupsCmd::Schedule(cmd) => schedules::run(api, project, cmd, out).await,
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
