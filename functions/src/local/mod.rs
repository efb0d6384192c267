//! The local runtime: every API route, the stream workers and the schedules in one process,
//! against moto and real PostgreSQL. Handlers are called exactly as Lambda calls them.

pub(crate) mod dashboard;
pub mod demo;
pub mod filter;
mod providers;
pub mod scheduler;
mod server;
mod streams;
pub mod tasks;

use crate::workers::{self, SCHEDULES};
use capydb_shared::adapters::aws;
use capydb_shared::adapters::dynamo::Repository;
use capydb_shared::adapters::s3::S3ObjectStore;
use capydb_shared::services::Context;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// How often the stream pump polls DynamoDB Streams.
    pub stream_poll: Duration,
    /// Fire the scheduled functions on their timers (off in tests, which drive time themselves).
    pub schedules: bool,
    /// How often the per-project schedules are read back from the scheduler and fired.
    pub project_schedules_every: std::time::Duration,
    /// The built dashboard (`dashboard/dist`), served at every path outside `/v1`.
    pub dashboard: Option<std::path::PathBuf>,
    /// Environment the child processes standing in for container tasks get on top of this
    /// process's own (the tests' configuration, which is not in the process environment).
    pub task_env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: ([127, 0, 0, 1], 3000).into(),
            stream_poll: Duration::from_millis(250),
            schedules: true,
            project_schedules_every: Duration::from_secs(15),
            dashboard: None,
            task_env: Vec::new(),
        }
    }
}

pub struct Runtime {
    pub api_url: String,
    pub ctx: Context,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    started_tasks: std::sync::Arc<std::sync::Mutex<Vec<tasks::LocalTask>>>,
}

/// Creates the table and bucket if they are missing (SAM creates them in AWS).
pub async fn ensure_storage(ctx: &Context) -> anyhow::Result<()> {
    Repository::for_config(&ctx.config).await.create_table_if_missing().await?;
    let sdk = aws::sdk_config(&ctx.config).await;
    S3ObjectStore::new(aws::s3(&sdk, &ctx.config), ctx.config.bucket.clone()).create_bucket_if_missing().await?;
    S3ObjectStore::new(aws::s3(&sdk, &ctx.config), ctx.config.wal_bucket.clone()).create_bucket_if_missing().await?;
    ctx.scheduler.ensure_group().await?;
    Ok(())
}

impl Runtime {
    pub async fn start(mut ctx: Context, options: Options) -> anyhow::Result<Runtime> {
        ensure_storage(&ctx).await?;
        let child_tasks = tasks::ChildTasks::new(
            ctx.config.task.binary.clone(),
            ctx.config.scratch_dir.clone(),
            options.task_env.clone(),
        );
        let started_tasks = child_tasks.started();
        ctx.tasks = std::sync::Arc::new(child_tasks);
        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();

        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        let api_url = format!("http://{}", listener.local_addr()?);
        tasks.spawn(server::serve(listener, ctx.clone(), options.dashboard.clone(), cancel.clone()));

        let stream_arn = Repository::for_config(&ctx.config)
            .await
            .stream_arn()
            .await?
            .ok_or_else(|| anyhow::anyhow!("table {} has no stream", ctx.config.table))?;
        let sdk = aws::sdk_config(&ctx.config).await;
        tasks.spawn(streams::pump(
            ctx.clone(),
            aws::dynamodb_streams(&sdk),
            stream_arn,
            options.stream_poll,
            cancel.clone(),
        ));

        tasks.spawn(scheduler::fire(ctx.clone(), options.project_schedules_every, cancel.clone()));
        if options.schedules {
            for schedule in SCHEDULES {
                let (ctx, cancel) = (ctx.clone(), cancel.clone());
                tasks.spawn(async move {
                    let mut timer = tokio::time::interval(Duration::from_secs(schedule.every_seconds));
                    loop {
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = timer.tick() => {
                                if let Err(e) = workers::handle_sweep(&ctx, schedule.sweep).await {
                                    tracing::error!(function = schedule.function, error = %e, "scheduled run failed");
                                }
                            }
                        }
                    }
                });
            }
        }
        Ok(Runtime { api_url, ctx, cancel, tasks, started_tasks })
    }

    /// The container tasks this runtime started (as child processes), oldest first.
    pub fn started_tasks(&self) -> Vec<tasks::LocalTask> {
        self.started_tasks.lock().expect("task list").clone()
    }

    /// Stops everything at once, the way a killed process would: work in progress is dropped
    /// without finishing (child processes are killed with it).
    pub async fn kill(mut self) {
        self.cancel.cancel();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until Ctrl-C, then stops.
    pub async fn run_until_ctrl_c(self) {
        let _ = tokio::signal::ctrl_c().await;
        self.kill().await;
    }
}
