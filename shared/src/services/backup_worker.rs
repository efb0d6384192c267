//! The backup job: dump the project database into object storage, then prove the archive
//! restores by loading it into a throwaway database.

use super::backup_pipeline::{decompressing, upload_dump};
use super::directory_archive::{self, DirectoryError, DumpSource};
use super::job_work::{JobWork, Outcome, ProgressReporter};
use super::Context;
use crate::config::RegionConfig;
use crate::contract;
use crate::domain::backups::{
    directory_prefix, files_digest, manifest_key, object_key, ArchiveFile, Backup, BackupState, Manifest,
    VerificationState, FORMAT, FORMAT_DIRECTORY,
};
use crate::domain::events::Event;
use crate::domain::jobs::Job;
use crate::ports::{DataPlaneError, Login};
use crate::store::{RecordWrite, StoreError};
use crate::Error;

pub struct BackupWork;

#[async_trait::async_trait]
impl JobWork for BackupWork {
    async fn execute(&self, ctx: &Context, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error> {
        execute(ctx, job, progress).await
    }

    async fn abandoned(&self, ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
        abandoned(ctx, job, reason).await
    }
}

pub async fn execute(ctx: &Context, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error> {
    let Some(mut backup) = load(ctx, job).await? else {
        return Ok(Outcome {
            error: Some("the backup record no longer exists".into()),
            records: vec![],
            events: vec![],
        });
    };
    let project = ctx.projects.get_project(&job.project_id).await?.ok_or_else(|| Error::not_found("project"))?;
    let region = ctx.region(&project.region)?.clone();

    backup.state = BackupState::Running;
    backup.updated_at = ctx.clock.now();
    match ctx.backups.update_backup(&backup).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            return Ok(Outcome { error: Some("the backup record was deleted".into()), records: vec![], events: vec![] })
        }
        Err(e) => return Err(e.into()),
    }

    let login = super::projects::login(ctx, &project)?;
    match take(ctx, &region, &project.database_name, &login, &mut backup, progress).await {
        Err(reason) => Ok(failed(ctx, backup, format!("backup failed: {reason}"))),
        Ok(Taken::Verified) => {
            let now = ctx.clock.now();
            backup.state = BackupState::Completed;
            backup.completed_at = Some(now);
            backup.updated_at = now;
            let event = backup_event("backup.completed", &backup, job);
            Ok(Outcome { error: None, records: vec![RecordWrite::Backup(backup)], events: vec![event] })
        }
        Ok(Taken::VerificationFailed(reason)) => Ok(failed(ctx, backup, format!("verification failed: {reason}"))),
    }
}

/// How a taken backup's verification went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Verified,
    /// The archive is stored but does not restore; it stays (complete, salvageable by hand)
    /// and is never reported as a completed backup.
    VerificationFailed(String),
}

/// Dumps `database` (connected as `login`, the tenant's own role) into the backup's object,
/// writes its manifest and verifies it in a sandbox, filling in the record's key, size, checksum
/// and verification fields. `Err` when the backup could not be taken or its verification could
/// not run at all; a stored archive then stays with the failed record until it is deleted.
pub async fn take(
    ctx: &Context,
    region: &RegionConfig,
    database: &str,
    login: &Login,
    backup: &mut Backup,
    progress: &ProgressReporter,
) -> Result<Taken, String> {
    clear_earlier_attempt(ctx, backup).await.map_err(|e| e.to_string())?;
    progress.phase("dumping");
    let version = ctx.data_plane.server_version(region).await.map_err(|e| e.to_string())?;
    let on_bytes = |n: u64| progress.bytes(n);
    let stored = match ctx.config.dump_jobs {
        1 => store_custom(ctx, region, database, login, backup, &on_bytes).await?,
        jobs => store_directory(ctx, region, database, login, backup, jobs, &on_bytes).await?,
    };
    backup.backup_key = Some(stored.key.clone());
    backup.format = stored.format.into();
    backup.size_bytes = Some(stored.size_bytes);
    backup.dump_size_bytes = Some(stored.dump_bytes);
    backup.sha256 = Some(stored.sha256.clone());
    backup.postgres_version = Some(version.clone());
    let restore_hint = match stored.files.is_empty() {
        true => "zstd -dc <archive> | pg_restore --no-owner --dbname=<target>".into(),
        false => format!(
            "download every file under {}, `zstd -d --rm` each, then pg_restore --format=directory --jobs=<n> --no-owner --dbname=<target> <folder>",
            stored.key
        ),
    };
    let manifest = Manifest {
        backup_id: backup.id.clone(),
        project_id: backup.project_id.clone(),
        database_name: backup.database_name.clone(),
        format: backup.format.clone(),
        compression: backup.compression.clone(),
        postgres_version: version,
        size_bytes: stored.size_bytes,
        sha256: stored.sha256,
        dump_size_bytes: stored.dump_bytes,
        created_at: backup.created_at,
        restore_hint,
        files: stored.files,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    ctx.objects
        .put(&manifest_key(&backup.project_id, &backup.id), manifest_json.into(), "application/json")
        .await
        .map_err(|e| e.to_string())?;

    progress.phase("verifying");
    ctx.checkpoints.reached("backup.verifying").await;
    let result = verify(ctx, backup, &login.role).await;
    let now = ctx.clock.now();
    backup.updated_at = now;
    Ok(match result {
        // No sandbox, no verdict: the backup is not reported verified, and not blamed either.
        Err(Unverified::NoSandbox(reason)) => return Err(reason),
        Err(Unverified::Failed(reason)) => {
            backup.verification_state = VerificationState::Failed;
            backup.verification_error = Some(reason.clone());
            Taken::VerificationFailed(reason)
        }
        Ok(()) => {
            backup.verification_state = VerificationState::Verified;
            backup.verified_at = Some(now);
            Taken::Verified
        }
    })
}

async fn load(ctx: &Context, job: &Job) -> Result<Option<Backup>, Error> {
    match &job.backup_id {
        Some(id) => Ok(ctx.backups.get_backup(&job.project_id, id).await?),
        None => Ok(None),
    }
}

fn failed(ctx: &Context, mut backup: Backup, error: String) -> Outcome {
    let now = ctx.clock.now();
    backup.state = BackupState::Failed;
    backup.error = Some(error.clone());
    backup.completed_at = Some(now);
    backup.updated_at = now;
    let event = Event::new(
        "backup.failed",
        backup.org_id.clone(),
        Some(backup.project_id.clone()),
        now,
        contract::data(&capydb_api::events::BackupFailedData {
            project_id: backup.project_id.to_string(),
            job_id: backup.job_id.to_string(),
            backup_id: backup.id.to_string(),
            label: backup.label.clone(),
            kind: backup.kind.into(),
            error: error.clone(),
            verification_state: backup.verification_state.into(),
        }),
    );
    Outcome { error: Some(error), records: vec![RecordWrite::Backup(backup)], events: vec![event] }
}

fn backup_event(kind: &str, backup: &Backup, job: &Job) -> Event {
    Event::new(
        kind,
        backup.org_id.clone(),
        Some(backup.project_id.clone()),
        backup.updated_at,
        contract::data(&capydb_api::events::BackupCompletedData {
            project_id: backup.project_id.to_string(),
            job_id: job.id.to_string(),
            backup_id: backup.id.to_string(),
            backup_key: backup.backup_key.clone(),
            label: backup.label.clone(),
            kind: backup.kind.into(),
            size_bytes: backup.size_bytes,
            sha256: backup.sha256.clone(),
            verification_state: backup.verification_state.into(),
            duration_ms: job.started_at.map(|s| (backup.updated_at - s).num_milliseconds()),
        }),
    )
}

/// What a dump stored: one archive object, or a directory archive's files under a prefix.
struct Stored {
    key: String,
    format: &'static str,
    size_bytes: u64,
    dump_bytes: u64,
    sha256: String,
    files: Vec<ArchiveFile>,
}

/// A previous attempt that died mid-upload left parts behind, or files of a directory archive
/// it did not finish; they are ours to clear, whichever format that attempt took (a Lambda run
/// streams, a task it was handed to dumps a directory).
async fn clear_earlier_attempt(ctx: &Context, backup: &Backup) -> Result<(), crate::ports::ObjectStoreError> {
    let key = object_key(&backup.project_id, &backup.id);
    let stale = ctx.objects.abort_stale_uploads(&key).await?;
    if stale > 0 {
        tracing::info!(key, stale, "aborted multipart uploads of an earlier attempt");
    }
    directory_archive::remove(ctx.objects.as_ref(), &directory_prefix(&backup.project_id, &backup.id)).await
}

/// One stream: `pg_dump --format=custom` → zstd → one multipart upload.
async fn store_custom(
    ctx: &Context,
    region: &RegionConfig,
    database: &str,
    login: &Login,
    backup: &Backup,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<Stored, String> {
    let key = object_key(&backup.project_id, &backup.id);
    let dump = ctx.data_plane.dump(region, database, login).await.map_err(|e| e.to_string())?;
    let uploaded = upload_dump(ctx.objects.as_ref(), &key, dump, on_bytes).await.map_err(|e| e.to_string())?;
    Ok(Stored {
        key,
        format: FORMAT,
        size_bytes: uploaded.size_bytes,
        dump_bytes: uploaded.dump_bytes,
        sha256: uploaded.sha256,
        files: Vec::new(),
    })
}

/// `jobs` parallel streams: a directory-format dump, each file its own object. A failed dump
/// leaves nothing under its prefix.
async fn store_directory(
    ctx: &Context,
    region: &RegionConfig,
    database: &str,
    login: &Login,
    backup: &Backup,
    jobs: u32,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<Stored, String> {
    let prefix = directory_prefix(&backup.project_id, &backup.id);
    let source = DumpSource { region, database, login };
    let dumped = directory_archive::dump(
        ctx.data_plane.as_ref(),
        ctx.objects.as_ref(),
        &ctx.scratch(),
        source,
        &prefix,
        jobs,
        on_bytes,
    )
    .await;
    let files = match dumped {
        Ok(files) => files,
        Err(e) => {
            if let Err(left) = directory_archive::remove(ctx.objects.as_ref(), &prefix).await {
                tracing::error!(prefix, error = %left, "could not remove a failed directory dump's files");
            }
            return Err(e.to_string());
        }
    };
    Ok(Stored {
        key: prefix,
        format: FORMAT_DIRECTORY,
        size_bytes: files.iter().map(|f| f.size_bytes).sum(),
        dump_bytes: files.iter().map(|f| f.dump_bytes).sum(),
        sha256: files_digest(&files),
        files,
    })
}

enum Unverified {
    /// The archive did not restore, or its stored bytes differ from what was uploaded.
    Failed(String),
    /// The sandbox could not be set up: nothing is known about the archive.
    NoSandbox(String),
}

/// Restores the stored archive, read back from object storage with its SHA-256 checked on the
/// way, in a throw-away sandbox instance (never on a region cluster), as an unprivileged role
/// named like the tenant's.
async fn verify(ctx: &Context, backup: &Backup, role: &str) -> Result<(), Unverified> {
    if backup.is_directory() {
        return verify_directory(ctx, backup, role).await;
    }
    let key = backup.backup_key.clone().ok_or(Unverified::Failed("backup has no archive".into()))?;
    let stored = ctx.objects.get(&key).await.map_err(|e| Unverified::Failed(e.to_string()))?;
    let (archive, digest) = decompressing(stored);
    match ctx.data_plane.verify(archive, backup.dump_size_bytes, role).await {
        Ok(()) => {}
        Err(e @ DataPlaneError::Sandbox(_)) => return Err(Unverified::NoSandbox(e.to_string())),
        Err(e) => return Err(Unverified::Failed(e.to_string())),
    }
    let (sha256, size) = digest.finish();
    if Some(&sha256) != backup.sha256.as_ref() || Some(size) != backup.size_bytes {
        return Err(Unverified::Failed(format!(
            "stored archive does not match what was uploaded (sha256 {sha256}, {size} bytes)"
        )));
    }
    Ok(())
}

/// As [`verify`], for a directory archive: its files are fetched (each checked against the
/// manifest) and restored with parallel jobs in the sandbox.
async fn verify_directory(ctx: &Context, backup: &Backup, role: &str) -> Result<(), Unverified> {
    let jobs = ctx.config.restore_jobs;
    let fetched =
        match directory_archive::fetch(ctx.objects.as_ref(), &ctx.scratch(), backup, jobs, "verify the backup").await {
            Ok(fetched) => fetched,
            Err(e @ (DirectoryError::NoRoom(_) | DirectoryError::Scratch(_))) => {
                return Err(Unverified::NoSandbox(e.to_string()))
            }
            Err(e) => return Err(Unverified::Failed(e.to_string())),
        };
    match ctx.data_plane.verify_directory(fetched.folder.path(), fetched.dump_bytes, role).await {
        Ok(()) => Ok(()),
        Err(e @ DataPlaneError::Sandbox(_)) => Err(Unverified::NoSandbox(e.to_string())),
        Err(e) => Err(Unverified::Failed(e.to_string())),
    }
}

/// A backup job that will not run again: the record says failed, and why.
pub async fn abandoned(ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
    match load(ctx, job).await? {
        Some(backup) => Ok(failed(ctx, backup, reason.to_string())),
        None => Ok(Outcome { error: Some(reason.to_string()), records: vec![], events: vec![] }),
    }
}
