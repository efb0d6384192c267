//! Which backups restore points pin. A pinned backup is kept from deletion and from retention
//! while its restore point exists; backups, retention and restore points all ask here, so the
//! rule is read one way and none of them needs the others for it.

use super::Context;
use crate::domain::restore_points::RestorePoint;
use crate::ids::{BackupId, ProjectId};
use crate::Error;
use std::collections::HashSet;

/// Every restore point of a project, however many pages they take: a pin must hold at any count.
async fn all(ctx: &Context, project: &ProjectId) -> Result<Vec<RestorePoint>, Error> {
    let mut points = Vec::new();
    let mut cursor = None;
    loop {
        let page = ctx.repo.list_restore_points(project, 100, cursor.as_ref()).await?;
        points.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(points),
        }
    }
}

/// Ids of the project's backups that restore points pin.
pub async fn pinned_backups(ctx: &Context, project: &ProjectId) -> Result<HashSet<BackupId>, Error> {
    Ok(all(ctx, project).await?.into_iter().filter_map(|p| p.backup_id).collect())
}

/// Restore points that pin `backup`.
pub async fn pinning(ctx: &Context, project: &ProjectId, backup: &BackupId) -> Result<Vec<RestorePoint>, Error> {
    Ok(all(ctx, project).await?.into_iter().filter(|p| p.backup_id.as_ref() == Some(backup)).collect())
}
