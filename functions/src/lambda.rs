//! The entry of the `capydb-lambda` binary: it serves the function `CAPYDB_FUNCTION` names.

use crate::routes::{dispatch, route, RouteId};
use crate::targets::{self, Target, FUNCTION_VAR};
use crate::workers::{self, Worker};
use aws_lambda_events::event::dynamodb::Event;
use capydb_shared::adapters::local_instance;
use capydb_shared::config::Config;
use capydb_shared::services::Context;
use lambda_http::{service_fn, Request};
use lambda_runtime::LambdaEvent;
use std::future::Future;
use std::pin::Pin;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_current_span(false)
        .without_time()
        .try_init();
}

async fn context() -> Result<&'static Context, lambda_runtime::Error> {
    let config = Config::from_env()?;
    Ok(Box::leak(Box::new(Context::from_config(config).await)))
}

/// Serves the function the template names in `CAPYDB_FUNCTION` (its SAM logical id).
pub async fn serve_function() -> Result<(), lambda_runtime::Error> {
    let name = std::env::var(FUNCTION_VAR)
        .map_err(|_| format!("{FUNCTION_VAR} is not set; template.yaml sets it to each function's logical id"))?;
    if name == targets::TASK_FUNCTION {
        return serve_task().await;
    }
    let target = targets::target(&name)
        .ok_or_else(|| format!("{FUNCTION_VAR}={name} names no function; one of: {}", targets::names().join(", ")))?;
    // Boxed: one future type for the four, so no layout nests the whole dispatch in another.
    let serve: Pin<Box<dyn Future<Output = Result<(), lambda_runtime::Error>>>> = match target {
        Target::Route(id) => Box::pin(serve_route(id)),
        Target::Worker(worker) => Box::pin(serve_worker(worker)),
        Target::Sweep(sweep) => Box::pin(serve_sweeper(sweep)),
        Target::ScheduledBackup => Box::pin(serve_scheduled_backup()),
    };
    serve.await
}

/// Runs the one job a container task was started for (`CAPYDB_JOB_ID`), then exits: the task
/// claims the job, keeps its lease and finishes it as any worker does.
async fn serve_task() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let mut config = Config::from_env()?;
    if config.runner != capydb_shared::domain::runner::Runner::Task {
        return Err("the task entry runs with CAPYDB_RUNNER=task".into());
    }
    let job: capydb_shared::ids::JobId = config
        .task
        .job_id
        .as_deref()
        .ok_or("CAPYDB_JOB_ID is not set; the worker that starts a task sets it")?
        .parse()
        .map_err(|e| format!("CAPYDB_JOB_ID: {e}"))?;
    if config.task.own_arn.is_none() {
        config.task.own_arn = ecs_task_arn().await;
    }
    let swept = local_instance::sweep_abandoned(&config.scratch_dir, config.pg_bin_dir.as_deref());
    if swept > 0 {
        tracing::warn!(swept, "removed what an earlier run left in the scratch folder");
    }
    let ctx = Context::from_config(config).await;
    let result = capydb_shared::services::jobs::run(&ctx, &job).await?;
    tracing::info!(job = %job, ?result, task = ?ctx.config.task.own_arn, "task finished its job");
    Ok(())
}

/// The task's own ARN, from ECS's task metadata endpoint (absent outside ECS).
async fn ecs_task_arn() -> Option<String> {
    let base = std::env::var("ECS_CONTAINER_METADATA_URI_V4").ok()?;
    let body: serde_json::Value = reqwest::get(format!("{base}/task")).await.ok()?.json().await.ok()?;
    body.get("TaskARN").and_then(|v| v.as_str()).map(String::from)
}

/// Serves one API route.
async fn serve_route(id: RouteId) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let ctx = context().await?;
    tracing::info!(route = route(id).path, "starting");
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(dispatch(id, ctx, req).await)
    }))
    .await
}

/// Serves a stream function (a job worker or the completion function).
async fn serve_worker(worker: &'static Worker) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let ctx = context().await?;
    // An execution environment reused after a timeout still holds what the killed invocation
    // left in /tmp, which would fill the next one's scratch space.
    let swept = local_instance::sweep_abandoned(&ctx.config.scratch_dir, ctx.config.pg_bin_dir.as_deref());
    if swept > 0 {
        tracing::warn!(swept, "removed what a killed invocation left in the scratch folder");
    }
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, std::convert::Infallible>(workers::handle(worker, ctx, event.payload).await)
    }))
    .await
}

/// Serves a scheduled sweep.
async fn serve_sweeper(sweep: workers::Sweep) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let ctx = context().await?;
    lambda_runtime::run(lambda_runtime::service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        workers::handle_sweep(ctx, sweep).await.map_err(|e| lambda_runtime::Error::from(e.to_string()))
    }))
    .await
}

/// Serves the function the per-project daily schedules invoke.
async fn serve_scheduled_backup() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let ctx = context().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<workers::ScheduledBackupInput>| async move {
            workers::handle_scheduled_backup(ctx, event.payload)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        },
    ))
    .await
}
