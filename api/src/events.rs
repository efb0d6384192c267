//! Webhook events: the envelope every receiver gets and the `data` of each event type.
//!
//! Each delivery is a POST of the envelope with the headers `X-CapyDB-Event` (the type),
//! `X-CapyDB-Delivery` (unique per delivery: use it to ignore repeats), `User-Agent:
//! capydb-webhooks/1.0` and `X-CapyDB-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<raw body>" keyed with the endpoint secret>`, the scheme Stripe uses.

use crate::backups::{BackupKind, VerificationState};
use crate::jobs::{JobState, JobType};
use crate::restores::TargetKind;
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventEnvelope {
    /// `evt_…`, the same on every delivery of this event.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: Timestamp,
    /// The event's own fields (see each event type).
    pub data: serde_json::Value,
}

/// `backup.completed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupCompletedData {
    pub project_id: String,
    pub job_id: String,
    pub backup_id: String,
    pub backup_key: Option<String>,
    pub label: Option<String>,
    pub kind: BackupKind,
    pub size_bytes: Option<u64>,
    pub sha256: Option<String>,
    pub verification_state: VerificationState,
    pub duration_ms: Option<i64>,
}

/// `backup.failed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupFailedData {
    pub project_id: String,
    pub job_id: String,
    pub backup_id: String,
    pub label: Option<String>,
    pub kind: BackupKind,
    pub error: String,
    pub verification_state: VerificationState,
}

/// `backup.missed`: a scheduled backup did not complete on time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupMissedData {
    pub project_id: String,
    pub schedule_id: String,
    pub expected_at: Timestamp,
    pub reason: String,
    pub job_id: Option<String>,
}

/// Who asked for a download URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `backup.downloaded`: a download URL was handed out (an audit record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupDownloadedData {
    pub project_id: String,
    pub backup_id: String,
    pub backup_key: String,
    pub expires_at: Timestamp,
    pub by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestoreSource {
    /// `backup` or `pitr`.
    pub kind: String,
    pub backup_id: Option<String>,
    pub backup_key: Option<String>,
    pub restore_time: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestoreTarget {
    pub kind: TargetKind,
    pub preview_id: Option<String>,
}

/// `restore.completed` and `restore.failed`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestoreEventData {
    pub project_id: String,
    pub job_id: String,
    pub restore_id: String,
    pub source: RestoreSource,
    pub target: RestoreTarget,
    pub safety_backup_id: Option<String>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
}

/// `preview.ready`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewReadyData {
    pub project_id: String,
    pub preview_id: String,
    pub name: String,
    pub restore_id: String,
    pub ttl_expires_at: Timestamp,
}

/// `preview.deleted`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewDeletedData {
    pub project_id: String,
    pub preview_id: String,
    pub name: String,
    /// `deleted` (by a request) or `expired`.
    pub reason: String,
}

/// `job.completed`, `job.failed` and `job.cancelled`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobEventData {
    pub project_id: String,
    pub job_id: String,
    pub job_type: JobType,
    pub state: JobState,
    pub attempts: u32,
    pub error: Option<String>,
    /// Who cancelled it (`job.cancelled` only).
    pub cancelled_by: Option<String>,
    pub backup_id: Option<String>,
    pub restore_id: Option<String>,
    pub preview_database_id: Option<String>,
}

/// `webhook.test`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookTestData {
    pub webhook_endpoint_id: String,
    pub message: String,
}

/// Every event type, its `data` schema and when it is sent.
pub const EVENT_TYPES: &[(&str, &str, &str)] = &[
    ("backup.completed", "BackupCompletedData", "A backup finished and its verification ran."),
    ("backup.failed", "BackupFailedData", "A backup failed; `error` says why."),
    ("backup.missed", "BackupMissedData", "A scheduled backup did not complete by its grace period."),
    ("backup.downloaded", "BackupDownloadedData", "A download URL for a backup was handed out."),
    ("restore.completed", "RestoreEventData", "A restore finished; the target holds the restored data."),
    ("restore.failed", "RestoreEventData", "A restore failed; the target is unchanged unless `error` says otherwise."),
    ("preview.ready", "PreviewReadyData", "A new preview database holds its first restore."),
    ("preview.deleted", "PreviewDeletedData", "A preview database was dropped (deleted or expired)."),
    ("job.completed", "JobEventData", "Any job completed."),
    ("job.failed", "JobEventData", "Any job failed."),
    ("job.cancelled", "JobEventData", "A job was cancelled on request; `cancelled_by` says by whom."),
    ("webhook.test", "WebhookTestData", "Sent by `POST …/test`; never retried."),
];
