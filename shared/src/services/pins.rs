//! Which backups restore points pin. A pinned backup is kept from deletion and from retention
//! while its restore point exists; backups, retention and restore points all ask here, so the
//! rule is read one way and none of them needs the others for it.

use crate::domain::restore_points::RestorePoint;
use crate::ids::{BackupId, ProjectId};
use crate::store::RestorePointStore;
use crate::Error;
use std::collections::HashSet;

/// Every restore point of a project, however many pages they take: a pin must hold at any count.
async fn all(points: &dyn RestorePointStore, project: &ProjectId) -> Result<Vec<RestorePoint>, Error> {
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = points.list_restore_points(project, 100, cursor.as_ref()).await?;
        found.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(found),
        }
    }
}

/// Ids of the project's backups that restore points pin.
pub async fn pinned_backups(points: &dyn RestorePointStore, project: &ProjectId) -> Result<HashSet<BackupId>, Error> {
    Ok(all(points, project).await?.into_iter().filter_map(|p| p.backup_id).collect())
}

/// Restore points that pin `backup`.
pub async fn pinning(
    points: &dyn RestorePointStore,
    project: &ProjectId,
    backup: &BackupId,
) -> Result<Vec<RestorePoint>, Error> {
    Ok(all(points, project).await?.into_iter().filter(|p| p.backup_id.as_ref() == Some(backup)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryStore;
    use crate::domain::restore_points::RestorePointKind;
    use crate::store_conformance::restore_point;

    fn point(project: &ProjectId, n: usize, backup: Option<BackupId>) -> RestorePoint {
        let mut p = restore_point(project, &format!("point-{n}"));
        if backup.is_none() {
            (p.kind, p.backup_key) = (RestorePointKind::Pitr, None);
        }
        p.backup_id = backup;
        p
    }

    /// The oldest point pins a backup, behind 250 newer ones (the first page used to be all
    /// that was read, so a pin past it was not seen).
    #[tokio::test]
    async fn a_pin_holds_behind_hundreds_of_newer_restore_points() {
        let store = MemoryStore::new();
        let (project, other) = (ProjectId::generate(), ProjectId::generate());
        let (pinned, unpinned) = (BackupId::generate(), BackupId::generate());
        assert!(store.create_restore_point(&point(&project, 0, Some(pinned.clone()))).await.unwrap());
        for n in 1..=250 {
            assert!(store.create_restore_point(&point(&project, n, None)).await.unwrap());
        }
        assert!(store.create_restore_point(&point(&other, 0, Some(unpinned.clone()))).await.unwrap());

        assert_eq!(pinned_backups(&store, &project).await.unwrap(), HashSet::from([pinned.clone()]));
        assert_eq!(pinning(&store, &project, &pinned).await.unwrap().len(), 1);
        assert!(pinning(&store, &project, &unpinned).await.unwrap().is_empty(), "another project's pin");
    }
}
