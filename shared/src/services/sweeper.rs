//! The job sweep (scheduled every minute): reads only the due index's recent hours, re-queues
//! jobs whose worker died, ends them once attempts run out (failed, unless their work had
//! finished), and re-announces pending jobs that no worker picked up.

use super::jobs::{abandoned, job_event};
use super::Context;
use crate::domain::jobs::{buckets_to_sweep, due_at, JobState, SweepAction};
use crate::store::JobCondition;
use crate::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Hours of due index a sweep reads; work due longer ago than this is assumed handled.
pub const LOOKBACK_HOURS: i64 = 24;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub requeued: u32,
    pub kicked: u32,
    pub failed: u32,
    /// Jobs out of attempts whose work had in fact finished (a restore's data in place).
    pub completed: u32,
    /// How long past its due time the most overdue job it acted on was: the sweeper's lag.
    pub lag_seconds: i64,
}

pub async fn sweep_jobs(ctx: &Context, now: DateTime<Utc>) -> Result<SweepReport, Error> {
    let mut report = SweepReport::default();
    for bucket in buckets_to_sweep(now, LOOKBACK_HOURS) {
        for job in ctx.jobs.due_jobs(&bucket, now).await? {
            let action = job.sweep_action(now);
            if action != SweepAction::Nothing {
                let due = due_at(&job).unwrap_or(now);
                report.lag_seconds = report.lag_seconds.max((now - due).num_seconds());
            }
            match action {
                SweepAction::Nothing => {}
                SweepAction::Requeue => {
                    let next = job.back_to_pending(now);
                    let cond = JobCondition::LeaseExpired {
                        attempts: job.attempts,
                        lease_until: job.lease_until.expect("running"),
                    };
                    if ctx.jobs.update_job(&next, &cond).await? {
                        tracing::warn!(job = %job.id, attempt = job.attempts, "lease expired; job re-queued");
                        report.requeued += 1;
                    }
                }
                SweepAction::Kick => {
                    let mut next = job.clone();
                    next.updated_at = now;
                    next.next_attempt_at = None;
                    if ctx.jobs.update_job(&next, &JobCondition::PendingSince { updated_at: job.updated_at }).await? {
                        report.kicked += 1;
                    }
                }
                SweepAction::Fail(reason) => {
                    let outcome = abandoned(ctx, &job, &reason).await?;
                    let mut done = job.clone();
                    // A restore whose data is already in place completed, whatever came after.
                    done.state = if outcome.error.is_none() { JobState::Completed } else { JobState::Failed };
                    done.error = outcome.error.clone();
                    // A lost lease is a transient failure that ran out of attempts.
                    done.retry_classification = Some(crate::domain::retry::RetryClass::Transient);
                    done.last_error = Some(reason.clone());
                    done.completed_at = Some(now);
                    done.updated_at = now;
                    done.lease_until = None;
                    let mut events = outcome.events;
                    events.push(job_event(&done));
                    let cond = JobCondition::LeaseExpired {
                        attempts: job.attempts,
                        lease_until: job.lease_until.expect("running"),
                    };
                    if ctx.jobs.transition_job(&done, &cond, &outcome.records, &events).await? {
                        match done.state {
                            JobState::Completed => report.completed += 1,
                            _ => report.failed += 1,
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}
