//! One measured step of our own code, run in a process of its own so that its peak RSS is what
//! a worker would use. Configuration comes from the same environment a Lambda reads.

use async_trait::async_trait;
use bytes::Bytes;
use capydb_shared::adapters::postgres::PostgresDataPlane;
use capydb_shared::auth::{Credential, Principal};
use capydb_shared::config::{Config, RegionConfig};
use capydb_shared::domain::backups::{object_key, Backup, BackupKind};
use capydb_shared::domain::jobs::{Job, JobType};
use capydb_shared::domain::previews::{PreviewName, TtlHours};
use capydb_shared::domain::restores::{RestoreSource, TargetKind};
use capydb_shared::domain::scopes::Scope;
use capydb_shared::ids::{ApiKeyId, BackupId, ProjectId};
use capydb_shared::ports::{BoxReader, ObjectStore, ObjectStoreError};
use capydb_shared::ports::{DataPlane, Login};
use capydb_shared::services::backup_pipeline::upload_dump;
use capydb_shared::services::jobs::{self, RunResult};
use capydb_shared::services::restores::{self, RestoreRequest};
use capydb_shared::services::Context;
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Subcommand, Clone, Debug)]
pub enum Step {
    /// A backup job from creation to completed: dump, compress, upload, verify.
    BackupJob { project: String },
    /// The job's steps before verification: dump → compress → checksum → multipart upload.
    BackupUpload { project: String },
    /// The parallel path's steps before verification: `pg_dump --format=directory --jobs`
    /// (`CAPYDB_DUMP_JOBS`), each file compressed, hashed and uploaded as it is finished.
    BackupUploadParallel { project: String },
    /// Dump → compress → checksum into a sink that only counts bytes (no object store).
    Pipeline { project: String },
    /// The streaming pipeline against any database, without the table or the emulator: for
    /// profiling the pipeline on its own (`perf record capydb-bench child pipeline-only …`).
    PipelineOnly { admin_url: String, database: String },
    /// A point-in-time restore job to the latest restorable moment, into a new preview database.
    PitrJob { project: String, preview_name: String },
    /// A restore job into a new preview database, from creation to completed.
    RestoreJob { project: String, backup_key: String, preview_name: String },
}

/// What a step reports to the orchestrator.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Measured {
    pub seconds: f64,
    pub peak_rss_kb: u64,
    pub archive_bytes: u64,
    /// The backup's object key (backup steps), or the new preview's database (restores).
    pub output: String,
}

pub async fn run(step: Step) -> anyhow::Result<()> {
    // The profiling step needs no table or bucket, so the context is built only for the others.
    let context = || async { anyhow::Ok(Context::from_config(Config::from_env()?).await) };
    let measured = match step {
        Step::BackupJob { project } => backup_job(&context().await?, &project).await?,
        Step::BackupUpload { project } => {
            let ctx = context().await?;
            backup_upload(&ctx, &project, ctx.objects.as_ref()).await?
        }
        Step::BackupUploadParallel { project } => backup_upload_parallel(&context().await?, &project).await?,
        Step::Pipeline { project } => backup_upload(&context().await?, &project, &CountingSink::default()).await?,
        Step::PipelineOnly { admin_url, database } => pipeline_only(admin_url, &database).await?,
        Step::RestoreJob { project, backup_key, preview_name } => {
            let source = RestoreSource::Backup(backup_key);
            restore_job(&context().await?, &project, source, &preview_name).await?
        }
        Step::PitrJob { project, preview_name } => {
            // A moment after the newest archived WAL is clamped to the latest restorable one.
            let source = RestoreSource::Time(chrono::Utc::now() + chrono::Duration::hours(1));
            restore_job(&context().await?, &project, source, &preview_name).await?
        }
    };
    println!("{}", serde_json::to_string(&Measured { peak_rss_kb: peak_rss_kb()?, ..measured })?);
    Ok(())
}

async fn pipeline_only(admin_url: String, database: &str) -> anyhow::Result<Measured> {
    let region = RegionConfig {
        name: "profile".into(),
        admin_url,
        public_host: String::new(),
        public_port: 0,
        pooled_port: None,
        wal_archiving: false,
        display_name: None,
        location: None,
    };
    let started = Instant::now();
    // The bench's own throwaway database: its admin may read it, as pg_dump's baseline does.
    let url = url::Url::parse(&region.admin_url)?;
    let login = Login { role: url.username().to_string(), password: url.password().unwrap_or_default().to_string() };
    let dump =
        PostgresDataPlane::new(None, 1, capydb_shared::adapters::scratch::Scratch::new(std::env::temp_dir(), None))
            .dump(&region, database, &login)
            .await?;
    let up = upload_dump(&CountingSink::default(), "profile", dump, &|_| {}).await?;
    Ok(Measured {
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kb: 0,
        archive_bytes: up.size_bytes,
        output: String::new(),
    })
}

async fn backup_job(ctx: &Context, project: &str) -> anyhow::Result<Measured> {
    let project = ctx.projects.get_project(&project.parse::<ProjectId>()?).await?.expect("bench project exists");
    let started = Instant::now();
    let now = ctx.clock.now();
    let mut job = Job::new(JobType::Backup, project.org_id.clone(), project.id.clone(), 1, now);
    let backup = Backup::new(
        BackupId::generate(),
        project.id.clone(),
        project.org_id.clone(),
        job.id.clone(),
        Some("bench".into()),
        BackupKind::OnDemand,
        project.database_name.clone(),
        now,
    );
    job.backup_id = Some(backup.id.clone());
    ctx.backups.create_backup(&backup, &job, None).await?;
    let result = jobs::run(ctx, &job.id).await?;
    let seconds = started.elapsed().as_secs_f64();
    let done = ctx.backups.get_backup(&project.id, &backup.id).await?.expect("backup record");
    anyhow::ensure!(matches!(result, RunResult::Completed), "backup job did not complete: {:?}", done.error);
    Ok(Measured {
        seconds,
        peak_rss_kb: 0,
        archive_bytes: done.size_bytes.unwrap_or(0),
        output: done.backup_key.unwrap_or_default(),
    })
}

async fn backup_upload(ctx: &Context, project: &str, objects: &dyn ObjectStore) -> anyhow::Result<Measured> {
    let project = ctx.projects.get_project(&project.parse::<ProjectId>()?).await?.expect("bench project exists");
    let region = ctx.region(&project.region)?;
    let key = object_key(&project.id, &BackupId::generate());
    let started = Instant::now();
    let login = capydb_shared::services::projects::login(ctx, &project)?;
    let dump = ctx.data_plane.dump(region, &project.database_name, &login).await?;
    let uploaded = upload_dump(objects, &key, dump, &|_| {}).await?;
    Ok(Measured {
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kb: 0,
        archive_bytes: uploaded.size_bytes,
        output: key,
    })
}

async fn backup_upload_parallel(ctx: &Context, project: &str) -> anyhow::Result<Measured> {
    use capydb_shared::services::directory_archive::{self, DumpSource};
    let project = ctx.projects.get_project(&project.parse::<ProjectId>()?).await?.expect("bench project exists");
    let region = ctx.region(&project.region)?;
    let prefix = capydb_shared::domain::backups::directory_prefix(&project.id, &BackupId::generate());
    let started = Instant::now();
    let login = capydb_shared::services::projects::login(ctx, &project)?;
    let source = DumpSource { region, database: &project.database_name, login: &login };
    let files = directory_archive::dump(
        ctx.data_plane.as_ref(),
        ctx.objects.as_ref(),
        &ctx.scratch(),
        source,
        &prefix,
        ctx.config.dump_jobs,
        &|_| {},
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    directory_archive::remove(ctx.objects.as_ref(), &prefix).await?;
    Ok(Measured { seconds, peak_rss_kb: 0, archive_bytes: files.iter().map(|f| f.size_bytes).sum(), output: prefix })
}

async fn restore_job(
    ctx: &Context,
    project: &str,
    source: RestoreSource,
    preview_name: &str,
) -> anyhow::Result<Measured> {
    let project = ctx.projects.get_project(&project.parse::<ProjectId>()?).await?.expect("bench project exists");
    let principal = Principal {
        org_id: project.org_id.clone(),
        credential: Credential::ApiKey {
            key_id: ApiKeyId::generate(),
            scopes: vec![Scope::BackupsRead, Scope::BackupsWrite],
            project_id: None,
        },
    };
    let request = RestoreRequest {
        source,
        target_kind: TargetKind::NewPreview,
        preview_id: None,
        preview_name: Some(PreviewName::parse(preview_name)?),
        ttl: TtlHours::parse(None)?,
        confirm_project_overwrite: false,
        allow_unverified_backup: false,
    };
    let started = Instant::now();
    let requested = restores::request(ctx, &principal, &project.id, request, None).await?;
    let result = jobs::run(ctx, &requested.job.id).await?;
    let seconds = started.elapsed().as_secs_f64();
    let done = ctx.restores.get_restore(&project.id, &requested.restore.id).await?.expect("restore record");
    anyhow::ensure!(matches!(result, RunResult::Completed), "restore job did not complete: {:?}", done.error);
    let preview = requested.preview.expect("a new preview");
    Ok(Measured { seconds, peak_rss_kb: 0, archive_bytes: 0, output: preview.database_name })
}

/// The process's high-water resident set size, as the kernel counted it.
fn peak_rss_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or_else(|| anyhow::anyhow!("no VmHWM"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

/// An object store whose uploads go nowhere: it only counts the bytes, so the pipeline's own
/// speed is measured without the emulator's.
#[derive(Default)]
struct CountingSink {
    bytes: AtomicU64,
}

#[async_trait]
impl ObjectStore for CountingSink {
    async fn start_upload(&self, _key: &str) -> Result<String, ObjectStoreError> {
        Ok("sink".into())
    }
    async fn upload_part(&self, _k: &str, _u: &str, n: u32, data: Bytes) -> Result<String, ObjectStoreError> {
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(format!("part-{n}"))
    }
    async fn complete_upload(&self, _k: &str, _u: &str, _p: Vec<(u32, String)>) -> Result<(), ObjectStoreError> {
        Ok(())
    }
    async fn abort_upload(&self, _k: &str, _u: &str) -> Result<(), ObjectStoreError> {
        Ok(())
    }
    async fn abort_stale_uploads(&self, _k: &str) -> Result<usize, ObjectStoreError> {
        Ok(0)
    }
    async fn put(&self, _k: &str, _b: Bytes, _c: &str) -> Result<(), ObjectStoreError> {
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<BoxReader, ObjectStoreError> {
        Err(ObjectStoreError::NotFound(key.into()))
    }
    async fn delete(&self, _k: &str) -> Result<(), ObjectStoreError> {
        Ok(())
    }
}
