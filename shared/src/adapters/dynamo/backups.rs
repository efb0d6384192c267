use super::projects::project_pk;
use super::{backend, put, s, to_item, IdempotencyRecord, Item, Keys, Repository, StoreError};
use crate::domain::backups::Backup;
use crate::domain::jobs::Job;
use crate::domain::jobs::{due_bucket, due_sort_key};
use crate::domain::pagination::{Cursor, Page};
use crate::ids::{BackupId, ProjectId};
use crate::store::BackupStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

fn backup_sk(id: &BackupId) -> String {
    format!("BACKUP#{id}")
}

fn backup_item(backup: &Backup) -> Result<Item, StoreError> {
    // Backups that expire sit in the due index at their expiry, for the retention sweep.
    let due = backup
        .retention_check_at
        .or(backup.expires_at)
        .map(|at| (due_bucket(at), due_sort_key(at, &format!("BACKUP#{}", backup.id))));
    let keys =
        Keys { pk: project_pk(&backup.project_id), sk: backup_sk(&backup.id), item_type: "backup", gsi1: None, due };
    to_item(backup, keys)
}

pub(crate) fn backup_put(backup: &Backup, condition: &str) -> Result<TransactWriteItem, StoreError> {
    Ok(put(backup_item(backup)?, Some(condition)))
}

#[async_trait]
impl BackupStore for Repository {
    /// Writes a new backup record (state `pending`) together with the job that produces it.
    async fn create_backup(
        &self,
        backup: &Backup,
        job: &Job,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.transact_idempotent(vec![backup_put(backup, "attribute_not_exists(pk)")?, self.job_put(job)?], idempotency)
            .await
    }

    async fn get_backup(&self, project: &ProjectId, id: &BackupId) -> Result<Option<Backup>, StoreError> {
        self.get_item(&project_pk(project), &backup_sk(id)).await
    }

    /// Replaces a backup record that exists (never resurrects a deleted one).
    async fn update_backup(&self, backup: &Backup) -> Result<(), StoreError> {
        self.put_item(backup_item(backup)?, Some("attribute_exists(pk)")).await
    }

    async fn list_backups(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Backup>, StoreError> {
        self.query_prefix(&project_pk(project), "BACKUP#", limit, cursor).await
    }

    /// Backups whose retention ran out in `bucket` at or before `now`.
    async fn due_backups(&self, bucket: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<Backup>, StoreError> {
        self.due_items(bucket, now, "backup").await
    }

    async fn delete_backup(&self, backup: &Backup) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(project_pk(&backup.project_id)))
            .key("sk", s(backup_sk(&backup.id)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}
