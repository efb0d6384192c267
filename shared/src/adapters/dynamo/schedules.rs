//! Backup schedules (`PROJECT#<prj>` / `SCHEDULE#default`) and the once-a-day claims that make a
//! duplicate scheduler delivery harmless (`PROJECT#<prj>` / `SCHEDRUN#<yyyy-mm-dd>`).

use super::backups::backup_put;
use super::projects::project_pk;
use super::{backend, put, s, to_item, Keys, Repository, StoreError};
use crate::domain::backups::Backup;
use crate::domain::jobs::Job;
use crate::domain::schedules::BackupSchedule;
use crate::ids::{JobId, ProjectId};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

fn schedule_sk(id: &str) -> String {
    format!("SCHEDULE#{id}")
}

fn run_sk(day: NaiveDate) -> String {
    format!("SCHEDRUN#{day}")
}

#[derive(Serialize, Deserialize)]
struct RunClaim {
    job_id: JobId,
}

impl Repository {
    pub async fn get_schedule(&self, project: &ProjectId, id: &str) -> Result<Option<BackupSchedule>, StoreError> {
        self.get_item(&project_pk(project), &schedule_sk(id)).await
    }

    pub async fn put_schedule(&self, schedule: &BackupSchedule) -> Result<(), StoreError> {
        let keys = Keys {
            pk: project_pk(&schedule.project_id),
            sk: schedule_sk(&schedule.id),
            item_type: "schedule",
            gsi1: None,
            due: None,
        };
        self.put_item(to_item(schedule, keys)?, None).await
    }

    pub async fn delete_schedule(&self, project: &ProjectId, id: &str) -> Result<(), StoreError> {
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
    pub async fn scheduled_run(&self, project: &ProjectId, day: NaiveDate) -> Result<Option<JobId>, StoreError> {
        Ok(self.get_item::<RunClaim>(&project_pk(project), &run_sk(day)).await?.map(|c| c.job_id))
    }

    /// Writes a scheduled backup, its job and the claim on `day`; `Ok(false)` when the day was
    /// claimed already (a duplicate delivery).
    pub async fn create_scheduled_backup(
        &self,
        backup: &Backup,
        job: &Job,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        let claim = to_item(
            &RunClaim { job_id: job.id.clone() },
            Keys {
                pk: project_pk(&backup.project_id),
                sk: run_sk(day),
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
