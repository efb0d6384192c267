//! The platform's own safety net: a `nightly` backup of every ready project database at 02:15
//! UTC, kept 14 days, whatever the project's own schedule says. Each project sits in the due index
//! at its next nightly time, so the fan-out reads only the projects due and costs one job per
//! project; the jobs then run in parallel, so one slow database does not hold up the others.

use super::Context;
use crate::domain::backups::{Backup, BackupKind};
use crate::domain::jobs::{buckets_to_sweep, Job, JobType};
use crate::domain::projects::ProjectState;
use crate::domain::schedules::{next_nightly_after, NIGHTLY_RETENTION_DAYS};
use crate::ids::BackupId;
use crate::store::RunKind;
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NightlyReport {
    pub created: u32,
    /// Projects whose dump for that night existed already (a repeated firing).
    pub already_done: u32,
}

pub async fn fan_out(ctx: &Context, now: DateTime<Utc>) -> Result<NightlyReport, Error> {
    let mut report = NightlyReport::default();
    for bucket in buckets_to_sweep(now, super::sweeper::LOOKBACK_HOURS) {
        for mut project in ctx.projects.due_projects(&bucket, now).await? {
            let Some(due) = project.next_nightly_at.filter(|at| *at <= now) else { continue };
            if project.state != ProjectState::Ready {
                continue;
            }
            let night = due.date_naive();
            if ctx.schedules.scheduled_run(&project.id, RunKind::Nightly, night).await?.is_none() {
                let mut job = Job::new(
                    JobType::Backup,
                    project.org_id.clone(),
                    project.id.clone(),
                    ctx.config.job_max_attempts,
                    now,
                );
                let mut backup = Backup::new(
                    BackupId::generate(),
                    project.id.clone(),
                    project.org_id.clone(),
                    job.id.clone(),
                    Some("nightly".into()),
                    BackupKind::Nightly,
                    project.database_name.clone(),
                    now,
                );
                backup.expires_at = Some(now + Duration::days(NIGHTLY_RETENTION_DAYS));
                job.backup_id = Some(backup.id.clone());
                if ctx.schedules.create_scheduled_backup(&backup, &job, RunKind::Nightly, night).await? {
                    report.created += 1;
                } else {
                    report.already_done += 1;
                }
            } else {
                report.already_done += 1;
            }
            project.next_nightly_at = Some(next_nightly_after(now));
            ctx.projects.update_project(&project).await?;
        }
    }
    Ok(report)
}
