//! Where a job runs, and handing it over. A Lambda worker estimates a pending job's work before
//! claiming it; what does not fit a Lambda run comfortably goes to a container task, which then
//! claims the job like any worker (same lease, heartbeat and finishing transaction).

use super::{archive_catalogue, Context};
use crate::domain::jobs::{Job, JobType};
use crate::domain::retry;
use crate::domain::runner::{choose, Runner, Work};
use crate::store::JobCondition;
use crate::Error;
use chrono::Duration;

/// How long a started task has to claim its job before the hand-over is tried again: a Fargate
/// task takes a minute or two to pull its image and start.
pub fn task_start_grace() -> Duration {
    Duration::minutes(3)
}

/// What a failed launch waits before the next, at first; it doubles up to 15 minutes.
fn first_launch_retry(ctx: &Context) -> Duration {
    Duration::from_std(ctx.config.job_retry_base).expect("base fits")
}

/// Where `job`'s next attempt runs. A job keeps the runner it was given; a new one is sized up.
pub async fn where_to_run(ctx: &Context, job: &Job) -> Runner {
    if let Some(runner) = job.runner {
        return runner;
    }
    if let Some(forced) = ctx.config.force_runner {
        return forced;
    }
    match estimate(ctx, job).await {
        Ok(Some(work)) => {
            let choice = choose(work, &ctx.config.runner_limits);
            tracing::info!(job = %job.id, runner = choice.runner.as_str(), predicted_s = choice.predicted.num_seconds(), reason = choice.reason, "chose where the job runs");
            choice.runner
        }
        Ok(None) => Runner::Lambda,
        // The attempt will meet the same trouble and be retried as usual; a guess is no reason
        // to hold it.
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "could not size the job; running it here");
            Runner::Lambda
        }
    }
}

/// The work ahead, as far as the records and the cluster tell; `None` for work that is always
/// small (provisioning).
async fn estimate(ctx: &Context, job: &Job) -> Result<Option<Work>, Error> {
    let project = ctx.projects.get_project(&job.project_id).await?.ok_or_else(|| Error::not_found("project"))?;
    match job.job_type {
        JobType::ProvisionProject => Ok(None),
        JobType::Backup => {
            let region = ctx.region(&project.region)?;
            let database_bytes = ctx.data_plane.database_size(region, &project.database_name).await?;
            Ok(Some(Work::Backup { database_bytes }))
        }
        JobType::Restore => {
            let Some(restore_id) = &job.restore_id else { return Ok(None) };
            let Some(restore) = ctx.restores.get_restore(&project.id, restore_id).await? else { return Ok(None) };
            if let Some(pitr) = &restore.pitr {
                let base =
                    archive_catalogue::get(ctx.wal_objects.as_ref(), &project.region, &pitr.base_backup_id).await?;
                return Ok(base.map(|b| Work::PitrRestore { base_backup_bytes: b.tar_bytes }));
            }
            let Some(backup_id) = &restore.source_backup_id else { return Ok(None) };
            let backup = ctx.backups.get_backup(&project.id, backup_id).await?;
            Ok(backup.and_then(|b| {
                let fetched = b.is_directory();
                b.dump_size_bytes.map(|dump_bytes| Work::Restore { dump_bytes, fetched })
            }))
        }
    }
}

/// How a hand-over went.
#[derive(Debug, Clone, PartialEq)]
pub enum HandOver {
    /// A task was started; it claims the job.
    Started(String),
    /// Another worker is handing it over, or its task has claimed it already.
    Elsewhere,
    /// No task could be started; the job stays pending and the hand-over is tried again.
    Retrying(String),
    /// No task could be started within the job's retry window: the job (as marked) must fail,
    /// for this reason.
    GaveUp { reason: String, job: Box<Job> },
}

/// Hands the pending `job` to a container task. The job is first marked (`runner = task`, not
/// due for [`task_start_grace`]) so that only one worker launches; then a task is started and
/// its ARN recorded. A launch that fails leaves the job pending with doubling back-off.
pub async fn hand_over(ctx: &Context, job: &Job) -> Result<HandOver, Error> {
    let now = ctx.clock.now();
    let window = Duration::from_std(ctx.config.job_retry_window).expect("window fits");
    // Tasks that start and die before they claim (a bad image, a task that cannot reach the
    // table) would otherwise be replaced every few minutes for ever.
    if !retry::within_budget(job.created_at, now, window) {
        let why = job.last_error.clone().unwrap_or_else(|| "no task claimed it".into());
        let reason = format!("no task could run this job within {} minutes: {why}", window.num_minutes());
        return Ok(HandOver::GaveUp { reason, job: Box::new(job.clone()) });
    }
    let mut marked = job.clone();
    marked.runner = Some(Runner::Task);
    marked.task_arn = None;
    marked.updated_at = now;
    marked.next_attempt_at = Some(now + task_start_grace());
    if !ctx.jobs.update_job(&marked, &JobCondition::Pending { attempts: job.attempts }).await? {
        return Ok(HandOver::Elsewhere);
    }
    let since_marked = JobCondition::PendingSince { updated_at: marked.updated_at };
    match ctx.tasks.launch(&job.id).await {
        Ok(arn) => {
            tracing::info!(job = %job.id, task = arn, "handed the job to a task");
            let mut started = marked.clone();
            started.task_arn = Some(arn.clone());
            // Refused when the task claimed the job first; it records its own ARN then.
            ctx.jobs.update_job(&started, &since_marked).await?;
            Ok(HandOver::Started(arn))
        }
        Err(e) => {
            let message = e.to_string();
            let wait = next_launch_wait(ctx, job);
            let mut waiting = marked.clone();
            waiting.last_error = Some(message.clone());
            waiting.retry_classification = Some(retry::RetryClass::Transient);
            waiting.next_attempt_at = Some(now + wait);
            tracing::warn!(job = %job.id, error = message, retry_in_s = wait.num_seconds(), "could not start a task; trying again later");
            ctx.jobs.update_job(&waiting, &since_marked).await?;
            Ok(HandOver::Retrying(message))
        }
    }
}

/// Twice the wait before this launch if that one failed too, else the first wait; at most 15
/// minutes. The job's own record says how long it last waited.
fn next_launch_wait(ctx: &Context, job: &Job) -> Duration {
    let failed_before = job.runner == Some(Runner::Task) && job.task_arn.is_none() && job.last_error.is_some();
    let last = match (failed_before, job.next_attempt_at) {
        (true, Some(at)) => at - job.updated_at,
        _ => Duration::zero(),
    };
    let wait = if last > Duration::zero() { last * 2 } else { first_launch_retry(ctx) };
    wait.min(Duration::minutes(15))
}
