//! Temporary recovery instances for point-in-time restores: a base backup unpacked into a
//! scratch directory, started as its own PostgreSQL server that fetches archived WAL with the
//! archive helper, replays it to the target and promotes. It listens on 127.0.0.1 only, never
//! archives, and is stopped and deleted when the restore is done with it — whatever happened.

use super::local_instance::{self, as_postgres, give_to_postgres, set_mode, InstanceDir};
use crate::config::RegionConfig;
use crate::domain::wal::RecoveryTarget;
use crate::ports::{BoxReader, DataPlaneError, Login};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

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
    inst: InstanceDir,
    region: RegionConfig,
}

/// Recovery of a large database can take long; Lambda's 15 minutes bound it in practice.
const START_TIMEOUT_SECONDS: u32 = 3600;

const TOOL: &str = "recovery";

fn io(context: &str, e: impl std::fmt::Display) -> DataPlaneError {
    local_instance::io(TOOL, context, e)
}

impl RecoveryInstance {
    /// Unpacks the base backup, configures recovery to `target` and starts the server; returns
    /// once it has promoted. On any failure everything is already removed.
    pub async fn start(spec: RecoverySpec<'_>) -> Result<RecoveryInstance, DataPlaneError> {
        let inst = InstanceDir::create(TOOL, spec.scratch_dir, local_instance::RECOVERY_PREFIX, spec.pg_bin_dir)?;
        let port = local_instance::free_port(TOOL)?;
        let mut region = spec.source.clone();
        let mut url = url::Url::parse(&region.admin_url).map_err(|e| io("admin_url", e))?;
        url.set_host(Some("127.0.0.1")).map_err(|e| io("admin_url", e))?;
        url.set_port(Some(port)).map_err(|_| io("admin_url", "cannot set port"))?;
        region.admin_url = url.to_string();
        region.name = format!("{} (recovery)", spec.source.name);
        let instance = RecoveryInstance { inst, region };
        match instance.prepare_and_start(spec, port).await {
            Ok(()) => Ok(instance),
            Err(e) => {
                instance.remove().await;
                Err(e)
            }
        }
    }

    async fn prepare_and_start(&self, spec: RecoverySpec<'_>, port: u16) -> Result<(), DataPlaneError> {
        let (dir, data) = (&self.inst.dir, &self.inst.data);
        std::fs::create_dir_all(data).map_err(|e| io("mkdir", e))?;
        set_mode(TOOL, dir, 0o755)?;
        set_mode(TOOL, data, 0o700)?;
        let helper = dir.join("capydb-wal-archive");
        std::fs::copy(spec.helper, &helper).map_err(|e| io(&format!("copying {}", spec.helper.display()), e))?;
        set_mode(TOOL, &helper, 0o755)?;
        let helper_config = dir.join("wal-archive.json");
        std::fs::write(&helper_config, &spec.helper_config).map_err(|e| io("helper config", e))?;
        give_to_postgres(TOOL, dir).await?;
        self.unpack(spec.base_tar).await?;
        // The cluster's own archiving settings must not reach the copy.
        let _ = std::fs::remove_file(data.join("capydb-archive.conf"));
        let _ = std::fs::remove_file(data.join("postmaster.pid"));
        let mut conf = vec![
            format!("port = {port}"),
            "listen_addresses = '127.0.0.1'".to_string(),
            format!("unix_socket_directories = '{}'", dir.display()),
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
        self.inst.append_conf(TOOL, &conf)?;
        std::fs::write(data.join("recovery.signal"), b"").map_err(|e| io("recovery.signal", e))?;
        give_to_postgres(TOOL, data).await?;
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
                self.inst.append_conf(TOOL, &["recovery_target_time = ''".into()])?;
                self.pg_ctl_start().await.map_err(|log| io("recovery failed", log))
            }
            Err(log) => Err(io("recovery failed", log)),
        }
    }

    async fn unpack(&self, mut tar: BoxReader) -> Result<(), DataPlaneError> {
        let mut child = as_postgres(Path::new("tar"))
            .arg("-x")
            .arg("-C")
            .arg(&self.inst.data)
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

    /// Starts the server and waits until it accepts connections (after promotion); on failure
    /// returns the tail of its log.
    async fn pg_ctl_start(&self) -> Result<(), String> {
        self.inst.start(START_TIMEOUT_SECONDS).await?;
        // pg_ctl returns once the postmaster runs; recovery goes on until the target, then
        // the server promotes and only then takes connections (hot_standby is off).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(START_TIMEOUT_SECONDS.into());
        loop {
            if let Ok(false) = self.in_recovery().await {
                return Ok(());
            }
            if !self.inst.running() {
                return Err(self.inst.log_tail());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "recovery did not finish within {START_TIMEOUT_SECONDS} s\n{}",
                    self.inst.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn in_recovery(&self) -> Result<bool, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.region.admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client.query_one("SELECT pg_is_in_recovery()", &[]).await.map(|r| r.get(0))
    }

    /// Connection settings for `pg_dump` and SQL against the recovered copy.
    pub fn region(&self) -> &RegionConfig {
        &self.region
    }

    /// A login for `role` on the copy, to dump the project's database as: the copy is the
    /// instance's alone, so the role gets a fresh password there (whatever the tenant set), and
    /// any attribute beyond a tenant's is stripped first. This connection runs no tenant code.
    pub async fn login(&self, role: &str) -> Result<Login, DataPlaneError> {
        if !role.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') || role.is_empty() {
            return Err(io("login", format!("unexpected role name {role:?}")));
        }
        let password = crate::adapters::crypto::random_password();
        let (client, conn) = tokio_postgres::connect(&self.region.admin_url, tokio_postgres::NoTls)
            .await
            .map_err(|e| io("connecting to the recovered copy", e))?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "ALTER ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '{password}'"
            ))
            .await
            .map_err(|e| io("preparing the dump role on the recovered copy", e))?;
        Ok(Login { role: role.to_string(), password })
    }

    /// Stops the server and deletes its files.
    pub async fn remove(&self) {
        self.inst.remove().await
    }
}
