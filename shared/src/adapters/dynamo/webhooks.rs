//! Webhook endpoints under their organisation (`ORG#<org>` / `WEBHOOK#<whk>`).

use super::organizations::org_pk;
use super::{s, to_attr, to_item, Keys, Repository, StoreError};
use crate::domain::deliveries::HealthUpdate;
use crate::domain::pagination::{Cursor, Page};
use crate::domain::webhooks::WebhookEndpoint;
use crate::ids::{OrgId, WebhookId};
use crate::store::WebhookStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

fn endpoint_sk(id: &WebhookId) -> String {
    format!("WEBHOOK#{id}")
}

fn keys(ep: &WebhookEndpoint) -> Keys {
    Keys { pk: org_pk(&ep.org_id), sk: endpoint_sk(&ep.id), item_type: "webhook_endpoint", gsi1: None, due: None }
}

#[async_trait]
impl WebhookStore for Repository {
    async fn create_webhook(&self, ep: &WebhookEndpoint) -> Result<(), StoreError> {
        self.put_item(to_item(ep, keys(ep))?, Some("attribute_not_exists(pk)")).await
    }

    async fn update_webhook(&self, ep: &WebhookEndpoint) -> Result<(), StoreError> {
        self.put_item(to_item(ep, keys(ep))?, Some("attribute_exists(pk)")).await
    }

    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.get_item(&org_pk(org), &endpoint_sk(id)).await
    }

    async fn list_webhooks(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        self.query_prefix(&org_pk(org), "WEBHOOK#", limit, cursor).await
    }

    async fn record_webhook_health(
        &self,
        org: &OrgId,
        id: &WebhookId,
        update: &HealthUpdate,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(org_pk(org)))
            .key("sk", s(endpoint_sk(id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET health = :h, failing_since = :f, last_success_at = :l")
            .expression_attribute_values(":h", to_attr(&update.health)?)
            .expression_attribute_values(":f", to_attr(&update.failing_since)?)
            .expression_attribute_values(":l", to_attr(&update.last_success_at)?)
            .send()
            .await;
        Ok(super::updated(res)?.is_some())
    }

    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name("__TABLE__")
            .key("pk", s(org_pk(org)))
            .key("sk", s(endpoint_sk(id)))
            .build()
            .expect("delete");
        self.transact(vec![TransactWriteItem::builder().delete(delete).build()]).await
    }
}
