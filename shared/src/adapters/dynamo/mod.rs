//! The DynamoDB repository: one table, single-table design (see ARCHITECTURE.md for the keys).
//! Every multi-item change is one transaction, and every state change is conditional on the
//! state it was decided from, so concurrent workers and retries cannot corrupt a record.

mod api_keys;
mod backups;
mod deliveries;
mod events;
mod idempotency;
mod integrations;
mod jobs;
mod organizations;
mod previews;
mod projects;
mod records;
mod restore_points;
mod restores;
mod schedules;
pub mod schema;
mod webhooks;

use crate::store::{IdempotencyRecord, StoreError};

use crate::domain::pagination::{Cursor, Page};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// An `UpdateItem`'s answer; `None` when its condition did not hold.
fn updated(
    res: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>,
    >,
) -> Result<Option<aws_sdk_dynamodb::operation::update_item::UpdateItemOutput>, StoreError> {
    match res {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(None),
        Err(e) => Err(backend(e)),
    }
}

/// How often a transaction cancelled by a conflict is sent before the conflict is the answer.
const TRANSACTION_ATTEMPTS: u32 = 3;

/// A cancelled transaction is a failed condition only when a condition failed. Cancelled for a
/// conflict with another transaction on the same items, or for throttling, nothing was decided:
/// that is worth another attempt, and the text says so (`domain/retry.rs` reads it).
fn cancelled_transaction(cancelled: &TransactionCanceledException) -> StoreError {
    let codes: Vec<&str> =
        cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).filter(|c| *c != "None").collect();
    if codes.is_empty() || codes.contains(&"ConditionalCheckFailed") {
        return StoreError::ConditionFailed;
    }
    StoreError::Backend(format!("TransactionCanceledException: the transaction was cancelled [{}]", codes.join(", ")))
}

fn backend<E: std::error::Error + 'static>(e: SdkError<E>) -> StoreError {
    // The SDK's own Display says only "service error"; the context carries the cause.
    StoreError::Backend(DisplayErrorContext(&e).to_string())
}

/// Item keys and index attributes, added around a serialized record.
pub(crate) struct Keys {
    pub pk: String,
    pub sk: String,
    pub item_type: &'static str,
    pub gsi1: Option<(String, String)>,
    pub due: Option<(String, String)>,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn to_item<T: Serialize>(value: &T, keys: Keys) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.insert("pk".into(), s(keys.pk));
    item.insert("sk".into(), s(keys.sk));
    item.insert("type".into(), s(keys.item_type));
    if let Some((p, k)) = keys.gsi1 {
        item.insert("gsi1pk".into(), s(p));
        item.insert("gsi1sk".into(), s(k));
    }
    if let Some((p, k)) = keys.due {
        item.insert("due_pk".into(), s(p));
        item.insert("due_sk".into(), s(k));
    }
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn to_attr<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn put(item: Item, condition: Option<&str>) -> TransactWriteItem {
    let mut p = Put::builder().set_item(Some(item));
    if let Some(c) = condition {
        p = p.condition_expression(c);
    }
    TransactWriteItem::builder().put(p.table_name("__TABLE__").build().expect("table and item are set")).build()
}

fn cursor_to_key(cursor: Option<&Cursor>) -> Option<Item> {
    cursor.map(|c| c.0.iter().map(|(k, v)| (k.clone(), s(v.clone()))).collect())
}

fn key_to_cursor(key: Option<&Item>) -> Option<Cursor> {
    key.map(|k| Cursor(k.iter().filter_map(|(name, v)| v.as_s().ok().map(|s| (name.clone(), s.clone()))).collect()))
}

#[derive(Clone)]
pub struct Repository {
    client: Client,
    table: String,
}

impl Repository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Repository { client, table: table.into() }
    }

    /// The repository of the configured table, for what sits outside the store ports (creating
    /// the table locally, finding its stream).
    pub async fn for_config(config: &crate::config::Config) -> Self {
        Repository::new(crate::adapters::aws::dynamodb(&crate::adapters::aws::sdk_config(config).await), &config.table)
    }

    async fn get_item<T: DeserializeOwned>(&self, pk: &str, sk: &str) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        out.item.map(from_item).transpose()
    }

    async fn delete_item(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn put_item(&self, item: Item, condition: Option<&str>) -> Result<(), StoreError> {
        let mut req = self.client.put_item().table_name(&self.table).set_item(Some(item));
        if let Some(c) = condition {
            req = req.condition_expression(c);
        }
        req.send().await.map_err(|e| match e.as_service_error() {
            Some(se) if se.is_conditional_check_failed_exception() => StoreError::ConditionFailed,
            _ => backend(e),
        })?;
        Ok(())
    }

    /// Optimistic write of a record that carries a `version`: creates it when `expected` is
    /// `None` (and it does not exist), else replaces it only if it is still at `expected`.
    /// `Ok(false)` when someone else wrote first.
    async fn put_versioned(&self, item: Item, expected: Option<u64>) -> Result<bool, StoreError> {
        let mut req = self.client.put_item().table_name(&self.table).set_item(Some(item));
        req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    /// Runs a write transaction. Items built with [`put`] carry a placeholder table name that is
    /// filled in here, so record modules need not know the table. A transaction cancelled for a
    /// conflict with another one on the same items wrote nothing and decided nothing; DynamoDB
    /// asks for it to be sent again, which the SDK does not do: we do, a few times, with jittered
    /// back-off (its conditions are checked afresh each time).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let items = items.into_iter().map(|i| self.with_table(i)).collect::<Vec<_>>();
        let mut attempt = 0;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match sent {
                Ok(_) => return Ok(()),
                Err(e) => match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                        cancelled_transaction(cancelled)
                    }
                    _ => return Err(backend(e)),
                },
            };
            attempt += 1;
            if !matches!(error, StoreError::Backend(_)) || attempt >= TRANSACTION_ATTEMPTS {
                return Err(error);
            }
            let wait = 50u64 << attempt;
            tokio::time::sleep(std::time::Duration::from_millis(wait / 2 + rand::random_range(0..=wait / 2))).await;
        }
    }

    /// A transaction whose failed condition is an answer (`false`), not an error.
    async fn transact_if(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn with_table(&self, mut item: TransactWriteItem) -> TransactWriteItem {
        if let Some(p) = item.put.as_mut() {
            p.table_name = self.table.clone();
        }
        if let Some(u) = item.update.as_mut() {
            u.table_name = self.table.clone();
        }
        if let Some(d) = item.delete.as_mut() {
            d.table_name = self.table.clone();
        }
        if let Some(c) = item.condition_check.as_mut() {
            c.table_name = self.table.clone();
        }
        item
    }

    /// Newest-first page of items under a partition (main table) with a sort-key prefix.
    async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk_prefix: &str,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<T>, StoreError> {
        // A start key outside the listed partition would make DynamoDB fail the query; it is the
        // caller's mistake, and says so.
        if let Some(c) = cursor {
            let keys: Vec<&str> = c.0.keys().map(String::as_str).collect();
            let fits = keys == ["pk", "sk"]
                && c.0.get("pk").map(String::as_str) == Some(pk)
                && c.0.get("sk").is_some_and(|sk| sk.starts_with(sk_prefix));
            if !fits {
                return Err(StoreError::InvalidCursor);
            }
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(sk_prefix))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit as i32)
            .set_exclusive_start_key(cursor_to_key(cursor))
            .send()
            .await
            .map_err(backend)?;
        self.page(out.items, out.last_evaluated_key)
    }

    /// Newest-first page of a `gsi1` partition.
    async fn query_gsi1<T: DeserializeOwned>(
        &self,
        gsi1pk: &str,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<Page<T>, StoreError> {
        if let Some(c) = cursor {
            let keys: Vec<&str> = c.0.keys().map(String::as_str).collect();
            let fits =
                keys == ["gsi1pk", "gsi1sk", "pk", "sk"] && c.0.get("gsi1pk").map(String::as_str) == Some(gsi1pk);
            if !fits {
                return Err(StoreError::InvalidCursor);
            }
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(gsi1pk))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(cursor_to_key(cursor))
            .send()
            .await
            .map_err(backend)?;
        self.page(out.items, out.last_evaluated_key)
    }

    /// Items of `item_type` in a due-index bucket whose due time is at or before `now`.
    async fn due_items<T: DeserializeOwned>(
        &self,
        bucket: &str,
        now: chrono::DateTime<chrono::Utc>,
        item_type: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::DUE_INDEX)
                .key_condition_expression("due_pk = :b AND due_sk <= :upto")
                .expression_attribute_values(":b", s(bucket))
                .expression_attribute_values(":upto", s(crate::domain::jobs::due_sort_key(now, "~")))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            for item in out.items.unwrap_or_default() {
                if item.get("type").and_then(|t| t.as_s().ok()).map(String::as_str) == Some(item_type) {
                    found.push(from_item(item)?);
                }
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(found),
            }
        }
    }

    fn page<T: DeserializeOwned>(&self, items: Option<Vec<Item>>, last: Option<Item>) -> Result<Page<T>, StoreError> {
        let items = items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<T>, _>>()?;
        Ok(Page { items, next_cursor: key_to_cursor(last.as_ref()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::retry::{classify, RetryClass};
    use aws_sdk_dynamodb::types::CancellationReason;

    fn cancelled(codes: &[&str]) -> StoreError {
        let reasons = codes.iter().map(|c| CancellationReason::builder().code(*c).build()).collect();
        cancelled_transaction(&TransactionCanceledException::builder().set_cancellation_reasons(Some(reasons)).build())
    }

    #[test]
    fn a_transaction_cancelled_by_a_condition_is_a_failed_condition() {
        assert!(matches!(cancelled(&["None", "ConditionalCheckFailed"]), StoreError::ConditionFailed));
        assert!(matches!(cancelled(&[]), StoreError::ConditionFailed));
    }

    #[test]
    fn a_transaction_cancelled_by_a_conflict_or_throttling_is_worth_another_attempt() {
        for codes in [&["TransactionConflict", "None"][..], &["ThrottlingError"], &["ProvisionedThroughputExceeded"]] {
            let e = cancelled(codes);
            assert!(matches!(e, StoreError::Backend(_)), "{codes:?}");
            assert_eq!(classify(&e.to_string()), RetryClass::Transient, "{e}");
        }
    }
}
