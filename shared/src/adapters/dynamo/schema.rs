//! The table's key schema, in one place: the local runtime and tests create the table from it,
//! and a test holds it equal to the table in `template.yaml`.

use super::{backend, Repository, StoreError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};

pub const GSI1: &str = "gsi1";
pub const DUE_INDEX: &str = "due";

/// (index name, partition key, sort key)
pub const INDEXES: [(&str, &str, &str); 2] = [(GSI1, "gsi1pk", "gsi1sk"), (DUE_INDEX, "due_pk", "due_sk")];

impl Repository {
    /// Creates the table (streams on, both indexes) unless it exists, and waits until it is usable.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        if self.client.describe_table().table_name(&self.table).send().await.is_ok() {
            return Ok(());
        }
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attr")
        };
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .expect("stream"),
            );
        for (name, hash, range) in INDEXES {
            req = req.attribute_definitions(attr(hash)).attribute_definitions(attr(range)).global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(hash, KeyType::Hash))
                    .key_schema(key(range, KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .expect("gsi"),
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => {}
            Err(e) => return Err(backend(e)),
        }
        for _ in 0..100 {
            let out = self.client.describe_table().table_name(&self.table).send().await.map_err(backend)?;
            if out.table.and_then(|t| t.table_status).map(|s| s.as_str() == "ACTIVE").unwrap_or(false) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(StoreError::Backend(format!("table {} did not become ACTIVE", self.table)))
    }

    /// ARN of the table's stream, for the local stream pump.
    pub async fn stream_arn(&self) -> Result<Option<String>, StoreError> {
        let out = self.client.describe_table().table_name(&self.table).send().await.map_err(backend)?;
        Ok(out.table.and_then(|t| t.latest_stream_arn))
    }
}
