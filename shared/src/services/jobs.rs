//! Reading jobs, and running one: claim, keep the lease alive while working, finish with one
//! transaction (terminal state + subject records + outbox events).

use super::{backup_worker, projects, provision_worker, restore_worker, Context};
use crate::adapters::dynamo::{JobCondition, RecordWrite};
use crate::auth::Principal;
use crate::contract;
use crate::domain::events::Event;
use crate::domain::jobs::{Job, JobState, JobType, Progress};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::scopes::Scope;
use crate::ids::JobId;
use crate::Error;
use chrono::Duration;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub async fn get(ctx: &Context, principal: &Principal, raw_id: &str) -> Result<Job, Error> {
    principal.require_scope(Scope::JobsRead)?;
    let not_found = || Error::not_found("job");
    let id: JobId = raw_id.parse().map_err(|_| not_found())?;
    let job = ctx.repo.get_job(&id).await?.ok_or_else(not_found)?;
    if job.org_id != principal.org_id || principal.project_restriction().is_some_and(|p| p != &job.project_id) {
        return Err(not_found());
    }
    Ok(job)
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    raw_project: &str,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<Job>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::JobsRead, raw_project).await?;
    Ok(ctx.repo.list_jobs(&project.id, limit, cursor).await?)
}

/// How a job's work ended, with what to write in the finishing transaction.
pub struct Outcome {
    pub error: Option<String>,
    pub records: Vec<RecordWrite>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// Someone else has it, or it is no longer pending.
    NotClaimed,
    Completed,
    Failed,
    /// Our lease was taken away (we were presumed dead); another attempt owns the job now.
    LeaseLost,
}

/// Lets the work report its phase; phase changes are written promptly, byte counts ride along.
#[derive(Clone)]
pub struct ProgressReporter {
    current: Arc<Mutex<Progress>>,
    changed: Arc<Notify>,
}

impl ProgressReporter {
    fn new() -> Self {
        ProgressReporter { current: Arc::new(Mutex::new(Progress::default())), changed: Arc::new(Notify::new()) }
    }

    pub fn phase(&self, phase: &str) {
        let mut p = self.current.lock().expect("progress lock");
        p.phase = phase.to_string();
        p.bytes_done = 0;
        self.changed.notify_one();
    }

    pub fn bytes(&self, bytes_done: u64) {
        self.current.lock().expect("progress lock").bytes_done = bytes_done;
    }

    fn snapshot(&self) -> Progress {
        self.current.lock().expect("progress lock").clone()
    }
}

/// Claims `id` if it is pending and runs it to the end.
pub async fn run(ctx: &Context, id: &JobId) -> Result<RunResult, Error> {
    let Some(job) = ctx.repo.get_job(id).await? else {
        return Ok(RunResult::NotClaimed);
    };
    if job.state != JobState::Pending || job.attempts >= job.max_attempts {
        return Ok(RunResult::NotClaimed);
    }
    let now = ctx.clock.now();
    let lease = Duration::from_std(ctx.config.job_lease).expect("lease fits");
    let mut claimed = job.clone();
    claimed.state = JobState::Running;
    claimed.attempts += 1;
    claimed.claimed_by = Some(ctx.config.worker_id.clone());
    claimed.claimed_at = Some(now);
    claimed.lease_until = Some(now + lease);
    claimed.started_at.get_or_insert(now);
    claimed.updated_at = now;
    claimed.error = None;
    claimed.progress = Some(Progress { phase: "starting".into(), bytes_done: 0 });
    if !ctx.repo.update_job(&claimed, &JobCondition::Pending { attempts: job.attempts }).await? {
        return Ok(RunResult::NotClaimed);
    }
    tracing::info!(job = %claimed.id, attempt = claimed.attempts, kind = claimed.job_type.as_str(), "claimed job");

    let owner = JobCondition::OwnedBy { worker: ctx.config.worker_id.clone(), attempts: claimed.attempts };
    let reporter = ProgressReporter::new();
    let lost = CancellationToken::new();
    let stop = CancellationToken::new();
    let keeper = tokio::spawn(keep_lease(
        ctx.clone(),
        claimed.clone(),
        owner.clone(),
        reporter.clone(),
        lost.clone(),
        stop.clone(),
    ));

    let work = execute(ctx, &claimed, &reporter);
    let outcome = tokio::select! {
        outcome = work => outcome,
        _ = lost.cancelled() => {
            tracing::warn!(job = %claimed.id, "lease lost; abandoning this attempt");
            return Ok(RunResult::LeaseLost);
        }
    };
    stop.cancel();
    let _ = keeper.await;

    let outcome = match outcome {
        Ok(o) => o,
        // Infrastructure trouble (table, bucket): report it on the job rather than leaving it
        // to the lease sweeper, so the caller sees why.
        Err(e) => abandoned(ctx, &claimed, &format!("internal error: {e}")).await?,
    };
    let now = ctx.clock.now();
    let mut done = claimed.clone();
    done.state = if outcome.error.is_none() { JobState::Completed } else { JobState::Failed };
    done.error = outcome.error.clone();
    done.completed_at = Some(now);
    done.updated_at = now;
    done.lease_until = None;
    done.progress = Some(Progress { phase: done.state.as_str().into(), bytes_done: reporter.snapshot().bytes_done });
    let mut events = outcome.events;
    events.push(job_event(&done));
    if !ctx.repo.transition_job(&done, &owner, &outcome.records, &events).await? {
        return Ok(RunResult::LeaseLost);
    }
    tracing::info!(job = %done.id, state = done.state.as_str(), error = ?done.error, "job finished");
    Ok(if done.state == JobState::Completed { RunResult::Completed } else { RunResult::Failed })
}

async fn execute(ctx: &Context, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error> {
    match job.job_type {
        JobType::Backup => backup_worker::execute(ctx, job, progress).await,
        JobType::ProvisionProject => provision_worker::execute(ctx, job).await,
        JobType::Restore => restore_worker::execute(ctx, job, progress).await,
    }
}

/// What to write when a job ends without its work finishing (worker gone, internal error).
pub async fn abandoned(ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
    match job.job_type {
        JobType::Backup => backup_worker::abandoned(ctx, job, reason).await,
        JobType::ProvisionProject => provision_worker::abandoned(ctx, job, reason).await,
        JobType::Restore => restore_worker::abandoned(ctx, job, reason).await,
    }
}

pub fn job_event(job: &Job) -> Event {
    let kind = if job.state == JobState::Completed { "job.completed" } else { "job.failed" };
    Event::new(
        kind,
        job.org_id.clone(),
        Some(job.project_id.clone()),
        job.updated_at,
        contract::data(&capydb_api::events::JobEventData {
            project_id: job.project_id.to_string(),
            job_id: job.id.to_string(),
            job_type: contract::job_type(job),
            state: job.state.into(),
            attempts: job.attempts,
            error: job.error.clone(),
            backup_id: job.backup_id.as_ref().map(ToString::to_string),
            restore_id: job.restore_id.as_ref().map(ToString::to_string),
            preview_database_id: job.preview_database_id.clone(),
        }),
    )
}

/// Renews the lease every third of its length, and promptly after a phase change. If the job
/// is no longer ours (the sweeper re-queued it), signals `lost` so the work stops.
async fn keep_lease(
    ctx: Context,
    mut job: Job,
    owner: JobCondition,
    reporter: ProgressReporter,
    lost: CancellationToken,
    stop: CancellationToken,
) {
    let period = ctx.config.job_lease / 3;
    let lease = Duration::from_std(ctx.config.job_lease).expect("lease fits");
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
            _ = reporter.changed.notified() => {}
        }
        let now = ctx.clock.now();
        job.lease_until = Some(now + lease);
        job.updated_at = now;
        job.progress = Some(reporter.snapshot());
        match ctx.repo.update_job(&job, &owner).await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            // A missed heartbeat is not fatal: the lease has two more periods to run.
            Err(e) => tracing::warn!(job = %job.id, error = %e, "heartbeat failed"),
        }
    }
}
