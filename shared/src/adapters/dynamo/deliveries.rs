//! Webhook deliveries under their endpoint (`WEBHOOK#<whk>` / `DELIVERY#<ulid>`), in the due
//! index while an attempt is due, so the retry sweep reads only those.

use super::{to_item, Keys, Repository, StoreError};
use crate::domain::deliveries::Delivery;
use crate::domain::jobs::{due_bucket, due_sort_key};
use crate::domain::pagination::{Cursor, Page};
use crate::ids::{DeliveryId, WebhookId};
use crate::store::DeliveryStore;
use async_trait::async_trait;

fn endpoint_pk(id: &WebhookId) -> String {
    format!("WEBHOOK#{id}")
}

fn delivery_sk(id: &DeliveryId) -> String {
    // Newest-first listing sorts on the ULID, which starts with the time.
    format!("DELIVERY#{}", &id.as_str()[DeliveryId::PREFIX.len() + 1..])
}

#[async_trait]
impl DeliveryStore for Repository {
    async fn put_delivery(&self, d: &Delivery, expected: Option<u64>) -> Result<bool, StoreError> {
        let keys = Keys {
            pk: endpoint_pk(&d.webhook_id),
            sk: delivery_sk(&d.id),
            item_type: "delivery",
            gsi1: None,
            due: d.due_at().map(|at| (due_bucket(at), due_sort_key(at, &format!("{}#{}", d.webhook_id, d.id)))),
        };
        self.put_versioned(to_item(d, keys)?, expected).await
    }

    async fn get_delivery(&self, webhook: &WebhookId, id: &DeliveryId) -> Result<Option<Delivery>, StoreError> {
        self.get_item(&endpoint_pk(webhook), &delivery_sk(id)).await
    }

    async fn list_deliveries(
        &self,
        webhook: &WebhookId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Delivery>, StoreError> {
        self.query_prefix(&endpoint_pk(webhook), "DELIVERY#", limit, cursor).await
    }

    async fn due_deliveries(
        &self,
        bucket: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.due_items(bucket, now, "delivery").await
    }
}
