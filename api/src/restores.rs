//! Restores: a backup, a restore point or a moment, into a preview or over the project.

use crate::jobs::Job;
use crate::previews::PreviewDatabase;
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A new preview database (the default).
    NewPreview,
    /// An existing preview (`preview_id`); its data is replaced only once the restore succeeded.
    Preview,
    /// The project database itself: needs `confirm_project_overwrite` and, for a session, the
    /// org admin role. A verified safety backup of the old data is kept.
    Project,
}

/// Exactly one source: `backup_key`, `restore_point_id` or `restore_time`.
///
/// Unlike CapyDB's published API, a project overwrite is gated by `confirm_project_overwrite`
/// and the admin role rather than by approval tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreCreateRequest {
    #[serde(default)]
    pub backup_key: Option<String>,
    #[serde(default)]
    pub restore_point_id: Option<String>,
    /// A moment inside the region's point-in-time window (RFC 3339). A moment later than the
    /// newest archived WAL is clamped to it, and the response says so.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub restore_time: Option<String>,
    #[serde(default)]
    pub target_kind: Option<TargetKind>,
    /// The preview to restore into (`target_kind` `preview`).
    #[serde(default)]
    pub preview_id: Option<String>,
    /// Name of the new preview (`new_preview`): 1–63 lowercase letters, digits or hyphens,
    /// starting with a letter. Generated when left out.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 63, pattern = "^[a-z][a-z0-9-]*$")]
    pub preview_name: Option<String>,
    /// Lifetime of a new preview: 1–168 hours, 24 when left out.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 168)]
    pub ttl_hours: Option<i64>,
    #[serde(default)]
    pub confirm_project_overwrite: Option<bool>,
    /// Restore from a backup whose verification failed or has not finished.
    #[serde(default)]
    pub allow_unverified_backup: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestoreState {
    Pending,
    Running,
    Completed,
    Failed,
}

/// How far a restore got: `staging` leaves the target untouched (and can be cancelled);
/// `swapping` puts the data in place and can no longer be cancelled; after `swapped` the target
/// holds the restored data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestoreStep {
    Staging,
    Swapping,
    Swapped,
    SafetyRecorded,
}

/// The moment a point-in-time restore recovers to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PitrTarget {
    /// What the request asked for (`null` when it named a restore point).
    pub requested_restore_time: Option<Timestamp>,
    pub restore_time: Timestamp,
    /// The request asked for a later moment than the archive holds; `restore_time` is the latest.
    pub restore_time_clamped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Restore {
    pub id: String,
    pub project_id: String,
    pub organization_id: String,
    pub job_id: String,
    /// `backup` or `pitr`.
    pub source_kind: String,
    pub source_backup_id: Option<String>,
    pub source_backup_key: Option<String>,
    pub source_restore_point_id: Option<String>,
    pub pitr: Option<PitrTarget>,
    pub target_kind: TargetKind,
    pub preview_id: Option<String>,
    pub allow_unverified_backup: bool,
    pub state: RestoreState,
    pub step: RestoreStep,
    pub error: Option<String>,
    /// For a project overwrite: the backup of production as it was just before.
    pub safety_backup_id: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// `202`: the restore is queued; follow `job`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestoreCreated {
    pub job: Job,
    pub restore: Restore,
    /// The preview being filled (`new_preview` and `preview` targets).
    pub preview: Option<PreviewDatabase>,
    /// Point-in-time restores: what was asked, what will be restored, whether it was clamped.
    pub pitr: Option<PitrTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestoreList {
    pub restores: Vec<Restore>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestoreResponse {
    pub restore: Restore,
}
