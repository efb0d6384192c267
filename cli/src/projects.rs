//! `capydb projects …` and `capydb connection-string`.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, Format};
use crate::{fail_if_failed, previews, wait, Cli, ListArgs, WaitArgs};
use capydb_api::projects::{
    Connections, Project, ProjectConnections, ProjectCreateRequest, ProjectCreated, ProjectDetail, ProjectList,
};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ProjectsCmd {
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

pub async fn run(cli: &Cli, api: &Api, cmd: &ProjectsCmd, out: Format) -> Result<(), CliError> {
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

/// The direct connection URL (ready for psql) of the project, or of a preview (id or name).
pub async fn connection_string(cli: &Cli, api: &Api, preview: Option<&str>, out: Format) -> Result<(), CliError> {
    match preview {
        None => {
            let v: ProjectConnections = api.get(&format!("/v1/projects/{}/connections", cli.project()?)).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("{}", v.connections.direct_url),
            }
        }
        Some(preview) => {
            let id = previews::preview_id(cli, api, preview).await?;
            let c: Connections = api.get(&format!("/v1/preview-databases/{id}/connections")).await?;
            match out {
                Format::Json => output::json(&c),
                Format::Table => println!("{}", c.direct_url),
            }
        }
    }
    Ok(())
}
