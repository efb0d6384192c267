//! `Idempotency-Key` records: the request's hash and what the first request created (its ids),
//! stored in the same transaction as the change itself so a retry can never create a second one.

use super::{put, to_item, Keys, Repository, StoreError};
use crate::store::IdempotencyStore;
use crate::store::{IdempotencyRecord, StoredResponse};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};

fn pk(scope: &str) -> String {
    format!("IDEM#{scope}")
}

pub(crate) fn idempotency_put(record: &IdempotencyRecord) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(
        record,
        Keys { pk: pk(&record.scope), sk: "IDEM".into(), item_type: "idempotency", gsi1: None, due: None },
    )?;
    Ok(put(item, Some("attribute_not_exists(pk)")))
}

impl Repository {
    /// Runs `items` plus the idempotency record as one transaction. When the transaction is
    /// refused because the key is already recorded, says so distinctly.
    pub(crate) async fn transact_idempotent(
        &self,
        mut items: Vec<TransactWriteItem>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        if let Some(record) = idempotency {
            items.push(idempotency_put(record)?);
        }
        match self.transact(items).await {
            Err(StoreError::ConditionFailed) => match idempotency {
                Some(record) if self.get_idempotency(&record.scope).await?.is_some() => {
                    Err(StoreError::IdempotencyKeyTaken)
                }
                _ => Err(StoreError::ConditionFailed),
            },
            other => other,
        }
    }
}

fn response_pk(scope: &str) -> String {
    format!("IDEMRESP#{scope}")
}

#[async_trait]
impl IdempotencyStore for Repository {
    async fn get_idempotency(&self, scope: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.get_item(&pk(scope), "IDEM").await
    }

    /// Reserves `scope` for this request; `Err(existing)` when it is already taken.
    async fn reserve_response(
        &self,
        scope: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), StoredResponse>, StoreError> {
        let record = StoredResponse {
            scope: scope.to_string(),
            request_hash: request_hash.to_string(),
            status: None,
            body_enc: None,
            created_at: now,
            expires_at_epoch: (now + Duration::hours(24)).timestamp(),
        };
        let item = to_item(
            &record,
            Keys { pk: response_pk(scope), sk: "IDEM".into(), item_type: "idempotent_response", gsi1: None, due: None },
        )?;
        match self.put_item(item, Some("attribute_not_exists(pk)")).await {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::ConditionFailed) => {
                match self.get_item::<StoredResponse>(&response_pk(scope), "IDEM").await? {
                    Some(existing) => Ok(Err(existing)),
                    // Released between our write and our read: the caller may retry.
                    None => Err(StoreError::ConditionFailed),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn complete_response(&self, mut record: StoredResponse) -> Result<(), StoreError> {
        let pk = response_pk(&record.scope);
        record.expires_at_epoch = (record.created_at + Duration::hours(24)).timestamp();
        let item =
            to_item(&record, Keys { pk, sk: "IDEM".into(), item_type: "idempotent_response", gsi1: None, due: None })?;
        self.put_item(item, None).await
    }

    /// Forgets a reservation whose request failed on our side, so that a retry runs again.
    async fn release_response(&self, scope: &str) -> Result<(), StoreError> {
        self.delete_item(&response_pk(scope), "IDEM").await
    }
}
