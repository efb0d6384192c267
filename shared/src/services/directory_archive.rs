//! Directory-format archives, for databases one stream is too slow for.
//!
//! `pg_dump --format=directory --jobs=N` writes one file per table. Each file is shipped while
//! pg_dump writes it (read as it grows, through zstd and SHA-256 into its own multipart upload
//! under the backup's prefix), finished once pg_dump closes it, and deleted from scratch, so
//! compression overlaps the dump and the space held is the files being written, not the database.
//! The manifest lists every file with its sizes and hash, and the record's checksum is the
//! digest of that list, so one value in the table still pins every stored byte.
//!
//! Restoring (and verifying) fetches the files in parallel into a scratch folder, each checked
//! against the manifest, for `pg_restore --jobs=N`. A file missing or differing from its hash
//! refuses the archive before pg_restore reads any of it.

use super::backup_pipeline::{decompressing, upload_dump, PipelineError};
use crate::adapters::local_instance::{DUMP_PREFIX, FILES_PREFIX};
use crate::adapters::scratch::{FileEvent, FolderWatch, Scratch};
use crate::config::RegionConfig;
use crate::domain::backups::{files_digest, manifest_key, ArchiveFile, Backup, Manifest};
use crate::ports::{DataPlane, DataPlaneError, DumpProcess, Login, ObjectStore, ObjectStoreError};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The table of contents pg_restore starts from; an archive without it is no archive.
pub const TOC: &str = "toc.dat";

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Dump(#[from] DataPlaneError),
    #[error("{0}")]
    Upload(#[from] PipelineError),
    #[error("{0}")]
    Store(#[from] ObjectStoreError),
    #[error("the scratch folder failed: {0}")]
    Scratch(std::io::Error),
    #[error("{0}")]
    NoRoom(String),
    #[error("archive file {0} is missing from object storage")]
    Missing(String),
    #[error("archive file {name} does not match the manifest: {detail}")]
    Mismatch { name: String, detail: String },
    #[error("the archive's manifest {0}")]
    Manifest(String),
}

/// Where a directory dump reads from and writes to.
pub struct DumpSource<'a> {
    pub region: &'a RegionConfig,
    pub database: &'a str,
    pub login: &'a Login,
}

/// Dumps `source` with `jobs` connections into objects under `prefix`, shipping each file as
/// pg_dump finishes it. Returns the files, in name order. On failure some files may be stored
/// and uploads open; [`remove`] clears the prefix.
pub async fn dump(
    data_plane: &dyn DataPlane,
    objects: &dyn ObjectStore,
    scratch: &Scratch,
    source: DumpSource<'_>,
    prefix: &str,
    jobs: u32,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<Vec<ArchiveFile>, DirectoryError> {
    let folder = scratch.folder(DUMP_PREFIX).map_err(DirectoryError::Scratch)?;
    let dir = folder.path();
    let mut watch = FolderWatch::watch(dir).map_err(DirectoryError::Scratch)?;
    let mut dumping = data_plane.dump_directory(source.region, source.database, source.login, dir, jobs).await?;
    let total = AtomicU64::new(0);
    // Each file seen, with whether its writer is done with it.
    let mut known: HashMap<String, Arc<AtomicBool>> = HashMap::new();
    let mut queue = VecDeque::new();
    let mut shipping = FuturesUnordered::new();
    let mut files = Vec::new();
    let mut dumped = false;
    loop {
        // One slot per pg_dump job (each writes one file at a time) and one for finished files.
        while shipping.len() <= jobs.max(1) as usize {
            let Some((name, closed)) = queue.pop_front() else { break };
            shipping.push(ship(objects, prefix, dir, name, closed, &total, on_bytes));
        }
        if dumped && queue.is_empty() && shipping.is_empty() {
            break;
        }
        let mut events = Vec::new();
        tokio::select! {
            finished = &mut dumping, if !dumped => {
                finished?;
                dumped = true;
                // Every file is finished now, also any whose events the watch did not report.
                let mut entries = tokio::fs::read_dir(dir).await.map_err(DirectoryError::Scratch)?;
                while let Some(entry) = entries.next_entry().await.map_err(DirectoryError::Scratch)? {
                    events.push((entry.file_name().to_string_lossy().into_owned(), FileEvent::Closed));
                }
                events.sort();
                for closed in known.values() {
                    closed.store(true, Ordering::Release);
                }
            }
            seen = watch.next(), if !dumped => events = seen.map_err(DirectoryError::Scratch)?,
            Some(shipped) = shipping.next(), if !shipping.is_empty() => files.push(shipped?),
        }
        for (name, event) in events {
            if !ArchiveFile::valid_name(&name) {
                return Err(DirectoryError::Manifest(format!("cannot list pg_dump's unexpected file {name:?}")));
            }
            let closed = known.entry(name.clone()).or_insert_with(|| {
                let closed = Arc::new(AtomicBool::new(false));
                queue.push_back((name, closed.clone()));
                closed
            });
            if event == FileEvent::Closed {
                closed.store(true, Ordering::Release);
            }
        }
    }
    if !files.iter().any(|f| f.name == TOC) {
        return Err(DirectoryError::Manifest(format!("lists no {TOC}: pg_dump wrote no table of contents")));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Compresses one file into its object as pg_dump writes it, and removes it from scratch once
/// its writer closed it and every byte is stored.
async fn ship(
    objects: &dyn ObjectStore,
    prefix: &str,
    dir: &Path,
    name: String,
    closed: Arc<AtomicBool>,
    total: &AtomicU64,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<ArchiveFile, DirectoryError> {
    let path = dir.join(&name);
    let file = tokio::fs::File::open(&path).await.map_err(DirectoryError::Scratch)?;
    let this_file = AtomicU64::new(0);
    // upload_dump counts this file's bytes; the job's progress is all files' together.
    let counted = |n: u64| {
        let fresh = n.saturating_sub(this_file.swap(n, Ordering::Relaxed));
        on_bytes(total.fetch_add(fresh, Ordering::Relaxed) + fresh);
    };
    let key = format!("{prefix}{name}.zst");
    let whole = DumpProcess { reader: growing(file, closed), finished: async { Ok(()) }.boxed() };
    let up = upload_dump(objects, &key, whole, &counted).await?;
    tokio::fs::remove_file(&path).await.map_err(DirectoryError::Scratch)?;
    Ok(ArchiveFile { name, size_bytes: up.size_bytes, sha256: up.sha256, dump_bytes: up.dump_bytes })
}

/// How long a reader at the end of a file still being written waits before looking again.
const TAIL_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// Reads `file` as it grows, to its end once `closed` says its writer is done. pg_dump only
/// appends, and the kernel shows a reader no byte beyond what a write has finished copying.
fn growing(file: tokio::fs::File, closed: Arc<AtomicBool>) -> crate::ports::BoxReader {
    let chunks = futures::stream::unfold(Some((file, closed)), |state| async move {
        let (mut file, closed) = state?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            // Read after looking: a file already closed that reads nothing more has ended.
            let done = closed.load(Ordering::Acquire);
            match file.read(&mut buf).await {
                Ok(0) if done => return None,
                Ok(0) => tokio::time::sleep(TAIL_WAIT).await,
                Ok(n) => {
                    buf.truncate(n);
                    return Some((Ok(bytes::Bytes::from(buf)), Some((file, closed))));
                }
                Err(e) => return Some((Err(e), None)),
            }
        }
    });
    Box::pin(tokio_util::io::StreamReader::new(chunks))
}

/// A directory archive fetched into scratch, removed when this drops.
pub struct Fetched {
    pub folder: tempfile::TempDir,
    pub dump_bytes: u64,
}

/// Fetches `backup`'s files into a new scratch folder with `jobs` downloads at a time, after
/// checking that its manifest is the one its record's checksum pins and that the volume holds
/// the files. `purpose` completes "not enough scratch space to …".
pub async fn fetch(
    objects: &dyn ObjectStore,
    scratch: &Scratch,
    backup: &Backup,
    jobs: u32,
    purpose: &str,
) -> Result<Fetched, DirectoryError> {
    let prefix = backup.backup_key.as_deref().ok_or_else(|| DirectoryError::Manifest("names no files".into()))?;
    let files = files_of(objects, backup).await?;
    let dump_bytes = files.iter().map(|f| f.dump_bytes).sum();
    scratch.check(dump_bytes, purpose).map_err(DirectoryError::NoRoom)?;
    let folder = scratch.folder(FILES_PREFIX).map_err(DirectoryError::Scratch)?;
    let (mut waiting, mut running) = (files.iter(), FuturesUnordered::new());
    loop {
        while running.len() < jobs.max(1) as usize {
            let Some(file) = waiting.next() else { break };
            running.push(fetch_one(objects, prefix, file, folder.path()));
        }
        match running.next().await {
            Some(fetched) => fetched?,
            None => break,
        }
    }
    drop(running);
    Ok(Fetched { folder, dump_bytes })
}

/// The files the manifest lists, refused unless their digest is the record's checksum.
pub async fn files_of(objects: &dyn ObjectStore, backup: &Backup) -> Result<Vec<ArchiveFile>, DirectoryError> {
    let key = manifest_key(&backup.project_id, &backup.id);
    let mut body = Vec::new();
    match objects.get(&key).await {
        Ok(mut reader) => reader.read_to_end(&mut body).await.map_err(|e| DirectoryError::Store(io_backend(e)))?,
        Err(ObjectStoreError::NotFound(_)) => {
            return Err(DirectoryError::Manifest(format!("{key} is missing from object storage")))
        }
        Err(e) => return Err(e.into()),
    };
    let manifest: Manifest =
        serde_json::from_slice(&body).map_err(|e| DirectoryError::Manifest(format!("{key} does not parse: {e}")))?;
    if Some(files_digest(&manifest.files)) != backup.sha256 {
        return Err(DirectoryError::Manifest(format!(
            "{key} does not list the files the backup's checksum {} was taken over",
            backup.sha256.as_deref().unwrap_or("?")
        )));
    }
    if let Some(bad) = manifest.files.iter().find(|f| !ArchiveFile::valid_name(&f.name)) {
        return Err(DirectoryError::Manifest(format!("names an unexpected file {:?}", bad.name)));
    }
    if !manifest.files.iter().any(|f| f.name == TOC) {
        return Err(DirectoryError::Manifest(format!("{key} lists no {TOC}")));
    }
    Ok(manifest.files)
}

fn io_backend(e: std::io::Error) -> ObjectStoreError {
    ObjectStoreError::Backend(e.to_string())
}

async fn fetch_one(
    objects: &dyn ObjectStore,
    prefix: &str,
    file: &ArchiveFile,
    dir: &Path,
) -> Result<(), DirectoryError> {
    let mismatch = |detail: String| DirectoryError::Mismatch { name: file.name.clone(), detail };
    let stored = objects.get(&file.key(prefix)).await.map_err(|e| match e {
        ObjectStoreError::NotFound(_) => DirectoryError::Missing(file.name.clone()),
        other => other.into(),
    })?;
    let (mut reader, digest) = decompressing(stored);
    let mut out = tokio::fs::File::create(dir.join(&file.name)).await.map_err(DirectoryError::Scratch)?;
    // Reading fails for the object (storage, bytes that do not decompress); writing, for the disk.
    let mut buf = vec![0u8; 256 * 1024];
    let mut written: u64 = 0;
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| mismatch(format!("it does not read back ({e})")))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).await.map_err(DirectoryError::Scratch)?;
        written += n as u64;
    }
    out.flush().await.map_err(DirectoryError::Scratch)?;
    let (sha256, size) = digest.finish();
    if sha256 != file.sha256 || size != file.size_bytes {
        return Err(mismatch(format!(
            "stored sha256 {sha256} ({size} bytes), listed {} ({} bytes)",
            file.sha256, file.size_bytes
        )));
    }
    if written != file.dump_bytes {
        return Err(mismatch(format!("{written} bytes decompressed, listed {}", file.dump_bytes)));
    }
    Ok(())
}

/// Removes every file stored under `prefix` and aborts uploads left open there.
pub async fn remove(objects: &dyn ObjectStore, prefix: &str) -> Result<(), ObjectStoreError> {
    objects.abort_stale_uploads(prefix).await?;
    for object in objects.list(prefix, None).await? {
        objects.delete(&object.key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Credential, OrgRole, Principal};
    use crate::domain::backups::{directory_prefix, BackupState, VerificationState, FORMAT_DIRECTORY};
    use crate::domain::projects::Project;
    use crate::domain::restores::{RestoreSource, RestoreState, TargetKind};
    use crate::services::context::{Context, Fakes};
    use crate::services::jobs::{self, RunResult};
    use crate::services::restores::{self, RestoreRequest};
    use crate::store_conformance::backup_with_job;

    /// A worker with two dump jobs (a task's), its scratch folder its own.
    async fn parallel() -> (Context, Fakes, tempfile::TempDir) {
        let (ctx, fakes) = Context::fast().await;
        let scratch = tempfile::tempdir().unwrap();
        let ctx = ctx.with_config(|c| {
            c.dump_jobs = 2;
            c.scratch_dir = scratch.path().to_path_buf();
        });
        (ctx, fakes, scratch)
    }

    async fn back_up(ctx: &Context, project: &Project) -> (Backup, RunResult) {
        let (backup, job) = backup_with_job(project);
        ctx.backups.create_backup(&backup, &job, None).await.unwrap();
        let ran = jobs::run(ctx, &job.id).await.unwrap();
        (ctx.backups.get_backup(&project.id, &backup.id).await.unwrap().unwrap(), ran)
    }

    /// Restores `backup` over the project's database and returns the restore as it ended.
    async fn restore_project(ctx: &Context, project: &Project, backup: &Backup) -> crate::domain::restores::Restore {
        let admin = Principal {
            org_id: project.org_id.clone(),
            credential: Credential::Session { user_id: "usr_1".into(), role: OrgRole::Admin },
        };
        let req = RestoreRequest {
            source: RestoreSource::Backup(backup.backup_key.clone().unwrap()),
            target_kind: TargetKind::Project,
            preview_id: None,
            preview_name: None,
            ttl: crate::domain::previews::TtlHours::parse(None).unwrap(),
            confirm_project_overwrite: true,
            allow_unverified_backup: false,
        };
        let requested = restores::request(ctx, &admin, &project.id, req, None).await.unwrap();
        jobs::run(ctx, &requested.job.id).await.unwrap();
        ctx.restores.get_restore(&project.id, &requested.restore.id).await.unwrap().unwrap()
    }

    fn scratch_left(scratch: &tempfile::TempDir) -> Vec<String> {
        std::fs::read_dir(scratch.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    async fn manifest_of(fakes: &Fakes, backup: &Backup) -> Manifest {
        let body = fakes.objects.bytes(&manifest_key(&backup.project_id, &backup.id)).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn a_growing_file_is_read_as_it_is_written_and_ends_only_once_its_writer_closed_it() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("4001.dat");
        std::fs::write(&path, b"first rows;").unwrap();
        let closed = Arc::new(AtomicBool::new(false));
        let mut reader = growing(tokio::fs::File::open(&path).await.unwrap(), closed.clone());
        let reading = tokio::spawn(async move {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).await.map(|_| out)
        });
        tokio::time::sleep(TAIL_WAIT * 5).await;
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"more rows").unwrap();
        tokio::time::sleep(TAIL_WAIT * 5).await;
        assert!(!reading.is_finished(), "the end of a file still being written is not its end");
        closed.store(true, Ordering::Release);
        assert_eq!(reading.await.unwrap().unwrap(), b"first rows;more rows");
    }

    #[tokio::test]
    async fn a_parallel_backup_stores_each_file_with_its_hash_and_restores_into_the_project() {
        let (ctx, fakes, scratch) = parallel().await;
        let project = fakes.ready_project(&ctx, b"orders: 3 rows").await;
        let (b, ran) = back_up(&ctx, &project).await;
        assert_eq!(ran, RunResult::Completed);
        assert_eq!(
            (b.state, b.verification_state, b.format.as_str()),
            (BackupState::Completed, VerificationState::Verified, FORMAT_DIRECTORY)
        );
        let prefix = directory_prefix(&project.id, &b.id);
        assert_eq!(b.backup_key.as_deref(), Some(prefix.as_str()));
        let stored: Vec<String> = fakes.objects.keys().into_iter().filter(|k| k.starts_with(&prefix)).collect();
        assert_eq!(stored, [format!("{prefix}3001.dat.zst"), format!("{prefix}toc.dat.zst")]);
        let manifest = manifest_of(&fakes, &b).await;
        assert_eq!(manifest.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["3001.dat", "toc.dat"]);
        assert_eq!(Some(files_digest(&manifest.files)), b.sha256, "the record's checksum pins the file list");
        assert_eq!(Some(manifest.files.iter().map(|f| f.size_bytes).sum::<u64>()), b.size_bytes);
        for f in &manifest.files {
            let bytes = fakes.objects.bytes(&f.key(&prefix)).unwrap();
            assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)), f.sha256, "{}", f.name);
        }
        assert_eq!(fakes.objects.open_uploads(), 0, "no upload left open");
        assert_eq!(scratch_left(&scratch), Vec::<String>::new(), "nothing left in scratch");

        fakes.data_plane.put_database("local-1", &project.database_name, b"dropped by mistake");
        let restore = restore_project(&ctx, &project, &b).await;
        assert_eq!(restore.state, RestoreState::Completed, "{:?}", restore.error);
        assert_eq!(
            fakes.data_plane.database("local-1", &project.database_name).as_deref(),
            Some(&b"orders: 3 rows"[..])
        );
        assert_eq!(scratch_left(&scratch), Vec::<String>::new(), "nothing left in scratch");
    }

    #[tokio::test]
    async fn a_task_clears_what_an_earlier_attempt_left_in_either_format() {
        let (ctx, fakes, _scratch) = parallel().await;
        let project = fakes.ready_project(&ctx, b"rows").await;
        let (backup, job) = backup_with_job(&project);
        ctx.backups.create_backup(&backup, &job, None).await.unwrap();
        // A Lambda run's stream died mid-upload; a task's earlier attempt left a file behind.
        let stream = crate::domain::backups::object_key(&project.id, &backup.id);
        fakes.objects.start_upload(&stream).await.unwrap();
        let prefix = directory_prefix(&project.id, &backup.id);
        fakes.objects.put(&format!("{prefix}9999.dat.zst"), bytes::Bytes::from_static(b"old"), "x").await.unwrap();
        fakes.objects.start_upload(&format!("{prefix}9998.dat.zst")).await.unwrap();

        assert_eq!(jobs::run(&ctx, &job.id).await.unwrap(), RunResult::Completed);
        assert_eq!(fakes.objects.open_uploads(), 0, "both open uploads are aborted");
        let stored: Vec<String> = fakes.objects.keys().into_iter().filter(|k| k.starts_with(&prefix)).collect();
        assert_eq!(
            stored,
            [format!("{prefix}3001.dat.zst"), format!("{prefix}toc.dat.zst")],
            "only this attempt's files"
        );
    }

    /// Each way a stored directory archive can be wrong, and the words the restore refuses it with.
    #[tokio::test]
    async fn a_file_missing_or_differing_from_its_hash_is_refused_and_the_project_is_untouched() {
        let (ctx, fakes, scratch) = parallel().await;
        let project = fakes.ready_project(&ctx, b"good rows").await;
        let (b, _) = back_up(&ctx, &project).await;
        let prefix = directory_prefix(&project.id, &b.id);
        let data_key = format!("{prefix}3001.dat.zst");
        let toc_key = format!("{prefix}toc.dat.zst");
        let original = fakes.objects.bytes(&data_key).unwrap();
        fakes.data_plane.put_database("local-1", &project.database_name, b"today's rows");

        let mut changed = original.to_vec();
        changed.extend_from_slice(b"appended");
        fakes.objects.put(&data_key, changed.into(), "application/zstd").await.unwrap();
        let refused = restore_project(&ctx, &project, &b).await;
        assert_eq!(refused.state, RestoreState::Failed);
        let error = refused.error.unwrap();
        assert!(error.starts_with("archive file 3001.dat does not match the manifest: stored sha256"), "{error}");
        assert!(error.ends_with("nothing was changed"), "{error}");

        fakes.objects.put(&data_key, original.clone(), "application/zstd").await.unwrap();
        fakes.objects.delete(&toc_key).await.unwrap();
        let refused = restore_project(&ctx, &project, &b).await;
        assert_eq!(
            refused.error.as_deref(),
            Some("archive file toc.dat is missing from object storage; nothing was changed")
        );

        let mut manifest = manifest_of(&fakes, &b).await;
        manifest.files.retain(|f| f.name != "3001.dat");
        let key = manifest_key(&project.id, &b.id);
        fakes.objects.put(&key, serde_json::to_vec(&manifest).unwrap().into(), "application/json").await.unwrap();
        let refused = restore_project(&ctx, &project, &b).await;
        let error = refused.error.unwrap();
        assert!(
            error.contains("does not list the files the backup's checksum"),
            "a shortened list is refused: {error}"
        );

        assert_eq!(fakes.data_plane.database("local-1", &project.database_name).as_deref(), Some(&b"today's rows"[..]));
        assert_eq!(
            fakes.data_plane.databases("local-1"),
            std::slice::from_ref(&project.database_name),
            "no staging database left"
        );
        assert_eq!(scratch_left(&scratch), Vec::<String>::new(), "nothing left in scratch");
    }

    #[tokio::test]
    async fn a_file_that_reads_back_differently_fails_verification_naming_it() {
        let (ctx, fakes, _scratch) = parallel().await;
        let project = fakes.ready_project(&ctx, b"rows").await;
        fakes.objects.tamper_reads("3001.dat.zst");
        let (b, ran) = back_up(&ctx, &project).await;
        assert_eq!(ran, RunResult::Failed);
        assert_eq!((b.state, b.verification_state), (BackupState::Failed, VerificationState::Failed));
        let error = b.verification_error.unwrap();
        assert!(error.starts_with("archive file 3001.dat does not match the manifest"), "{error}");
    }

    #[tokio::test]
    async fn without_the_scratch_space_a_job_fails_naming_what_it_needs_and_leaves_nothing_there() {
        let (ctx, fakes, scratch) = parallel().await;
        let project = fakes.ready_project(&ctx, b"rows").await;
        let (b, _) = back_up(&ctx, &project).await;
        assert_eq!(b.state, BackupState::Completed);

        let small = ctx.with_config(|c| c.scratch_limit = Some(64 << 20));
        let restore = restore_project(&small, &project, &b).await;
        let error = restore.error.unwrap();
        assert!(
            error.starts_with("not enough scratch space to restore the backup: it needs at least 0.3 GiB in ")
                && error.contains("and 0.1 GiB is free"),
            "{error}"
        );
        let (b, ran) = back_up(&small, &project).await;
        assert_eq!(ran, RunResult::Failed);
        let error = b.error.unwrap();
        assert!(error.contains("not enough scratch space to verify the backup: it needs at least 0.3 GiB"), "{error}");
        assert_eq!(b.verification_state, VerificationState::Pending, "the archive is not blamed");
        assert_eq!(scratch_left(&scratch), Vec::<String>::new(), "nothing left in scratch");
        assert_eq!(
            fakes.data_plane.databases("local-1"),
            std::slice::from_ref(&project.database_name),
            "no staging database left"
        );
    }
}
