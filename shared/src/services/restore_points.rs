//! Restore points: a memorable label for a verified backup (kind `backup`, which also keeps
//! that backup from being deleted while the point exists) or for a moment (kind `pitr`).

use super::{archive_catalogue, backups, pitr, projects, Context};
use crate::auth::Principal;
use crate::domain::backups::BackupState;
use crate::domain::names::BackupLabel;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::projects::Project;
use crate::domain::restore_points::{RestorePoint, RestorePointKind, RestorePointState, NOTE_MAX_CHARS};
use crate::domain::restores::parse_time;
use crate::domain::scopes::Scope;
use crate::ids::{ProjectId, RestorePointId};
use crate::Error;

/// Restore points a project may create in one minute.
pub const PER_MINUTE: u32 = 10;

pub struct NewRestorePoint {
    pub label: BackupLabel,
    pub kind: RestorePointKind,
    pub backup_key: Option<String>,
    /// RFC 3339; kind `pitr` only.
    pub pitr_time: Option<String>,
    pub note: Option<String>,
}

pub async fn create(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    new: NewRestorePoint,
) -> Result<RestorePoint, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, project_id).await?;
    if new.note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX_CHARS) {
        return Err(Error::invalid("note", format!("note must be at most {NOTE_MAX_CHARS} characters")));
    }
    // A point in time writes to the region cluster's WAL: creation is bounded per project.
    let now = ctx.clock.now();
    if !ctx
        .restore_points
        .take_restore_point_slot(&project.id, &now.format("%Y%m%d%H%M").to_string(), PER_MINUTE)
        .await?
    {
        return Err(Error::RateLimited {
            message: format!("at most {PER_MINUTE} restore points per project per minute; try again shortly"),
            retry_after_seconds: 60 - u64::from(now.timestamp().rem_euclid(60) as u32),
        });
    }
    if new.kind == RestorePointKind::Pitr {
        return create_pitr(ctx, &project, new).await;
    }
    if new.pitr_time.is_some() {
        return Err(Error::invalid("pitr_time", "pitr_time goes with kind pitr"));
    }
    let key = new
        .backup_key
        .ok_or_else(|| Error::invalid("backup_key", "a restore point of kind backup needs backup_key"))?;
    let backup = backups::by_key(ctx, &project, &key).await?;
    if backup.state != BackupState::Completed {
        return Err(Error::Unprocessable(format!("backup {} is not a completed, verified backup", backup.id)));
    }
    let label = new.label.into_inner();
    if ctx.restore_points.restore_point_label_taken(&project.id, &label).await? {
        return Err(label_taken());
    }
    let point = RestorePoint {
        id: RestorePointId::generate(),
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        label,
        kind: RestorePointKind::Backup,
        backup_id: Some(backup.id),
        backup_key: Some(key),
        pitr_time: None,
        pitr_name: None,
        pitr_lsn: None,
        note: new.note,
        state: RestorePointState::Active,
        created_at: ctx.clock.now(),
    };
    if !ctx.restore_points.create_restore_point(&point).await? {
        return Err(label_taken());
    }
    Ok(point)
}

/// A point in time. Without `pitr_time` it is now, and a named restore point is placed in the
/// WAL so that restoring to it is exact; with one, it names that (past) moment.
async fn create_pitr(ctx: &Context, project: &Project, new: NewRestorePoint) -> Result<RestorePoint, Error> {
    let region = ctx.region(&project.region)?;
    pitr::require_archiving(region)?;
    if new.backup_key.is_some() {
        return Err(Error::invalid("backup_key", "backup_key goes with kind backup"));
    }
    let label = new.label.into_inner();
    if ctx.restore_points.restore_point_label_taken(&project.id, &label).await? {
        return Err(label_taken());
    }
    let id = RestorePointId::generate();
    let now = ctx.clock.now();
    let (pitr_time, pitr_name, pitr_lsn) = match new.pitr_time.as_deref() {
        None => {
            // Named after the point's id: unique, and a valid recovery_target_name.
            let name = format!("capydb_{id}");
            let lsn = ctx.data_plane.create_restore_point(region, &name).await?;
            (ctx.clock.now(), Some(name), Some(lsn))
        }
        Some(raw) => {
            let at = parse_time("pitr_time", raw)?;
            if at > now + pitr::future_tolerance() {
                return Err(Error::invalid("pitr_time", "pitr_time must not be in the future; omit it to mark now"));
            }
            let w = archive_catalogue::region_window(ctx, region, now).await?;
            if let Some(window) = w.window.as_ref().filter(|w| at < w.earliest) {
                return Err(Error::invalid(
                    "pitr_time",
                    format!(
                        "pitr_time is before the restorable window of region {}: {} to {}",
                        region.name,
                        window.earliest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        window.latest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                ));
            }
            (at, None, None)
        }
    };
    let point = RestorePoint {
        id,
        project_id: project.id.clone(),
        org_id: project.org_id.clone(),
        label,
        kind: RestorePointKind::Pitr,
        backup_id: None,
        backup_key: None,
        pitr_time: Some(pitr_time),
        pitr_name,
        pitr_lsn,
        note: new.note,
        state: RestorePointState::Active,
        created_at: now,
    };
    if !ctx.restore_points.create_restore_point(&point).await? {
        return Err(label_taken());
    }
    Ok(point)
}

fn label_taken() -> Error {
    Error::Conflict { message: "a restore point with this label already exists in the project".into(), job_id: None }
}

pub async fn list(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<RestorePoint>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    let mut page = ctx.restore_points.list_restore_points(&project.id, limit, cursor).await?;
    if page.items.iter().any(|p| p.kind == RestorePointKind::Pitr) {
        // A moment that fell out of the window can no longer be restored.
        let region = ctx.region(&project.region)?;
        let w = archive_catalogue::region_window(ctx, region, ctx.clock.now()).await?;
        for p in page.items.iter_mut().filter(|p| p.kind == RestorePointKind::Pitr) {
            if !pitr::point_in_window(p, w.window.as_ref()) {
                p.state = RestorePointState::Stale;
            }
        }
    }
    Ok(page)
}

/// The days of point-in-time recovery the project's region keeps, if it archives WAL.
pub async fn pitr_window_days(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
) -> Result<Option<u32>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, project_id).await?;
    Ok(ctx.region(&project.region)?.wal_archiving.then_some(archive_catalogue::WINDOW_DAYS))
}

/// The restore point `id` of a project the caller can see.
pub async fn find(ctx: &Context, project: &ProjectId, id: &RestorePointId) -> Result<RestorePoint, Error> {
    ctx.restore_points.get_restore_point(project, id).await?.ok_or_else(|| Error::not_found("restore point"))
}

pub async fn delete(
    ctx: &Context,
    principal: &Principal,
    project_id: &ProjectId,
    id: &RestorePointId,
) -> Result<RestorePoint, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, project_id).await?;
    let point = find(ctx, &project.id, id).await?;
    ctx.restore_points.delete_restore_point(&point).await?;
    Ok(point)
}
