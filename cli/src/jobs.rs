//! `capydb jobs …`.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, Format};
use crate::{fail_if_failed, wait, Cli, ListArgs, WaitArgs};
use capydb_api::jobs::{Job, JobList, JobResponse, JobState};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum JobsCmd {
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

fn print_job(j: &Job) {
    output::record(&[
        ("id", j.id.clone()),
        ("type", j.job_type.as_str().to_string()),
        ("state", output::name(&j.state)),
        ("phase", j.progress.as_ref().map_or_else(|| "-".into(), |p| p.phase.clone())),
        ("attempts", format!("{}/{}", j.attempts, j.max_attempts)),
        (
            "runner",
            match (&j.runner, &j.task_arn) {
                (Some(r), Some(arn)) => format!("{} ({arn})", output::name(r)),
                (Some(r), None) => output::name(r),
                (None, _) => "-".into(),
            },
        ),
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

pub async fn run(cli: &Cli, api: &Api, cmd: &JobsCmd, out: Format) -> Result<(), CliError> {
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
