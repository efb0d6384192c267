//! Backup schedules (`PROJECT#<prj>` / `SCHEDULE#default`, in the due index at their next check)
//! and the once-a-day claims that make a duplicate delivery harmless (`PROJECT#<prj>` /
//! `SCHEDRUN#<yyyy-mm-dd>` for the project's schedule, `NIGHTLY#<yyyy-mm-dd>` for the platform's).

use super::backups::backup_put;
use super::events::event_put;
use super::projects::project_pk;
use super::{backend, put, s, to_item, Keys, Repository, StoreError};
use crate::domain::backups::Backup;
use crate::domain::events::Event;
use crate::domain::jobs::Job;
use crate::domain::jobs::{due_bucket, due_sort_key};
use crate::domain::schedules::BackupSchedule;
use crate::ids::{JobId, ProjectId};
use crate::store::RunKind;
use crate::store::ScheduleStore;
use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

fn schedule_item(schedule: &BackupSchedule) -> Result<super::Item, StoreError> {
    let due =
        schedule.check_at.map(|at| (due_bucket(at), due_sort_key(at, &format!("SCHEDULE#{}", schedule.project_id))));
    let keys = Keys {
        pk: project_pk(&schedule.project_id),
        sk: schedule_sk(&schedule.id),
        item_type: "schedule",
        gsi1: None,
        due,
    };
    to_item(schedule, keys)
}

fn schedule_sk(id: &str) -> String {
    format!("SCHEDULE#{id}")
}

fn run_sk(kind: RunKind, day: NaiveDate) -> String {
    match kind {
        RunKind::Scheduled => format!("SCHEDRUN#{day}"),
        RunKind::Nightly => format!("NIGHTLY#{day}"),
    }
}

#[derive(Serialize, Deserialize)]
struct RunClaim {
    job_id: JobId,
}

#[async_trait]
impl ScheduleStore for Repository {
    async fn get_schedule(&self, project: &ProjectId, id: &str) -> Result<Option<BackupSchedule>, StoreError> {
        self.get_item(&project_pk(project), &schedule_sk(id)).await
    }

    async fn put_schedule(&self, schedule: &BackupSchedule) -> Result<(), StoreError> {
        self.put_item(schedule_item(schedule)?, None).await
    }

    /// Records how an expected run went, with the `backup.missed` event when it did not happen.
    async fn record_schedule_check(&self, schedule: &BackupSchedule, event: Option<&Event>) -> Result<(), StoreError> {
        let mut items = vec![put(schedule_item(schedule)?, None)];
        if let Some(e) = event {
            items.push(event_put(e)?);
        }
        self.transact(items).await
    }

    /// Schedules whose check falls in `bucket` at or before `now`.
    async fn due_schedules(
        &self,
        bucket: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<BackupSchedule>, StoreError> {
        self.due_items(bucket, now, "schedule").await
    }

    async fn delete_schedule(&self, project: &ProjectId, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(project_pk(project)))
            .key("sk", s(schedule_sk(id)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The job already created for `day`'s scheduled run, if any.
    async fn scheduled_run(
        &self,
        project: &ProjectId,
        kind: RunKind,
        day: NaiveDate,
    ) -> Result<Option<JobId>, StoreError> {
        Ok(self.get_item::<RunClaim>(&project_pk(project), &run_sk(kind, day)).await?.map(|c| c.job_id))
    }

    /// Writes a scheduled backup, its job and the claim on `day`; `Ok(false)` when the day was
    /// claimed already (a duplicate delivery).
    async fn create_scheduled_backup(
        &self,
        backup: &Backup,
        job: &Job,
        kind: RunKind,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        let claim = to_item(
            &RunClaim { job_id: job.id.clone() },
            Keys {
                pk: project_pk(&backup.project_id),
                sk: run_sk(kind, day),
                item_type: "schedule_run",
                gsi1: None,
                due: None,
            },
        )?;
        let items = vec![
            backup_put(backup, "attribute_not_exists(pk)")?,
            self.job_put(job)?,
            put(claim, Some("attribute_not_exists(pk)")),
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
