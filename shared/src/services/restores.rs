//! Requesting restores: exactly one source, one target, and the safety rules for overwriting
//! production (explicit confirmation; an org admin when the caller is a person; one lifecycle
//! change per project at a time).

use super::idempotency::{winner, IdempotencyKey};
use super::{backups, pitr, projects, restore_points, Context};
use crate::adapters::crypto::random_password;
use crate::auth::{Credential, OrgRole, Principal};
use crate::domain::jobs::Job;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::{PreviewDatabase, PreviewName, TtlHours};
use crate::domain::projects::Project;
use crate::domain::restore_plan::{self as plan, Caller, Inputs, Plan, Source, Target};
use crate::domain::restore_points::{RestorePoint, RestorePointKind};
use crate::domain::restores::{Restore, RestoreSource, TargetKind};
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
    if let RestoreSource::Time(_) = &req.source {
        pitr::require_archiving(ctx.region(&project.region)?)?;
    }
    let caller = match principal.credential {
        Credential::Session { role: OrgRole::Member, .. } => Caller::Member,
        _ => Caller::Trusted,
    };
    plan::check_target(req.target_kind, req.confirm_project_overwrite, caller)?;
    if let Some(key) = idempotency {
        if let Some(prev) = key.previous::<Created>(&*ctx.idempotency).await? {
            return load_created(ctx, &project, prev).await;
        }
    }
    plan::check_project(&project)?;
    let point = match &req.source {
        // Named in the body, so it is not parsed at the edge: a malformed id is as unknown.
        RestoreSource::RestorePoint(raw) => {
            let id = raw.parse().map_err(|_| Error::not_found("restore point"))?;
            Some(restore_points::find(ctx, &project.id, &id).await?)
        }
        _ => None,
    };
    // Planning a moment switches the cluster's WAL; only one point-in-time restore per project
    // runs at a time (checked again in the transaction).
    let to_a_moment = matches!(req.source, RestoreSource::Time(_))
        || point.as_ref().is_some_and(|p| p.kind == RestorePointKind::Pitr);
    if to_a_moment {
        if let Some(held) = ctx.restores.pitr_lock(&project.id).await? {
            return Err(pitr_running(&held.job_id));
        }
    }
    let source = resolve_source(ctx, &project, &req, point.as_ref()).await?;
    // Both are checked again inside the transaction; checking first keeps refused requests
    // from costing a cancelled transaction.
    if req.target_kind != TargetKind::NewPreview {
        if let Some(held) = ctx.restores.lifecycle_lock(&project.id).await? {
            return Err(locked(&held.job_id));
        }
    }
    let target = match req.target_kind {
        TargetKind::Project => Target::Project,
        TargetKind::Preview => Target::Preview(Box::new(existing_preview(ctx, &project, &req).await?)),
        TargetKind::NewPreview => {
            if let Some(name) = &req.preview_name {
                if ctx.previews.preview_named(&project.id, name.as_str()).await?.is_some() {
                    return Err(name_taken());
                }
            }
            let sealed_password = ctx.secrets.seal(&random_password());
            Target::NewPreview { name: req.preview_name.clone(), ttl: req.ttl, sealed_password }
        }
    };
    let now = ctx.clock.now();
    let Plan { restore, job, preview, new_preview, takes_lifecycle_lock } = plan::plan(Inputs {
        project: &project,
        source,
        restore_point: point.map(|p| p.id),
        target,
        allow_unverified_backup: req.allow_unverified_backup,
        max_attempts: ctx.config.job_max_attempts,
        now,
    });
    let record =
        idempotency.map(|k| k.record(&Created { restore_id: restore.id.clone(), job_id: job.id.clone() }, now));
    let created =
        ctx.restores.create_restore(&restore, &job, new_preview.as_ref(), takes_lifecycle_lock, record.as_ref()).await;
    match created {
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
            load_created(ctx, &project, winner(idempotency, &*ctx.idempotency).await?).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The backup or the moment the request names, read and checked.
async fn resolve_source(
    ctx: &Context,
    project: &Project,
    req: &RestoreRequest,
    point: Option<&RestorePoint>,
) -> Result<Source, Error> {
    let region = ctx.region(&project.region)?;
    let backup = |key: String| async move {
        let backup = backups::by_key(ctx, project, &key).await?;
        plan::check_restorable(&backup, req.allow_unverified_backup)?;
        Ok::<_, Error>(Source::Backup(Box::new(backup)))
    };
    match (&req.source, point) {
        (RestoreSource::Backup(key), _) => backup(key.clone()).await,
        (RestoreSource::Time(at), _) => Ok(Source::Pitr(pitr::plan_time(ctx, region, "restore_time", *at).await?)),
        (RestoreSource::RestorePoint(_), Some(point)) => match point.kind {
            RestorePointKind::Backup => {
                let key = point
                    .backup_key
                    .clone()
                    .ok_or_else(|| Error::Unprocessable(format!("restore point {} has no backup", point.id)))?;
                backup(key).await
            }
            RestorePointKind::Pitr => Ok(Source::Pitr(pitr::plan_point(ctx, region, point).await?)),
        },
        (RestoreSource::RestorePoint(_), None) => Err(Error::not_found("restore point")),
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

async fn existing_preview(ctx: &Context, project: &Project, req: &RestoreRequest) -> Result<PreviewDatabase, Error> {
    let preview = match (&req.preview_id, &req.preview_name) {
        (Some(id), _) => match id.parse::<PreviewId>() {
            Ok(id) => ctx.previews.get_preview(&id).await?,
            Err(_) => None,
        },
        (None, Some(name)) => ctx.previews.preview_named(&project.id, name.as_str()).await?,
        (None, None) => {
            return Err(Error::invalid("preview_id", "target_kind preview needs preview_id or preview_name"));
        }
    };
    plan::check_target_preview(project, preview)
}

async fn load_created(ctx: &Context, project: &Project, created: Created) -> Result<Requested, Error> {
    let restore =
        ctx.restores.get_restore(&project.id, &created.restore_id).await?.ok_or_else(|| Error::not_found("restore"))?;
    let job = ctx.jobs.get_job(&created.job_id).await?.ok_or_else(|| Error::not_found("job"))?;
    let preview = match &restore.preview_id {
        Some(id) => ctx.previews.get_preview(id).await?,
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
    ctx.restores.get_restore(&project.id, id).await?.ok_or_else(|| Error::not_found("restore"))
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<Restore>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    Ok(ctx.restores.list_restores(&project.id, limit, cursor).await?)
}
