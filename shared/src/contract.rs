//! The domain's values in the API contract's terms: what views and webhook payloads share.
//! The storage shape of a record stays the domain's; only these mappings cross to the contract.

use crate::domain::{backups, jobs, previews, projects, restore_points, restores, webhooks};
use capydb_api as api;
use chrono::{DateTime, Utc};

pub fn ts(t: DateTime<Utc>) -> api::Timestamp {
    api::Timestamp(t)
}

pub fn ts_opt(t: Option<DateTime<Utc>>) -> Option<api::Timestamp> {
    t.map(api::Timestamp)
}

/// An event's `data`, from its contract type.
pub fn data<T: serde::Serialize>(payload: &T) -> serde_json::Value {
    serde_json::to_value(payload).expect("contract types serialize")
}

/// CapyDB's name for what a job does.
pub fn job_type(job: &jobs::Job) -> api::jobs::JobType {
    match job.job_type {
        jobs::JobType::ProvisionProject => api::jobs::JobType::ProjectProvision,
        jobs::JobType::Backup => api::jobs::JobType::ProjectBackup,
        jobs::JobType::Restore if job.point_in_time => api::jobs::JobType::InstancePitrRestore,
        jobs::JobType::Restore => api::jobs::JobType::ProjectRestore,
    }
}

macro_rules! same_variants {
    ($from:ty => $to:ty { $($v:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(value: $from) -> Self {
                match value { $(<$from>::$v => <$to>::$v,)* }
            }
        }
    };
}

same_variants!(jobs::JobState => api::jobs::JobState { Pending, Running, Completed, Failed, Cancelled });
same_variants!(backups::BackupKind => api::backups::BackupKind { OnDemand, Scheduled, Nightly, PreRestore });
same_variants!(backups::BackupState => api::backups::BackupState { Pending, Running, Completed, Failed });
same_variants!(backups::VerificationState => api::backups::VerificationState { Pending, Verified, Failed });
same_variants!(restores::TargetKind => api::restores::TargetKind { NewPreview, Preview, Project });
same_variants!(restores::RestoreState => api::restores::RestoreState { Pending, Running, Completed, Failed });
same_variants!(restores::RestoreStep => api::restores::RestoreStep { Staging, Swapping, Swapped, SafetyRecorded });
same_variants!(previews::PreviewState => api::previews::PreviewState { Creating, Ready, Restoring, Failed });
same_variants!(projects::ProjectState => api::projects::ProjectState { Provisioning, Ready, Failed });
same_variants!(restore_points::RestorePointKind => api::restore_points::RestorePointKind { Backup, Pitr });
same_variants!(restore_points::RestorePointState => api::restore_points::RestorePointState { Active, Stale });
same_variants!(webhooks::Health => api::webhooks::EndpointHealth { Healthy, Failing, Unhealthy });

impl From<api::restores::TargetKind> for restores::TargetKind {
    fn from(value: api::restores::TargetKind) -> Self {
        match value {
            api::restores::TargetKind::NewPreview => restores::TargetKind::NewPreview,
            api::restores::TargetKind::Preview => restores::TargetKind::Preview,
            api::restores::TargetKind::Project => restores::TargetKind::Project,
        }
    }
}

impl From<api::restore_points::RestorePointKind> for restore_points::RestorePointKind {
    fn from(value: api::restore_points::RestorePointKind) -> Self {
        match value {
            api::restore_points::RestorePointKind::Backup => restore_points::RestorePointKind::Backup,
            api::restore_points::RestorePointKind::Pitr => restore_points::RestorePointKind::Pitr,
        }
    }
}
