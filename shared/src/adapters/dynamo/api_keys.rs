//! API keys live twice: under `APIKEY#<sha256>` for authentication by hash, and under the org
//! (`ORG#<org>` / `APIKEY#<id>`) for listing and revocation. Both are written and revoked in
//! one transaction.

use super::organizations::org_pk;
use super::{put, s, to_item, IdempotencyRecord, Keys, Repository, StoreError};
use crate::domain::api_keys::ApiKey;
use crate::domain::pagination::{Cursor, Page};
use crate::ids::{ApiKeyId, OrgId};
use crate::store::ApiKeyStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The org-side copy also remembers the hash, to find the auth item on revocation.
#[derive(Serialize, Deserialize)]
struct OrgKeyItem {
    #[serde(flatten)]
    key: ApiKey,
    key_hash: String,
}

fn auth_pk(hash: &str) -> String {
    format!("APIKEY#{hash}")
}

fn org_sk(id: &ApiKeyId) -> String {
    format!("APIKEY#{id}")
}

#[async_trait]
impl ApiKeyStore for Repository {
    async fn create_api_key(
        &self,
        key: &ApiKey,
        hash: &str,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let auth =
            to_item(key, Keys { pk: auth_pk(hash), sk: "APIKEY".into(), item_type: "api_key", gsi1: None, due: None })?;
        let org_copy = OrgKeyItem { key: key.clone(), key_hash: hash.to_string() };
        let listed = to_item(
            &org_copy,
            Keys { pk: org_pk(&key.org_id), sk: org_sk(&key.id), item_type: "api_key_ref", gsi1: None, due: None },
        )?;
        self.transact_idempotent(
            vec![put(auth, Some("attribute_not_exists(pk)")), put(listed, Some("attribute_not_exists(pk)"))],
            idempotency,
        )
        .await
    }

    async fn get_api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_item(&auth_pk(hash), "APIKEY").await
    }

    async fn list_api_keys(
        &self,
        org: &OrgId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<ApiKey>, StoreError> {
        let page: Page<OrgKeyItem> = self.query_prefix(&org_pk(org), "APIKEY#", limit, cursor).await?;
        Ok(Page { items: page.items.into_iter().map(|i| i.key).collect(), next_cursor: page.next_cursor })
    }

    async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.get_item::<OrgKeyItem>(&org_pk(org), &org_sk(id)).await?.map(|i| i.key))
    }

    /// Records that the key authenticated a request, on both copies.
    async fn touch_api_key(&self, key: &ApiKey, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        for (pk, sk) in [(auth_pk(hash), "APIKEY".to_string()), (org_pk(&key.org_id), org_sk(&key.id))] {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .condition_expression("attribute_exists(pk)")
                .update_expression("SET last_used_at = :now")
                .expression_attribute_values(":now", super::to_attr(&now)?)
                .send()
                .await;
            super::updated(res)?;
        }
        Ok(())
    }

    /// Revokes a key; returns it as revoked, or `None` if the org has no such key.
    async fn revoke_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError> {
        let Some(mut item) = self.get_item::<OrgKeyItem>(&org_pk(org), &org_sk(id)).await? else {
            return Ok(None);
        };
        if item.key.revoked_at.is_some() {
            return Ok(Some(item.key));
        }
        let revoke = |pk: String, sk: String| {
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name("__TABLE__")
                        .key("pk", s(pk))
                        .key("sk", s(sk))
                        .update_expression("SET revoked_at = :now")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":now", s(now.to_rfc3339()))
                        .build()
                        .expect("update"),
                )
                .build()
        };
        self.transact(vec![revoke(auth_pk(&item.key_hash), "APIKEY".into()), revoke(org_pk(org), org_sk(id))]).await?;
        item.key.revoked_at = Some(now);
        Ok(Some(item.key))
    }
}
