//! Job records and their transitions. Each transition is a conditional write on the state the
//! caller decided from: a claim needs the job still `pending`, a heartbeat or a finish needs the
//! caller to still own the lease, and the sweeper acts only on the exact lease it saw expire.

use super::{backend, put, s, to_attr, to_item, Item, Keys, Repository, StoreError};
use crate::domain::events::Event;
use crate::domain::jobs::{due_at, due_bucket, due_sort_key, Job};
use crate::domain::pagination::{Cursor, Page};
use crate::ids::{JobId, ProjectId, RestoreId};
use crate::store::JobStore;
use crate::store::{CancelRequest, JobCondition, RecordWrite};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The sort key of a job's cancellation request, beside its `JOB` item.
pub(super) const CANCEL_SK: &str = "CANCEL";

pub(super) fn job_pk(id: &JobId) -> String {
    format!("JOB#{id}")
}

fn jobs_of(project: &ProjectId) -> String {
    format!("PROJECT#{project}#JOBS")
}

type Expression = (String, HashMap<String, String>, HashMap<String, AttributeValue>);

impl JobCondition {
    pub(super) fn expression(&self) -> Result<Expression, StoreError> {
        let mut names = HashMap::from([("#state".to_string(), "state".to_string())]);
        let mut values = HashMap::new();
        let expr = match self {
            JobCondition::Pending { attempts } => {
                values.insert(":s".into(), s("pending"));
                values.insert(":a".into(), AttributeValue::N(attempts.to_string()));
                "#state = :s AND attempts = :a"
            }
            JobCondition::PendingSince { updated_at } => {
                values.insert(":s".into(), s("pending"));
                values.insert(":u".into(), to_attr(updated_at)?);
                "#state = :s AND updated_at = :u"
            }
            JobCondition::OwnedBy { worker, attempts } => {
                values.insert(":s".into(), s("running"));
                values.insert(":a".into(), AttributeValue::N(attempts.to_string()));
                values.insert(":w".into(), s(worker.clone()));
                "#state = :s AND attempts = :a AND claimed_by = :w"
            }
            JobCondition::LeaseExpired { attempts, lease_until } => {
                values.insert(":s".into(), s("running"));
                values.insert(":a".into(), AttributeValue::N(attempts.to_string()));
                values.insert(":l".into(), to_attr(lease_until)?);
                names.insert("#lease".into(), "lease_until".into());
                "#state = :s AND attempts = :a AND #lease = :l"
            }
        };
        Ok((expr.to_string(), names, values))
    }
}

impl Repository {
    fn job_item(&self, job: &Job) -> Result<Item, StoreError> {
        let due = due_at(job).map(|at| (due_bucket(at), due_sort_key(at, &job_pk(&job.id))));
        to_item(
            job,
            Keys {
                pk: job_pk(&job.id),
                sk: "JOB".into(),
                item_type: "job",
                gsi1: Some((jobs_of(&job.project_id), job.id.to_string())),
                due,
            },
        )
    }

    /// A new job, for a creation transaction.
    pub(crate) fn job_put(&self, job: &Job) -> Result<TransactWriteItem, StoreError> {
        Ok(put(self.job_item(job)?, Some("attribute_not_exists(pk)")))
    }

    pub(super) fn conditional_job_put(&self, job: &Job, condition: &JobCondition) -> Result<Put, StoreError> {
        let (expr, names, values) = condition.expression()?;
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.job_item(job)?))
            .condition_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))
    }
}

#[async_trait]
impl JobStore for Repository {
    async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        self.get_item(&job_pk(id), "JOB").await
    }

    async fn list_jobs(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Job>, StoreError> {
        self.query_gsi1(&jobs_of(project), limit, cursor).await
    }

    /// Replaces the job with `job` if `condition` still holds. `Ok(false)` when it no longer does.
    async fn update_job(&self, job: &Job, condition: &JobCondition) -> Result<bool, StoreError> {
        let p = self.conditional_job_put(job, condition)?;
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(p.item))
            .condition_expression(p.condition_expression.unwrap_or_default())
            .set_expression_attribute_names(p.expression_attribute_names)
            .set_expression_attribute_values(p.expression_attribute_values)
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    /// Asks a running job to stop: one item beside the job (`CANCEL`), so the worker's heartbeat,
    /// a whole-job put, cannot erase it. Written only while the job is running and, when
    /// `staging` names its restore, while that restore is still staging (its swap has not
    /// begun). `Ok(false)` when either no longer holds, or a request already exists.
    async fn request_cancel(
        &self,
        request: &CancelRequest,
        staging: Option<(&ProjectId, &RestoreId)>,
    ) -> Result<bool, StoreError> {
        let item = to_item(
            request,
            Keys {
                pk: job_pk(&request.job_id),
                sk: CANCEL_SK.into(),
                item_type: "cancel_request",
                gsi1: None,
                due: None,
            },
        )?;
        let running = ConditionCheck::builder()
            .table_name("__TABLE__")
            .key("pk", s(job_pk(&request.job_id)))
            .key("sk", s("JOB"))
            .condition_expression("#state = :running")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":running", s("running"))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut items = vec![
            put(item, Some("attribute_not_exists(pk)")),
            TransactWriteItem::builder().condition_check(running).build(),
        ];
        if let Some((project, restore)) = staging {
            let still_staging = ConditionCheck::builder()
                .table_name("__TABLE__")
                .key("pk", s(super::projects::project_pk(project)))
                .key("sk", s(format!("RESTORE#{restore}")))
                .condition_expression("attribute_not_exists(step) OR step = :staging")
                .expression_attribute_values(":staging", s("staging"))
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            items.push(TransactWriteItem::builder().condition_check(still_staging).build());
        }
        self.transact_if(items).await
    }

    async fn cancel_request(&self, job: &JobId) -> Result<Option<CancelRequest>, StoreError> {
        self.get_item(&job_pk(job), CANCEL_SK).await
    }

    /// Jobs whose due time in `bucket` is at or before `now`.
    async fn due_jobs(&self, bucket: &str, now: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
        self.due_items(bucket, now, "job").await
    }

    async fn transition_job(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
        events: &[Event],
    ) -> Result<bool, StoreError> {
        self.write_transition(job, condition, records, events).await
    }

    async fn record_progress(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError> {
        self.write_progress(job, condition, records).await
    }

    async fn record_progress_uncancelled(
        &self,
        job: &Job,
        condition: &JobCondition,
        records: &[RecordWrite],
    ) -> Result<bool, StoreError> {
        self.write_progress_uncancelled(job, condition, records).await
    }
}
