//! Planning a restore, without I/O: the rules a request must pass before anything is read, the
//! rule for which backups may be restored, and every record a restore writes, decided from what
//! the service read (the project, the resolved source, the target preview). The service
//! (`services/restores.rs`) does the reads and the one transaction around this.

use crate::domain::backups::{Backup, BackupState, VerificationState};
use crate::domain::jobs::{Job, JobType};
use crate::domain::previews::{self, PreviewDatabase, PreviewName, PreviewState, TtlHours};
use crate::domain::projects::{Project, ProjectState};
use crate::domain::restores::{PitrSource, Restore, RestoreState, RestoreStep, TargetKind};
use crate::ids::{BackupId, PreviewId, RestoreId, RestorePointId};
use crate::Error;
use chrono::{DateTime, Utc};

/// Who asks, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// An API key (its scopes were checked already) or an organisation admin's session.
    Trusted,
    /// A person signed in as an organisation member: may restore into previews, never over
    /// production.
    Member,
}

/// The rules checked before anything is read: an overwrite of production is confirmed in the
/// request and asked by someone allowed to make it.
pub fn check_target(target: TargetKind, confirmed: bool, caller: Caller) -> Result<(), Error> {
    if target != TargetKind::Project {
        return Ok(());
    }
    if !confirmed {
        return Err(Error::invalid(
            "confirm_project_overwrite",
            "overwriting the project database needs confirm_project_overwrite: true",
        ));
    }
    if caller == Caller::Member {
        return Err(Error::Forbidden("overwriting the project database needs the organization `admin` role".into()));
    }
    Ok(())
}

/// A restore needs the project's database up: it writes into the project's cluster and, for an
/// overwrite, replaces that database.
pub fn check_project(project: &Project) -> Result<(), Error> {
    if project.state != ProjectState::Ready {
        return Err(Error::Conflict { message: "the project database is not ready".into(), job_id: None });
    }
    Ok(())
}

/// A backup may be restored once it completed and verified; one whose verification failed only
/// when the request says so (`allow_unverified_backup`, a salvage). Never a backup still running
/// or one that failed to be taken.
pub fn check_restorable(backup: &Backup, allow_unverified: bool) -> Result<(), Error> {
    let verified = backup.state == BackupState::Completed && backup.verification_state == VerificationState::Verified;
    let salvage = allow_unverified && backup.verification_state == VerificationState::Failed;
    if verified || salvage {
        return Ok(());
    }
    Err(Error::Unprocessable(format!(
        "backup {} is not a verified backup (state {:?}, verification {:?}); pass allow_unverified_backup: true to restore an archive that failed verification",
        backup.id, backup.state, backup.verification_state
    )))
}

/// An existing preview may be restored into when it belongs to the project and is ready.
pub fn check_target_preview(project: &Project, preview: Option<PreviewDatabase>) -> Result<PreviewDatabase, Error> {
    let preview = preview.filter(|p| p.project_id == project.id).ok_or_else(|| Error::not_found("preview database"))?;
    if preview.state != PreviewState::Ready {
        return Err(Error::Conflict {
            message: format!("preview database {} is {:?}", preview.id, preview.state),
            job_id: None,
        });
    }
    Ok(preview)
}

/// What a restore reads, once resolved: a stored backup, or a moment of the WAL archive.
#[derive(Debug, Clone)]
pub enum Source {
    Backup(Box<Backup>),
    Pitr(PitrSource),
}

impl Source {
    fn kind(&self) -> &'static str {
        match self {
            Source::Backup(_) => "backup",
            Source::Pitr(_) => "pitr",
        }
    }

    fn backup_id(&self) -> Option<BackupId> {
        match self {
            Source::Backup(b) => Some(b.id.clone()),
            Source::Pitr(_) => None,
        }
    }

    fn backup_key(&self) -> Option<String> {
        match self {
            Source::Backup(b) => b.backup_key.clone(),
            Source::Pitr(_) => None,
        }
    }

    fn restore_time(&self) -> Option<DateTime<Utc>> {
        match self {
            Source::Backup(_) => None,
            Source::Pitr(p) => Some(p.restore_time),
        }
    }

    fn pitr(&self) -> Option<PitrSource> {
        match self {
            Source::Backup(_) => None,
            Source::Pitr(p) => Some(p.clone()),
        }
    }
}

/// Where the restored data goes, resolved.
pub enum Target {
    Project,
    /// An existing preview (checked with [`check_target_preview`]).
    Preview(Box<PreviewDatabase>),
    /// A preview made for the restore: its name (generated when none was asked), its lifetime,
    /// and its role's password already sealed.
    NewPreview {
        name: Option<PreviewName>,
        ttl: TtlHours,
        sealed_password: String,
    },
}

/// Everything the service read and resolved for one request.
pub struct Inputs<'a> {
    pub project: &'a Project,
    pub source: Source,
    pub restore_point: Option<RestorePointId>,
    pub target: Target,
    pub allow_unverified_backup: bool,
    pub max_attempts: u32,
    pub now: DateTime<Utc>,
}

/// Every record a restore writes, in one transaction.
#[derive(Debug)]
pub struct Plan {
    pub restore: Restore,
    pub job: Job,
    /// The preview the data lands in (new or existing); `None` for production.
    pub preview: Option<PreviewDatabase>,
    /// The preview this restore creates, written with it.
    pub new_preview: Option<PreviewDatabase>,
    /// Overwrites (production or an existing preview) hold the project's lifecycle lock.
    pub takes_lifecycle_lock: bool,
}

pub fn plan(inputs: Inputs<'_>) -> Plan {
    let Inputs { project, source, restore_point, target, allow_unverified_backup, max_attempts, now } = inputs;
    let mut job = Job::new(JobType::Restore, project.org_id.clone(), project.id.clone(), max_attempts, now);
    let (target_kind, preview, new_preview) = match target {
        Target::Project => (TargetKind::Project, None, None),
        Target::Preview(existing) => (TargetKind::Preview, Some(*existing), None),
        Target::NewPreview { name, ttl, sealed_password } => {
            let id = PreviewId::generate();
            let name = name.unwrap_or_else(|| PreviewName::generated(now, &id));
            let created = PreviewDatabase {
                project_id: project.id.clone(),
                org_id: project.org_id.clone(),
                name: name.as_str().to_string(),
                database_name: previews::database_name(&id),
                db_username: previews::role_name(&id),
                db_password_enc: sealed_password,
                state: PreviewState::Creating,
                ttl_expires_at: ttl.after(now),
                source_kind: Some(source.kind().into()),
                source_backup_key: source.backup_key(),
                source_restore_time: source.restore_time(),
                error: None,
                created_at: now,
                updated_at: now,
                id,
            };
            (TargetKind::NewPreview, Some(created.clone()), Some(created))
        }
    };
    let restore = Restore {
        id: RestoreId::generate(),
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        job_id: job.id.clone(),
        source_kind: source.kind().into(),
        source_backup_id: source.backup_id(),
        source_backup_key: source.backup_key(),
        pitr: source.pitr(),
        source_restore_point_id: restore_point.map(|p| p.to_string()),
        target_kind,
        preview_id: preview.as_ref().map(|p| p.id.clone()),
        allow_unverified_backup,
        state: RestoreState::Pending,
        error: None,
        safety_backup_id: None,
        step: RestoreStep::Staging,
        created_at: now,
        started_at: None,
        completed_at: None,
        updated_at: now,
    };
    job.restore_id = Some(restore.id.clone());
    job.point_in_time = restore.pitr.is_some();
    job.preview_database_id = restore.preview_id.as_ref().map(|p| p.to_string());
    Plan { restore, job, preview, new_preview, takes_lifecycle_lock: target_kind != TargetKind::NewPreview }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backups::BackupKind;
    use crate::domain::wal::RecoveryTarget;
    use crate::ids::{JobId, OrgId, ProjectId};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
    }

    fn project(state: ProjectState) -> Project {
        let id = ProjectId::generate();
        Project {
            org_id: OrgId::generate(),
            name: "shop".into(),
            region: "local-1".into(),
            state,
            database_name: crate::domain::projects::database_name(&id),
            db_username: crate::domain::projects::role_name(&id),
            db_password_enc: "sealed".into(),
            error: None,
            next_nightly_at: None,
            created_at: now(),
            updated_at: now(),
            id,
        }
    }

    fn backup(p: &Project, state: BackupState, verification: VerificationState) -> Backup {
        let mut b = Backup::new(
            BackupId::generate(),
            p.id.clone(),
            p.org_id.clone(),
            JobId::generate(),
            Some("nightly".into()),
            BackupKind::OnDemand,
            p.database_name.clone(),
            now(),
        );
        b.state = state;
        b.verification_state = verification;
        b.backup_key = Some(format!("projects/{}/backups/{}.dump.zst", p.id, b.id));
        b
    }

    fn preview(p: &Project, state: PreviewState) -> PreviewDatabase {
        let id = PreviewId::generate();
        PreviewDatabase {
            project_id: p.id.clone(),
            org_id: p.org_id.clone(),
            name: "staging".into(),
            database_name: previews::database_name(&id),
            db_username: previews::role_name(&id),
            db_password_enc: "sealed".into(),
            state,
            ttl_expires_at: now(),
            source_kind: None,
            source_backup_key: None,
            source_restore_time: None,
            error: None,
            created_at: now(),
            updated_at: now(),
            id,
        }
    }

    fn pitr_source() -> PitrSource {
        let at = now() - chrono::Duration::minutes(5);
        PitrSource {
            requested_restore_time: Some(at),
            restore_time: at,
            restore_time_clamped: false,
            target: RecoveryTarget::Time { at },
            base_backup_id: "base_1".into(),
        }
    }

    fn inputs(p: &Project, source: Source, target: Target) -> Inputs<'_> {
        Inputs {
            project: p,
            source,
            restore_point: None,
            target,
            allow_unverified_backup: false,
            max_attempts: 3,
            now: now(),
        }
    }

    #[test]
    fn overwriting_production_needs_the_confirmation_and_an_admin() {
        let e = check_target(TargetKind::Project, false, Caller::Trusted).unwrap_err();
        assert!(matches!(&e, Error::InvalidField { field, .. } if field == "confirm_project_overwrite"), "{e:?}");
        let e = check_target(TargetKind::Project, true, Caller::Member).unwrap_err();
        assert!(matches!(&e, Error::Forbidden(m) if m.contains("admin")), "{e:?}");
        check_target(TargetKind::Project, true, Caller::Trusted).unwrap();
        // Previews are a member's to restore into, confirmed or not.
        check_target(TargetKind::NewPreview, false, Caller::Member).unwrap();
        check_target(TargetKind::Preview, false, Caller::Member).unwrap();
    }

    #[test]
    fn only_a_ready_project_is_restored_into() {
        check_project(&project(ProjectState::Ready)).unwrap();
        for state in [ProjectState::Provisioning, ProjectState::Failed] {
            assert!(matches!(check_project(&project(state)), Err(Error::Conflict { .. })), "{state:?}");
        }
    }

    #[test]
    fn a_verified_backup_restores_and_a_failed_verification_only_as_a_salvage() {
        let p = project(ProjectState::Ready);
        check_restorable(&backup(&p, BackupState::Completed, VerificationState::Verified), false).unwrap();
        let failed = backup(&p, BackupState::Completed, VerificationState::Failed);
        let e = check_restorable(&failed, false).unwrap_err();
        assert!(matches!(&e, Error::Unprocessable(m) if m.contains("allow_unverified_backup")), "{e:?}");
        check_restorable(&failed, true).unwrap();
        // Not even a salvage restores what was never taken whole.
        for (state, verification) in [
            (BackupState::Running, VerificationState::Pending),
            (BackupState::Failed, VerificationState::Pending),
            (BackupState::Completed, VerificationState::Pending),
        ] {
            assert!(check_restorable(&backup(&p, state, verification), true).is_err(), "{state:?} {verification:?}");
        }
    }

    #[test]
    fn a_target_preview_must_be_the_projects_and_ready() {
        let p = project(ProjectState::Ready);
        let other = project(ProjectState::Ready);
        let ready = preview(&p, PreviewState::Ready);
        assert_eq!(check_target_preview(&p, Some(ready.clone())).unwrap().id, ready.id);
        assert!(matches!(check_target_preview(&p, None), Err(Error::NotFound(_))));
        let foreign = preview(&other, PreviewState::Ready);
        assert!(matches!(check_target_preview(&p, Some(foreign)), Err(Error::NotFound(_))), "not another project's");
        let busy = preview(&p, PreviewState::Restoring);
        assert!(matches!(check_target_preview(&p, Some(busy)), Err(Error::Conflict { .. })));
    }

    #[test]
    fn a_backup_into_a_new_preview_creates_the_preview_with_the_restore_and_takes_no_lock() {
        let p = project(ProjectState::Ready);
        let b = backup(&p, BackupState::Completed, VerificationState::Verified);
        let name = PreviewName::parse("from-nightly").unwrap();
        let target =
            Target::NewPreview { name: Some(name), ttl: TtlHours::parse(None).unwrap(), sealed_password: "pw".into() };
        let plan = plan(inputs(&p, Source::Backup(Box::new(b.clone())), target));

        let created = plan.new_preview.as_ref().expect("a preview to create");
        assert_eq!(plan.preview.as_ref().map(|x| &x.id), Some(&created.id));
        assert_eq!((created.name.as_str(), created.state), ("from-nightly", PreviewState::Creating));
        assert_eq!(created.ttl_expires_at, TtlHours::parse(None).unwrap().after(now()));
        assert_eq!(created.db_password_enc, "pw");
        assert_eq!(
            (created.source_kind.as_deref(), created.source_backup_key.as_ref()),
            (Some("backup"), b.backup_key.as_ref())
        );
        let r = &plan.restore;
        assert_eq!(
            (r.target_kind, r.state, r.step),
            (TargetKind::NewPreview, RestoreState::Pending, RestoreStep::Staging)
        );
        assert_eq!((r.source_backup_id.as_ref(), r.pitr.as_ref()), (Some(&b.id), None));
        assert_eq!(r.preview_id.as_ref(), Some(&created.id));
        assert_eq!((plan.job.job_type, plan.job.max_attempts), (JobType::Restore, 3));
        assert_eq!(plan.job.restore_id.as_ref(), Some(&r.id));
        assert_eq!(r.job_id, plan.job.id);
        assert_eq!(plan.job.preview_database_id, Some(created.id.to_string()));
        assert!(!plan.job.point_in_time);
        assert!(!plan.takes_lifecycle_lock, "a new preview replaces nothing");
    }

    #[test]
    fn a_new_preview_without_a_name_gets_one_from_the_day_and_its_id() {
        let p = project(ProjectState::Ready);
        let target =
            Target::NewPreview { name: None, ttl: TtlHours::parse(None).unwrap(), sealed_password: "pw".into() };
        let plan = plan(inputs(&p, Source::Pitr(pitr_source()), target));
        let created = plan.new_preview.unwrap();
        assert_eq!(created.name, PreviewName::generated(now(), &created.id).as_str());
        assert!(created.name.starts_with("restore-20261203-"), "{}", created.name);
        assert_eq!(created.source_restore_time, Some(pitr_source().restore_time));
    }

    #[test]
    fn a_moment_over_production_locks_the_project_and_marks_the_job_point_in_time() {
        let p = project(ProjectState::Ready);
        let source = Source::Pitr(pitr_source());
        let mut asked = inputs(&p, source, Target::Project);
        asked.restore_point = Some(RestorePointId::generate());
        let point = asked.restore_point.clone().unwrap();
        let plan = plan(asked);
        assert!(plan.takes_lifecycle_lock);
        assert!((plan.preview.is_none(), plan.new_preview.is_none()) == (true, true));
        assert_eq!(plan.restore.source_kind, "pitr");
        assert_eq!(plan.restore.pitr, Some(pitr_source()));
        assert_eq!(plan.restore.source_restore_point_id, Some(point.to_string()));
        assert!(plan.job.point_in_time);
        assert_eq!(plan.job.preview_database_id, None);
    }

    #[test]
    fn an_existing_preview_is_overwritten_under_the_lock_and_not_created_again() {
        let p = project(ProjectState::Ready);
        let existing = preview(&p, PreviewState::Ready);
        let b = backup(&p, BackupState::Completed, VerificationState::Verified);
        let plan = plan(inputs(&p, Source::Backup(Box::new(b)), Target::Preview(Box::new(existing.clone()))));
        assert!(plan.takes_lifecycle_lock);
        assert!(plan.new_preview.is_none());
        assert_eq!(plan.restore.preview_id.as_ref(), Some(&existing.id));
        assert_eq!(plan.restore.target_kind, TargetKind::Preview);
    }
}
