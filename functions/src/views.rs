//! JSON shapes of the published API, built from domain records.

use capydb_shared::domain::deliveries::Delivery;
use capydb_shared::domain::integrations::Integration;
use capydb_shared::domain::jobs::Job;
use capydb_shared::domain::pagination::Page;
use capydb_shared::domain::previews::PreviewDatabase;
use capydb_shared::domain::projects::Project;
use capydb_shared::domain::webhooks::WebhookEndpoint;
use capydb_shared::services::backups::Listed;
use serde::Serialize;
use serde_json::{json, Value};

pub fn project(p: &Project) -> Value {
    json!({
        "id": p.id, "org_id": p.org_id, "name": p.name, "region": p.region, "state": p.state,
        "database_name": p.database_name, "error": p.error, "created_at": p.created_at, "updated_at": p.updated_at,
    })
}

pub fn preview(p: &PreviewDatabase) -> Value {
    json!({
        "id": p.id, "project_id": p.project_id, "name": p.name, "database_name": p.database_name, "state": p.state,
        "ttl_expires_at": p.ttl_expires_at, "source_kind": p.source_kind, "source_backup_key": p.source_backup_key,
        "source_restore_time": p.source_restore_time, "error": p.error, "created_at": p.created_at, "updated_at": p.updated_at,
    })
}

/// A backup, with `pinned` when a restore point keeps it past its retention.
pub fn backup(listed: &Listed) -> Value {
    let mut v = plain(&listed.backup);
    v["pinned"] = json!(listed.pinned);
    v
}

pub fn job(j: &Job) -> Value {
    json!({
        "id": j.id, "type": j.job_type, "state": j.state, "attempts": j.attempts, "max_attempts": j.max_attempts,
        "claimed_at": j.claimed_at, "claimed_by": j.claimed_by, "lease_until": j.lease_until,
        "started_at": j.started_at, "completed_at": j.completed_at, "error": j.error, "progress": j.progress,
        "project_id": j.project_id, "preview_database_id": j.preview_database_id, "backup_id": j.backup_id,
        "restore_id": j.restore_id,
        "created_at": j.created_at, "updated_at": j.updated_at,
    })
}

/// An endpoint without its sealed secret.
pub fn webhook_endpoint(e: &WebhookEndpoint) -> Value {
    json!({
        "id": e.id, "org_id": e.org_id, "url": e.url, "description": e.description, "event_types": e.event_types,
        "is_active": e.is_active, "health": e.health, "failing_since": e.failing_since,
        "last_success_at": e.last_success_at, "created_at": e.created_at, "updated_at": e.updated_at,
    })
}

/// A delivery with every attempt; `payload` is the envelope exactly as sent.
pub fn delivery(d: &Delivery) -> Value {
    json!({
        "id": d.id, "webhook_endpoint_id": d.webhook_id, "event_id": d.event_id, "event_type": d.event_type,
        "state": d.state, "attempt_count": d.attempts.len(), "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at, "redelivery_of": d.redelivery_of,
        "payload": serde_json::from_str::<Value>(&d.payload).unwrap_or(Value::Null),
        "created_at": d.created_at, "completed_at": d.completed_at,
    })
}

/// An integration without its sealed token.
pub fn integration(i: &Integration) -> Value {
    let target = match i.provider {
        capydb_shared::domain::integrations::Provider::Vercel => {
            json!({ "project_id": i.target.id, "team_id": i.target.team_id })
        }
        capydb_shared::domain::integrations::Provider::Netlify => json!({ "site_id": i.target.id }),
    };
    json!({
        "provider": i.provider, "project_id": i.project_id, "target": target,
        "env_vars": [capydb_shared::domain::integrations::ENV_POOLED, capydb_shared::domain::integrations::ENV_DIRECT],
        "sync_state": i.sync_state, "sync_reason": i.sync_reason, "sync_attempts": i.sync_attempts,
        "next_sync_at": i.next_sync_at, "last_synced_at": i.last_synced_at, "last_sync_error": i.last_sync_error,
        "created_at": i.created_at, "updated_at": i.updated_at,
    })
}

/// `{"<name>": [...], "next_cursor": …}`
pub fn page<T>(name: &str, page: &Page<T>, view: impl Fn(&T) -> Value) -> Value {
    json!({ name: page.items.iter().map(view).collect::<Vec<_>>(), "next_cursor": page.next_cursor.as_ref().map(|c| c.encode()) })
}

pub fn plain<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
