//! Outbox events: written in the same transaction as the change they report, and read by the
//! completion function from the table's stream.

use super::{put, to_item, Keys, Repository, StoreError};
use crate::domain::events::Event;
use crate::store::EventStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

pub(crate) fn event_put(event: &Event) -> Result<TransactWriteItem, StoreError> {
    let item = to_item(
        event,
        Keys { pk: format!("EVENT#{}", event.id), sk: "EVENT".into(), item_type: "event", gsi1: None, due: None },
    )?;
    Ok(put(item, Some("attribute_not_exists(pk)")))
}

#[async_trait]
impl EventStore for Repository {
    /// An outbox event on its own (an audit event of a read, such as a download).
    async fn put_event(&self, event: &Event) -> Result<(), StoreError> {
        self.transact(vec![event_put(event)?]).await
    }
}
