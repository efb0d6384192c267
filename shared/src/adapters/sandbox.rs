//! Verification sandboxes: a brand-new PostgreSQL instance per verification, on the worker's
//! scratch space, that exists only to prove an archive restores. Nothing of any region cluster
//! is in it (no other tenant's data, roles or credentials), so whatever the archive's functions,
//! constraints and index expressions do while it loads stays inside a throw-away instance.
//!
//! Inside it the archive is restored by an ordinary role (`NOSUPERUSER`, no `CREATEROLE`, no
//! `pg_execute_server_program`/`pg_read_server_files`) that owns the one database it may connect
//! to; the superuser exists only behind the instance's private Unix socket and is used for
//! `CREATE ROLE` / `CREATE DATABASE` before any tenant byte is read.
//!
//! Resource limits (see [`settings`]): loopback only, at most `jobs + 3` connections (one kept for the superuser), 32 MB of
//! shared buffers, 64 MB per sort and 256 MB per index build, temporary files capped at the
//! configured limit, no WAL archiving or replication, and the scratch volume for its disk. It
//! runs no durability work (`fsync = off`): its data is deleted as soon as the restore ends.

use super::local_instance::{self, as_postgres, give_to_postgres, set_mode, tool, InstanceDir};
use crate::config::RegionConfig;
use crate::ports::{DataPlaneError, Login};
use std::path::Path;
use std::process::Stdio;

const TOOL: &str = "verification sandbox";

/// The one database in a sandbox.
pub const DATABASE: &str = "capydb_verify";

fn failed(context: &str, e: impl std::fmt::Display) -> DataPlaneError {
    DataPlaneError::Sandbox(format!("{context}: {e}"))
}

pub struct Sandbox {
    inst: InstanceDir,
    port: u16,
    pub login: Login,
}

/// What the sandbox's server is allowed to use.
pub fn settings(dir: &Path, port: u16, jobs: u32, temp_file_limit_mb: u64) -> Vec<String> {
    vec![
        format!("port = {port}"),
        "listen_addresses = '127.0.0.1'".into(),
        format!("unix_socket_directories = '{}'", dir.display()),
        // pg_restore's leader and its jobs, plus the superuser's one slot for setting up.
        format!("max_connections = {}", jobs + 3),
        "superuser_reserved_connections = 1".into(),
        "shared_buffers = 32MB".into(),
        "work_mem = 64MB".into(),
        "maintenance_work_mem = 256MB".into(),
        format!("temp_file_limit = '{temp_file_limit_mb}MB'"),
        "max_worker_processes = 4".into(),
        "max_parallel_workers = 2".into(),
        "archive_mode = off".into(),
        "wal_level = minimal".into(),
        "max_wal_senders = 0".into(),
        "fsync = off".into(),
        "synchronous_commit = off".into(),
        "full_page_writes = off".into(),
        "autovacuum = off".into(),
        // Messages the worker reads back (a missing extension) come in one language.
        "lc_messages = 'C'".into(),
    ]
}

impl Sandbox {
    /// Creates and starts a sandbox whose restoring role is named `role`; on any failure
    /// everything is already removed.
    pub async fn start(
        pg_bin_dir: Option<&Path>,
        scratch_dir: &Path,
        role: &str,
        jobs: u32,
        temp_file_limit_mb: u64,
    ) -> Result<Sandbox, DataPlaneError> {
        if role.is_empty() || !role.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(failed("role", format!("unexpected role name {role:?}")));
        }
        let inst = InstanceDir::create(TOOL, scratch_dir, local_instance::VERIFY_PREFIX, pg_bin_dir)
            .map_err(|e| failed("scratch directory", e))?;
        let port = local_instance::free_port(TOOL)?;
        let sandbox = Sandbox {
            inst,
            port,
            login: Login { role: role.to_string(), password: crate::adapters::crypto::random_password() },
        };
        match sandbox.prepare(pg_bin_dir, jobs, temp_file_limit_mb).await {
            Ok(()) => Ok(sandbox),
            Err(e) => {
                sandbox.remove().await;
                Err(e)
            }
        }
    }

    async fn prepare(
        &self,
        pg_bin_dir: Option<&Path>,
        jobs: u32,
        temp_file_limit_mb: u64,
    ) -> Result<(), DataPlaneError> {
        let dir = &self.inst.dir;
        // Only the server's own user may enter: the superuser's socket lives here.
        set_mode(TOOL, dir, 0o700)?;
        give_to_postgres(TOOL, dir).await?;
        let out = as_postgres(&tool(pg_bin_dir, "initdb"))
            .arg("-D")
            .arg(&self.inst.data)
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=reject", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-sync", "--no-instructions"])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| failed("cannot run initdb", e))?;
        if !out.status.success() {
            // initdb says why on stderr, or on stdout for some refusals; a signal says nothing.
            let said = [&out.stderr, &out.stdout]
                .iter()
                .map(|o| String::from_utf8_lossy(o).trim().to_string())
                .find(|o| !o.is_empty());
            return Err(failed("initdb", said.unwrap_or_else(|| format!("exited with {}", out.status))));
        }
        // The superuser only through the private socket; the restoring role only over loopback,
        // only into its database, only with its password.
        let hba = format!(
            "local all postgres trust\nhost {DATABASE} {role} 127.0.0.1/32 scram-sha-256\n",
            role = self.login.role
        );
        std::fs::write(self.inst.data.join("pg_hba.conf"), hba).map_err(|e| failed("pg_hba.conf", e))?;
        self.inst.append_conf(TOOL, &settings(dir, self.port, jobs, temp_file_limit_mb))?;
        give_to_postgres(TOOL, dir).await?;
        self.inst.start(60).await.map_err(|log| failed("the server did not start", log))?;
        let admin = self.superuser().await?;
        let (role, password) = (&self.login.role, &self.login.password);
        // A database nobody else may connect to from the moment it exists.
        admin
            .batch_execute(&format!(
                "CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '{password}';
                 REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;"
            ))
            .await
            .map_err(|e| failed("creating the restoring role", e))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {DATABASE} OWNER \"{role}\" ALLOW_CONNECTIONS false"))
            .await
            .map_err(|e| failed("creating the database", e))?;
        admin
            .batch_execute(&format!(
                "REVOKE CONNECT, TEMPORARY ON DATABASE {DATABASE} FROM PUBLIC;
                 GRANT CONNECT, TEMPORARY ON DATABASE {DATABASE} TO \"{role}\";
                 ALTER DATABASE {DATABASE} ALLOW_CONNECTIONS true;"
            ))
            .await
            .map_err(|e| failed("closing the database to others", e))
    }

    /// The instance's superuser, through its private socket. Runs no tenant code.
    async fn superuser(&self) -> Result<tokio_postgres::Client, DataPlaneError> {
        let (client, conn) = tokio_postgres::Config::new()
            .host_path(&self.inst.dir)
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .application_name("capydb-sandbox-admin")
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| failed("connecting to the sandbox", e))?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Where the restoring role connects (host and port; the URL's user is never used).
    pub fn region(&self) -> RegionConfig {
        RegionConfig {
            name: "verification sandbox".into(),
            admin_url: format!("postgres://{}@127.0.0.1:{}/{DATABASE}", self.login.role, self.port),
            public_host: "127.0.0.1".into(),
            public_port: self.port,
            pooled_port: None,
            wal_archiving: false,
            display_name: None,
            location: None,
        }
    }

    pub async fn remove(&self) {
        self.inst.remove().await
    }
}
