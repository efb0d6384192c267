//! The stream pump: reads the table's DynamoDB stream, turns each record into the JSON Lambda
//! would deliver, and hands it to every worker whose filter (from `WORKERS`, the same patterns
//! as `template.yaml`) matches — each record as its own batch, like `BatchSize: 1`. Workers are
//! idempotent (claims are conditional), so a record seen twice costs nothing.

use super::filter;
use crate::workers::{self, WORKERS};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use base64::Engine;
use capydb_shared::services::Context;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Jobs running at once in the local runtime (Lambda's would be one per shard and function).
const CONCURRENT_INVOCATIONS: usize = 4;

/// How far behind its position the pump re-reads each shard. moto rolls a failed transaction
/// back by restoring a copy of the table, stream included, so records it already showed can
/// vanish and their sequence numbers be reused by the next writes; re-reading a window and
/// skipping only (sequence, event id) pairs already dispatched makes such rewinds harmless.
const REWIND_WINDOW: u128 = 64;

/// Read position of one shard.
struct ShardCursor {
    first: u128,
    next: u128,
    dispatched: BTreeMap<u128, String>,
}

pub async fn pump(ctx: Context, client: Client, stream_arn: String, poll: Duration, cancel: CancellationToken) {
    let patterns: Vec<Value> =
        WORKERS.iter().map(|w| serde_json::from_str(w.filter).expect("worker filters are valid JSON")).collect();
    let permits = Arc::new(Semaphore::new(CONCURRENT_INVOCATIONS));
    let mut invocations = JoinSet::new();
    let mut shards: HashMap<String, ShardCursor> = HashMap::new();
    loop {
        if cancel.is_cancelled() {
            return;
        }
        if let Err(e) = discover_shards(&client, &stream_arn, &mut shards).await {
            tracing::warn!(error = %e, "describing the stream failed");
        }
        for (shard, cursor) in shards.iter_mut() {
            let from = cursor.next.saturating_sub(REWIND_WINDOW).max(cursor.first);
            let records = match read_from(&client, &stream_arn, shard, from).await {
                Ok(records) => records,
                Err(e) => {
                    tracing::warn!(shard, error = %e, "reading the stream failed");
                    continue;
                }
            };
            for record in records {
                let Some(seq) = record
                    .dynamodb
                    .as_ref()
                    .and_then(|d| d.sequence_number.as_deref())
                    .and_then(|s| s.parse::<u128>().ok())
                else {
                    continue;
                };
                let event_id = record.event_id.clone().unwrap_or_default();
                if cursor.dispatched.get(&seq) == Some(&event_id) {
                    continue;
                }
                cursor.dispatched.insert(seq, event_id);
                cursor.next = cursor.next.max(seq + 1);
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
                    invocations.spawn(async move {
                        let _permit = permits.acquire_owned().await;
                        let response = workers::handle(worker, &ctx, event).await;
                        if !response.batch_item_failures.is_empty() {
                            tracing::warn!(function = worker.function, "invocation reported failed records");
                        }
                    });
                }
            }
            let keep_from = cursor.next.saturating_sub(REWIND_WINDOW);
            cursor.dispatched.retain(|seq, _| *seq >= keep_from);
        }
        while invocations.try_join_next().is_some() {}
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

async fn discover_shards(client: &Client, arn: &str, shards: &mut HashMap<String, ShardCursor>) -> anyhow::Result<()> {
    let out = client.describe_stream().stream_arn(arn).send().await?;
    for shard in out.stream_description.and_then(|d| d.shards).unwrap_or_default() {
        let first =
            shard.sequence_number_range.and_then(|r| r.starting_sequence_number).and_then(|s| s.parse::<u128>().ok());
        if let (Some(id), Some(first)) = (shard.shard_id, first) {
            shards.entry(id).or_insert(ShardCursor { first, next: first, dispatched: BTreeMap::new() });
        }
    }
    Ok(())
}

/// Every record of the shard from sequence number `from` on.
async fn read_from(client: &Client, arn: &str, shard: &str, from: u128) -> anyhow::Result<Vec<Record>> {
    let mut iterator = client
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(from.to_string())
        .send()
        .await?
        .shard_iterator;
    let mut records = Vec::new();
    while let Some(it) = iterator {
        let out = client.get_records().shard_iterator(it).limit(1000).send().await?;
        let batch = out.records.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        records.extend(batch);
        iterator = out.next_shard_iterator;
    }
    Ok(records)
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
