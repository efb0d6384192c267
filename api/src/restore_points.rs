//! Restore points: named moments or backups to come back to.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestorePointKind {
    /// Pins a backup past its retention.
    Backup,
    /// A moment in the WAL archive.
    Pitr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestorePointState {
    Active,
    /// Its backup or moment can no longer be restored.
    Stale,
}

/// `kind` is inferred when left out: `backup` with a `backup_key`, else `pitr`. A `pitr` point
/// without `pitr_time` is placed in the WAL now, so restoring to it is exact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorePointCreateRequest {
    /// Unique per project, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub label: String,
    #[serde(default)]
    pub kind: Option<RestorePointKind>,
    #[serde(default)]
    pub backup_key: Option<String>,
    /// A past moment inside the window (RFC 3339).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub pitr_time: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestorePoint {
    pub id: String,
    pub project_id: String,
    pub organization_id: String,
    pub label: String,
    pub kind: RestorePointKind,
    pub backup_id: Option<String>,
    pub backup_key: Option<String>,
    pub pitr_time: Option<Timestamp>,
    /// The WAL restore point's name (`pg_create_restore_point`), when placed now.
    pub pitr_name: Option<String>,
    pub pitr_lsn: Option<String>,
    pub note: Option<String>,
    pub state: RestorePointState,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestorePointResponse {
    pub restore_point: RestorePoint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestorePointList {
    pub restore_points: Vec<RestorePoint>,
    pub next_cursor: Option<String>,
    /// Days of point-in-time recovery the project's region keeps (`null` without archiving).
    pub pitr_window_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestorePointDeleted {
    pub restore_point: RestorePoint,
    pub deleted: bool,
}
