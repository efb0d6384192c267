//! Requesting restores: exactly one source, one target, and the safety rules for overwriting
//! production (explicit confirmation; an org admin when the caller is a person; one lifecycle
//! change per project at a time).

use super::idempotency::{winner, IdempotencyKey};
use super::{backups, pitr, projects, restore_points, Context};
use crate::adapters::crypto::random_password;
use crate::auth::{Credential, OrgRole, Principal};
use crate::domain::backups::{Backup, BackupState, VerificationState};
use crate::domain::jobs::{Job, JobType};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::{self, PreviewDatabase, PreviewName, PreviewState, TtlHours};
use crate::domain::projects::{Project, ProjectState};
use crate::domain::restore_points::RestorePointKind;
use crate::domain::restores::{PitrSource, Restore, RestoreSource, RestoreState, RestoreStep, TargetKind};
use crate::domain::scopes::Scope;
use crate::ids::{JobId, PreviewId, ProjectId, RestoreId};
use crate::store::{RestoreConflict, StoreError};
use crate::Error;
use serde::{Deserialize, Serialize};

/// A restore request, validated field by field by the handler.
pub struct RestoreRequest {
    pub source: RestoreSource,
    pub target_kind: TargetKind,
    pub preview_id: Option<String>,
    pub preview_name: Option<PreviewName>,
    pub ttl: TtlHours,
    pub confirm_project_overwrite: bool,
    pub allow_unverified_backup: bool,
}

#[derive(Serialize, Deserialize)]
struct Created {
    restore_id: RestoreId,
    job_id: JobId,
}

pub struct Requested {
    pub restore: Restore,
    pub job: Job,
    pub preview: Option<PreviewDatabase>,
}

pub async fn request(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    req: RestoreRequest,
    idempotency: Option<&IdempotencyKey>,
) -> Result<Requested, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, project_id).await?;
    let requested_time = match &req.source {
        RestoreSource::Time(at) => Some(*at),
        _ => None,
    };
    if requested_time.is_some() {
        pitr::require_archiving(ctx.region(&project.region)?)?;
    }
    if req.target_kind == TargetKind::Project {
        if !req.confirm_project_overwrite {
            return Err(Error::invalid(
                "confirm_project_overwrite",
                "overwriting the project database needs confirm_project_overwrite: true",
            ));
        }
        if matches!(principal.credential, Credential::Session { role: OrgRole::Member, .. }) {
            return Err(Error::Forbidden(
                "overwriting the project database needs the organization `admin` role".into(),
            ));
        }
    }
    if let Some(key) = idempotency {
        if let Some(prev) = key.previous::<Created>(&ctx.repo).await? {
            return load_created(ctx, &project, prev).await;
        }
    }
    if project.state != ProjectState::Ready {
        return Err(Error::Conflict { message: "the project database is not ready".into(), job_id: None });
    }
    let region = ctx.region(&project.region)?;
    // Planning a moment switches the cluster's WAL; only one point-in-time restore per project
    // runs at a time (checked again in the transaction).
    let point = match &req.source {
        // Named in the body, so it is not parsed at the edge: a malformed id is as unknown.
        RestoreSource::RestorePoint(raw) => {
            let id = raw.parse().map_err(|_| Error::not_found("restore point"))?;
            Some(restore_points::find(ctx, &project.id, &id).await?)
        }
        _ => None,
    };
    let pitr_source = requested_time.is_some() || point.as_ref().is_some_and(|p| p.kind == RestorePointKind::Pitr);
    if pitr_source {
        if let Some(held) = ctx.repo.pitr_lock(&project.id).await? {
            return Err(pitr_running(&held.job_id));
        }
    }
    let source = match (&req.source, &point) {
        (RestoreSource::Backup(key), _) => {
            Source::Backup(Box::new(source_backup(ctx, &project, key, req.allow_unverified_backup).await?))
        }
        (RestoreSource::Time(at), _) => Source::Pitr(pitr::plan_time(ctx, region, "restore_time", *at).await?),
        (RestoreSource::RestorePoint(_), Some(point)) => match point.kind {
            RestorePointKind::Backup => {
                let key = point
                    .backup_key
                    .clone()
                    .ok_or_else(|| Error::Unprocessable(format!("restore point {} has no backup", point.id)))?;
                Source::Backup(Box::new(source_backup(ctx, &project, &key, req.allow_unverified_backup).await?))
            }
            RestorePointKind::Pitr => Source::Pitr(pitr::plan_point(ctx, region, point).await?),
        },
        (RestoreSource::RestorePoint(_), None) => return Err(Error::not_found("restore point")),
    };
    let point = point.map(|p| p.id);
    // Both are checked again inside the transaction; checking first keeps refused requests
    // from costing a cancelled transaction.
    let lock = req.target_kind != TargetKind::NewPreview;
    if lock {
        if let Some(held) = ctx.repo.lifecycle_lock(&project.id).await? {
            return Err(locked(&held.job_id));
        }
    }
    if let (TargetKind::NewPreview, Some(name)) = (req.target_kind, &req.preview_name) {
        if ctx.repo.preview_named(&project.id, name.as_str()).await?.is_some() {
            return Err(name_taken());
        }
    }

    let now = ctx.clock.now();
    let mut job =
        Job::new(JobType::Restore, project.org_id.clone(), project.id.clone(), ctx.config.job_max_attempts, now);
    let (preview, new_preview) = match req.target_kind {
        TargetKind::Project => (None, None),
        TargetKind::Preview => (Some(existing_preview(ctx, &project, &req).await?), None),
        TargetKind::NewPreview => {
            let id = PreviewId::generate();
            let name = req.preview_name.clone().unwrap_or_else(|| PreviewName::generated(now, &id));
            let p = PreviewDatabase {
                project_id: project.id.clone(),
                org_id: project.org_id.clone(),
                name: name.as_str().to_string(),
                database_name: previews::database_name(&id),
                db_username: previews::role_name(&id),
                db_password_enc: ctx.secrets.seal(&random_password()),
                state: PreviewState::Creating,
                ttl_expires_at: req.ttl.after(now),
                source_kind: Some(source.kind().into()),
                source_backup_key: source.backup_key(),
                source_restore_time: source.restore_time(),
                error: None,
                created_at: now,
                updated_at: now,
                id,
            };
            (Some(p.clone()), Some(p))
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
        source_restore_point_id: point.map(|p| p.to_string()),
        target_kind: req.target_kind,
        preview_id: preview.as_ref().map(|p| p.id.clone()),
        allow_unverified_backup: req.allow_unverified_backup,
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
    // Overwrites (project or an existing preview) take the project's lifecycle lock.
    let record =
        idempotency.map(|k| k.record(&Created { restore_id: restore.id.clone(), job_id: job.id.clone() }, now));
    match ctx.repo.create_restore(&restore, &job, new_preview.as_ref(), lock, record.as_ref()).await {
        Ok(Ok(())) => Ok(Requested { restore, job, preview }),
        Ok(Err(RestoreConflict::Locked(running))) => Err(locked(&running)),
        Ok(Err(RestoreConflict::PreviewNameTaken)) => Err(name_taken()),
        Ok(Err(RestoreConflict::PitrRunning(running))) => Err(pitr_running(&running)),
        Ok(Err(RestoreConflict::PreviewNotReady)) => Err(Error::Conflict {
            message: "the preview database is not ready: another restore into it is in progress, or it was deleted"
                .into(),
            job_id: None,
        }),
        Err(StoreError::IdempotencyKeyTaken) => {
            load_created(ctx, &project, winner(idempotency, &ctx.repo).await?).await
        }
        Err(e) => Err(e.into()),
    }
}

/// What a restore reads: a stored backup, or a moment of the WAL archive.
enum Source {
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

    fn backup_id(&self) -> Option<crate::ids::BackupId> {
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

    fn restore_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
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

fn locked(job: &JobId) -> Error {
    Error::Conflict {
        message: format!("another change to this project is in progress (job {job}); try again when it has finished"),
        job_id: Some(job.to_string()),
    }
}

fn pitr_running(job: &JobId) -> Error {
    Error::Conflict {
        message: format!(
            "a point-in-time restore of this project is already running (job {job}); one runs at a time, try again when it has finished"
        ),
        job_id: Some(job.to_string()),
    }
}

fn name_taken() -> Error {
    Error::Conflict {
        message: "a preview database with this preview_name already exists in the project".into(),
        job_id: None,
    }
}

/// The backup a key names, if it belongs to the project and may be restored.
async fn source_backup(ctx: &Context, project: &Project, key: &str, allow_unverified: bool) -> Result<Backup, Error> {
    let backup = backups::by_key(ctx, project, key).await?;
    let verified = backup.state == BackupState::Completed && backup.verification_state == VerificationState::Verified;
    let salvage = allow_unverified && backup.verification_state == VerificationState::Failed;
    if !(verified || salvage) {
        return Err(Error::Unprocessable(format!(
            "backup {} is not a verified backup (state {:?}, verification {:?}); pass allow_unverified_backup: true to restore an archive that failed verification",
            backup.id, backup.state, backup.verification_state
        )));
    }
    Ok(backup)
}

async fn existing_preview(ctx: &Context, project: &Project, req: &RestoreRequest) -> Result<PreviewDatabase, Error> {
    let preview = match (&req.preview_id, &req.preview_name) {
        (Some(id), _) => match id.parse::<PreviewId>() {
            Ok(id) => ctx.repo.get_preview(&id).await?,
            Err(_) => None,
        },
        (None, Some(name)) => ctx.repo.preview_named(&project.id, name.as_str()).await?,
        (None, None) => {
            return Err(Error::invalid("preview_id", "target_kind preview needs preview_id or preview_name"));
        }
    };
    let preview = preview.filter(|p| p.project_id == project.id).ok_or_else(|| Error::not_found("preview database"))?;
    if preview.state != PreviewState::Ready {
        return Err(Error::Conflict {
            message: format!("preview database {} is {:?}", preview.id, preview.state),
            job_id: None,
        });
    }
    Ok(preview)
}

async fn load_created(ctx: &Context, project: &Project, created: Created) -> Result<Requested, Error> {
    let restore =
        ctx.repo.get_restore(&project.id, &created.restore_id).await?.ok_or_else(|| Error::not_found("restore"))?;
    let job = ctx.repo.get_job(&created.job_id).await?.ok_or_else(|| Error::not_found("job"))?;
    let preview = match &restore.preview_id {
        Some(id) => ctx.repo.get_preview(id).await?,
        None => None,
    };
    Ok(Requested { restore, job, preview })
}

pub async fn get(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    id: &RestoreId,
) -> Result<Restore, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    ctx.repo.get_restore(&project.id, id).await?.ok_or_else(|| Error::not_found("restore"))
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<Restore>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    Ok(ctx.repo.list_restores(&project.id, limit, cursor).await?)
}
