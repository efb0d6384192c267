//! The stream pump: reads the table's DynamoDB stream, turns each record into the JSON Lambda
//! would deliver, and hands it to every worker whose filter (from `WORKERS`, the same patterns
//! as `template.yaml`) matches — each record as its own batch, like `BatchSize: 1`.

use super::filter;
use crate::workers::{self, WORKERS};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use base64::Engine;
use capydb_shared::services::Context;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Jobs running at once in the local runtime (Lambda's would be one per shard and function).
const CONCURRENT_INVOCATIONS: usize = 4;

pub async fn pump(ctx: Context, client: Client, stream_arn: String, poll: Duration, cancel: CancellationToken) {
    let patterns: Vec<Value> =
        WORKERS.iter().map(|w| serde_json::from_str(w.filter).expect("worker filters are valid JSON")).collect();
    let permits = Arc::new(Semaphore::new(CONCURRENT_INVOCATIONS));
    let mut invocations = JoinSet::new();
    // shard id -> next iterator (None once the shard is closed and drained)
    let mut shards: HashMap<String, Option<String>> = HashMap::new();
    loop {
        if cancel.is_cancelled() {
            return;
        }
        if let Err(e) = discover_shards(&client, &stream_arn, &mut shards).await {
            tracing::warn!(error = %e, "describing the stream failed");
        }
        for (shard, iterator) in shards.iter_mut() {
            let Some(it) = iterator.clone() else { continue };
            match client.get_records().shard_iterator(it).limit(100).send().await {
                Ok(out) => {
                    *iterator = out.next_shard_iterator;
                    for record in out.records.unwrap_or_default() {
                        let json = lambda_record(&record, &ctx.config.aws_region, &stream_arn);
                        for (worker, pattern) in WORKERS.iter().zip(&patterns) {
                            if !filter::matches(pattern, &json) {
                                continue;
                            }
                            let event = match serde_json::from_value(json!({ "Records": [json.clone()] })) {
                                Ok(event) => event,
                                Err(e) => {
                                    tracing::error!(error = %e, "stream record does not parse as a Lambda event");
                                    continue;
                                }
                            };
                            let (ctx, permits) = (ctx.clone(), permits.clone());
                            let function = worker.function;
                            invocations.spawn(async move {
                                let _permit = permits.acquire_owned().await;
                                let response = workers::handle_stream(&ctx, event).await;
                                if !response.batch_item_failures.is_empty() {
                                    tracing::warn!(function, "invocation reported failed records");
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(shard, error = ?e, "reading the stream failed; starting the shard over");
                    *iterator = shard_iterator(&client, &stream_arn, shard).await;
                }
            }
        }
        while invocations.try_join_next().is_some() {}
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

async fn discover_shards(
    client: &Client,
    arn: &str,
    shards: &mut HashMap<String, Option<String>>,
) -> anyhow::Result<()> {
    let out = client.describe_stream().stream_arn(arn).send().await?;
    for shard in out.stream_description.and_then(|d| d.shards).unwrap_or_default() {
        if let Some(id) = shard.shard_id {
            if let std::collections::hash_map::Entry::Vacant(slot) = shards.entry(id) {
                let it = shard_iterator(client, arn, slot.key()).await;
                slot.insert(it);
            }
        }
    }
    Ok(())
}

async fn shard_iterator(client: &Client, arn: &str, shard: &str) -> Option<String> {
    client
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .ok()
        .and_then(|o| o.shard_iterator)
}

/// The record in the JSON form of a Lambda DynamoDB event record.
fn lambda_record(record: &Record, region: &str, arn: &str) -> Value {
    let change = record.dynamodb.as_ref();
    let image = |m: Option<&HashMap<String, AttributeValue>>| m.map(item_json).unwrap_or_else(|| json!({}));
    json!({
        "eventID": record.event_id.clone().unwrap_or_default(),
        "eventName": record.event_name.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default(),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": arn,
        "dynamodb": {
            "Keys": image(change.and_then(|c| c.keys.as_ref())),
            "NewImage": image(change.and_then(|c| c.new_image.as_ref())),
            "OldImage": image(change.and_then(|c| c.old_image.as_ref())),
            "SequenceNumber": change.and_then(|c| c.sequence_number.clone()),
            "SizeBytes": change.and_then(|c| c.size_bytes).unwrap_or(0),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    })
}

fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), attr_json(v))).collect::<Map<_, _>>())
}

/// DynamoDB JSON (`{"S": "…"}`, `{"N": "…"}`, …), as Lambda delivers images.
fn attr_json(v: &AttributeValue) -> Value {
    let b64 =
        |b: &aws_sdk_dynamodbstreams::primitives::Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(l) => json!({ "SS": l }),
        AttributeValue::Ns(l) => json!({ "NS": l }),
        AttributeValue::Bs(l) => json!({ "BS": l.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attr_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        _ => json!({ "NULL": true }),
    }
}
