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

/// What happened to a file in a watched folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileEvent {
    Created,
    /// Its writer closed it (`IN_CLOSE_WRITE`): nothing more will be written.
    Closed,
}

/// Files created in one folder, and closed by their writer (inotify). A name is reported for
/// every event, so the caller keeps what it has already taken.
pub struct FolderWatch {
    fd: AsyncFd<rustix::fd::OwnedFd>,
}

impl FolderWatch {
    pub fn watch(dir: &Path) -> std::io::Result<FolderWatch> {
        let fd = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        inotify::add_watch(&fd, dir, inotify::WatchFlags::CREATE | inotify::WatchFlags::CLOSE_WRITE)?;
        // SAFETY: the `OwnedFd` is moved in and stays open, the same descriptor, until the
        // `AsyncFd` (which owns it) drops.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(std::io::Error::from)?;
        Ok(FolderWatch { fd })
    }

    /// Waits for the next events and returns them in order. A full event queue
    /// (`IN_Q_OVERFLOW`) loses some; whoever reads the folder after its writer exited finds
    /// those files there.
    pub async fn next(&mut self) -> std::io::Result<Vec<(String, FileEvent)>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut names = Vec::new();
            let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
            let mut reader = inotify::Reader::new(guard.get_inner(), &mut buf);
            loop {
                match reader.next() {
                    Ok(event) => {
                        let kind = match event.events().contains(inotify::ReadFlags::CLOSE_WRITE) {
                            true => FileEvent::Closed,
                            false => FileEvent::Created,
                        };
                        if let Some(name) = event.file_name() {
                            names.push((name.to_string_lossy().into_owned(), kind));
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

    #[test]
    fn files_are_reported_when_created_and_when_their_writer_closes_them() {
        use std::io::Write;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let mut watch = FolderWatch::watch(dir.path()).unwrap();
            let mut open = std::fs::File::create(dir.path().join("1.dat")).unwrap();
            open.write_all(b"still writing").unwrap();
            std::fs::write(dir.path().join("2.dat"), b"done").unwrap();
            let mut seen = Vec::new();
            while seen.len() < 3 {
                seen.extend(watch.next().await.unwrap());
            }
            let named = |n: &str, e| (n.to_string(), e);
            assert_eq!(
                seen,
                [
                    named("1.dat", FileEvent::Created),
                    named("2.dat", FileEvent::Created),
                    named("2.dat", FileEvent::Closed)
                ],
                "the open file is not reported closed"
            );
            drop(open);
            assert_eq!(watch.next().await.unwrap(), [named("1.dat", FileEvent::Closed)]);
        });
    }
}
