//! Reading jobs, and running one: claim, keep the lease alive while working, finish with one
//! transaction (terminal state + subject records + outbox events).

use super::job_work::{Outcome, ProgressReporter};
use super::metrics::Unit;
use super::runners::{self, HandOver};
use super::{job_kinds, projects, Context};
use crate::auth::Principal;
use crate::contract;
use crate::domain::events::Event;
use crate::domain::jobs::{Job, JobState, JobType, Progress};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::restores::{RestoreStep, TargetKind};
use crate::domain::retry::{self, RetryClass};
use crate::domain::runner::Runner;
use crate::domain::scopes::Scope;
use crate::ids::{JobId, ProjectId};
use crate::store::{CancelRequest, JobCondition, RecordWrite};
use crate::Error;
use chrono::Duration;
use tokio_util::sync::CancellationToken;

pub async fn get(ctx: &Context, principal: &Principal, id: &JobId) -> Result<Job, Error> {
    principal.require_scope(Scope::JobsRead)?;
    let not_found = || Error::not_found("job");
    let job = ctx.jobs.get_job(id).await?.ok_or_else(not_found)?;
    if job.org_id != principal.org_id || principal.project_restriction().is_some_and(|p| p != &job.project_id) {
        return Err(not_found());
    }
    Ok(job)
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<Job>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::JobsRead, project_id).await?;
    Ok(ctx.jobs.list_jobs(&project.id, limit, cursor).await?)
}

/// Asks a job to stop. A pending job ends `cancelled` at once and never starts; a running one
/// is stopped by its worker within seconds (its heartbeat looks for the request), which undoes
/// what it did: the upload aborted and the archive removed, staging databases dropped. A
/// restore whose swap has begun can no longer be cancelled: `409` says so, and the swap is never
/// left half-done.
pub async fn cancel(ctx: &Context, principal: &Principal, id: &JobId) -> Result<Job, Error> {
    let job = get(ctx, principal, id).await?;
    principal.require_scope(Scope::BackupsWrite)?;
    let conflict = |message: String| Error::Conflict { message, job_id: Some(job.id.to_string()) };
    if job.state.is_terminal() {
        return Err(conflict(format!("job {} is already {}; there is nothing to cancel", job.id, job.state.as_str())));
    }
    let restore = match (job.job_type, &job.restore_id) {
        (JobType::ProvisionProject, _) => {
            return Err(conflict("provisioning a project cannot be cancelled".into()));
        }
        (JobType::Restore, Some(id)) => ctx.restores.get_restore(&job.project_id, id).await?,
        _ => None,
    };
    if let Some(r) = &restore {
        if r.target_kind == TargetKind::Project && principal.is_member_session() {
            return Err(Error::Forbidden(
                "cancelling an overwrite of the project database needs the organization `admin` role".into(),
            ));
        }
        if r.step != RestoreStep::Staging {
            return Err(conflict(swap_begun(r.id.as_str())));
        }
    }
    let by = principal.actor();
    let reason = format!("cancelled by {by}");
    if job.state == JobState::Pending {
        let outcome = cancelled_outcome(ctx, &job, &reason).await?;
        let done = ended(ctx, &job, JobState::Cancelled, &outcome, Some(by.clone()), 0);
        let mut events = outcome.events;
        events.push(job_event(&done));
        let condition = JobCondition::Pending { attempts: job.attempts };
        if ctx.jobs.transition_job(&done, &condition, &outcome.records, &events).await? {
            tracing::info!(job = %job.id, by, "cancelled before it started");
            return Ok(done);
        }
        // A worker claimed it meanwhile: ask that worker to stop instead.
    }
    let request = CancelRequest { job_id: job.id.clone(), by, at: ctx.clock.now() };
    let staging = restore.as_ref().map(|r| (&r.project_id, &r.id));
    if !ctx.jobs.request_cancel(&request, staging).await? {
        let now = ctx.jobs.get_job(&job.id).await?.ok_or_else(|| Error::not_found("job"))?;
        if now.state.is_terminal() {
            return Err(conflict(format!("job {} is already {}", now.id, now.state.as_str())));
        }
        if let Some(r) = &restore {
            return Err(conflict(swap_begun(r.id.as_str())));
        }
        return Ok(now);
    }
    tracing::info!(job = %job.id, by = request.by, "cancellation requested");
    Ok(ctx.jobs.get_job(&job.id).await?.unwrap_or(job))
}

fn swap_begun(restore: &str) -> String {
    format!(
        "restore {restore} has begun putting the restored data in place; it can no longer be cancelled \
         (the swap is never left half-done)"
    )
}

/// What a cancelled job leaves: its subject records failed with `reason`, and nothing it made:
/// a backup's upload aborted and its archive removed, a restore's staging database dropped.
async fn cancelled_outcome(ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
    if let (JobType::Backup, Some(id)) = (job.job_type, &job.backup_id) {
        let key = crate::domain::backups::object_key(&job.project_id, id);
        ctx.objects.abort_stale_uploads(&key).await?;
        // remove_stored also aborts a directory archive's open uploads.
        super::backups::remove_stored(ctx, &job.project_id, id).await?;
    }
    abandoned(ctx, job, reason).await
}

/// `job` in its terminal `state`, written by the finishing transaction.
fn ended(
    ctx: &Context,
    job: &Job,
    state: JobState,
    outcome: &Outcome,
    cancelled_by: Option<String>,
    bytes_done: u64,
) -> Job {
    let now = ctx.clock.now();
    let mut done = job.clone();
    done.state = state;
    done.error = outcome.error.clone();
    done.cancelled_by = cancelled_by;
    done.completed_at = Some(now);
    done.updated_at = now;
    done.lease_until = None;
    done.progress = Some(Progress { phase: state.as_str().into(), bytes_done });
    done
}

fn now_or(ctx: &Context, job: &Job) -> chrono::DateTime<chrono::Utc> {
    job.completed_at.unwrap_or_else(|| ctx.clock.now())
}

/// The job's metrics: its duration and end for every kind; for a backup its duration, bytes,
/// throughput and whether verification failed; for a restore its seconds per GB restored.
async fn measure(ctx: &Context, job: &Job, records: &[RecordWrite]) -> Vec<(&'static str, f64, Unit)> {
    let seconds = match (job.started_at, job.completed_at) {
        (Some(s), Some(e)) => (e - s).num_milliseconds().max(0) as f64 / 1000.0,
        _ => 0.0,
    };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut out = vec![
        ("JobDuration", seconds * 1000.0, Unit::Milliseconds),
        ("JobsCompleted", flag(job.state == JobState::Completed), Unit::Count),
        ("JobsFailed", flag(job.state == JobState::Failed), Unit::Count),
        ("JobsCancelled", flag(job.state == JobState::Cancelled), Unit::Count),
    ];
    for record in records {
        match record {
            RecordWrite::Backup(b) if job.job_type == JobType::Backup => {
                let dumped = b.dump_size_bytes.unwrap_or(0) as f64;
                out.push(("BackupDuration", seconds * 1000.0, Unit::Milliseconds));
                out.push(("BackupBytes", b.size_bytes.unwrap_or(0) as f64, Unit::Bytes));
                if seconds > 0.0 {
                    out.push(("BackupThroughput", dumped / seconds, Unit::BytesPerSecond));
                }
                let failed = b.verification_state == crate::domain::backups::VerificationState::Failed;
                out.push(("VerificationFailures", flag(failed), Unit::Count));
            }
            RecordWrite::Restore(r) if job.state == JobState::Completed => {
                let source = match &r.source_backup_id {
                    Some(id) => ctx.backups.get_backup(&r.project_id, id).await.ok().flatten(),
                    None => None,
                };
                if let Some(bytes) = source.and_then(|b| b.dump_size_bytes).filter(|b| *b > 0) {
                    out.push(("RestoreDuration", seconds * 1000.0, Unit::Milliseconds));
                    out.push(("RestoreSecondsPerGB", seconds / (bytes as f64 / 1e9), Unit::None));
                }
            }
            _ => {}
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// Someone else has it, or it is no longer pending.
    NotClaimed,
    Completed,
    Failed,
    /// Our lease was taken away (we were presumed dead); another attempt owns the job now.
    LeaseLost,
    /// Stopped on request.
    Cancelled,
    /// Failed transiently; back to `pending` until its back-off ends.
    Retrying,
    /// Too large for this Lambda run: handed to a container task, which claims it.
    HandedOver,
}

/// Claims `id` if it is pending and runs it to the end.
pub async fn run(ctx: &Context, id: &JobId) -> Result<RunResult, Error> {
    let Some(job) = ctx.jobs.get_job(id).await? else {
        return Ok(RunResult::NotClaimed);
    };
    let now = ctx.clock.now();
    if job.state != JobState::Pending || job.attempts >= job.max_attempts {
        return Ok(RunResult::NotClaimed);
    }
    if ctx.config.runner == Runner::Task {
        // A task runs only a job handed to a task; the start grace the hand-over set is for it.
        if job.runner != Some(Runner::Task) {
            return Ok(RunResult::NotClaimed);
        }
    } else {
        // A retry waiting out its back-off is not due yet (its own requeue write fired the
        // stream); nor is a job whose task is starting.
        if job.next_attempt_at.is_some_and(|at| at > now) {
            return Ok(RunResult::NotClaimed);
        }
        if runners::where_to_run(ctx, &job).await == Runner::Task {
            return handed_over(ctx, &job).await;
        }
    }
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
    claimed.next_attempt_at = None;
    claimed.progress = Some(Progress { phase: "starting".into(), bytes_done: 0 });
    claimed.runner = Some(ctx.config.runner);
    if ctx.config.runner == Runner::Task {
        claimed.task_arn = ctx.config.task.own_arn.clone().or(job.task_arn.clone());
    }
    if !ctx.jobs.update_job(&claimed, &JobCondition::Pending { attempts: job.attempts }).await? {
        return Ok(RunResult::NotClaimed);
    }
    tracing::info!(job = %claimed.id, attempt = claimed.attempts, kind = claimed.job_type.as_str(), "claimed job");

    let owner = JobCondition::OwnedBy { worker: ctx.config.worker_id.clone(), attempts: claimed.attempts };
    let reporter = ProgressReporter::default();
    let lost = CancellationToken::new();
    let cancelled = CancellationToken::new();
    let stop = CancellationToken::new();
    let keeper = tokio::spawn(keep_lease(
        ctx.clone(),
        claimed.clone(),
        owner.clone(),
        reporter.clone(),
        Signals { lost: lost.clone(), cancelled: cancelled.clone(), stop: stop.clone() },
    ));

    let work = execute(ctx, &claimed, &reporter);
    // A Lambda run gives the work up before Lambda stops it, and hands the job over.
    let deadline = async {
        match ctx.config.job_deadline.filter(|_| ctx.config.runner == Runner::Lambda) {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    // A cancellation drops the work where it stands (its throw-away instances stop as they are
    // dropped); what it made is undone below.
    let outcome = tokio::select! {
        outcome = work => Some(outcome),
        _ = cancelled.cancelled() => None,
        _ = lost.cancelled() => {
            tracing::warn!(job = %claimed.id, "lease lost; abandoning this attempt");
            return Ok(RunResult::LeaseLost);
        }
        _ = deadline => {
            stop.cancel();
            let _ = keeper.await;
            return out_of_time(ctx, &claimed, &owner).await;
        }
    };
    stop.cancel();
    let _ = keeper.await;
    // The keeper renewed the lease at most a third of its length ago.
    let settle = Settle::within(ctx.config.job_lease / 2);

    let failed = !matches!(&outcome, Some(Ok(o)) if o.error.is_none());
    let request = if failed { settle.run(|| ctx.jobs.cancel_request(&claimed.id)).await? } else { None };
    // A failure that may pass (the cluster restarting, throttling) goes back with back-off while
    // attempts and time remain; nothing of the attempt's failure is written to its records.
    let failure = match (&request, &outcome) {
        (None, Some(Ok(o))) => o.error.clone(),
        (None, Some(Err(e))) => Some(internal(e)),
        _ => None,
    };
    let class = failure.as_deref().map(retry::classify);
    if let (Some(message), Some(RetryClass::Transient)) = (&failure, class) {
        let now = ctx.clock.now();
        let window = Duration::from_std(ctx.config.job_retry_window).expect("window fits");
        if claimed.attempts < claimed.max_attempts && retry::within_budget(claimed.created_at, now, window) {
            let base = Duration::from_std(ctx.config.job_retry_base).expect("base fits");
            let mut next = claimed.back_to_pending(now);
            next.retry_classification = Some(RetryClass::Transient);
            next.last_error = Some(message.clone());
            next.next_attempt_at = Some(now + retry::backoff(base, claimed.attempts, rand::random::<f64>()));
            if !settle.run(|| ctx.jobs.update_job(&next, &owner)).await? {
                return Ok(RunResult::LeaseLost);
            }
            tracing::warn!(job = %next.id, attempt = next.attempts, retry_at = ?next.next_attempt_at, error = message, "transient failure; retrying");
            ctx.metrics.emit(
                now,
                &[("JobType", contract::job_type(&next).as_str())],
                &[("JobsRetried", 1.0, Unit::Count)],
                &[("JobId", next.id.as_str())],
            );
            return Ok(RunResult::Retrying);
        }
    }
    let (state, outcome, cancelled_by) = match (request, outcome) {
        // Asked to stop and not finished: a restore refused its swap, or the work was dropped.
        (Some(request), _) => {
            let reason = format!("cancelled by {}", request.by);
            (JobState::Cancelled, settle.run(|| cancelled_outcome(ctx, &claimed, &reason)).await?, Some(request.by))
        }
        (None, Some(Ok(o))) => (if o.error.is_none() { JobState::Completed } else { JobState::Failed }, o, None),
        // Infrastructure trouble (table, bucket): report it on the job rather than leaving it
        // to the lease sweeper, so the caller sees why.
        (None, Some(Err(e))) => {
            let reason = internal(&e);
            (JobState::Failed, settle.run(|| abandoned(ctx, &claimed, &reason)).await?, None)
        }
        (None, None) => unreachable!("the work stops early only when a cancellation was seen"),
    };
    let mut done = ended(ctx, &claimed, state, &outcome, cancelled_by, reporter.snapshot().bytes_done);
    if done.state == JobState::Failed {
        done.retry_classification = class.or(Some(RetryClass::Permanent));
        done.last_error = done.error.clone();
    }
    let measured = measure(ctx, &done, &outcome.records).await;
    let mut events = outcome.events;
    events.push(job_event(&done));
    if !settle.run(|| ctx.jobs.transition_job(&done, &owner, &outcome.records, &events)).await? {
        return Ok(RunResult::LeaseLost);
    }
    tracing::info!(job = %done.id, state = done.state.as_str(), error = ?done.error, "job finished");
    let kind = contract::job_type(&done);
    let properties = [("JobId", done.id.as_str()), ("ProjectId", done.project_id.as_str())];
    ctx.metrics.emit(now_or(ctx, &done), &[("JobType", kind.as_str())], &measured, &properties);
    Ok(match done.state {
        JobState::Completed => RunResult::Completed,
        JobState::Cancelled => RunResult::Cancelled,
        _ => RunResult::Failed,
    })
}

/// Hands a pending job to a task; a job no task could be started for within its retry window
/// fails, naming why.
async fn handed_over(ctx: &Context, job: &Job) -> Result<RunResult, Error> {
    match runners::hand_over(ctx, job).await? {
        HandOver::Started(_) | HandOver::Elsewhere => Ok(RunResult::HandedOver),
        HandOver::Retrying(_) => Ok(RunResult::Retrying),
        HandOver::GaveUp { reason, job } => {
            fail_pending(ctx, &job, &reason).await?;
            Ok(RunResult::Failed)
        }
    }
}

/// Ends a pending job that cannot run, with its work's records marked as it would on an
/// abandoned attempt.
async fn fail_pending(ctx: &Context, job: &Job, reason: &str) -> Result<(), Error> {
    let outcome = abandoned(ctx, job, reason).await?;
    let now = ctx.clock.now();
    let mut done = job.clone();
    done.state = JobState::Failed;
    done.error = outcome.error.clone().or(Some(reason.to_string()));
    done.last_error = Some(reason.to_string());
    done.retry_classification = Some(RetryClass::Transient);
    done.completed_at = Some(now);
    done.updated_at = now;
    done.next_attempt_at = None;
    let mut events = outcome.events;
    events.push(job_event(&done));
    let seen = JobCondition::PendingSince { updated_at: job.updated_at };
    ctx.jobs.transition_job(&done, &seen, &outcome.records, &events).await?;
    Ok(())
}

/// The Lambda run reached its deadline with the work unfinished: the attempt is given up as a
/// crash would give it up (nothing of it is recorded as done; its next attempt clears what it
/// left), and the job goes to a task. On its last attempt it fails instead, saying why.
async fn out_of_time(ctx: &Context, claimed: &Job, owner: &JobCondition) -> Result<RunResult, Error> {
    let seconds = ctx.config.job_deadline.map(|d| d.as_secs()).unwrap_or_default();
    let reason = format!("the work did not finish within the Lambda run's {seconds} s");
    tracing::warn!(job = %claimed.id, attempt = claimed.attempts, "{reason}; handing the job to a task");
    let now = ctx.clock.now();
    let mut next = claimed.back_to_pending(now);
    next.runner = Some(Runner::Task);
    next.last_error = Some(reason.clone());
    next.retry_classification = Some(RetryClass::Transient);
    next.next_attempt_at = None;
    if !ctx.jobs.update_job(&next, owner).await? {
        return Ok(RunResult::LeaseLost);
    }
    if next.attempts >= next.max_attempts {
        fail_pending(ctx, &next, &format!("{reason} on its last attempt ({} of {})", next.attempts, next.max_attempts))
            .await?;
        return Ok(RunResult::Failed);
    }
    handed_over(ctx, &next).await
}

async fn execute(ctx: &Context, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error> {
    job_kinds::work_for(job.job_type).execute(ctx, job, progress).await
}

/// What to write when a job ends without its work finishing (worker gone, internal error).
pub async fn abandoned(ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
    job_kinds::work_for(job.job_type).abandoned(ctx, job, reason).await
}

pub fn job_event(job: &Job) -> Event {
    let kind = match job.state {
        JobState::Completed => "job.completed",
        JobState::Cancelled => "job.cancelled",
        _ => "job.failed",
    };
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
            cancelled_by: job.cancelled_by.clone(),
            backup_id: job.backup_id.as_ref().map(ToString::to_string),
            restore_id: job.restore_id.as_ref().map(ToString::to_string),
            preview_database_id: job.preview_database_id.clone(),
        }),
    )
}

/// The attempt's last writes, once its work is over. A store fault here (throttling, a
/// transaction conflict outlasting the adapter's own re-sends) is waited out with back-off while
/// the lease still holds: left to the lease sweep instead, the job would sit `running` for
/// minutes, lose an attempt and do all its work again.
struct Settle {
    until: tokio::time::Instant,
}

impl Settle {
    fn within(time: std::time::Duration) -> Settle {
        Settle { until: tokio::time::Instant::now() + time }
    }

    async fn run<T, E, F, Fut>(&self, mut write: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
        E: Into<Error>,
    {
        let mut pause = std::time::Duration::from_millis(200);
        loop {
            let e: Error = match write().await {
                Ok(value) => return Ok(value),
                Err(e) => e.into(),
            };
            let transient = retry::classify(&e.to_string()) == RetryClass::Transient;
            if !transient || tokio::time::Instant::now() + pause >= self.until {
                return Err(e);
            }
            tracing::warn!(error = %e, retry_in = ?pause, "the job's last write failed; sending it again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(4));
        }
    }
}

/// What the lease keeper tells the work, and how the work tells it to stop.
struct Signals {
    /// The job is no longer ours (the sweeper re-queued it).
    lost: CancellationToken,
    /// Someone asked the job to stop.
    cancelled: CancellationToken,
    stop: CancellationToken,
}

/// How often a running job looks for a cancellation request: "within seconds".
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Renews the lease every third of its length, and promptly after a phase change; looks for a
/// cancellation request every [`CANCEL_POLL`]. If the job is no longer ours, signals `lost`.
async fn keep_lease(ctx: Context, mut job: Job, owner: JobCondition, reporter: ProgressReporter, signals: Signals) {
    let period = ctx.config.job_lease / 3;
    let lease = Duration::from_std(ctx.config.job_lease).expect("lease fits");
    let mut renew_at = tokio::time::Instant::now() + period;
    loop {
        let changed = tokio::select! {
            _ = signals.stop.cancelled() => return,
            _ = tokio::time::sleep(CANCEL_POLL.min(period)) => false,
            _ = reporter.changed() => true,
        };
        if !signals.cancelled.is_cancelled() {
            match ctx.jobs.cancel_request(&job.id).await {
                Ok(Some(request)) => {
                    tracing::info!(job = %job.id, by = request.by, "cancellation requested; stopping");
                    signals.cancelled.cancel();
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(job = %job.id, error = %e, "could not look for a cancellation"),
            }
        }
        if !changed && tokio::time::Instant::now() < renew_at {
            continue;
        }
        renew_at = tokio::time::Instant::now() + period;
        let now = ctx.clock.now();
        job.lease_until = Some(now + lease);
        job.updated_at = now;
        job.progress = Some(reporter.snapshot());
        match ctx.jobs.update_job(&job, &owner).await {
            Ok(true) => {}
            Ok(false) => {
                signals.lost.cancel();
                return;
            }
            // A missed heartbeat is not fatal: the lease has two more periods to run.
            Err(e) => tracing::warn!(job = %job.id, error = %e, "heartbeat failed"),
        }
    }
}

/// A failure the work returned as an error (not as its outcome), as the job shows it.
fn internal(e: &Error) -> String {
    match e {
        Error::Internal(_) => e.to_string(),
        e => format!("internal error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::fakes::ARCHIVE_MAGIC;
    use crate::domain::backups::{BackupState, VerificationState};
    use crate::services::backup_pipeline::decompressing;
    use crate::services::context::Fakes;
    use crate::store_conformance::backup_with_job;
    use tokio::io::AsyncReadExt;

    /// A pending backup of `project`, as `POST /backups` leaves it.
    async fn pending_backup(
        ctx: &Context,
        project: &crate::domain::projects::Project,
    ) -> (crate::domain::backups::Backup, Job) {
        let (backup, mut job) = backup_with_job(project);
        job.max_attempts = ctx.config.job_max_attempts;
        ctx.backups.create_backup(&backup, &job, None).await.unwrap();
        (backup, job)
    }

    async fn archive(fakes: &Fakes, key: &str) -> Vec<u8> {
        let stored = fakes.objects.bytes(key).expect("the archive is stored");
        let (mut reader, _) = decompressing(Box::pin(std::io::Cursor::new(stored)));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn a_backup_job_is_claimed_once_and_leaves_a_verified_archive_of_the_database() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"orders: 3 rows").await;
        let (backup, job) = pending_backup(&ctx, &project).await;

        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::Completed);
        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::NotClaimed, "a finished job is not run again");

        let done = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!((done.state, done.attempts, done.lease_until), (JobState::Completed, 1, None));
        let b = ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap();
        assert_eq!((b.state, b.verification_state), (BackupState::Completed, VerificationState::Verified));
        let key = b.backup_key.clone().expect("the record names its archive");
        assert_eq!(archive(&fakes, &key).await, [ARCHIVE_MAGIC, b"orders: 3 rows"].concat(), "the archive is the dump");
        let stored = fakes.objects.bytes(&key).unwrap();
        assert_eq!(b.sha256.as_deref(), Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&stored)).as_str()));
        assert_eq!(fakes.objects.open_uploads(), 0, "no upload left open");
        let kinds: Vec<String> = fakes.store.events().into_iter().map(|e| e.event_type).collect();
        assert!(kinds.contains(&"backup.completed".to_string()), "{kinds:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_sends_the_job_back_with_back_off_and_a_later_attempt_completes() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"users: 1 row").await;
        let (backup, job) = pending_backup(&ctx, &project).await;
        // The cluster restarting: sizing the job meets it (and runs it here), then the attempt.
        fakes.data_plane.refuse_connections(2);

        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::Retrying);
        let waiting = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!((waiting.state, waiting.attempts), (JobState::Pending, 1));
        assert_eq!(waiting.retry_classification, Some(RetryClass::Transient));
        assert!(
            waiting.last_error.as_deref().is_some_and(|e| e.contains("Connection refused")),
            "{:?}",
            waiting.last_error
        );
        let retry_at = waiting.next_attempt_at.expect("a back-off");
        let base = Duration::from_std(ctx.config.job_retry_base).unwrap();
        assert!(retry_at >= ctx.clock.now() + base * 8 / 10, "the back-off is at least 80 % of its base");
        let b = ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap();
        assert_ne!(b.state, BackupState::Failed, "a transient failure is not written to the backup");

        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::NotClaimed, "not before its back-off ends");
        fakes.clock.set(retry_at);
        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::Completed);
        let done = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!((done.state, done.attempts), (JobState::Completed, 2));
    }

    #[tokio::test]
    async fn an_archive_that_does_not_restore_fails_its_job_for_good_and_names_why() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, crate::adapters::fakes::UNRESTORABLE).await;
        let (backup, job) = pending_backup(&ctx, &project).await;

        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::Failed);
        let done = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!((done.state, done.attempts), (JobState::Failed, 1), "no retry of a permanent failure");
        assert_eq!(done.retry_classification, Some(RetryClass::Permanent));
        assert!(done.error.as_deref().is_some_and(|e| e.starts_with("verification failed")), "{:?}", done.error);
        let b = ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap();
        assert_eq!((b.state, b.verification_state), (BackupState::Failed, VerificationState::Failed));
        assert!(fakes.store.events().iter().any(|e| e.event_type == "backup.failed"));
    }

    #[tokio::test]
    async fn a_dead_workers_job_is_requeued_when_its_lease_runs_out_and_failed_when_attempts_do() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"x").await;
        let (backup, job) = pending_backup(&ctx, &project).await;
        let lease = Duration::from_std(ctx.config.job_lease).unwrap();
        // Workers that claim the job and die: nothing renews their lease.
        let mut current = job.clone();
        for attempt in 1..=ctx.config.job_max_attempts {
            let now = ctx.clock.now();
            let mut claimed = current.clone();
            claimed.state = JobState::Running;
            claimed.attempts = attempt;
            claimed.claimed_by = Some(format!("dead-{attempt}"));
            claimed.lease_until = Some(now + lease);
            claimed.updated_at = now;
            assert!(ctx.jobs.update_job(&claimed, &JobCondition::Pending { attempts: attempt - 1 }).await.unwrap());

            let early = super::super::sweeper::sweep_jobs(&ctx, now + lease).await.unwrap();
            assert_eq!((early.requeued, early.failed), (0, 0), "a lease is honoured to its end and its skew allowance");
            fakes.clock.set(now + lease + crate::domain::jobs::clock_skew_allowance() + Duration::seconds(1));
            let swept = super::super::sweeper::sweep_jobs(&ctx, ctx.clock.now()).await.unwrap();
            current = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
            if attempt < ctx.config.job_max_attempts {
                assert_eq!(swept.requeued, 1, "attempt {attempt}");
                assert_eq!((current.state, current.claimed_by.as_deref()), (JobState::Pending, None));
            } else {
                assert_eq!(swept.failed, 1);
            }
        }
        assert_eq!(current.state, JobState::Failed);
        assert!(current.error.as_deref().is_some_and(|e| e.contains("lease expired")), "{:?}", current.error);
        let b = ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap();
        assert_eq!(b.state, BackupState::Failed, "the backup says so too");
    }

    /// The same context as a container task sees it: the task runner, its own ARN.
    fn as_task(ctx: &Context, arn: &str) -> Context {
        ctx.with_config(|c| {
            c.runner = Runner::Task;
            c.job_deadline = None;
            c.task.own_arn = Some(arn.to_string());
        })
    }

    #[tokio::test]
    async fn a_database_too_large_for_a_lambda_run_is_handed_to_a_task_which_runs_it() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"twenty bytes of rows").await;
        fakes.data_plane.inflate_sizes(1_000_000_000);
        let (backup, job) = pending_backup(&ctx, &project).await;

        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::HandedOver, "20 GB does not fit a Lambda run");
        assert_eq!(fakes.tasks.launched(), vec![job.id.clone()], "one task, for this job");
        let handed = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!((handed.state, handed.attempts, handed.runner), (JobState::Pending, 0, Some(Runner::Task)));
        let arn = handed.task_arn.clone().expect("the task's ARN is recorded");
        assert_eq!(handed.next_attempt_at, Some(ctx.clock.now() + runners::task_start_grace()));
        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::NotClaimed, "a Lambda leaves it to its task");
        assert_eq!(fakes.tasks.launched().len(), 1, "and starts no second task");

        let task = as_task(&ctx, &arn);
        assert_eq!(run(&task, &job.id).await.unwrap(), RunResult::Completed);
        let done = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(
            (done.state, done.attempts, done.runner, done.task_arn.as_deref()),
            (JobState::Completed, 1, Some(Runner::Task), Some(arn.as_str()))
        );
        let b = ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap();
        assert_eq!(b.verification_state, VerificationState::Verified);
        assert_eq!(
            archive(&fakes, b.backup_key.as_deref().unwrap()).await,
            [ARCHIVE_MAGIC, b"twenty bytes of rows"].concat()
        );

        let (_, small) = pending_backup(&ctx, &project).await;
        assert_eq!(
            run(&task, &small.id).await.unwrap(),
            RunResult::NotClaimed,
            "a task runs only what was handed to a task"
        );
        fakes.data_plane.inflate_sizes(1);
        assert_eq!(run(&ctx, &small.id).await.unwrap(), RunResult::Completed, "20 bytes stay in Lambda");
        assert_eq!(ctx.jobs.get_job(&small.id).await.unwrap().unwrap().runner, Some(Runner::Lambda));
    }

    #[tokio::test]
    async fn a_task_that_cannot_start_keeps_the_job_pending_with_doubling_back_off_until_its_window_ends() {
        let (ctx, fakes) = Context::fast().await;
        let ctx = ctx.with_config(|c| c.force_runner = Some(Runner::Task));
        let project = fakes.ready_project(&ctx, b"rows").await;
        let (backup, job) = pending_backup(&ctx, &project).await;
        fakes.tasks.refuse(2);

        let base = Duration::from_std(ctx.config.job_retry_base).unwrap();
        let mut waits = Vec::new();
        for _ in 0..2 {
            assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::Retrying);
            let waiting = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
            assert_eq!((waiting.state, waiting.attempts, waiting.task_arn.as_deref()), (JobState::Pending, 0, None));
            assert!(
                waiting.last_error.as_deref().is_some_and(|e| e.contains("no capacity")),
                "{:?}",
                waiting.last_error
            );
            let at = waiting.next_attempt_at.unwrap();
            waits.push(at - ctx.clock.now());
            fakes.clock.set(at);
        }
        assert_eq!(waits, vec![base, base * 2], "the wait doubles");
        assert_eq!(run(&ctx, &job.id).await.unwrap(), RunResult::HandedOver, "capacity came back");
        assert_eq!(fakes.tasks.launched(), vec![job.id.clone()]);

        // Another job whose tasks never start: past its retry window it fails, saying why.
        let (late_backup, late) = pending_backup(&ctx, &project).await;
        fakes.tasks.refuse(1);
        assert_eq!(run(&ctx, &late.id).await.unwrap(), RunResult::Retrying);
        let waiting = ctx.jobs.get_job(&late.id).await.unwrap().unwrap();
        let window = Duration::from_std(ctx.config.job_retry_window).unwrap();
        fakes.clock.set(late.created_at + window + Duration::minutes(1));
        assert_eq!(run(&ctx, &late.id).await.unwrap(), RunResult::Failed);
        assert_eq!(fakes.tasks.launched().len(), 1, "no task is started past the window");
        let failed = ctx.jobs.get_job(&late.id).await.unwrap().unwrap();
        assert_eq!(failed.state, JobState::Failed);
        let expected = format!("no task could run this job within 120 minutes: {}", waiting.last_error.unwrap());
        assert_eq!(failed.error.as_deref(), Some(expected.as_str()));
        let b = ctx.backups.get_backup(&project.id, &late_backup.id).await.unwrap().unwrap();
        assert_eq!(b.state, BackupState::Failed, "its backup says so");
        assert_ne!(ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap().state, BackupState::Failed);
    }

    #[tokio::test]
    async fn a_lambda_run_that_reaches_its_deadline_gives_the_work_up_and_hands_the_job_over() {
        let (ctx, fakes) = Context::fast().await;
        let project = fakes.ready_project(&ctx, b"growing rows").await;
        let (backup, job) = pending_backup(&ctx, &project).await;
        // The database grew after it was sized: the work is still going at the deadline.
        let (points, _halted) = crate::services::checkpoints::Checkpoints::halting_at("backup.verifying");
        let mut lambda = ctx.with_config(|c| c.job_deadline = Some(std::time::Duration::from_millis(300)));
        lambda.checkpoints = points;

        assert_eq!(run(&lambda, &job.id).await.unwrap(), RunResult::HandedOver);
        let handed = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!((handed.state, handed.attempts, handed.runner), (JobState::Pending, 1, Some(Runner::Task)));
        assert!(
            handed.last_error.as_deref().is_some_and(|e| e.contains("did not finish within the Lambda run's 0 s")),
            "{:?}",
            handed.last_error
        );
        let b = ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap();
        assert_ne!(b.state, BackupState::Completed, "a given-up attempt records no backup");
        assert_eq!(fakes.tasks.launched(), vec![job.id.clone()]);

        let task = as_task(&ctx, handed.task_arn.as_deref().unwrap());
        assert_eq!(run(&task, &job.id).await.unwrap(), RunResult::Completed);
        let done = ctx.jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!((done.state, done.attempts), (JobState::Completed, 2));
        assert_eq!(
            ctx.backups.list_backups(&project.id, 10, None).await.unwrap().items.len(),
            1,
            "one backup, not two"
        );
        assert_eq!(fakes.objects.open_uploads(), 0, "nothing of the given-up upload is left");

        // On its last attempt the job fails instead, saying why.
        let (_, last) = pending_backup(&ctx, &project).await;
        let mut last_try = last.clone();
        last_try.max_attempts = 1;
        assert!(ctx.jobs.update_job(&last_try, &JobCondition::Pending { attempts: 0 }).await.unwrap());
        assert_eq!(run(&lambda, &last.id).await.unwrap(), RunResult::Failed);
        let failed = ctx.jobs.get_job(&last.id).await.unwrap().unwrap();
        assert!(
            failed.error.as_deref().is_some_and(|e| e.contains("on its last attempt (1 of 1)")),
            "{:?}",
            failed.error
        );
    }
}
