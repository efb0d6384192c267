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
