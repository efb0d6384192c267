use super::organizations::org_pk;
use super::{put, to_item, IdempotencyRecord, Keys, Repository, StoreError};
use crate::domain::jobs::{due_bucket, due_sort_key, Job};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::projects::Project;
use crate::ids::{OrgId, ProjectId};
use crate::store::ProjectStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

pub(crate) fn project_pk(id: &ProjectId) -> String {
    format!("PROJECT#{id}")
}

pub(crate) fn project_put(project: &Project, condition: &str) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(
        project,
        Keys {
            pk: project_pk(&project.id),
            sk: "PROJECT".into(),
            item_type: "project",
            gsi1: Some((format!("{}#PROJECTS", org_pk(&project.org_id)), project.id.to_string())),
            due: project.next_nightly_at.map(|at| (due_bucket(at), due_sort_key(at, &project_pk(&project.id)))),
        },
    )?;
    Ok(put(item, Some(condition)))
}

#[async_trait]
impl ProjectStore for Repository {
    /// Writes a new project together with the job that provisions it.
    async fn create_project(
        &self,
        project: &Project,
        job: &Job,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.transact_idempotent(
            vec![project_put(project, "attribute_not_exists(pk)")?, self.job_put(job)?],
            idempotency,
        )
        .await
    }

    async fn get_project(&self, id: &ProjectId) -> Result<Option<Project>, StoreError> {
        self.get_item(&project_pk(id), "PROJECT").await
    }

    /// Projects whose nightly dump falls in `bucket` at or before `now`.
    async fn due_projects(&self, bucket: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<Project>, StoreError> {
        self.due_items(bucket, now, "project").await
    }

    /// Puts a project that exists back to provisioning together with its new provisioning job,
    /// only if it is still in the state the caller saw (`updated_at`).
    async fn reprovision_project(&self, project: &Project, job: &Job, seen: &Project) -> Result<bool, StoreError> {
        let mut put = project_put(project, "updated_at = :seen")?;
        if let Some(p) = put.put.as_mut() {
            p.expression_attribute_values =
                Some(std::collections::HashMap::from([(":seen".to_string(), super::to_attr(&seen.updated_at)?)]));
        }
        match self.transact(vec![put, self.job_put(job)?]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replaces a project record that exists.
    async fn update_project(&self, project: &Project) -> Result<(), StoreError> {
        self.transact(vec![project_put(project, "attribute_exists(pk)")?]).await
    }

    async fn list_projects(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Project>, StoreError> {
        self.query_gsi1(&format!("{}#PROJECTS", org_pk(org)), limit, cursor).await
    }
}
