//! Preview databases, keyed by their own id (so `GET /v1/preview-databases/{id}` is one read),
//! listed per project through `gsi1`, expiring through the due index, with one name-uniqueness
//! item per project (`PROJECT#<prj>` / `PREVIEWNAME#<name>`).

use super::events::event_put;
use super::projects::project_pk;
use super::{put, s, to_attr, to_item, Item, Keys, Repository, StoreError};
use crate::domain::events::Event;
use crate::domain::jobs::{due_bucket, due_sort_key};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::previews::PreviewDatabase;
use crate::ids::{PreviewId, ProjectId};
use crate::store::PreviewStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};

fn preview_pk(id: &PreviewId) -> String {
    format!("PREVIEW#{id}")
}

fn previews_of(project: &ProjectId) -> String {
    format!("PROJECT#{project}#PREVIEWS")
}

fn name_sk(name: &str) -> String {
    format!("PREVIEWNAME#{name}")
}

#[derive(Serialize, Deserialize)]
struct NameClaim {
    preview_id: PreviewId,
}

fn preview_item(p: &PreviewDatabase) -> Result<Item, StoreError> {
    let due = Some((due_bucket(p.ttl_expires_at), due_sort_key(p.ttl_expires_at, &preview_pk(&p.id))));
    let keys = Keys {
        pk: preview_pk(&p.id),
        sk: "PREVIEW".into(),
        item_type: "preview",
        gsi1: Some((previews_of(&p.project_id), p.id.to_string())),
        due,
    };
    to_item(p, keys)
}

pub(crate) fn preview_put(p: &PreviewDatabase, condition: &str) -> Result<TransactWriteItem, StoreError> {
    Ok(put(preview_item(p)?, Some(condition)))
}

/// The new preview and its name claim; the claim fails the transaction on a name clash.
pub(crate) fn new_preview_puts(p: &PreviewDatabase) -> Result<Vec<TransactWriteItem>, StoreError> {
    let claim = to_item(
        &NameClaim { preview_id: p.id.clone() },
        Keys { pk: project_pk(&p.project_id), sk: name_sk(&p.name), item_type: "preview_name", gsi1: None, due: None },
    )?;
    Ok(vec![preview_put(p, "attribute_not_exists(pk)")?, put(claim, Some("attribute_not_exists(pk)"))])
}

fn delete(pk: String, sk: String) -> TransactWriteItem {
    TransactWriteItem::builder()
        .delete(Delete::builder().table_name("__TABLE__").key("pk", s(pk)).key("sk", s(sk)).build().expect("delete"))
        .build()
}

#[async_trait]
impl PreviewStore for Repository {
    async fn get_preview(&self, id: &PreviewId) -> Result<Option<PreviewDatabase>, StoreError> {
        self.get_item(&preview_pk(id), "PREVIEW").await
    }

    /// The preview of `project` called `name`, if any.
    async fn preview_named(&self, project: &ProjectId, name: &str) -> Result<Option<PreviewDatabase>, StoreError> {
        match self.get_item::<NameClaim>(&project_pk(project), &name_sk(name)).await? {
            Some(claim) => self.get_preview(&claim.preview_id).await,
            None => Ok(None),
        }
    }

    async fn list_previews(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<PreviewDatabase>, StoreError> {
        self.query_gsi1(&previews_of(project), limit, cursor).await
    }

    async fn update_preview(&self, p: &PreviewDatabase) -> Result<(), StoreError> {
        self.put_item(preview_item(p)?, Some("attribute_exists(pk)")).await
    }

    /// Moves a ready preview's expiry (and its place in the due index) and nothing else, so a
    /// concurrent change of its state is never undone. `None`: the preview is gone or not ready.
    async fn extend_preview(
        &self,
        id: &PreviewId,
        ttl_expires_at: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<PreviewDatabase>, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(preview_pk(id)))
            .key("sk", s("PREVIEW"))
            .condition_expression("attribute_exists(pk) AND #state = :ready")
            .update_expression("SET ttl_expires_at = :ttl, updated_at = :now, due_pk = :dpk, due_sk = :dsk")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":ready", to_attr(&crate::domain::previews::PreviewState::Ready)?)
            .expression_attribute_values(":ttl", to_attr(&ttl_expires_at)?)
            .expression_attribute_values(":now", to_attr(&now)?)
            .expression_attribute_values(":dpk", s(due_bucket(ttl_expires_at)))
            .expression_attribute_values(":dsk", s(due_sort_key(ttl_expires_at, &preview_pk(id))))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match super::updated(res)? {
            Some(out) => Ok(Some(super::from_item(out.attributes.unwrap_or_default())?)),
            None => Ok(None),
        }
    }

    /// Removes the preview record, frees its name and records `event`, in one transaction.
    async fn delete_preview(&self, p: &PreviewDatabase, event: &Event) -> Result<(), StoreError> {
        self.transact(vec![
            delete(preview_pk(&p.id), "PREVIEW".into()),
            delete(project_pk(&p.project_id), name_sk(&p.name)),
            event_put(event)?,
        ])
        .await
    }

    /// Previews whose TTL runs out in `bucket` at or before `now`.
    async fn due_previews(
        &self,
        bucket: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PreviewDatabase>, StoreError> {
        self.due_items(bucket, now, "preview").await
    }
}
