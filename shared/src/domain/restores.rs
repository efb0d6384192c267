//! Restores: one source (a backup, or a moment of the WAL archive) into one target (a new preview, an existing preview, or the
//! project itself). Data lands in a staging database first; the target changes only after the
//! staging restore fully succeeded.

use crate::domain::wal::RecoveryTarget;
use crate::ids::{BackupId, JobId, OrgId, PreviewId, ProjectId, RestoreId};
use crate::Error;
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

/// What a restore starts from: exactly one of the request's three source fields.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreSource {
    /// A backup, by its `backup_key`.
    Backup(String),
    /// A restore point, by its id as given (an unknown or malformed one is not found).
    RestorePoint(String),
    /// A moment of the WAL archive.
    Time(DateTime<Utc>),
}

impl RestoreSource {
    /// The one source named; none or several is a 400 naming the fields, a bad moment one
    /// naming `restore_time`.
    pub fn parse(
        backup_key: Option<String>,
        restore_point_id: Option<String>,
        restore_time: Option<&str>,
    ) -> Result<RestoreSource, Error> {
        match (backup_key, restore_point_id, restore_time) {
            (Some(key), None, None) => Ok(RestoreSource::Backup(key)),
            (None, Some(id), None) => Ok(RestoreSource::RestorePoint(id)),
            (None, None, Some(raw)) => Ok(RestoreSource::Time(parse_time("restore_time", raw)?)),
            _ => Err(Error::invalid(
                "backup_key",
                "exactly one of backup_key, restore_time, restore_point_id is required",
            )),
        }
    }
}

/// A moment as the API takes it: RFC 3339, kept to the millisecond, the precision the API
/// answers with, so the moment restored is exactly the one shown.
pub fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, Error> {
    use chrono::SubsecRound;
    DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc).trunc_subsecs(3)).map_err(|_| {
        Error::invalid(
            field,
            format!("{field} must be an RFC 3339 timestamp such as 2026-11-25T14:32:00Z (got `{raw}`)"),
        )
    })
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

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidField { field, .. } => field,
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn a_restore_has_exactly_one_source() {
        let key = || Some("projects/p/backups/b.dump.zst".to_string());
        let point = || Some("rp_x".to_string());
        assert_eq!(RestoreSource::parse(key(), None, None).unwrap(), RestoreSource::Backup(key().unwrap()));
        assert_eq!(RestoreSource::parse(None, point(), None).unwrap(), RestoreSource::RestorePoint("rp_x".into()));
        let at = RestoreSource::parse(None, None, Some("2026-11-25T14:32:00.123456Z")).unwrap();
        assert_eq!(at, RestoreSource::Time("2026-11-25T14:32:00.123Z".parse().unwrap()), "kept to the millisecond");
        for (k, p, t) in [(None, None, None), (key(), point(), None), (key(), None, Some("2026-11-25T14:32:00Z"))] {
            let e = RestoreSource::parse(k, p, t).unwrap_err();
            assert!(e.to_string().contains("exactly one of backup_key, restore_time, restore_point_id"), "{e}");
        }
        assert_eq!(field_of(RestoreSource::parse(None, None, Some("yesterday")).unwrap_err()), "restore_time");
    }

    #[test]
    fn staging_and_safety_names_are_valid_identifiers() {
        let id = RestoreId::generate();
        for name in [staging_database(&id), safety_database(&id)] {
            assert!(name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
    }
}
