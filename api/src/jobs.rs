//! Jobs: every lifecycle change (provisioning, backup, restore) runs as one.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// CapyDB's job type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum JobType {
    #[serde(rename = "project.provision")]
    ProjectProvision,
    #[serde(rename = "project.backup")]
    ProjectBackup,
    /// A restore from a backup or a backup restore point.
    #[serde(rename = "project.restore")]
    ProjectRestore,
    /// A restore to a moment, by replaying archived WAL.
    #[serde(rename = "instance.pitr_restore")]
    InstancePitrRestore,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::ProjectProvision => "project.provision",
            JobType::ProjectBackup => "project.backup",
            JobType::ProjectRestore => "project.restore",
            JobType::InstancePitrRestore => "instance.pitr_restore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Completed,
    Failed,
    /// Stopped on request (`POST /v1/jobs/{id}/cancel`); what it had done is undone.
    Cancelled,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed | JobState::Cancelled)
    }
}

/// How a failed attempt was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryClassification {
    /// It may pass (a cluster restarting, a dropped connection, throttling): retried with
    /// back-off while attempts and time remain.
    Transient,
    /// Trying again cannot help (bad credentials, a missing database, an archive that does not
    /// restore, bad input): the job failed at once.
    Permanent,
}

/// What runs a job's attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobRunner {
    /// A serverless function run (at most 15 minutes): most jobs.
    Lambda,
    /// A container task, for work too large for a function run.
    Task,
}

/// Where a running job is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    /// For example `dumping`, `uploading`, `verifying`, `restoring`, `swapping`.
    pub phase: String,
    pub bytes_done: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub state: JobState,
    pub organization_id: String,
    pub project_id: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub claimed_at: Option<Timestamp>,
    pub claimed_by: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    /// Why the job failed or was cancelled.
    pub error: Option<String>,
    /// Who cancelled it (`api_key:<id>` or `user:<id>`), once `cancelled`.
    pub cancelled_by: Option<String>,
    /// How the last failed attempt was judged.
    pub retry_classification: Option<RetryClassification>,
    /// The last failed attempt's error (kept while a retry waits).
    pub last_error: Option<String>,
    /// When a retry after a transient failure may start (`pending` jobs).
    pub next_attempt_at: Option<Timestamp>,
    /// What runs it; unset until the first worker has sized it up.
    pub runner: Option<JobRunner>,
    /// The container task running it, once handed to one.
    pub task_arn: Option<String>,
    pub progress: Option<JobProgress>,
    pub backup_id: Option<String>,
    pub restore_id: Option<String>,
    pub preview_database_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobResponse {
    pub job: Job,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<Job>,
    pub next_cursor: Option<String>,
}
