//! The restore job. Data goes into a staging database first, streamed from S3 with its SHA-256
//! checked; only when that fully succeeded does the target change:
//! * new preview: the staging database becomes the preview's database;
//! * existing preview: staging and the preview's database swap in one transaction, the old
//!   data is dropped;
//! * project: staging and production swap in one transaction; the old production database is
//!   kept as a safety copy, dumped into a verified `pre_restore` backup (restorable like any
//!   other, kept 7 days), and dropped only once that backup verified.
//!
//! On any failure the staging database is dropped and the target is left as it was.

use super::archive_catalogue;
use super::backup_pipeline::decompressing;
use super::backup_worker::{self, Taken};
use super::directory_archive;
use super::job_work::{JobWork, Outcome, ProgressReporter};
use super::wal_archive::HelperConfig;
use super::{projects, Context};
use crate::adapters::recovery::{RecoveryInstance, RecoverySpec};
use crate::config::RegionConfig;
use crate::contract;
use crate::domain::backups::{Backup, BackupKind, BackupState, VerificationState};
use crate::domain::events::Event;
use crate::domain::jobs::Job;
use crate::domain::previews::{PreviewDatabase, PreviewState};
use crate::domain::projects::Project;
use crate::domain::restores::{
    safety_database, staging_database, PitrSource, Restore, RestoreState, RestoreStep, TargetKind,
    SAFETY_RETENTION_DAYS,
};
use crate::domain::retry::{self, RetryClass};
use crate::ids::BackupId;
use crate::ports::{DataPlaneError, Login, ObjectStoreError};
use crate::store::{JobCondition, RecordWrite, LIFECYCLE_LOCK, PITR_LOCK};
use crate::Error;
use capydb_api::events;
use chrono::Duration;

struct Loaded {
    restore: Restore,
    project: Project,
    region: RegionConfig,
    preview: Option<PreviewDatabase>,
}

async fn load(ctx: &Context, job: &Job) -> Result<Option<Loaded>, Error> {
    let Some(id) = &job.restore_id else { return Ok(None) };
    let Some(restore) = ctx.restores.get_restore(&job.project_id, id).await? else { return Ok(None) };
    let project = ctx.projects.get_project(&job.project_id).await?.ok_or_else(|| Error::not_found("project"))?;
    let region = ctx.region(&project.region)?.clone();
    let preview = match &restore.preview_id {
        Some(p) => ctx.previews.get_preview(p).await?,
        None => None,
    };
    Ok(Some(Loaded { restore, project, region, preview }))
}

pub struct RestoreWork;

#[async_trait::async_trait]
impl JobWork for RestoreWork {
    async fn execute(&self, ctx: &Context, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error> {
        execute(ctx, job, progress).await
    }

    async fn abandoned(&self, ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
        abandoned(ctx, job, reason).await
    }
}

pub async fn execute(ctx: &Context, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error> {
    let Some(mut l) = load(ctx, job).await? else {
        return Ok(Outcome {
            error: Some("the restore record no longer exists".into()),
            records: vec![],
            events: vec![],
        });
    };
    l.restore.state = RestoreState::Running;
    l.restore.started_at.get_or_insert(ctx.clock.now());
    let staging = staging_database(&l.restore.id);

    // A retried attempt whose predecessor died after the swap must not swap again: the data is
    // in place, and only the steps after the swap remain.
    if swap_done(ctx, &l).await? {
        tracing::warn!(restore = %l.restore.id, step = ?l.restore.step, "resuming after a completed swap");
        return after_swap(ctx, l, job, progress).await;
    }
    // One that died between closing the target and swapping left it closed to connections.
    if job.attempts > 1 {
        reopen_target(ctx, &l).await?;
    }

    let staged = stage(ctx, &l, &staging, progress).await;
    if let Err(reason) = staged {
        if let Err(e) = ctx.data_plane.drop_database(&l.region, &staging).await {
            tracing::error!(database = staging, error = %e, "could not drop staging database");
        }
        return Ok(failed(ctx, l, reason));
    }

    ctx.checkpoints.reached("restore.staged").await;
    // From here on a cancellation is refused: this write and a cancellation request cannot
    // both succeed, so the swap below never starts once someone asked to stop, and never stops
    // half-way because someone asked later.
    l.restore.step = RestoreStep::Swapping;
    let owner = JobCondition::OwnedBy { worker: ctx.config.worker_id.clone(), attempts: job.attempts };
    let recorded = ctx.jobs.record_progress_uncancelled(job, &owner, &[RecordWrite::Restore(l.restore.clone())]).await;
    if !matches!(recorded, Ok(true)) {
        // Whatever happens next (a retry on a store fault, a cancellation), staging is not kept.
        let _ = ctx.data_plane.drop_database(&l.region, &staging).await;
        recorded?;
        return Err(Error::Conflict {
            message: "the restore was cancelled, or taken over, before its swap".into(),
            job_id: Some(job.id.to_string()),
        });
    }
    progress.phase("swapping");
    if let Err(e) = swap(ctx, &l, &staging).await {
        let _ = ctx.data_plane.drop_database(&l.region, &staging).await;
        reopen_target(ctx, &l).await?;
        return Ok(failed(ctx, l, format!("could not put the restored data in place: {e}")));
    }
    ctx.checkpoints.reached("restore.swapped").await;
    after_swap(ctx, l, job, progress).await
}

/// The database the restored data replaces (none for a new preview).
fn target_database(l: &Loaded) -> Option<String> {
    match l.restore.target_kind {
        TargetKind::NewPreview => None,
        TargetKind::Preview => l.preview.as_ref().map(|p| p.database_name.clone()),
        TargetKind::Project => Some(l.project.database_name.clone()),
    }
}

/// Where the replaced data goes in the swap.
fn kept_database(l: &Loaded) -> String {
    match l.restore.target_kind {
        TargetKind::Project => safety_database(&l.restore.id),
        _ => format!("capydb_old_{}", l.restore.id),
    }
}

async fn reopen_target(ctx: &Context, l: &Loaded) -> Result<(), Error> {
    if let Some(db) = target_database(l) {
        ctx.data_plane.open_database(&l.region, &db).await?;
    }
    Ok(())
}

/// Puts staging in the target's place: the target is closed to sessions, then one transaction
/// renames it away and staging in.
async fn swap(ctx: &Context, l: &Loaded, staging: &str) -> Result<(), DataPlaneError> {
    // `stage` refused a preview target whose preview is gone; it may have gone since.
    let gone = || DataPlaneError::Sql("the target preview database no longer exists".into());
    if l.restore.target_kind == TargetKind::NewPreview {
        let preview = l.preview.as_ref().ok_or_else(gone)?;
        return ctx.data_plane.rename_database(&l.region, staging, &preview.database_name).await;
    }
    let live = target_database(l).ok_or_else(gone)?;
    ctx.data_plane.close_database(&l.region, &live).await?;
    ctx.checkpoints.reached("restore.closed").await;
    ctx.data_plane.swap_databases(&l.region, &live, staging, &kept_database(l)).await
}

/// Whether an earlier attempt already put the data in place: its record says so, or the swap's
/// trace is on the cluster (the new preview's database, or the replaced data under its kept
/// name, which exists from the swap's commit until the step after it is recorded).
async fn swap_done(ctx: &Context, l: &Loaded) -> Result<bool, Error> {
    if l.restore.step >= RestoreStep::Swapped {
        return Ok(true);
    }
    let trace = match l.restore.target_kind {
        TargetKind::NewPreview => l.preview.as_ref().map(|p| p.database_name.clone()),
        _ => Some(kept_database(l)),
    };
    match trace {
        Some(db) => Ok(ctx.data_plane.database_exists(&l.region, &db).await?),
        None => Ok(false),
    }
}

/// Writes the restore's progress (and the safety backup's record) while the job is still ours.
async fn record(ctx: &Context, job: &Job, records: Vec<RecordWrite>) -> Result<(), Error> {
    let owner = JobCondition::OwnedBy { worker: ctx.config.worker_id.clone(), attempts: job.attempts };
    if ctx.jobs.record_progress(job, &owner, &records).await? {
        Ok(())
    } else {
        Err(Error::Internal("the job was taken over by another attempt".into()))
    }
}

/// What follows the swap: dropping a preview's old data, or the project's safety copy.
async fn after_swap(ctx: &Context, mut l: Loaded, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error> {
    match l.restore.target_kind {
        TargetKind::NewPreview => {}
        TargetKind::Preview => {
            if l.restore.step < RestoreStep::Swapped {
                l.restore.step = RestoreStep::Swapped;
                record(ctx, job, vec![RecordWrite::Restore(l.restore.clone())]).await?;
            }
            // A drop that fails (the cluster briefly unreachable) fails the attempt: the retry
            // resumes here, after the swap, and drops it then, instead of leaving it for good.
            ctx.data_plane.drop_database(&l.region, &kept_database(&l)).await?;
        }
        TargetKind::Project => keep_safety_copy(ctx, &mut l, job, progress).await?,
    }
    Ok(completed(ctx, l, Vec::new()))
}

/// The old production data (now the safety database) becomes a `pre_restore` backup. Its record
/// exists, with the swap recorded, before any work on it; its outcome is recorded before the
/// safety database is dropped, which happens only once that backup verified. So a crash at any
/// point leaves either the database or a verified backup of it, and always the record.
async fn keep_safety_copy(ctx: &Context, l: &mut Loaded, job: &Job, progress: &ProgressReporter) -> Result<(), Error> {
    let safety = safety_database(&l.restore.id);
    let mut backup = match &l.restore.safety_backup_id {
        Some(id) => ctx
            .backups
            .get_backup(&l.project.id, id)
            .await?
            .ok_or_else(|| Error::Internal(format!("the safety backup {id} has no record")))?,
        None => {
            let backup = safety_backup(ctx, l, job);
            l.restore.safety_backup_id = Some(backup.id.clone());
            l.restore.step = RestoreStep::Swapped;
            record(ctx, job, vec![RecordWrite::NewBackup(backup.clone()), RecordWrite::Restore(l.restore.clone())])
                .await?;
            backup
        }
    };
    if l.restore.step < RestoreStep::SafetyRecorded {
        backup.state = BackupState::Running;
        progress.phase("saving safety copy");
        let taken = match projects::login(ctx, &l.project) {
            Ok(login) => backup_worker::take(ctx, &l.region, &safety, &login, &mut backup, progress).await,
            Err(e) => Err(e.to_string()),
        };
        let now = ctx.clock.now();
        backup.updated_at = now;
        backup.completed_at = Some(now);
        match taken {
            Ok(Taken::Verified) => backup.state = BackupState::Completed,
            // A fault that may pass (a dropped connection, S3 slowing down) is retried: the next
            // attempt resumes here, at the swapped step, and takes the copy again. Once the job
            // has no attempt left, `abandoned` records the copy failed and keeps the database.
            Err(reason) if retry::classify(&reason) == RetryClass::Transient => {
                return Err(Error::Internal(format!("the safety copy of the replaced data failed: {reason}")));
            }
            Ok(Taken::VerificationFailed(reason)) | Err(reason) => {
                tracing::error!(restore = %l.restore.id, reason, "safety backup failed; safety database kept");
                safety_kept(&mut backup, &reason, &safety);
            }
        }
        l.restore.step = RestoreStep::SafetyRecorded;
        record(ctx, job, vec![RecordWrite::Backup(backup.clone()), RecordWrite::Restore(l.restore.clone())]).await?;
        ctx.checkpoints.reached("restore.safety_recorded").await;
    }
    if backup.state == BackupState::Completed {
        // As for a preview's old data: a failed drop is retried after the recorded copy.
        ctx.data_plane.drop_database(&l.region, &safety).await?;
        ctx.checkpoints.reached("restore.safety_dropped").await;
    }
    Ok(())
}

fn safety_backup(ctx: &Context, l: &Loaded, job: &Job) -> Backup {
    let now = ctx.clock.now();
    let mut backup = Backup::new(
        BackupId::generate(),
        l.project.id.clone(),
        l.project.org_id.clone(),
        job.id.clone(),
        Some(format!("before restore {}", l.restore.id)),
        BackupKind::PreRestore,
        l.project.database_name.clone(),
        now,
    );
    backup.expires_at = Some(now + Duration::days(SAFETY_RETENTION_DAYS));
    backup
}

/// A safety backup that could not be taken: the data it should hold stays on the cluster.
fn safety_kept(backup: &mut Backup, reason: &str, safety: &str) {
    backup.state = BackupState::Failed;
    backup.error = Some(format!("{reason}; the previous data is kept on the cluster as database {safety}"));
    if backup.verification_state == VerificationState::Pending {
        backup.verification_state = VerificationState::Failed;
    }
}

/// Restores the source into a fresh staging database owned by the target's role, connected as
/// that role: the archive's code runs with the target tenant's privileges and no more.
async fn stage(ctx: &Context, l: &Loaded, staging: &str, progress: &ProgressReporter) -> Result<(), String> {
    let owner = match (l.restore.target_kind, &l.preview) {
        (TargetKind::Project, _) => projects::login(ctx, &l.project).map_err(|e| e.to_string())?,
        (_, Some(p)) => {
            let password = ctx.secrets.open(&p.db_password_enc).map_err(|e| e.to_string())?;
            ctx.data_plane.ensure_role(&l.region, &p.db_username, &password).await.map_err(|e| e.to_string())?;
            Login { role: p.db_username.clone(), password }
        }
        (_, None) => return Err("the target preview database no longer exists".into()),
    };
    ctx.data_plane.drop_database(&l.region, staging).await.map_err(|e| e.to_string())?;
    ctx.data_plane.create_database(&l.region, staging, &owner.role).await.map_err(|e| e.to_string())?;
    match &l.restore.pitr {
        Some(pitr) => stage_pitr(ctx, l, pitr, staging, &owner, progress).await,
        None => stage_backup(ctx, l, staging, &owner, progress).await,
    }
}

async fn stage_backup(
    ctx: &Context,
    l: &Loaded,
    staging: &str,
    owner: &Login,
    progress: &ProgressReporter,
) -> Result<(), String> {
    let (Some(backup_id), Some(key)) = (&l.restore.source_backup_id, &l.restore.source_backup_key) else {
        return Err("the restore names no backup".into());
    };
    let backup = ctx
        .backups
        .get_backup(&l.project.id, backup_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("backup {backup_id} no longer exists"))?;
    progress.phase("restoring");
    if backup.is_directory() {
        // Every file is fetched and checked against the manifest before pg_restore reads any.
        let jobs = ctx.config.restore_jobs;
        let fetched =
            directory_archive::fetch(ctx.objects.as_ref(), &ctx.scratch(), &backup, jobs, "restore the backup")
                .await
                .map_err(|e| format!("{e}; nothing was changed"))?;
        return ctx
            .data_plane
            .restore_directory(&l.region, staging, fetched.folder.path(), owner)
            .await
            .map_err(|e| e.to_string());
    }
    let stored = ctx.objects.get(key).await.map_err(|e| match e {
        ObjectStoreError::NotFound(key) => format!("the backup archive {key} is missing from object storage"),
        other => other.to_string(),
    })?;
    let (archive, digest) = decompressing(stored);
    ctx.data_plane
        .restore(&l.region, staging, archive, backup.dump_size_bytes, owner)
        .await
        .map_err(|e| e.to_string())?;
    let (sha256, size) = digest.finish();
    if Some(&sha256) != backup.sha256.as_ref() || Some(size) != backup.size_bytes {
        return Err(format!(
            "the stored archive does not match the backup's checksum (expected sha256 {}, got {sha256}); nothing was changed",
            backup.sha256.as_deref().unwrap_or("?")
        ));
    }
    Ok(())
}

/// Point-in-time: a temporary recovery instance replays the archive to the target, and the
/// project's database is dumped from it straight into staging. The instance and its files are
/// removed whatever happens.
async fn stage_pitr(
    ctx: &Context,
    l: &Loaded,
    pitr: &PitrSource,
    staging: &str,
    owner: &Login,
    progress: &ProgressReporter,
) -> Result<(), String> {
    let store = ctx.wal_objects.as_ref();
    let base = archive_catalogue::get(store, &l.region.name, &pitr.base_backup_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("base backup {} is no longer in the archive", pitr.base_backup_id))?;
    progress.phase("recovering");
    let stored = store.get(&base.key).await.map_err(|e| e.to_string())?;
    let (tar, digest) = decompressing(stored);
    let helper_config = serde_json::to_string(&HelperConfig {
        bucket: ctx.config.wal_bucket.clone(),
        region: l.region.name.clone(),
        aws_region: ctx.config.aws_region.clone(),
        endpoint_url: ctx.config.endpoint_url.clone(),
        create_bucket: false,
    })
    .map_err(|e| e.to_string())?;
    let instance = RecoveryInstance::start(RecoverySpec {
        pg_bin_dir: ctx.config.pg_bin_dir.as_deref(),
        scratch_dir: &ctx.config.scratch_dir,
        base_tar: tar,
        helper: &ctx.config.wal_helper,
        helper_config,
        target: &pitr.target,
        source: &l.region,
    })
    .await
    .map_err(|e| format!("point-in-time recovery from base backup {} failed: {e}", base.id))?;
    let result = async {
        let (sha256, size) = digest.finish();
        if sha256 != base.sha256 || size != base.size_bytes {
            return Err(format!("base backup {} does not match its checksum", base.id));
        }
        progress.phase("restoring");
        // Out of the copy as the project's own role (the copy is a whole cluster; its
        // superuser only resets that role's password there).
        let reader = instance.login(&l.project.db_username).await.map_err(|e| e.to_string())?;
        let dump = ctx
            .data_plane
            .dump(instance.region(), &l.project.database_name, &reader)
            .await
            .map_err(|e| e.to_string())?;
        ctx.checkpoints.reached("restore.pitr_dumping").await;
        let restored = ctx.data_plane.restore(&l.region, staging, dump.reader, None, owner).await;
        let dumped = dump.finished.await;
        dumped.map_err(|e| format!("reading the recovered database failed: {e}"))?;
        restored.map_err(|e| e.to_string())
    }
    .await;
    instance.remove().await;
    result
}

fn restore_event(kind: &str, l: &Loaded, now: chrono::DateTime<chrono::Utc>) -> Event {
    Event::new(
        kind,
        l.project.org_id.clone(),
        Some(l.project.id.clone()),
        now,
        contract::data(&events::RestoreEventData {
            project_id: l.project.id.to_string(),
            job_id: l.restore.job_id.to_string(),
            restore_id: l.restore.id.to_string(),
            source: events::RestoreSource {
                kind: l.restore.source_kind.clone(),
                backup_id: l.restore.source_backup_id.as_ref().map(ToString::to_string),
                backup_key: l.restore.source_backup_key.clone(),
                restore_time: contract::ts_opt(l.restore.pitr.as_ref().map(|p| p.restore_time)),
            },
            target: events::RestoreTarget {
                kind: l.restore.target_kind.into(),
                preview_id: l.restore.preview_id.as_ref().map(ToString::to_string),
            },
            safety_backup_id: l.restore.safety_backup_id.as_ref().map(ToString::to_string),
            error: l.restore.error.clone(),
            duration_ms: l.restore.started_at.map(|s| (now - s).num_milliseconds()),
        }),
    )
}

fn completed(ctx: &Context, mut l: Loaded, mut records: Vec<RecordWrite>) -> Outcome {
    let now = ctx.clock.now();
    l.restore.state = RestoreState::Completed;
    l.restore.completed_at = Some(now);
    l.restore.updated_at = now;
    let mut events = vec![restore_event("restore.completed", &l, now)];
    if let Some(mut p) = l.preview.take() {
        if p.state == PreviewState::Creating {
            events.push(Event::new(
                "preview.ready",
                p.org_id.clone(),
                Some(p.project_id.clone()),
                now,
                contract::data(&events::PreviewReadyData {
                    project_id: p.project_id.to_string(),
                    preview_id: p.id.to_string(),
                    name: p.name.clone(),
                    restore_id: l.restore.id.to_string(),
                    ttl_expires_at: contract::ts(p.ttl_expires_at),
                }),
            ));
        }
        p.state = PreviewState::Ready;
        p.source_kind = Some(l.restore.source_kind.clone());
        p.source_backup_key = l.restore.source_backup_key.clone();
        p.source_restore_time = l.restore.pitr.as_ref().map(|p| p.restore_time);
        p.error = None;
        p.updated_at = now;
        records.push(RecordWrite::Preview(p));
    }
    // The seam for follow-ups (deployment integrations re-pushing env vars) is the
    // `restore.completed` event: the completion function acts on it.
    records.extend(lock_releases(&l));
    records.push(RecordWrite::Restore(l.restore));
    Outcome { error: None, records, events }
}

/// The locks this restore took when it was requested (and only those: another job may hold one
/// it did not take, and the finishing transaction must not depend on that).
fn lock_releases(l: &Loaded) -> Vec<RecordWrite> {
    let took =
        [(l.restore.target_kind != TargetKind::NewPreview, LIFECYCLE_LOCK), (l.restore.pitr.is_some(), PITR_LOCK)];
    took.into_iter()
        .filter(|(took, _)| *took)
        .map(|(_, lock)| RecordWrite::ReleaseLock {
            project_id: l.project.id.clone(),
            job_id: l.restore.job_id.clone(),
            lock,
        })
        .collect()
}

fn failed(ctx: &Context, mut l: Loaded, reason: String) -> Outcome {
    let now = ctx.clock.now();
    l.restore.state = RestoreState::Failed;
    l.restore.error = Some(reason.clone());
    l.restore.completed_at = Some(now);
    l.restore.updated_at = now;
    let events = vec![restore_event("restore.failed", &l, now)];
    let mut records = Vec::new();
    if let Some(mut p) = l.preview.take() {
        // A preview that never got data has failed; one that had data keeps it, and is ready
        // (no longer `restoring`) again.
        if p.state == PreviewState::Creating {
            p.state = PreviewState::Failed;
            p.error = Some(reason.clone());
        } else {
            p.state = PreviewState::Ready;
        }
        p.updated_at = now;
        records.push(RecordWrite::Preview(p));
    }
    records.extend(lock_releases(&l));
    records.push(RecordWrite::Restore(l.restore));
    Outcome { error: Some(reason), records, events }
}

/// A restore job that will not run again. Before the swap, staging is dropped and the target
/// reopened, as it was. After it, the target holds the restored data, so the restore completed;
/// a safety copy it did not finish is recorded as failed, its data kept on the cluster.
pub async fn abandoned(ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
    let Some(mut l) = load(ctx, job).await? else {
        return Ok(Outcome { error: Some(reason.to_string()), records: vec![], events: vec![] });
    };
    if !swap_done(ctx, &l).await? {
        let _ = ctx.data_plane.drop_database(&l.region, &staging_database(&l.restore.id)).await;
        reopen_target(ctx, &l).await?;
        return Ok(failed(ctx, l, reason.to_string()));
    }
    let mut records = Vec::new();
    if l.restore.target_kind == TargetKind::Project && l.restore.step < RestoreStep::SafetyRecorded {
        let safety = safety_database(&l.restore.id);
        let unfinished = format!("the safety copy was not finished ({reason})");
        match &l.restore.safety_backup_id {
            Some(id) => {
                let mut backup =
                    ctx.backups.get_backup(&l.project.id, id).await?.ok_or_else(|| Error::not_found("backup"))?;
                safety_kept(&mut backup, &unfinished, &safety);
                backup.updated_at = ctx.clock.now();
                records.push(RecordWrite::Backup(backup));
            }
            None => {
                let mut backup = safety_backup(ctx, &l, job);
                safety_kept(&mut backup, &unfinished, &safety);
                l.restore.safety_backup_id = Some(backup.id.clone());
                records.push(RecordWrite::NewBackup(backup));
            }
        }
        l.restore.step = RestoreStep::SafetyRecorded;
    }
    Ok(completed(ctx, l, records))
}
