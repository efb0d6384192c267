//! `capydb preview …`: preview databases beside production.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, Format};
use crate::{Cli, ListArgs};
use capydb_api::previews::{
    PreviewDatabase, PreviewDeleted, PreviewExtendRequest, PreviewExtended, PreviewList, PreviewResponse,
};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum PreviewCmd {
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

/// A preview's id from its id or its name (names are unique per project).
pub async fn preview_id(cli: &Cli, api: &Api, id_or_name: &str) -> Result<String, CliError> {
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

fn print_preview(p: &PreviewDatabase) {
    output::record(&[
        ("id", p.id.clone()),
        ("name", p.name.clone()),
        ("state", output::name(&p.state)),
        ("database", p.database_name.clone()),
        ("host", format!("{}:{}", p.public_host, p.direct_port)),
        ("role", p.role_name.clone()),
        ("expires", p.ttl_expires_at.to_string()),
        ("source", p.source_restore_time.map_or_else(|| opt(&p.source_backup_key), |t| t.to_string())),
        ("error", opt(&p.last_error)),
    ]);
}

pub async fn run(cli: &Cli, api: &Api, cmd: &PreviewCmd, out: Format) -> Result<(), CliError> {
    match cmd {
        PreviewCmd::List(list) => {
            let path = format!("/v1/projects/{}/preview-databases", cli.project()?);
            let v: PreviewList = list.fetch(api, &path).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "preview databases",
                    &[
                        ("ID", &|p| p.id.clone()),
                        ("NAME", &|p| p.name.clone()),
                        ("STATE", &|p| output::name(&p.state)),
                        ("EXPIRES", &|p| p.ttl_expires_at.to_string()),
                        ("SOURCE", &|p| opt(&p.source_backup_key)),
                    ],
                ),
            }
        }
        PreviewCmd::Get { preview } => {
            let v: PreviewResponse =
                api.get(&format!("/v1/preview-databases/{}", preview_id(cli, api, preview).await?)).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => print_preview(&v.preview_database),
            }
        }
        PreviewCmd::Extend { preview, ttl_hours } => {
            let id = preview_id(cli, api, preview).await?;
            let request = PreviewExtendRequest { ttl_hours: (*ttl_hours).into() };
            let v: PreviewExtended = api.post(&format!("/v1/preview-databases/{id}/extend"), &request, None).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => print_preview(&v.preview),
            }
        }
        PreviewCmd::Delete { preview } => {
            let id = preview_id(cli, api, preview).await?;
            let v: PreviewDeleted = api.delete(&format!("/v1/preview-databases/{id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("Preview database {preview} deleted."),
            }
        }
    }
    Ok(())
}
