//! Restore records (under their project) and the project's lifecycle lock: one item
//! (`PROJECT#<prj>` / `LOCK#lifecycle`) naming the job that may change the project database now.

use super::previews::new_preview_puts;
use super::projects::project_pk;
use super::{put, s, to_attr, to_item, IdempotencyRecord, Keys, Repository, StoreError};
use crate::domain::jobs::Job;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::{PreviewDatabase, PreviewState};
use crate::domain::restores::{Restore, TargetKind};
use crate::ids::{JobId, PreviewId, ProjectId, RestoreId};
use crate::store::RestoreStore;
use crate::store::{LifecycleLock, RestoreConflict, LIFECYCLE_LOCK, PITR_LOCK};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

fn restore_sk(id: &RestoreId) -> String {
    format!("RESTORE#{id}")
}

pub(crate) fn restore_put(r: &Restore, condition: &str) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(
        r,
        Keys { pk: project_pk(&r.project_id), sk: restore_sk(&r.id), item_type: "restore", gsi1: None, due: None },
    )?;
    Ok(put(item, Some(condition)))
}

pub(crate) fn lock_release(project: &ProjectId, job: &JobId, lock: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .delete(
            Delete::builder()
                .table_name("__TABLE__")
                .key("pk", s(project_pk(project)))
                .key("sk", s(lock))
                .condition_expression("attribute_not_exists(pk) OR job_id = :job")
                .expression_attribute_values(":job", s(job.to_string()))
                .build()
                .expect("delete"),
        )
        .build()
}

/// Marks an existing preview `restoring`, only if it is `ready`: from here until the restore's
/// finishing transaction it cannot be deleted, extended or expired.
fn preview_restoring(preview: &PreviewId, now: chrono::DateTime<chrono::Utc>) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name("__TABLE__")
        .key("pk", s(format!("PREVIEW#{preview}")))
        .key("sk", s("PREVIEW"))
        .condition_expression("attribute_exists(pk) AND #state = :ready")
        .update_expression("SET #state = :restoring, updated_at = :now")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":ready", to_attr(&PreviewState::Ready)?)
        .expression_attribute_values(":restoring", to_attr(&PreviewState::Restoring)?)
        .expression_attribute_values(":now", to_attr(&now)?)
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

#[async_trait]
impl RestoreStore for Repository {
    /// Writes the restore, its job, the new preview (if any) and, for project overwrites, the
    /// lifecycle lock — all or nothing.
    async fn create_restore(
        &self,
        restore: &Restore,
        job: &Job,
        new_preview: Option<&PreviewDatabase>,
        lock_project: bool,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Result<(), RestoreConflict>, StoreError> {
        let mut items = vec![restore_put(restore, "attribute_not_exists(pk)")?, self.job_put(job)?];
        if let Some(p) = new_preview {
            items.extend(new_preview_puts(p)?);
        }
        let existing_preview = match (restore.target_kind, &restore.preview_id) {
            (TargetKind::Preview, Some(id)) => Some(id),
            _ => None,
        };
        if let Some(id) = existing_preview {
            items.push(preview_restoring(id, restore.created_at)?);
        }
        for (take, sk) in [(lock_project, LIFECYCLE_LOCK), (restore.pitr.is_some(), PITR_LOCK)] {
            if !take {
                continue;
            }
            let lock = to_item(
                &LifecycleLock { job_id: job.id.clone() },
                Keys { pk: project_pk(&restore.project_id), sk: sk.into(), item_type: "lock", gsi1: None, due: None },
            )?;
            items.push(put(lock, Some("attribute_not_exists(pk)")));
        }
        match self.transact_idempotent(items, idempotency).await {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::ConditionFailed) => {
                if lock_project {
                    if let Some(lock) = self.lifecycle_lock(&restore.project_id).await? {
                        return Ok(Err(RestoreConflict::Locked(lock.job_id)));
                    }
                }
                if restore.pitr.is_some() {
                    if let Some(lock) = self.pitr_lock(&restore.project_id).await? {
                        return Ok(Err(RestoreConflict::PitrRunning(lock.job_id)));
                    }
                }
                if existing_preview.is_some() {
                    return Ok(Err(RestoreConflict::PreviewNotReady));
                }
                Ok(Err(RestoreConflict::PreviewNameTaken))
            }
            Err(e) => Err(e),
        }
    }

    async fn lifecycle_lock(&self, project: &ProjectId) -> Result<Option<LifecycleLock>, StoreError> {
        self.get_item(&project_pk(project), LIFECYCLE_LOCK).await
    }

    async fn pitr_lock(&self, project: &ProjectId) -> Result<Option<LifecycleLock>, StoreError> {
        self.get_item(&project_pk(project), PITR_LOCK).await
    }

    async fn get_restore(&self, project: &ProjectId, id: &RestoreId) -> Result<Option<Restore>, StoreError> {
        self.get_item(&project_pk(project), &restore_sk(id)).await
    }

    async fn list_restores(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Restore>, StoreError> {
        self.query_prefix(&project_pk(project), "RESTORE#", limit, cursor).await
    }
}
