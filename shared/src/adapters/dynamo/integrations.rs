//! Deployment integrations under their project (`PROJECT#<prj>` / `INTEGRATION#<provider>`),
//! in the due index while a push is due.

use super::projects::project_pk;
use super::{s, to_item, Keys, Repository, StoreError};
use crate::domain::integrations::{Integration, Provider};
use crate::domain::jobs::{due_bucket, due_sort_key};
use crate::domain::pagination::Page;
use crate::ids::ProjectId;
use crate::store::IntegrationStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

fn integration_sk(provider: Provider) -> String {
    format!("INTEGRATION#{provider}")
}

#[async_trait]
impl IntegrationStore for Repository {
    /// Writes `i` if it is new (`expected` = `None`) or still at version `expected`.
    async fn put_integration(&self, i: &Integration, expected: Option<u64>) -> Result<bool, StoreError> {
        let sk = integration_sk(i.provider);
        let keys = Keys {
            pk: project_pk(&i.project_id),
            sk: sk.clone(),
            item_type: "integration",
            gsi1: None,
            due: i.next_sync_at.map(|at| (due_bucket(at), due_sort_key(at, &format!("{}#{sk}", i.project_id)))),
        };
        self.put_versioned(to_item(i, keys)?, expected).await
    }

    async fn get_integration(
        &self,
        project: &ProjectId,
        provider: Provider,
    ) -> Result<Option<Integration>, StoreError> {
        self.get_item(&project_pk(project), &integration_sk(provider)).await
    }

    /// Every integration of a project (there is at most one per provider).
    async fn list_integrations(&self, project: &ProjectId) -> Result<Vec<Integration>, StoreError> {
        let page: Page<Integration> = self.query_prefix(&project_pk(project), "INTEGRATION#", 100, None).await?;
        Ok(page.items)
    }

    async fn delete_integration(&self, project: &ProjectId, provider: Provider) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name("__TABLE__")
            .key("pk", s(project_pk(project)))
            .key("sk", s(integration_sk(provider)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .expect("delete");
        self.transact(vec![TransactWriteItem::builder().delete(delete).build()]).await
    }

    async fn due_integrations(
        &self,
        bucket: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Integration>, StoreError> {
        self.due_items(bucket, now, "integration").await
    }
}
