//! A job's transitions together with the records they are about (its subject: a backup, a
//! restore, a preview, a project, a lock) and the outbox events, in one transaction. This is
//! the one place that composes items of several families; each family builds its own.

use super::backups::backup_put;
use super::events::event_put;
use super::jobs::{job_pk, CANCEL_SK};
use super::previews::preview_put;
use super::projects::project_put;
use super::restores::{lock_release, restore_put};
use super::{s, Repository, StoreError};
use crate::domain::events::Event;
use crate::domain::jobs::Job;
use crate::store::{JobCondition, RecordWrite};
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

fn record_item(record: &RecordWrite) -> Result<TransactWriteItem, StoreError> {
    match record {
        RecordWrite::Backup(b) => backup_put(b, "attribute_exists(pk)"),
        RecordWrite::NewBackup(b) => backup_put(b, "attribute_not_exists(pk)"),
        RecordWrite::Project(p) => project_put(p, "attribute_exists(pk)"),
        RecordWrite::Restore(r) => restore_put(r, "attribute_exists(pk)"),
        RecordWrite::Preview(p) => preview_put(p, "attribute_exists(pk)"),
        RecordWrite::ReleaseLock { project_id, job_id, lock } => Ok(lock_release(project_id, job_id, lock)),
    }
}

impl Repository {
    /// Moves the job to `job`'s (terminal) state, writes its subject records and the outbox events,
    /// all or nothing. `Ok(false)` when the condition no longer holds (nothing was written).
    pub(super) async fn write_transition(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
        events: &[Event],
    ) -> Result<bool, StoreError> {
        let mut items = vec![TransactWriteItem::builder().put(self.conditional_job_put(job, condition)?).build()];
        items.extend(records.iter().map(record_item).collect::<Result<Vec<_>, _>>()?);
        for e in events {
            items.push(event_put(e)?);
        }
        self.transact_if(items).await
    }

    /// [`Repository::write_progress`], and only while nobody has asked to cancel the job: what
    /// a restore writes before its swap begins, so a cancellation and a swap never both win.
    pub(super) async fn write_progress_uncancelled(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError> {
        let not_cancelled = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(job_pk(&job.id)))
            .key("sk", s(CANCEL_SK))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.record_progress_with(job, condition, records, Some(not_cancelled)).await
    }

    /// Records how far a running job got (its subject records), only while `job` is still held
    /// under `condition`: a worker presumed dead writes nothing. `Ok(false)` when it is not.
    pub(super) async fn write_progress(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError> {
        self.record_progress_with(job, condition, records, None).await
    }

    async fn record_progress_with(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
        extra: Option<ConditionCheck>,
    ) -> Result<bool, StoreError> {
        let (expr, names, values) = condition.expression()?;
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(job_pk(&job.id)))
            .key("sk", s("JOB"))
            .condition_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().condition_check(check).build()];
        if let Some(extra) = extra {
            items.push(TransactWriteItem::builder().condition_check(extra).build());
        }
        items.extend(records.iter().map(record_item).collect::<Result<Vec<_>, _>>()?);
        self.transact_if(items).await
    }
}
