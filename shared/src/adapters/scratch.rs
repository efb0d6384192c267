//! The worker's scratch volume: how much of it a job may count on, folders for archive files,
//! and word of files a writer has finished with (inotify), so a directory dump can ship each
//! file while pg_dump writes the next.

use rustix::fs::inotify;
use std::path::{Path, PathBuf};
use tokio::io::unix::AsyncFd;

/// Room left on the scratch volume beyond an archive's files, for pg_restore's and everyone's use.
pub const HEADROOM: u64 = 256 * 1024 * 1024;

/// The scratch folder and, when the volume is shared with others (a task's ephemeral storage
/// also holds its image), the most of it a job counts on (`CAPYDB_SCRATCH_LIMIT_BYTES`).
#[derive(Debug, Clone)]
pub struct Scratch {
    pub dir: PathBuf,
    pub limit: Option<u64>,
}

impl Scratch {
    pub fn new(dir: PathBuf, limit: Option<u64>) -> Self {
        Scratch { dir, limit }
    }

    /// Free bytes a job may use; `None` when the volume cannot say.
    pub fn free(&self) -> Option<u64> {
        let s = rustix::fs::statvfs(&self.dir).ok()?;
        let free = s.f_bavail.saturating_mul(s.f_frsize);
        Some(self.limit.map_or(free, |limit| free.min(limit)))
    }

    /// Refuses, naming the space, work that needs `bytes` (plus [`HEADROOM`]) on a volume that
    /// does not have it. `purpose` completes "not enough scratch space to …".
    pub fn check(&self, bytes: u64, purpose: &str) -> Result<(), String> {
        match self.free() {
            Some(free) => check(bytes, free, &self.dir, purpose),
            None => Ok(()),
        }
    }

    /// A fresh folder for an archive's files, removed when the value drops.
    pub fn folder(&self, prefix: &str) -> std::io::Result<tempfile::TempDir> {
        tempfile::Builder::new().prefix(prefix).tempdir_in(&self.dir)
    }
}

pub fn check(bytes: u64, free: u64, dir: &Path, purpose: &str) -> Result<(), String> {
    let needed = bytes.saturating_add(HEADROOM);
    if free >= needed {
        return Ok(());
    }
    Err(format!(
        "not enough scratch space to {purpose}: it needs at least {} in {}, and {} is free",
        gib(needed),
        dir.display(),
        gib(free)
    ))
}

pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Names of files in one folder whose writer closed them (`IN_CLOSE_WRITE`). A file name is
/// reported for every close, so the caller keeps what it has already taken.
pub struct ClosedFiles {
    fd: AsyncFd<rustix::fd::OwnedFd>,
}

impl ClosedFiles {
    pub fn watch(dir: &Path) -> std::io::Result<ClosedFiles> {
        let fd = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        inotify::add_watch(&fd, dir, inotify::WatchFlags::CLOSE_WRITE)?;
        // SAFETY: the `OwnedFd` is moved in and stays open, the same descriptor, until the
        // `AsyncFd` (which owns it) drops.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(std::io::Error::from)?;
        Ok(ClosedFiles { fd })
    }

    /// Waits for the next closes and returns their file names. A full event queue
    /// (`IN_Q_OVERFLOW`) loses names; whoever reads the folder after its writer exited finds
    /// those files there.
    pub async fn next(&mut self) -> std::io::Result<Vec<String>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut names = Vec::new();
            let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
            let mut reader = inotify::Reader::new(guard.get_inner(), &mut buf);
            loop {
                match reader.next() {
                    Ok(event) => {
                        if let Some(name) = event.file_name() {
                            names.push(name.to_string_lossy().into_owned());
                        }
                    }
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            guard.clear_ready();
            if !names.is_empty() {
                return Ok(names);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_disk_too_small_is_refused_naming_the_space() {
        let dir = Path::new("/scratch");
        assert!(check(1 << 30, 2 << 30, dir, "verify the backup").is_ok());
        assert_eq!(
            check(6 << 30, 4 << 30, dir, "verify the backup").unwrap_err(),
            "not enough scratch space to verify the backup: it needs at least 6.2 GiB in /scratch, and 4.0 GiB is free"
        );
    }

    #[test]
    fn a_limit_caps_what_a_job_counts_on() {
        let dir = tempfile::tempdir().unwrap();
        let capped = Scratch::new(dir.path().to_path_buf(), Some(1024));
        assert_eq!(capped.free(), Some(1024));
        let e = capped.check(10 << 20, "restore the backup").unwrap_err();
        assert!(e.contains("needs at least 0.3 GiB") && e.contains("0.0 GiB is free"), "{e}");
    }

    #[tokio::test]
    async fn files_are_reported_once_their_writer_closes_them() {
        use tokio::io::AsyncWriteExt;
        let dir = tempfile::tempdir().unwrap();
        let mut closed = ClosedFiles::watch(dir.path()).unwrap();
        let mut open = tokio::fs::File::create(dir.path().join("1.dat")).await.unwrap();
        open.write_all(b"still writing").await.unwrap();
        tokio::fs::write(dir.path().join("2.dat"), b"done").await.unwrap();
        let names = closed.next().await.unwrap();
        assert_eq!(names, vec!["2.dat"], "the open file is not reported");
        drop(open);
        assert_eq!(closed.next().await.unwrap(), vec!["1.dat"]);
    }
}
