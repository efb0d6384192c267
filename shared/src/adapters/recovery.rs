//! Temporary recovery instances for point-in-time restores: a base backup unpacked into a
//! scratch directory, started as its own PostgreSQL server that fetches archived WAL with the
//! archive helper, replays it to the target and promotes. It listens on 127.0.0.1 only, never
//! archives, and is stopped and deleted when the restore is done with it — whatever happened.

use crate::config::RegionConfig;
use crate::domain::wal::RecoveryTarget;
use crate::ports::{BoxReader, DataPlaneError};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// What it takes to start one.
pub struct RecoverySpec<'a> {
    pub pg_bin_dir: Option<&'a Path>,
    pub scratch_dir: &'a Path,
    /// The base backup's tar stream (decompressed).
    pub base_tar: BoxReader,
    pub helper: &'a Path,
    /// The helper's JSON config for the region's archive.
    pub helper_config: String,
    pub target: &'a RecoveryTarget,
    /// The region the base backup came from: its admin credentials work on the copy.
    pub source: &'a RegionConfig,
}

pub struct RecoveryInstance {
    dir: PathBuf,
    data: PathBuf,
    pg_ctl: PathBuf,
    region: RegionConfig,
}

/// Recovery of a large database can take long; Lambda's 15 minutes bound it in practice.
const START_TIMEOUT_SECONDS: u32 = 3600;

fn tool(bin: Option<&Path>, name: &str) -> PathBuf {
    bin.map(|d| d.join(name)).unwrap_or_else(|| PathBuf::from(name))
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A command run as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn io(context: &str, e: impl std::fmt::Display) -> DataPlaneError {
    DataPlaneError::Tool { tool: "recovery", message: format!("{context}: {e}") }
}

fn free_port() -> Result<u16, DataPlaneError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| io("no free port", e))?;
    Ok(l.local_addr().map_err(|e| io("no free port", e))?.port())
}

impl RecoveryInstance {
    /// Unpacks the base backup, configures recovery to `target` and starts the server; returns
    /// once it has promoted. On any failure everything is already removed.
    pub async fn start(spec: RecoverySpec<'_>) -> Result<RecoveryInstance, DataPlaneError> {
        let dir = tempfile::Builder::new()
            .prefix("capydb-recovery-")
            .tempdir_in(spec.scratch_dir)
            .map_err(|e| io("cannot create the recovery directory", e))?
            .keep();
        let port = free_port()?;
        let mut region = spec.source.clone();
        let mut url = url::Url::parse(&region.admin_url).map_err(|e| io("admin_url", e))?;
        url.set_host(Some("127.0.0.1")).map_err(|e| io("admin_url", e))?;
        url.set_port(Some(port)).map_err(|_| io("admin_url", "cannot set port"))?;
        region.admin_url = url.to_string();
        region.name = format!("{} (recovery)", spec.source.name);
        let instance =
            RecoveryInstance { data: dir.join("data"), pg_ctl: tool(spec.pg_bin_dir, "pg_ctl"), dir, region };
        match instance.prepare_and_start(spec, port).await {
            Ok(()) => Ok(instance),
            Err(e) => {
                instance.remove().await;
                Err(e)
            }
        }
    }

    async fn prepare_and_start(&self, spec: RecoverySpec<'_>, port: u16) -> Result<(), DataPlaneError> {
        std::fs::create_dir_all(&self.data).map_err(|e| io("mkdir", e))?;
        set_mode(&self.dir, 0o755)?;
        set_mode(&self.data, 0o700)?;
        let helper = self.dir.join("capydb-wal-archive");
        std::fs::copy(spec.helper, &helper).map_err(|e| io(&format!("copying {}", spec.helper.display()), e))?;
        set_mode(&helper, 0o755)?;
        let helper_config = self.dir.join("wal-archive.json");
        std::fs::write(&helper_config, &spec.helper_config).map_err(|e| io("helper config", e))?;
        if running_as_root() {
            let out = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&self.dir).output().await?;
            if !out.status.success() {
                return Err(io("chown", String::from_utf8_lossy(&out.stderr)));
            }
        }
        self.unpack(spec.base_tar).await?;
        // The cluster's own archiving settings must not reach the copy.
        let _ = std::fs::remove_file(self.data.join("capydb-archive.conf"));
        let _ = std::fs::remove_file(self.data.join("postmaster.pid"));
        let mut conf = vec![
            format!("port = {port}"),
            "listen_addresses = '127.0.0.1'".to_string(),
            format!("unix_socket_directories = '{}'", self.dir.display()),
            "archive_mode = off".into(),
            // Not a standby: it accepts connections only once recovery ended and it promoted.
            "hot_standby = off".into(),
            "max_connections = 20".into(),
            "shared_buffers = 32MB".into(),
            format!("restore_command = '{} --config {} fetch %f %p'", helper.display(), helper_config.display()),
            "recovery_target_action = 'promote'".into(),
        ];
        match spec.target {
            RecoveryTarget::Time { at } => {
                conf.push(format!("recovery_target_time = '{}'", at.format("%Y-%m-%d %H:%M:%S%.6f+00")))
            }
            RecoveryTarget::Name { name, .. } => conf.push(format!("recovery_target_name = '{name}'")),
            RecoveryTarget::Latest => {}
        }
        self.append_conf(&conf)?;
        std::fs::write(self.data.join("recovery.signal"), b"").map_err(|e| io("recovery.signal", e))?;
        if running_as_root() {
            Command::new("chown").args(["-R", "postgres:postgres"]).arg(&self.data).status().await?;
        }
        match self.pg_ctl_start().await {
            Ok(()) => Ok(()),
            // The WAL ended before any transaction after the target time: nothing committed
            // between the target and the end of the archive, so replaying all of it is exactly
            // the state at the target.
            Err(log)
                if matches!(spec.target, RecoveryTarget::Time { .. })
                    && log.contains("recovery ended before configured recovery target was reached") =>
            {
                tracing::info!("no commit after the target time in the archive; recovering to its end");
                self.append_conf(&["recovery_target_time = ''".into()])?;
                self.pg_ctl_start().await.map_err(|log| io("recovery failed", log))
            }
            Err(log) => Err(io("recovery failed", log)),
        }
    }

    async fn unpack(&self, mut tar: BoxReader) -> Result<(), DataPlaneError> {
        let mut child = as_postgres(Path::new("tar"))
            .arg("-x")
            .arg("-C")
            .arg(&self.data)
            .arg("-f")
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io("cannot start tar", e))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let copied = tokio::io::copy(&mut tar, &mut stdin).await;
        drop(stdin);
        let out = child.wait_with_output().await?;
        copied.map_err(|e| io("unpacking the base backup", e))?;
        if !out.status.success() {
            return Err(io("unpacking the base backup", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }

    fn append_conf(&self, lines: &[String]) -> Result<(), DataPlaneError> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.auto.conf"))
            .map_err(|e| io("postgresql.auto.conf", e))?;
        for l in lines {
            writeln!(f, "{l}").map_err(|e| io("postgresql.auto.conf", e))?;
        }
        Ok(())
    }

    /// Starts the server and waits until it accepts connections (after promotion); on failure
    /// returns the tail of its log.
    async fn pg_ctl_start(&self) -> Result<(), String> {
        let log = self.dir.join("server.log");
        let out = as_postgres(&self.pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", &START_TIMEOUT_SECONDS.to_string(), "start"])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(self.log_tail());
        }
        // pg_ctl returns once the postmaster runs; recovery goes on until the target, then
        // the server promotes and only then takes connections (hot_standby is off).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(START_TIMEOUT_SECONDS.into());
        loop {
            if let Ok(false) = self.in_recovery().await {
                return Ok(());
            }
            if !self.data.join("postmaster.pid").exists() {
                return Err(self.log_tail());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("recovery did not finish within {START_TIMEOUT_SECONDS} s\n{}", self.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn in_recovery(&self) -> Result<bool, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.region.admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client.query_one("SELECT pg_is_in_recovery()", &[]).await.map(|r| r.get(0))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Connection settings for `pg_dump` and SQL against the recovered copy.
    pub fn region(&self) -> &RegionConfig {
        &self.region
    }

    /// Stops the server (immediately: nothing in it is kept) and deletes its files.
    pub async fn remove(&self) {
        if self.data.join("postmaster.pid").exists() {
            let stopped = as_postgres(&self.pg_ctl)
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "-t", "60", "stop"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
            if let Err(e) = stopped {
                tracing::error!(dir = %self.dir.display(), error = %e, "could not stop the recovery instance");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Err(e) = tokio::fs::remove_dir_all(&self.dir).await {
            tracing::error!(dir = %self.dir.display(), error = %e, "could not remove the recovery instance");
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), DataPlaneError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| io("chmod", e))
}
