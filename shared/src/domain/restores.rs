//! Restores: one source (a backup, or a moment of the WAL archive) into one target (a new preview, an existing preview, or the
//! project itself). Data lands in a staging database first; the target changes only after the
//! staging restore fully succeeded.

use crate::domain::wal::RecoveryTarget;
use crate::ids::{BackupId, JobId, OrgId, PreviewId, ProjectId, RestoreId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    NewPreview,
    Preview,
    Project,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreState {
    Pending,
    Running,
    Completed,
    Failed,
}

/// How far a restore got in changing its target, recorded as each step ends so that an attempt
/// after a crash resumes from there and never swaps twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreStep {
    /// Data is being built in the staging database; the target is untouched.
    #[default]
    Staging,
    /// The swap is about to begin or under way: from here the restore can no longer be
    /// cancelled (written only while no cancellation was asked for).
    Swapping,
    /// The restored data is in the target. For a project, the old production data is in the
    /// safety database and `safety_backup_id` names the backup being taken of it.
    Swapped,
    /// The safety backup's outcome is recorded; the safety database may be dropped if it verified.
    SafetyRecorded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restore {
    pub id: RestoreId,
    pub project_id: ProjectId,
    pub org_id: OrgId,
    pub job_id: JobId,
    pub source_kind: String,
    /// The backup restored (`source_kind` `backup`).
    pub source_backup_id: Option<BackupId>,
    pub source_backup_key: Option<String>,
    /// The moment restored (`source_kind` `pitr`).
    #[serde(default)]
    pub pitr: Option<PitrSource>,
    pub source_restore_point_id: Option<String>,
    pub target_kind: TargetKind,
    pub preview_id: Option<PreviewId>,
    pub allow_unverified_backup: bool,
    pub state: RestoreState,
    pub error: Option<String>,
    /// For project overwrites: the backup holding production as it was just before.
    pub safety_backup_id: Option<BackupId>,
    #[serde(default)]
    pub step: RestoreStep,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A point-in-time restore: what was asked, what will be restored, and from which base backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PitrSource {
    pub requested_restore_time: Option<DateTime<Utc>>,
    pub restore_time: DateTime<Utc>,
    /// The request asked for a later moment than the archive holds; `restore_time` is the latest.
    pub restore_time_clamped: bool,
    pub target: RecoveryTarget,
    pub base_backup_id: String,
}

/// Where a restore builds its data before the swap.
pub fn staging_database(id: &RestoreId) -> String {
    format!("capydb_stage_{id}")
}

/// Production as it was just before an overwrite, until its pre-restore backup is verified.
pub fn safety_database(id: &RestoreId) -> String {
    format!("capydb_safety_{id}")
}

/// Days a pre-restore safety backup is kept.
pub const SAFETY_RETENTION_DAYS: i64 = 7;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_and_safety_names_are_valid_identifiers() {
        let id = RestoreId::generate();
        for name in [staging_database(&id), safety_database(&id)] {
            assert!(name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
    }
}
