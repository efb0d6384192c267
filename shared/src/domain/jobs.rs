//! Jobs: the unit of asynchronous work. A job is written `pending`, claimed by exactly one
//! worker (`running`, with a lease the worker keeps renewing), and ends `completed` or `failed`.
//! A lease that runs out means the worker died: the sweeper puts the job back to `pending`
//! until `max_attempts` is reached, then fails it.

use crate::ids::{BackupId, JobId, OrgId, ProjectId, RestoreId};
use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    ProvisionProject,
    Backup,
    Restore,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::ProvisionProject => "provision_project",
            JobType::Backup => "backup",
            JobType::Restore => "restore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Completed,
    Failed,
    /// Stopped on request before it finished; what it had done is undone.
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed | JobState::Cancelled)
    }
}

/// What a running job is doing now, for progress displays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Progress {
    pub phase: String,
    #[serde(default)]
    pub bytes_done: u64,
}

/// The job record as stored. The API renames `job_type` to `type` (the table's own `type`
/// attribute says what kind of item this is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub job_type: JobType,
    pub state: JobState,
    pub org_id: OrgId,
    pub project_id: ProjectId,
    pub attempts: u32,
    pub max_attempts: u32,
    pub claimed_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub progress: Option<Progress>,
    pub backup_id: Option<BackupId>,
    pub restore_id: Option<RestoreId>,
    pub preview_database_id: Option<String>,
    /// A restore that replays archived WAL (CapyDB names it `instance.pitr_restore`).
    #[serde(default)]
    pub point_in_time: bool,
    /// Who cancelled it (`api_key:<id>` or `user:<id>`), once it is `cancelled`.
    #[serde(default)]
    pub cancelled_by: Option<String>,
    /// How the last failed attempt was judged: `transient` (retried) or `permanent` (final).
    #[serde(default)]
    pub retry_classification: Option<crate::domain::retry::RetryClass>,
    /// The last failed attempt's error, kept while a retry waits.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When a transient failure's retry may start (pending jobs only).
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Where its attempts run; unset until the first worker decides (a Lambda run, unless the
    /// work was too large and it was handed to a task).
    #[serde(default)]
    pub runner: Option<crate::domain::runner::Runner>,
    /// The container task running it, once handed over.
    #[serde(default)]
    pub task_arn: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Job {
    pub fn new(job_type: JobType, org_id: OrgId, project_id: ProjectId, max_attempts: u32, now: DateTime<Utc>) -> Self {
        Job {
            id: JobId::generate(),
            job_type,
            state: JobState::Pending,
            org_id,
            project_id,
            attempts: 0,
            max_attempts,
            claimed_at: None,
            claimed_by: None,
            lease_until: None,
            started_at: None,
            completed_at: None,
            error: None,
            progress: None,
            backup_id: None,
            restore_id: None,
            preview_database_id: None,
            point_in_time: false,
            cancelled_by: None,
            retry_classification: None,
            last_error: None,
            next_attempt_at: None,
            runner: None,
            task_arn: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The job handed back for another attempt: `pending`, with no claim or lease.
    pub fn back_to_pending(&self, now: DateTime<Utc>) -> Job {
        let mut next = self.clone();
        next.state = JobState::Pending;
        next.claimed_by = None;
        next.claimed_at = None;
        next.lease_until = None;
        next.updated_at = now;
        next.progress = Some(Progress { phase: "waiting to retry".into(), bytes_done: 0 });
        next
    }

    /// Whether the sweeper should act on this job at `now`: a running job whose lease ran out,
    /// or a pending job nobody claimed within the pickup grace (a lost stream record).
    pub fn sweep_action(&self, now: DateTime<Utc>) -> SweepAction {
        match self.state {
            JobState::Running => match self.lease_until {
                Some(until) if until + clock_skew_allowance() <= now => {
                    if self.attempts >= self.max_attempts {
                        SweepAction::Fail(format!(
                            "the worker stopped responding (lease expired) on attempt {} of {}",
                            self.attempts, self.max_attempts
                        ))
                    } else {
                        SweepAction::Requeue
                    }
                }
                _ => SweepAction::Nothing,
            },
            // A retry waiting out its back-off is kicked when the wait is over.
            JobState::Pending if self.next_attempt_at.is_some_and(|at| at <= now) => SweepAction::Kick,
            JobState::Pending if self.next_attempt_at.is_none() && self.updated_at + pickup_grace() <= now => {
                SweepAction::Kick
            }
            _ => SweepAction::Nothing,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepAction {
    Nothing,
    /// Lease expired with attempts left: back to `pending` for another worker.
    Requeue,
    /// Pending for too long: touch it so its stream record fires again.
    Kick,
    /// Lease expired and no attempts left.
    Fail(String),
}

/// How far apart two machines' clocks may be. A lease is only taken back this long after it
/// ran out by the sweeper's clock, so a sweeper (or a worker) whose clock runs ahead never
/// takes a live worker's job; a dead worker is noticed that much later.
pub fn clock_skew_allowance() -> Duration {
    Duration::minutes(2)
}

/// How long a pending job may wait for its worker before the sweeper re-announces it.
pub fn pickup_grace() -> Duration {
    Duration::minutes(2)
}

/// When the sweeper should next look at `job`: a pending one when its retry's back-off ends, or
/// else after its pickup grace; a running one when its lease runs out.
pub fn due_at(job: &Job) -> Option<DateTime<Utc>> {
    match job.state {
        JobState::Pending => Some(job.next_attempt_at.unwrap_or(job.updated_at + pickup_grace())),
        JobState::Running => job.lease_until.map(|until| until + clock_skew_allowance()),
        JobState::Completed | JobState::Failed | JobState::Cancelled => None,
    }
}

/// Partition of the due index: one per UTC hour, so a sweep reads only the hours it covers.
pub fn due_bucket(at: DateTime<Utc>) -> String {
    format!("DUE#{}", at.format("%Y-%m-%dT%H"))
}

/// Sort key inside a due bucket; RFC 3339 with fixed width sorts chronologically.
pub fn due_sort_key(at: DateTime<Utc>, item: &str) -> String {
    format!("{}#{}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), item)
}

/// The due buckets a sweep at `now` reads: the current hour and `lookback_hours` before it.
pub fn buckets_to_sweep(now: DateTime<Utc>, lookback_hours: i64) -> Vec<String> {
    let hour = now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(now);
    (0..=lookback_hours).rev().map(|h| due_bucket(hour - Duration::hours(h))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn job_at(now: DateTime<Utc>) -> Job {
        Job::new(JobType::Backup, OrgId::generate(), ProjectId::generate(), 3, now)
    }

    #[test]
    fn expired_lease_requeues_until_attempts_run_out() {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 9, 14, 0, 0).unwrap();
        let mut job = job_at(t0);
        job.state = JobState::Running;
        job.attempts = 1;
        job.lease_until = Some(t0 + Duration::seconds(60));
        let expired = t0 + Duration::seconds(60) + clock_skew_allowance();
        assert_eq!(job.sweep_action(expired - Duration::seconds(1)), SweepAction::Nothing);
        assert_eq!(job.sweep_action(expired), SweepAction::Requeue);
        job.attempts = 3;
        match job.sweep_action(expired + Duration::seconds(1)) {
            SweepAction::Fail(reason) => assert!(reason.contains("attempt 3 of 3"), "{reason}"),
            other => panic!("expected Fail, got {other:?}"),
        }
    }

    #[test]
    fn a_sweeper_whose_clock_runs_two_minutes_ahead_takes_no_live_lease() {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 9, 14, 0, 0).unwrap();
        let mut job = job_at(t0);
        job.state = JobState::Running;
        job.attempts = 1;
        // The worker renewed its 60 s lease at t0; the sweeper's clock reads two minutes later.
        job.lease_until = Some(t0 + Duration::seconds(60));
        let skewed = t0 + Duration::minutes(2);
        assert_eq!(job.sweep_action(skewed), SweepAction::Nothing);
        assert!(due_at(&job).unwrap() > skewed, "not even due by the skewed clock");
        // A worker that really died is taken back once the allowance has passed too.
        assert_eq!(job.sweep_action(t0 + Duration::seconds(60) + clock_skew_allowance()), SweepAction::Requeue);
    }

    #[test]
    fn unclaimed_pending_job_is_kicked_after_grace_and_terminal_jobs_are_left_alone() {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 9, 14, 0, 0).unwrap();
        let mut job = job_at(t0);
        assert_eq!(job.sweep_action(t0 + Duration::seconds(30)), SweepAction::Nothing);
        assert_eq!(job.sweep_action(t0 + pickup_grace()), SweepAction::Kick);
        job.state = JobState::Completed;
        assert_eq!(job.sweep_action(t0 + Duration::days(1)), SweepAction::Nothing);
    }

    #[test]
    fn due_keys_sort_chronologically_and_buckets_cover_the_lookback() {
        let a = Utc.with_ymd_and_hms(2026, 6, 9, 9, 5, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 6, 9, 10, 0, 0).unwrap();
        assert!(due_sort_key(a, "JOB#x") < due_sort_key(b, "JOB#x"));
        assert_eq!(due_bucket(a), "DUE#2026-06-09T09");
        let buckets = buckets_to_sweep(Utc.with_ymd_and_hms(2026, 6, 9, 0, 30, 0).unwrap(), 2);
        assert_eq!(buckets, vec!["DUE#2026-06-08T22", "DUE#2026-06-08T23", "DUE#2026-06-09T00"]);
    }
}
