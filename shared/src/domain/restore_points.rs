//! Restore points: a label pinned to a backup (`kind: backup`) or to a moment (`kind: pitr`).

use crate::ids::{BackupId, OrgId, ProjectId, RestorePointId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorePointKind {
    Backup,
    Pitr,
}

impl RestorePointKind {
    /// The kind asked for, or the one the other fields imply (a backup key means `backup`).
    pub fn infer(asked: Option<RestorePointKind>, has_backup_key: bool) -> Self {
        match asked {
            Some(kind) => kind,
            None if has_backup_key => RestorePointKind::Backup,
            None => RestorePointKind::Pitr,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorePointState {
    Active,
    /// Its backup or moment can no longer be restored.
    Stale,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestorePoint {
    pub id: RestorePointId,
    pub project_id: ProjectId,
    pub org_id: OrgId,
    pub label: String,
    pub kind: RestorePointKind,
    pub backup_id: Option<BackupId>,
    pub backup_key: Option<String>,
    pub pitr_time: Option<DateTime<Utc>>,
    /// For a point placed in the WAL (`pg_create_restore_point`): its name and LSN, which make
    /// restoring to it exact.
    #[serde(default)]
    pub pitr_name: Option<String>,
    #[serde(default)]
    pub pitr_lsn: Option<String>,
    pub note: Option<String>,
    pub state: RestorePointState,
    pub created_at: DateTime<Utc>,
}

pub const NOTE_MAX_CHARS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_is_inferred_from_the_backup_key() {
        assert_eq!(RestorePointKind::infer(None, true), RestorePointKind::Backup);
        assert_eq!(RestorePointKind::infer(None, false), RestorePointKind::Pitr);
        assert_eq!(RestorePointKind::infer(Some(RestorePointKind::Pitr), true), RestorePointKind::Pitr);
    }
}
