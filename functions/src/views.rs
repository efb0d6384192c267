//! Domain records as the API's contract types: the one place the storage shape becomes the
//! public shape.

use capydb_api as api;
use capydb_shared::contract::{job_type, ts, ts_opt};
use capydb_shared::domain::api_keys::ApiKey;
use capydb_shared::domain::backups::Backup;
use capydb_shared::domain::deliveries::Delivery;
use capydb_shared::domain::integrations::{self, Integration, Provider, SyncState};
use capydb_shared::domain::jobs::Job;
use capydb_shared::domain::pagination::Page;
use capydb_shared::domain::previews::PreviewDatabase;
use capydb_shared::domain::projects::Project;
use capydb_shared::domain::restore_points::RestorePoint;
use capydb_shared::domain::restores::{PitrSource, Restore};
use capydb_shared::domain::schedules::BackupSchedule;
use capydb_shared::domain::webhooks::WebhookEndpoint;
use capydb_shared::services::backups::{DownloadUrl, Listed};
use capydb_shared::services::previews::Placement;
use capydb_shared::services::projects::Connections;
use capydb_shared::services::regions::RegionInfo;
use chrono::{DateTime, Utc};

fn id(v: &impl ToString) -> String {
    v.to_string()
}

fn id_opt(v: &Option<impl ToString>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

pub fn project(p: &Project) -> api::projects::Project {
    api::projects::Project {
        id: id(&p.id),
        organization_id: id(&p.org_id),
        name: p.name.clone(),
        region: p.region.clone(),
        state: p.state.into(),
        database_name: p.database_name.clone(),
        last_error: p.error.clone(),
        created_at: ts(p.created_at),
        updated_at: ts(p.updated_at),
    }
}

pub fn region(r: RegionInfo) -> api::projects::Region {
    api::projects::Region {
        id: r.name,
        display_name: r.display_name,
        location: r.location,
        wal_archiving: r.wal_archiving,
        pitr_window_days: r.pitr_window_days,
        pitr_available: r.pitr.pitr_available,
        earliest_restore_time: ts_opt(r.pitr.earliest_restore_time),
        latest_restore_time: ts_opt(r.pitr.latest_restore_time),
        archive_lag_seconds: r.pitr.archive_lag_seconds,
        wal_gaps: r.pitr.wal_gaps,
    }
}

pub fn connections(c: Connections) -> api::projects::Connections {
    api::projects::Connections {
        direct_url: c.direct_url,
        pooled_url: c.pooled_url,
        role: c.username.clone(),
        username: c.username,
        database_name: c.database_name,
        host: c.host,
        port: c.port,
        pooled_port: c.pooled_port,
    }
}

pub fn job(j: &Job) -> api::jobs::Job {
    api::jobs::Job {
        id: id(&j.id),
        job_type: job_type(j),
        state: j.state.into(),
        organization_id: id(&j.org_id),
        project_id: id(&j.project_id),
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        claimed_at: ts_opt(j.claimed_at),
        claimed_by: j.claimed_by.clone(),
        lease_until: ts_opt(j.lease_until),
        started_at: ts_opt(j.started_at),
        completed_at: ts_opt(j.completed_at),
        error: j.error.clone(),
        cancelled_by: j.cancelled_by.clone(),
        retry_classification: j.retry_classification.map(|c| match c {
            capydb_shared::domain::retry::RetryClass::Transient => api::jobs::RetryClassification::Transient,
            capydb_shared::domain::retry::RetryClass::Permanent => api::jobs::RetryClassification::Permanent,
        }),
        last_error: j.last_error.clone(),
        next_attempt_at: ts_opt(j.next_attempt_at),
        runner: j.runner.map(|r| match r {
            capydb_shared::domain::runner::Runner::Lambda => api::jobs::JobRunner::Lambda,
            capydb_shared::domain::runner::Runner::Task => api::jobs::JobRunner::Task,
        }),
        task_arn: j.task_arn.clone(),
        progress: j
            .progress
            .as_ref()
            .map(|p| api::jobs::JobProgress { phase: p.phase.clone(), bytes_done: p.bytes_done }),
        backup_id: id_opt(&j.backup_id),
        restore_id: id_opt(&j.restore_id),
        preview_database_id: j.preview_database_id.clone(),
        created_at: ts(j.created_at),
        updated_at: ts(j.updated_at),
    }
}

/// A backup, with `pinned` when a restore point keeps it past its retention.
pub fn listed_backup(listed: &Listed) -> api::backups::Backup {
    backup(&listed.backup, listed.pinned)
}

pub fn backup(b: &Backup, pinned: bool) -> api::backups::Backup {
    api::backups::Backup {
        id: id(&b.id),
        project_id: id(&b.project_id),
        organization_id: id(&b.org_id),
        job_id: id(&b.job_id),
        label: b.label.clone(),
        kind: b.kind.into(),
        state: b.state.into(),
        database_name: b.database_name.clone(),
        backup_key: b.backup_key.clone(),
        size_bytes: b.size_bytes,
        dump_size_bytes: b.dump_size_bytes,
        sha256: b.sha256.clone(),
        format: b.format.clone(),
        compression: b.compression.clone(),
        postgres_version: b.postgres_version.clone(),
        verification_state: b.verification_state.into(),
        verified_at: ts_opt(b.verified_at),
        verification_error: b.verification_error.clone(),
        error: b.error.clone(),
        expires_at: ts_opt(b.expires_at),
        pinned,
        created_at: ts(b.created_at),
        completed_at: ts_opt(b.completed_at),
        updated_at: ts(b.updated_at),
    }
}

pub fn download_url(d: DownloadUrl) -> api::backups::DownloadUrl {
    api::backups::DownloadUrl {
        backup_id: id(&d.backup_id),
        url: d.url,
        expires_at: ts(d.expires_at),
        sha256: d.sha256,
        size_bytes: d.size_bytes,
        format: d.format,
        compression: d.compression,
        files: d
            .files
            .into_iter()
            .map(|(f, url)| api::backups::DownloadFile {
                name: f.name,
                url,
                sha256: f.sha256,
                size_bytes: f.size_bytes,
                dump_size_bytes: f.dump_bytes,
            })
            .collect(),
    }
}

pub fn pitr(p: &PitrSource) -> api::restores::PitrTarget {
    api::restores::PitrTarget {
        requested_restore_time: ts_opt(p.requested_restore_time),
        restore_time: ts(p.restore_time),
        restore_time_clamped: p.restore_time_clamped,
    }
}

pub fn restore(r: &Restore) -> api::restores::Restore {
    api::restores::Restore {
        id: id(&r.id),
        project_id: id(&r.project_id),
        organization_id: id(&r.org_id),
        job_id: id(&r.job_id),
        source_kind: r.source_kind.clone(),
        source_backup_id: id_opt(&r.source_backup_id),
        source_backup_key: r.source_backup_key.clone(),
        source_restore_point_id: r.source_restore_point_id.clone(),
        pitr: r.pitr.as_ref().map(pitr),
        target_kind: r.target_kind.into(),
        preview_id: id_opt(&r.preview_id),
        allow_unverified_backup: r.allow_unverified_backup,
        state: r.state.into(),
        step: r.step.into(),
        error: r.error.clone(),
        safety_backup_id: id_opt(&r.safety_backup_id),
        created_at: ts(r.created_at),
        started_at: ts_opt(r.started_at),
        completed_at: ts_opt(r.completed_at),
        updated_at: ts(r.updated_at),
    }
}

pub fn preview(p: &PreviewDatabase, at: &Placement) -> api::previews::PreviewDatabase {
    api::previews::PreviewDatabase {
        id: id(&p.id),
        project_id: id(&p.project_id),
        organization_id: id(&p.org_id),
        name: p.name.clone(),
        database_name: p.database_name.clone(),
        state: p.state.into(),
        ttl_expires_at: ts(p.ttl_expires_at),
        source_kind: p.source_kind.clone(),
        source_backup_key: p.source_backup_key.clone(),
        source_restore_time: ts_opt(p.source_restore_time),
        source_database: at.source_database.clone(),
        public_host: at.public_host.clone(),
        direct_port: at.direct_port,
        pooled_port: at.pooled_port,
        role_name: p.db_username.clone(),
        last_error: p.error.clone(),
        created_at: ts(p.created_at),
        updated_at: ts(p.updated_at),
    }
}

pub fn api_key(k: &ApiKey, now: DateTime<Utc>) -> api::identity::ApiKey {
    api::identity::ApiKey {
        id: id(&k.id),
        organization_id: id(&k.org_id),
        name: k.name.clone(),
        key_prefix: k.display_prefix.clone(),
        scopes: k.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        project_id: id_opt(&k.project_id),
        is_active: k.is_usable(now).is_ok(),
        last_used_at: ts_opt(k.last_used_at),
        expires_at: ts_opt(k.expires_at),
        revoked_at: ts_opt(k.revoked_at),
        parent_key_id: id_opt(&k.parent_key_id),
        created_at: ts(k.created_at),
    }
}

pub fn restore_point(r: &RestorePoint) -> api::restore_points::RestorePoint {
    api::restore_points::RestorePoint {
        id: id(&r.id),
        project_id: id(&r.project_id),
        organization_id: id(&r.org_id),
        label: r.label.clone(),
        kind: r.kind.into(),
        backup_id: id_opt(&r.backup_id),
        backup_key: r.backup_key.clone(),
        pitr_time: ts_opt(r.pitr_time),
        pitr_name: r.pitr_name.clone(),
        pitr_lsn: r.pitr_lsn.clone(),
        note: r.note.clone(),
        state: r.state.into(),
        created_at: ts(r.created_at),
    }
}

pub fn schedule(s: &BackupSchedule, now: DateTime<Utc>) -> api::schedules::ScheduledBackup {
    api::schedules::ScheduledBackup {
        id: s.id.clone(),
        organization_id: id(&s.org_id),
        project_id: id(&s.project_id),
        cron_hour: s.cron_hour,
        cron_minute: s.cron_minute,
        is_active: s.is_active,
        label: s.label.clone(),
        retention_days: s.retention_days,
        last_run_at: ts_opt(s.last_run_at),
        last_job_id: id_opt(&s.last_job_id),
        last_run_state: s.last_run_state.clone(),
        next_run_at: s.is_active.then(|| ts(s.spec().next_run_after(now))),
        scheduler_synced: s.scheduler_synced,
        created_at: ts(s.created_at),
        updated_at: ts(s.updated_at),
    }
}

/// An endpoint without its sealed secret.
pub fn webhook_endpoint(e: &WebhookEndpoint) -> api::webhooks::WebhookEndpoint {
    api::webhooks::WebhookEndpoint {
        id: id(&e.id),
        organization_id: id(&e.org_id),
        url: e.url.clone(),
        description: e.description.clone(),
        event_types: e.event_types.clone(),
        is_active: e.is_active,
        health: e.health.clone().into(),
        failing_since: ts_opt(e.failing_since),
        last_success_at: ts_opt(e.last_success_at),
        created_at: ts(e.created_at),
        updated_at: ts(e.updated_at),
    }
}

/// A delivery: `attempts` counts them, `attempt_details` has each; `payload` is the envelope
/// exactly as sent.
pub fn delivery(d: &Delivery) -> api::webhooks::Delivery {
    api::webhooks::Delivery {
        id: id(&d.id),
        webhook_endpoint_id: id(&d.webhook_id),
        event_id: id(&d.event_id),
        event_type: d.event_type.clone(),
        state: match d.state {
            capydb_shared::domain::deliveries::DeliveryState::Pending => api::webhooks::DeliveryState::Pending,
            capydb_shared::domain::deliveries::DeliveryState::Delivered => api::webhooks::DeliveryState::Delivered,
            capydb_shared::domain::deliveries::DeliveryState::Failed => api::webhooks::DeliveryState::Failed,
        },
        attempts: d.attempts.len() as u32,
        response_status: d.attempts.last().and_then(|a| a.status_code),
        attempt_details: d
            .attempts
            .iter()
            .map(|a| api::webhooks::DeliveryAttempt {
                at: ts(a.at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                response_excerpt: a.response_excerpt.clone(),
            })
            .collect(),
        next_attempt_at: ts_opt(d.next_attempt_at),
        redelivery_of: id_opt(&d.redelivery_of),
        payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
        created_at: ts(d.created_at),
        completed_at: ts_opt(d.completed_at),
    }
}

/// An integration without its sealed token.
pub fn integration(i: &Integration) -> api::integrations::Integration {
    let (provider, target) = match i.provider {
        Provider::Vercel => (
            api::integrations::Provider::Vercel,
            api::integrations::IntegrationTarget {
                project_id: Some(i.target.id.clone()),
                team_id: i.target.team_id.clone(),
                site_id: None,
            },
        ),
        Provider::Netlify => (
            api::integrations::Provider::Netlify,
            api::integrations::IntegrationTarget {
                project_id: None,
                team_id: None,
                site_id: Some(i.target.id.clone()),
            },
        ),
    };
    api::integrations::Integration {
        provider,
        project_id: id(&i.project_id),
        target,
        env_vars: vec![integrations::ENV_POOLED.into(), integrations::ENV_DIRECT.into()],
        sync_state: match i.sync_state {
            SyncState::Never => api::integrations::SyncState::Never,
            SyncState::Pending => api::integrations::SyncState::Pending,
            SyncState::Synced => api::integrations::SyncState::Synced,
            SyncState::Failed => api::integrations::SyncState::Failed,
        },
        sync_reason: i.sync_reason.clone(),
        sync_attempts: i.sync_attempts,
        next_sync_at: ts_opt(i.next_sync_at),
        last_synced_at: ts_opt(i.last_synced_at),
        last_sync_error: i.last_sync_error.clone(),
        created_at: ts(i.created_at),
        updated_at: ts(i.updated_at),
    }
}

/// A page's items as views, and the cursor of the next page.
pub fn page<T, V>(page: &Page<T>, view: impl Fn(&T) -> V) -> (Vec<V>, Option<String>) {
    (page.items.iter().map(view).collect(), page.next_cursor.as_ref().map(|c| c.encode()))
}
