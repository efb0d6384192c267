//! `Idempotency-Key` records: the request's hash and what the first request created (its ids),
//! stored in the same transaction as the change itself so a retry can never create a second one.

use super::{put, to_item, Keys, Repository, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// `<org>#<key>`
    pub scope: String,
    pub request_hash: String,
    /// What the first request created, as JSON ids, so a retry answers with the same resources.
    pub result: String,
    pub created_at: DateTime<Utc>,
    /// DynamoDB TTL attribute: records are forgotten after a day.
    pub expires_at_epoch: i64,
}

impl IdempotencyRecord {
    pub fn new(scope: String, request_hash: String, result: String, now: DateTime<Utc>) -> Self {
        IdempotencyRecord {
            scope,
            request_hash,
            result,
            created_at: now,
            expires_at_epoch: (now + Duration::hours(24)).timestamp(),
        }
    }
}

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
    pub async fn get_idempotency(&self, scope: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.get_item(&pk(scope), "IDEM").await
    }

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
