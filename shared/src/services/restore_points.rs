//! Restore points of kind `backup`: a memorable label for a verified backup, which also keeps
//! that backup from being deleted while the point exists.

use super::{backups, projects, Context};
use crate::auth::Principal;
use crate::domain::backups::BackupState;
use crate::domain::names::BackupLabel;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::restore_points::{RestorePoint, RestorePointKind, RestorePointState, NOTE_MAX_CHARS};
use crate::domain::scopes::Scope;
use crate::ids::{BackupId, ProjectId, RestorePointId};
use crate::Error;

pub struct NewRestorePoint {
    pub label: BackupLabel,
    pub kind: RestorePointKind,
    pub backup_key: Option<String>,
    pub note: Option<String>,
}

pub async fn create(
    ctx: &Context,
    principal: &Principal,
    raw_project: &str,
    new: NewRestorePoint,
) -> Result<RestorePoint, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, raw_project).await?;
    if new.note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX_CHARS) {
        return Err(Error::invalid("note", format!("note must be at most {NOTE_MAX_CHARS} characters")));
    }
    if new.kind == RestorePointKind::Pitr {
        return Err(Error::Unprocessable(format!(
            "point-in-time restore points are not available in region {} yet; pin a backup with kind backup and backup_key",
            project.region
        )));
    }
    let key = new
        .backup_key
        .ok_or_else(|| Error::invalid("backup_key", "a restore point of kind backup needs backup_key"))?;
    let backup = backups::by_key(ctx, &project, &key).await?;
    if backup.state != BackupState::Completed {
        return Err(Error::Unprocessable(format!("backup {} is not a completed, verified backup", backup.id)));
    }
    let label = new.label.into_inner();
    if ctx.repo.restore_point_label_taken(&project.id, &label).await? {
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
        note: new.note,
        state: RestorePointState::Active,
        created_at: ctx.clock.now(),
    };
    if !ctx.repo.create_restore_point(&point).await? {
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
    raw_project: &str,
    limit: u32,
    cursor: Option<&Cursor>,
) -> Result<Page<RestorePoint>, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsRead, raw_project).await?;
    Ok(ctx.repo.list_restore_points(&project.id, limit, cursor).await?)
}

/// The restore point `raw_id` of a project the caller can see.
pub async fn find(ctx: &Context, project: &ProjectId, raw_id: &str) -> Result<RestorePoint, Error> {
    let id: RestorePointId = raw_id.parse().map_err(|_| Error::not_found("restore point"))?;
    ctx.repo.get_restore_point(project, &id).await?.ok_or_else(|| Error::not_found("restore point"))
}

pub async fn delete(
    ctx: &Context,
    principal: &Principal,
    raw_project: &str,
    raw_id: &str,
) -> Result<RestorePoint, Error> {
    let project = projects::visible_with(ctx, principal, Scope::BackupsWrite, raw_project).await?;
    let point = find(ctx, &project.id, raw_id).await?;
    ctx.repo.delete_restore_point(&point).await?;
    Ok(point)
}

/// Ids of the project's backups that restore points pin.
pub async fn pinned_backups(ctx: &Context, project: &ProjectId) -> Result<std::collections::HashSet<BackupId>, Error> {
    let page = ctx.repo.list_restore_points(project, 100, None).await?;
    Ok(page.items.into_iter().filter_map(|p| p.backup_id).collect())
}

/// Restore points that pin `backup` (a project has few; they are read in one query).
pub async fn pinning(ctx: &Context, project: &ProjectId, backup: &BackupId) -> Result<Vec<RestorePoint>, Error> {
    let page = ctx.repo.list_restore_points(project, 100, None).await?;
    Ok(page.items.into_iter().filter(|p| p.backup_id.as_ref() == Some(backup)).collect())
}
