//! Stream workers and scheduled functions. Like the routes, they are declared once here; the
//! local runtime applies the same stream filters and schedules, and a test holds them equal to
//! `template.yaml`.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use capydb_shared::domain::events::Event as OutboxEvent;
use capydb_shared::domain::jobs::JobType;
use capydb_shared::ids::JobId;
use capydb_shared::services::metrics::Unit;
use capydb_shared::services::{
    base_backups, completion, deliveries, integrations, jobs, nightly, previews, retention, schedules, sweeper, Context,
};
use serde::Deserialize;

/// What a stream function does with the records its filter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handles {
    /// Runs pending jobs of one type.
    Jobs(JobType),
    /// The completion function: fans outbox events out to webhooks and follow-ups.
    Events,
}

#[derive(Debug, Clone, Copy)]
pub struct Worker {
    pub function: &'static str,
    pub handles: Handles,
    /// Lambda event filter pattern (JSON) on the table's stream.
    pub filter: &'static str,
}

pub const WORKERS: &[Worker] = &[
    Worker {
        function: "BackupWorkerFunction",
        handles: Handles::Jobs(JobType::Backup),
        filter: r#"{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"type":{"S":["job"]},"job_type":{"S":["backup"]},"state":{"S":["pending"]}}}}"#,
    },
    Worker {
        function: "RestoreWorkerFunction",
        handles: Handles::Jobs(JobType::Restore),
        filter: r#"{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"type":{"S":["job"]},"job_type":{"S":["restore"]},"state":{"S":["pending"]}}}}"#,
    },
    Worker {
        function: "ProvisionWorkerFunction",
        handles: Handles::Jobs(JobType::ProvisionProject),
        filter: r#"{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"type":{"S":["job"]},"job_type":{"S":["provision_project"]},"state":{"S":["pending"]}}}}"#,
    },
    Worker {
        function: "CompletionFunction",
        handles: Handles::Events,
        filter: r#"{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["event"]}}}}"#,
    },
];

/// What a scheduled function sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Expired leases and unclaimed jobs.
    Jobs,
    /// Preview databases past their TTL.
    Previews,
    /// Backups past their retention.
    Retention,
    /// The platform's nightly dump of every project due.
    Nightly,
    /// Schedules whose expected run should have completed by now.
    MissedRuns,
    /// Webhook deliveries and integration pushes whose retry is due.
    Deliveries,
    /// A physical base backup of every WAL-archiving region cluster, then archive pruning.
    BaseBackups,
}

impl Sweep {
    pub fn name(self) -> &'static str {
        match self {
            Sweep::Jobs => "jobs",
            Sweep::Previews => "previews",
            Sweep::Retention => "retention",
            Sweep::Nightly => "nightly",
            Sweep::MissedRuns => "missed_runs",
            Sweep::Deliveries => "deliveries",
            Sweep::BaseBackups => "base_backups",
        }
    }
}

/// How far each archiving region's WAL archive is behind, every minute with the jobs sweep.
async fn archive_lag(ctx: &Context) {
    let Ok(regions) = capydb_shared::services::regions::list(ctx).await else { return };
    for r in regions.iter().filter(|r| r.wal_archiving) {
        // A region with nothing restorable yet (no base backup) reports `pitr_available: false`
        // instead; a lag is measured only against a window.
        let Some(lag) = r.pitr.archive_lag_seconds else { continue };
        let value = [("ArchiveLagSeconds", lag as f64, Unit::Seconds)];
        ctx.metrics.emit(ctx.clock.now(), &[("Region", &r.name)], &value, &[]);
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub sweep: Sweep,
    pub function: &'static str,
    /// EventBridge Scheduler expression.
    pub expression: &'static str,
    /// Seconds between firings, for the local runtime.
    pub every_seconds: u64,
}

pub const SCHEDULES: &[Schedule] = &[
    Schedule { sweep: Sweep::Jobs, function: "JobSweeperFunction", expression: "rate(1 minute)", every_seconds: 60 },
    Schedule {
        sweep: Sweep::Deliveries,
        function: "DeliveryRetryFunction",
        expression: "rate(1 minute)",
        every_seconds: 60,
    },
    Schedule {
        sweep: Sweep::Previews,
        function: "PreviewSweeperFunction",
        expression: "rate(5 minutes)",
        every_seconds: 300,
    },
    // Both read only what is due, so the local runtime may run them more often than AWS does.
    Schedule {
        sweep: Sweep::Nightly,
        function: "NightlyDumpFunction",
        expression: "cron(15 2 * * ? *)",
        every_seconds: 900,
    },
    Schedule {
        sweep: Sweep::MissedRuns,
        function: "MissedRunsFunction",
        expression: "rate(15 minutes)",
        every_seconds: 900,
    },
    // The local runtime takes one when it starts, so make dev has a PITR window at once.
    Schedule {
        sweep: Sweep::BaseBackups,
        function: "BaseBackupFunction",
        expression: "cron(0 4 * * ? *)",
        every_seconds: 86400,
    },
    Schedule {
        sweep: Sweep::Retention,
        function: "RetentionSweeperFunction",
        expression: "rate(1 hour)",
        every_seconds: 3600,
    },
];

/// The function each project's daily schedule invokes (its schedules live in the scheduler,
/// not in this table; the local runtime reads them back from there).
pub const SCHEDULED_BACKUP_FUNCTION: &str = "ScheduledBackupFunction";

/// Input of a project's schedule: our own JSON, not an EventBridge envelope.
#[derive(Debug, Deserialize)]
pub struct ScheduledBackupInput {
    pub project_id: capydb_shared::ids::ProjectId,
}

pub async fn handle_scheduled_backup(
    ctx: &Context,
    input: ScheduledBackupInput,
) -> Result<serde_json::Value, capydb_shared::Error> {
    let run = schedules::run(ctx, &input.project_id, ctx.clock.now()).await?;
    tracing::info!(project = %input.project_id, ?run, "scheduled backup");
    Ok(serde_json::json!({ "result": format!("{run:?}") }))
}

#[derive(Deserialize)]
struct JobKey {
    pk: String,
}

/// Runs `worker`'s handler on a batch.
pub async fn handle(worker: &Worker, ctx: &Context, event: Event) -> DynamoDbEventResponse {
    // Boxed: the two handlers' futures are deep, and one type holding both overflows rustc's
    // layout depth limit.
    match worker.handles {
        Handles::Jobs(_) => Box::pin(handle_stream(ctx, event)).await,
        Handles::Events => Box::pin(handle_events(ctx, event)).await,
    }
}

/// The completion function: each record is an outbox event. One that cannot be handled (the
/// store is down) is reported for a retry; repeating one is harmless.
pub async fn handle_events(ctx: &Context, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let outbox = match serde_dynamo::from_item::<_, OutboxEvent>(record.change.new_image.clone()) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(event_id = record.event_id, error = %e, "stream record is not an outbox event; skipped");
                continue;
            }
        };
        match completion::complete(ctx, &outbox).await {
            Ok(done) => tracing::info!(event = %outbox.id, kind = outbox.event_type, ?done, "event completed"),
            Err(e) => {
                tracing::error!(event = %outbox.id, error = %e, "event could not be completed; asking for a retry");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

/// Runs the job of each stream record. Records that hit an infrastructure error are reported
/// as batch item failures so Lambda retries just those; job-level failures are recorded on the
/// job itself and count as handled.
pub async fn handle_stream(ctx: &Context, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let job_id = serde_dynamo::from_item::<_, JobKey>(record.change.new_image.clone())
            .ok()
            .and_then(|k| k.pk.strip_prefix("JOB#").and_then(|id| id.parse::<JobId>().ok()));
        let Some(job_id) = job_id else {
            tracing::warn!(event_id = record.event_id, "stream record is not a job; skipped");
            continue;
        };
        match jobs::run(ctx, &job_id).await {
            Ok(result) => tracing::info!(job = %job_id, ?result, "stream record handled"),
            Err(e) => {
                tracing::error!(job = %job_id, error = %e, "job could not run; asking for a retry");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

pub async fn handle_sweep(ctx: &Context, sweep: Sweep) -> Result<serde_json::Value, capydb_shared::Error> {
    let now = ctx.clock.now();
    let report = match sweep {
        Sweep::Jobs => serde_json::json!(sweeper::sweep_jobs(ctx, now).await?),
        Sweep::Previews => serde_json::json!({ "previews_removed": previews::sweep_expired(ctx, now).await? }),
        Sweep::Retention => serde_json::json!(retention::sweep(ctx, now).await?),
        Sweep::Nightly => serde_json::json!(nightly::fan_out(ctx, now).await?),
        Sweep::MissedRuns => serde_json::json!({ "missed": schedules::check_missed(ctx, now).await? }),
        Sweep::BaseBackups => serde_json::json!({ "base_backups": base_backups::take_all(ctx).await? }),
        Sweep::Deliveries => serde_json::json!({
            "webhooks": deliveries::retry_due(ctx, now).await?,
            "integrations": integrations::retry_due(ctx, now).await?,
        }),
    };
    tracing::info!(?sweep, %report, "sweep done");
    let count = |field: &str| report[field].as_u64().unwrap_or(0) as f64;
    let mut values = vec![("SweepDuration", (ctx.clock.now() - now).num_milliseconds() as f64, Unit::Milliseconds)];
    match sweep {
        Sweep::Jobs => {
            values.push(("JobsRequeued", count("requeued"), Unit::Count));
            values.push(("JobsFailed", count("failed"), Unit::Count));
            values.push(("SweepLag", report["lag_seconds"].as_i64().unwrap_or(0) as f64, Unit::Seconds));
        }
        Sweep::MissedRuns => values.push(("BackupsMissed", count("missed"), Unit::Count)),
        _ => {}
    }
    ctx.metrics.emit(ctx.clock.now(), &[("Sweep", sweep.name())], &values, &[]);
    if sweep == Sweep::Jobs {
        archive_lag(ctx).await;
    }
    Ok(report)
}
