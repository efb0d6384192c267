//! What the worker's own throw-away PostgreSQL instances share (point-in-time recovery copies
//! and verification sandboxes): finding the server tools, running them as the `postgres` user
//! when we are root (PostgreSQL refuses to run as root), a free loopback port, and stopping and
//! deleting an instance whatever state it is in.

use crate::ports::DataPlaneError;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// A PostgreSQL tool: from `bin`, else from the newest server installed the Debian way (its
/// server binaries are not on `PATH`), else from `PATH`.
pub fn tool(bin: Option<&Path>, name: &str) -> PathBuf {
    if let Some(dir) = bin {
        return dir.join(name);
    }
    let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    installed.sort_by_key(|p| {
        let version = p.iter().rev().nth(2).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok());
        version.unwrap_or(0)
    });
    installed.pop().unwrap_or_else(|| PathBuf::from(name))
}

pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A command run as the `postgres` user when we are root.
pub fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn io(tool: &'static str, context: &str, e: impl std::fmt::Display) -> DataPlaneError {
    DataPlaneError::Tool { tool, message: format!("{context}: {e}") }
}

pub fn free_port(tool: &'static str) -> Result<u16, DataPlaneError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| io(tool, "no free port", e))?;
    Ok(l.local_addr().map_err(|e| io(tool, "no free port", e))?.port())
}

pub fn set_mode(tool: &'static str, path: &Path, mode: u32) -> Result<(), DataPlaneError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| io(tool, "chmod", e))
}

/// Hands `path` (recursively) to the `postgres` user when we are root; a no-op otherwise.
pub async fn give_to_postgres(tool: &'static str, path: &Path) -> Result<(), DataPlaneError> {
    if !running_as_root() {
        return Ok(());
    }
    let out = Command::new("chown").args(["-R", "postgres:postgres"]).arg(path).output().await?;
    if !out.status.success() {
        return Err(io(tool, "chown", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// An instance's directory (`data/` inside it, its log beside) and the server tools it runs.
/// Dropped without [`InstanceDir::remove`] (work abandoned mid-way: a lost lease, an aborted
/// task), it stops the server and deletes its files itself, so no instance outlives its work.
pub struct InstanceDir {
    pub dir: PathBuf,
    pub data: PathBuf,
    pub pg_ctl: PathBuf,
    removed: std::sync::atomic::AtomicBool,
}

impl Drop for InstanceDir {
    fn drop(&mut self) {
        if self.removed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if self.running() {
            let stopped = self.stop_command().status();
            if let Err(e) = stopped {
                tracing::error!(dir = %self.dir.display(), error = %e, "could not stop an abandoned instance");
            }
        }
        // A tool the abandoned work started in it (initdb, pg_ctl start) runs on after its
        // future is dropped, behind `runuser`, and would write files back while they go: end
        // every process whose command line names the directory first.
        let killed = std::process::Command::new("pkill")
            .args(["-KILL", "-f", "--"])
            .arg(regex_literal(&self.dir.to_string_lossy()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if killed.is_ok_and(|s| s.success()) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let mut removed = std::fs::remove_dir_all(&self.dir);
        for _ in 0..20 {
            if removed.is_ok() || !self.dir.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            removed = std::fs::remove_dir_all(&self.dir);
        }
        if let Err(e) = removed.or_else(|e| if self.dir.exists() { Err(e) } else { Ok(()) }) {
            tracing::error!(dir = %self.dir.display(), error = %e, "could not remove an abandoned instance");
        }
    }
}

/// How the worker names what it keeps in the scratch folder: verification sandboxes,
/// point-in-time recovery instances, archives downloaded for a parallel restore, and the
/// folders of directory-format archives being dumped or fetched.
pub const VERIFY_PREFIX: &str = "capydb-verify-";
pub const RECOVERY_PREFIX: &str = "capydb-recovery-";
pub const DOWNLOAD_PREFIX: &str = "capydb-restore-";
pub const DUMP_PREFIX: &str = "capydb-dump-";
pub const FILES_PREFIX: &str = "capydb-files-";

/// Removes what a worker killed outright (`kill -9`, a Lambda timeout: no destructor runs) left
/// in the scratch folder: its instances, stopped first, and its downloads. Only for a process
/// that has the folder to itself — a Lambda execution environment as it starts, which runs one
/// invocation at a time, so nothing found there is in use. Returns how many it removed.
pub fn sweep_abandoned(scratch_dir: &Path, pg_bin_dir: Option<&Path>) -> usize {
    let Ok(entries) = std::fs::read_dir(scratch_dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(DOWNLOAD_PREFIX) && path.is_file() {
            removed += usize::from(std::fs::remove_file(&path).is_ok());
        } else if (name.starts_with(DUMP_PREFIX) || name.starts_with(FILES_PREFIX)) && path.is_dir() {
            removed += usize::from(std::fs::remove_dir_all(&path).is_ok());
        } else if (name.starts_with(VERIFY_PREFIX) || name.starts_with(RECOVERY_PREFIX)) && path.is_dir() {
            // Dropping it does what abandoned work needs: stop the server, end its tools, delete.
            drop(InstanceDir {
                data: path.join("data"),
                pg_ctl: tool(pg_bin_dir, "pg_ctl"),
                dir: path.clone(),
                removed: std::sync::atomic::AtomicBool::new(false),
            });
            removed += usize::from(!path.exists());
        }
    }
    removed
}

/// `text` as an extended regular expression matching itself (for `pkill -f`).
fn regex_literal(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.[]{}()*+?^$|".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

impl InstanceDir {
    /// A new, empty directory `<scratch>/<prefix>…`, kept until [`InstanceDir::remove`].
    pub fn create(
        tool_name: &'static str,
        scratch_dir: &Path,
        prefix: &str,
        pg_bin_dir: Option<&Path>,
    ) -> Result<InstanceDir, DataPlaneError> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(scratch_dir)
            .map_err(|e| io(tool_name, "cannot create the instance directory", e))?
            .keep();
        Ok(InstanceDir {
            data: dir.join("data"),
            pg_ctl: tool(pg_bin_dir, "pg_ctl"),
            dir,
            removed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    pub fn append_conf(&self, tool_name: &'static str, lines: &[String]) -> Result<(), DataPlaneError> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.auto.conf"))
            .map_err(|e| io(tool_name, "postgresql.auto.conf", e))?;
        for l in lines {
            writeln!(f, "{l}").map_err(|e| io(tool_name, "postgresql.auto.conf", e))?;
        }
        Ok(())
    }

    /// `pg_ctl start` with a wait of `timeout_seconds`; on failure the tail of the server log.
    pub async fn start(&self, timeout_seconds: u32) -> Result<(), String> {
        let out = as_postgres(&self.pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.log())
            .args(["-w", "-t", &timeout_seconds.to_string(), "start"])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(self.log_tail())
        }
    }

    pub fn running(&self) -> bool {
        self.data.join("postmaster.pid").exists()
    }

    /// `pg_ctl stop -m immediate` (nothing in the instance is kept), as the `postgres` user.
    fn stop_command(&self) -> std::process::Command {
        let mut stop = if running_as_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&self.pg_ctl);
            c
        } else {
            std::process::Command::new(&self.pg_ctl)
        };
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        stop
    }

    /// Stops the server (immediately: nothing in it is kept) and deletes every file.
    pub async fn remove(&self) {
        self.removed.store(true, std::sync::atomic::Ordering::SeqCst);
        if self.running() {
            let stopped = Command::from(self.stop_command()).status().await;
            if let Err(e) = stopped {
                tracing::error!(dir = %self.dir.display(), error = %e, "could not stop the instance");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Err(e) = tokio::fs::remove_dir_all(&self.dir).await {
            tracing::error!(dir = %self.dir.display(), error = %e, "could not remove the instance");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_is_matched_as_written() {
        assert_eq!(super::regex_literal("/tmp/.tmpA1/capydb-verify-x+y"), "/tmp/\\.tmpA1/capydb-verify-x\\+y");
    }
}
