//! Restore points under their project, with one label-uniqueness item per project
//! (`PROJECT#<prj>` / `RPLABEL#<label>`) written and deleted with the point.

use super::projects::project_pk;
use super::{put, s, to_item, Keys, Repository, StoreError};
use crate::domain::pagination::{Cursor, Page};
use crate::domain::restore_points::RestorePoint;
use crate::ids::{ProjectId, RestorePointId};
use crate::store::RestorePointStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};

fn point_sk(id: &RestorePointId) -> String {
    format!("RPOINT#{id}")
}

fn label_sk(label: &str) -> String {
    format!("RPLABEL#{label}")
}

#[derive(Serialize, Deserialize)]
struct LabelClaim {
    restore_point_id: RestorePointId,
}

fn delete(pk: String, sk: String) -> TransactWriteItem {
    TransactWriteItem::builder()
        .delete(Delete::builder().table_name("__TABLE__").key("pk", s(pk)).key("sk", s(sk)).build().expect("delete"))
        .build()
}

#[async_trait]
impl RestorePointStore for Repository {
    async fn create_restore_point(&self, point: &RestorePoint) -> Result<bool, StoreError> {
        let pk = project_pk(&point.project_id);
        let item = to_item(
            point,
            Keys { pk: pk.clone(), sk: point_sk(&point.id), item_type: "restore_point", gsi1: None, due: None },
        )?;
        let claim = to_item(
            &LabelClaim { restore_point_id: point.id.clone() },
            Keys { pk, sk: label_sk(&point.label), item_type: "restore_point_label", gsi1: None, due: None },
        )?;
        match self
            .transact(vec![put(item, Some("attribute_not_exists(pk)")), put(claim, Some("attribute_not_exists(pk)"))])
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn take_restore_point_slot(&self, project: &ProjectId, minute: &str, limit: u32) -> Result<bool, StoreError> {
        let expires = chrono::Utc::now().timestamp() + 3600;
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(project_pk(project)))
            .key("sk", s(format!("RATE#restore_points#{minute}")))
            .condition_expression("attribute_not_exists(made) OR made < :limit")
            .update_expression("ADD made :one SET #type = :type, expires_at_epoch = :exp")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":type", s("rate"))
            .expression_attribute_values(":exp", AttributeValue::N(expires.to_string()))
            .send()
            .await;
        Ok(super::updated(res)?.is_some())
    }

    async fn restore_point_label_taken(&self, project: &ProjectId, label: &str) -> Result<bool, StoreError> {
        Ok(self.get_item::<LabelClaim>(&project_pk(project), &label_sk(label)).await?.is_some())
    }

    async fn get_restore_point(
        &self,
        project: &ProjectId,
        id: &RestorePointId,
    ) -> Result<Option<RestorePoint>, StoreError> {
        self.get_item(&project_pk(project), &point_sk(id)).await
    }

    async fn list_restore_points(
        &self,
        project: &ProjectId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<RestorePoint>, StoreError> {
        self.query_prefix(&project_pk(project), "RPOINT#", limit, cursor).await
    }

    async fn delete_restore_point(&self, point: &RestorePoint) -> Result<(), StoreError> {
        let pk = project_pk(&point.project_id);
        self.transact(vec![delete(pk.clone(), point_sk(&point.id)), delete(pk, label_sk(&point.label))]).await
    }
}
