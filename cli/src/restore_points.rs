//! `capydb restore-points …`: named points to restore to later.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, Format};
use crate::{Cli, ListArgs};
use capydb_api::restore_points::{
    RestorePointCreateRequest, RestorePointDeleted, RestorePointKind, RestorePointList, RestorePointResponse,
};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum RestorePointsCmd {
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

pub async fn run(cli: &Cli, api: &Api, cmd: &RestorePointsCmd, out: Format) -> Result<(), CliError> {
    let project = cli.project()?;
    match cmd {
        RestorePointsCmd::Create { label, kind, backup_key, pitr_time, note } => {
            let request = RestorePointCreateRequest {
                label: label.clone(),
                kind: kind.as_deref().map(|k| {
                    if k == "backup" {
                        RestorePointKind::Backup
                    } else {
                        RestorePointKind::Pitr
                    }
                }),
                backup_key: backup_key.clone(),
                pitr_time: pitr_time.clone(),
                note: note.clone(),
            };
            let v: RestorePointResponse =
                api.post(&format!("/v1/projects/{project}/restore-points"), &request, None).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => {
                    let p = &v.restore_point;
                    println!("Restore point {} ({}) created.", p.label, p.id);
                    println!("Restore it with: capydb restore --restore-point {} --wait", p.id);
                }
            }
        }
        RestorePointsCmd::List(list) => {
            let v: RestorePointList = list.fetch(api, &format!("/v1/projects/{project}/restore-points")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "restore points",
                    &[
                        ("ID", &|p| p.id.clone()),
                        ("LABEL", &|p| p.label.clone()),
                        ("KIND", &|p| output::name(&p.kind)),
                        ("STATE", &|p| output::name(&p.state)),
                        ("BACKUP / TIME", &|p| p.pitr_time.map_or_else(|| opt(&p.backup_key), |t| t.to_string())),
                        ("CREATED", &|p| p.created_at.to_string()),
                    ],
                ),
            }
        }
        RestorePointsCmd::Delete { restore_point_id } => {
            let v: RestorePointDeleted =
                api.delete(&format!("/v1/projects/{project}/restore-points/{restore_point_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("Restore point {restore_point_id} deleted."),
            }
        }
    }
    Ok(())
}
