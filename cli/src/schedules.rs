//! `capydb backups schedule …`: the project's daily backup schedule.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, Format};
use capydb_api::schedules::{ScheduleList, ScheduleRequest, ScheduleResponse, ScheduledBackup};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ScheduleCmd {
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

pub async fn run(api: &Api, project: &str, cmd: &ScheduleCmd, out: Format) -> Result<(), CliError> {
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
