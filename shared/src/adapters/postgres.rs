//! The PostgreSQL data plane: SQL through tokio-postgres for provisioning, and the real
//! `pg_dump` / `pg_restore` binaries, streamed through pipes so memory stays flat.

use super::pg_archive;
use super::sandbox::{self, Sandbox};
use super::scratch::{self, gib, Scratch};
use crate::config::RegionConfig;
use crate::ports::{BoxReader, DataPlane, DataPlaneError, DumpProcess, Login, WalStatus};
use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

#[derive(Debug, Clone)]
pub struct PostgresDataPlane {
    bin_dir: Option<PathBuf>,
    restore_jobs: u32,
    scratch: Scratch,
}

/// pg_dump's output pipe: the kernel's default `pipe-max-size`.
const DUMP_PIPE_BYTES: usize = 1024 * 1024;

/// Connection facts of a region's admin URL, for the command-line tools.
struct Admin {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
}

fn admin(region: &RegionConfig) -> Result<Admin, DataPlaneError> {
    let bad = |m: &str| DataPlaneError::Connect { region: region.name.clone(), message: m.to_string() };
    let url = url::Url::parse(&region.admin_url).map_err(|_| bad("admin_url is not a postgres:// URL"))?;
    Ok(Admin {
        host: url.host_str().ok_or_else(|| bad("admin_url has no host"))?.to_string(),
        port: url.port().unwrap_or(5432),
        user: if url.username().is_empty() { "postgres".into() } else { url.username().to_string() },
        password: url.password().map(percent_decode),
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Names we create are derived from our own ids; anything else is refused rather than quoted.
fn ident(name: &str) -> Result<String, DataPlaneError> {
    if !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(format!("\"{name}\""))
    } else {
        Err(DataPlaneError::Sql(format!("refusing unexpected identifier {name:?}")))
    }
}

/// Keeps the last few KiB a tool wrote to stderr, for the error message.
async fn tail_of(mut stderr: impl AsyncRead + Unpin) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 16 * 1024 {
            buf.drain(..buf.len() - 8 * 1024);
        }
    }
    String::from_utf8_lossy(&buf).trim().to_string()
}

fn tool_error(tool: &'static str, status: std::process::ExitStatus, stderr: String) -> DataPlaneError {
    let message = if stderr.is_empty() { format!("exited with {status}") } else { stderr };
    DataPlaneError::Tool { tool, message }
}

impl PostgresDataPlane {
    /// `restore_jobs` above 1 restores in parallel: a custom archive from a copy staged in
    /// `scratch`, a directory archive as it is.
    pub fn new(bin_dir: Option<PathBuf>, restore_jobs: u32, scratch: Scratch) -> Self {
        PostgresDataPlane { bin_dir, restore_jobs: restore_jobs.max(1), scratch }
    }

    /// Writes the archive to a local file when a parallel restore is configured and the scratch
    /// volume has room for it (`pg_restore --jobs` must seek; it cannot read a pipe). `None`:
    /// restore from the stream with one job.
    async fn stage(
        &self,
        archive: &mut BoxReader,
        archive_bytes: Option<u64>,
    ) -> Result<Option<tempfile::NamedTempFile>, DataPlaneError> {
        let Some(bytes) = archive_bytes.filter(|_| self.restore_jobs > 1) else { return Ok(None) };
        let Some(free) = self.scratch.free() else {
            tracing::warn!(dir = %self.scratch.dir.display(), "scratch space unknown; restoring with one job");
            return Ok(None);
        };
        if free < bytes.saturating_add(scratch::HEADROOM) {
            tracing::info!(bytes, free, "not enough scratch space to stage the archive; restoring with one job");
            return Ok(None);
        }
        let file =
            tempfile::Builder::new().prefix(super::local_instance::DOWNLOAD_PREFIX).tempfile_in(&self.scratch.dir)?;
        let staged = pg_archive::stage(archive, tokio::fs::File::from_std(file.reopen()?)).await?;
        tracing::debug!(
            bytes = staged.bytes,
            offsets = staged.offsets_written,
            "archive staged for a parallel restore"
        );
        Ok(Some(file))
    }

    /// A verification sandbox for an archive of `dump_bytes`, with a slot per restore job.
    async fn sandbox(&self, role: &str, dump_bytes: u64) -> Result<Sandbox, DataPlaneError> {
        // Temporary files (sorts, index builds) may take up to twice the archive, at least 1 GiB.
        let temp_mb = (dump_bytes / (1024 * 1024)).saturating_mul(2).max(1024);
        Sandbox::start(self.bin_dir.as_deref(), &self.scratch.dir, role, self.restore_jobs, temp_mb).await
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.as_ref().map(|d| d.join(name)).unwrap_or_else(|| PathBuf::from(name))
    }

    /// `pg_dump` / `pg_restore` against `database`, connected as `login` — never as the
    /// region's superuser: these tools run tenant SQL (functions, constraints, index expressions).
    fn command(
        &self,
        tool: &str,
        region: &RegionConfig,
        database: &str,
        login: &Login,
    ) -> Result<Command, DataPlaneError> {
        let a = admin(region)?;
        ident(&login.role)?;
        let mut cmd = Command::new(self.tool(tool));
        cmd.arg("--host")
            .arg(&a.host)
            .arg("--port")
            .arg(a.port.to_string())
            .arg("--username")
            .arg(&login.role)
            .arg("--no-password")
            .arg("--dbname")
            .arg(database)
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGAPPNAME", "capydb-backups")
            // Nothing from the worker's own environment may pick another identity or file.
            .env_remove("PGUSER")
            .env_remove("PGPASSFILE")
            .env_remove("PGSERVICE")
            .kill_on_drop(true);
        // The password travels in the environment, never on a command line `ps` can show.
        cmd.env("PGPASSWORD", &login.password);
        Ok(cmd)
    }

    async fn connect(
        &self,
        region: &RegionConfig,
        database: Option<&str>,
    ) -> Result<tokio_postgres::Client, DataPlaneError> {
        let mut config = tokio_postgres::Config::from_str(&region.admin_url)
            .map_err(|e| DataPlaneError::Connect { region: region.name.clone(), message: with_causes(&e) })?;
        config.connect_timeout(std::time::Duration::from_secs(10)).application_name("capydb-backups");
        if let Some(db) = database {
            config.dbname(db);
        }
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| DataPlaneError::Connect { region: region.name.clone(), message: with_causes(&e) })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "admin connection closed");
            }
        });
        Ok(client)
    }

    async fn exec(&self, client: &tokio_postgres::Client, sql: &str) -> Result<(), DataPlaneError> {
        client.batch_execute(sql).await.map_err(|e| DataPlaneError::Sql(db_error(&e)))
    }
}

/// Leaves `db` to `owner` alone, then opens it: a database is created with connections off,
/// so PUBLIC's default CONNECT is never usable. (Both are quoted identifiers.)
fn close_to_others(db: &str, owner: &str) -> String {
    format!(
        "REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC; \
         GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {owner}; \
         ALTER DATABASE {db} ALLOW_CONNECTIONS true;"
    )
}

/// pg_restore's own words, with the one case a user must act on spelled out: an extension that
/// only a superuser may create. Restores never run as one, so such an archive cannot load.
fn explain_restore_error(e: DataPlaneError) -> DataPlaneError {
    let DataPlaneError::Tool { tool, message } = e else { return e };
    let needle = "permission denied to create extension \"";
    let Some(start) = message.find(needle).map(|i| i + needle.len()) else {
        return DataPlaneError::Tool { tool, message };
    };
    let name: String = message[start..].chars().take_while(|c| *c != '"').collect();
    DataPlaneError::Tool {
        tool,
        message: format!(
            "the archive needs extension \"{name}\", which only a superuser may create; restores run as the \
             database's own role and load trusted extensions only (pg_trgm, citext, hstore, uuid-ossp, …)"
        ),
    }
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => with_causes(e),
    }
}

/// The error and what caused it: the driver says "error connecting to server", its source says
/// "Connection refused", and the job must say both (the retry classification reads them too).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

/// Runs `cmd` (reading no input, its output unused) to its end; its exit status and the tail of
/// its stderr say whether it worked.
async fn run_tool(tool: &'static str, cmd: &mut Command) -> Result<(), DataPlaneError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| DataPlaneError::Tool { tool, message: format!("cannot start: {e}") })?;
    let stderr = tokio::spawn(tail_of(child.stderr.take().expect("stderr is piped")));
    finish(tool, child, stderr).await
}

async fn finish(
    tool: &'static str,
    mut child: Child,
    stderr: tokio::task::JoinHandle<String>,
) -> Result<(), DataPlaneError> {
    let status = child.wait().await?;
    let stderr = stderr.await.unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(tool_error(tool, status, stderr))
    }
}

#[async_trait]
impl DataPlane for PostgresDataPlane {
    async fn base_backup(&self, region: &RegionConfig) -> Result<DumpProcess, DataPlaneError> {
        let a = admin(region)?;
        let mut cmd = Command::new(self.tool("pg_basebackup"));
        cmd.args(["--host", &a.host, "--port", &a.port.to_string(), "--username", &a.user, "--no-password"])
            // A tar stream on stdout; WAL comes from the archive, and pg_basebackup returns only
            // after the server archived the backup's last segment.
            .args(["--pgdata=-", "--format=tar", "--wal-method=none", "--checkpoint=fast", "--no-manifest"])
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGAPPNAME", "capydb-base-backup")
            .kill_on_drop(true)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match a.password {
            Some(p) => cmd.env("PGPASSWORD", p),
            None => cmd.env_remove("PGPASSWORD"),
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| DataPlaneError::Tool { tool: "pg_basebackup", message: format!("cannot start: {e}") })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        if let Err(e) = rustix::pipe::fcntl_setpipe_size(&stdout, DUMP_PIPE_BYTES) {
            tracing::debug!(error = %e, "could not enlarge the base backup pipe");
        }
        let stderr = tokio::spawn(tail_of(child.stderr.take().expect("stderr is piped")));
        Ok(DumpProcess { reader: Box::pin(stdout), finished: finish("pg_basebackup", child, stderr).boxed() })
    }

    async fn wal_status(&self, region: &RegionConfig) -> Result<WalStatus, DataPlaneError> {
        let client = self.connect(region, None).await?;
        let row = client
            .query_one(
                "SELECT pg_current_wal_lsn()::text, (SELECT timeline_id FROM pg_control_checkpoint())::int4, \
                        extract(epoch FROM clock_timestamp())::float8, \
                        (SELECT last_archived_wal FROM pg_stat_archiver)",
                &[],
            )
            .await
            .map_err(|e| DataPlaneError::Sql(db_error(&e)))?;
        Ok(WalStatus {
            lsn: row.get(0),
            timeline: row.get::<_, i32>(1).max(1) as u32,
            at: {
                let epoch: f64 = row.get(2);
                chrono::DateTime::from_timestamp_micros((epoch * 1e6) as i64).unwrap_or_default()
            },
            last_archived: row.get(3),
        })
    }

    async fn switch_wal(&self, region: &RegionConfig) -> Result<String, DataPlaneError> {
        let client = self.connect(region, None).await?;
        let row = client
            .query_one("SELECT pg_walfile_name(pg_switch_wal())", &[])
            .await
            .map_err(|e| DataPlaneError::Sql(db_error(&e)))?;
        Ok(row.get(0))
    }

    async fn create_restore_point(&self, region: &RegionConfig, name: &str) -> Result<String, DataPlaneError> {
        let client = self.connect(region, None).await?;
        let row = client
            .query_one("SELECT pg_create_restore_point($1)::text", &[&name])
            .await
            .map_err(|e| DataPlaneError::Sql(db_error(&e)))?;
        Ok(row.get(0))
    }

    async fn provision_database(
        &self,
        region: &RegionConfig,
        database: &str,
        role: &str,
        password: &str,
    ) -> Result<(), DataPlaneError> {
        let (db, r) = (ident(database)?, ident(role)?);
        self.ensure_role(region, role, password).await?;
        let client = self.connect(region, None).await?;
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
            .await
            .map_err(|e| DataPlaneError::Sql(db_error(&e)))?
            .is_some();
        if !exists {
            match client.batch_execute(&format!("CREATE DATABASE {db} OWNER {r} ALLOW_CONNECTIONS false")).await {
                Ok(()) => {}
                // Another provisioner won the race: the database exists, which is what we want.
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
                Err(e) => return Err(DataPlaneError::Sql(db_error(&e))),
            }
        }
        self.exec(&client, &close_to_others(&db, &r)).await
    }

    async fn server_version(&self, region: &RegionConfig) -> Result<String, DataPlaneError> {
        let client = self.connect(region, None).await?;
        let row = client.query_one("SHOW server_version", &[]).await.map_err(|e| DataPlaneError::Sql(db_error(&e)))?;
        Ok(row.get::<_, String>(0))
    }

    async fn dump(&self, region: &RegionConfig, database: &str, login: &Login) -> Result<DumpProcess, DataPlaneError> {
        ident(database)?;
        // pg_dump sets restrict_nonsystem_relation_kind itself where the server knows it (15.8+),
        // so a view or foreign table swapped in mid-dump cannot run code in this session.
        let mut child = self
            .command("pg_dump", region, database, login)?
            // Uncompressed: zstd in our process is faster and smaller than pg_dump's gzip.
            .args(["--format=custom", "--compress=0", "--lock-wait-timeout=300000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DataPlaneError::Tool { tool: "pg_dump", message: format!("cannot start: {e}") })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // A deep pipe lets pg_dump (and the server behind it) run ahead while we compress,
        // instead of stalling every 64 KiB. The kernel's limit may refuse it; that only costs speed.
        if let Err(e) = rustix::pipe::fcntl_setpipe_size(&stdout, DUMP_PIPE_BYTES) {
            tracing::debug!(error = %e, "could not enlarge the dump pipe");
        }
        let stderr = tokio::spawn(tail_of(child.stderr.take().expect("stderr is piped")));
        Ok(DumpProcess { reader: Box::pin(stdout), finished: finish("pg_dump", child, stderr).boxed() })
    }

    async fn restore(
        &self,
        region: &RegionConfig,
        database: &str,
        mut archive: BoxReader,
        archive_bytes: Option<u64>,
        login: &Login,
    ) -> Result<(), DataPlaneError> {
        ident(database)?;
        // Connected as the owner itself (no --role: a SET ROLE is undone by RESET ROLE), so
        // every object is the owner's and the archive's code runs with its privileges alone.
        let mut cmd = self.command("pg_restore", region, database, login)?;
        cmd.args(["--exit-on-error", "--no-owner", "--no-acl"]);
        if let Some(staged) = self.stage(&mut archive, archive_bytes).await? {
            cmd.arg(format!("--jobs={}", self.restore_jobs)).arg(staged.path());
            // The staged file is removed when `staged` drops, after pg_restore is done with it.
            return run_tool("pg_restore", &mut cmd).await.map_err(explain_restore_error);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DataPlaneError::Tool { tool: "pg_restore", message: format!("cannot start: {e}") })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stderr = tokio::spawn(tail_of(child.stderr.take().expect("stderr is piped")));
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match archive.read(&mut buf).await {
                Ok(n) => n,
                // The archive could not be read (storage, checksum, decompression): that is the error.
                Err(e) => {
                    let _ = child.kill().await;
                    return Err(DataPlaneError::Io(e));
                }
            };
            if n == 0 {
                break;
            }
            if stdin.write_all(&buf[..n]).await.is_err() {
                // pg_restore stopped reading; its exit status and stderr say whether it failed.
                break;
            }
        }
        drop(stdin);
        finish("pg_restore", child, stderr).await.map_err(explain_restore_error)?;
        // pg_restore may finish before the end of the stream; read the rest so that whatever
        // checks the stream as a whole (the archive checksum) sees every byte.
        tokio::io::copy(&mut archive, &mut tokio::io::sink()).await?;
        Ok(())
    }

    async fn create_database(&self, region: &RegionConfig, database: &str, owner: &str) -> Result<(), DataPlaneError> {
        let (db, o) = (ident(database)?, ident(owner)?);
        let client = self.connect(region, None).await?;
        self.exec(&client, &format!("CREATE DATABASE {db} OWNER {o} ALLOW_CONNECTIONS false")).await?;
        self.exec(&client, &close_to_others(&db, &o)).await
    }

    async fn verify(&self, archive: BoxReader, archive_bytes: Option<u64>, role: &str) -> Result<(), DataPlaneError> {
        // A sandbox that cannot hold the data says nothing about the archive: refused before it
        // starts when it surely cannot, named when the disk fills up anyway.
        if let Some(bytes) = archive_bytes {
            self.scratch.check(bytes, "verify the backup").map_err(DataPlaneError::Sandbox)?;
        }
        let sandbox = self.sandbox(role, archive_bytes.unwrap_or(0)).await?;
        let login = sandbox.login.clone();
        let result = self.restore(&sandbox.region(), sandbox::DATABASE, archive, archive_bytes, &login).await;
        sandbox.remove().await;
        result.map_err(|e| scratch_filled(e, archive_bytes, &self.scratch.dir))
    }

    async fn dump_directory(
        &self,
        region: &RegionConfig,
        database: &str,
        login: &Login,
        dir: &Path,
        jobs: u32,
    ) -> Result<BoxFuture<'static, Result<(), DataPlaneError>>, DataPlaneError> {
        ident(database)?;
        // `--jobs` opens one connection per job, all as the tenant's role, on one snapshot that
        // the leader exports (`pg_export_snapshot` needs no privilege).
        let mut cmd = self.command("pg_dump", region, database, login)?;
        cmd.args(["--format=directory", "--compress=0", "--lock-wait-timeout=300000"])
            .arg(format!("--jobs={}", jobs.max(1)))
            .arg("--file")
            .arg(dir);
        Ok(async move { run_tool("pg_dump", &mut cmd).await }.boxed())
    }

    async fn restore_directory(
        &self,
        region: &RegionConfig,
        database: &str,
        dir: &Path,
        login: &Login,
    ) -> Result<(), DataPlaneError> {
        ident(database)?;
        // As `restore`: connected as the owner itself, so the archive's code has its privileges.
        let mut cmd = self.command("pg_restore", region, database, login)?;
        cmd.args(["--exit-on-error", "--no-owner", "--no-acl", "--format=directory"])
            .arg(format!("--jobs={}", self.restore_jobs))
            .arg(dir);
        run_tool("pg_restore", &mut cmd).await.map_err(explain_restore_error)
    }

    async fn verify_directory(&self, dir: &Path, dump_bytes: u64, role: &str) -> Result<(), DataPlaneError> {
        // The files are already on the volume; the restored data needs about as much again.
        self.scratch.check(dump_bytes, "verify the backup").map_err(DataPlaneError::Sandbox)?;
        let sandbox = self.sandbox(role, dump_bytes).await?;
        let login = sandbox.login.clone();
        let result = self.restore_directory(&sandbox.region(), sandbox::DATABASE, dir, &login).await;
        sandbox.remove().await;
        result.map_err(|e| scratch_filled(e, Some(dump_bytes), &self.scratch.dir))
    }

    async fn drop_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError> {
        let db = ident(database)?;
        let client = self.connect(region, None).await?;
        self.exec(&client, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await
    }

    async fn ensure_role(&self, region: &RegionConfig, role: &str, password: &str) -> Result<(), DataPlaneError> {
        let r = ident(role)?;
        if !password.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(DataPlaneError::Sql("generated password has unexpected characters".into()));
        }
        let client = self.connect(region, None).await?;
        self.exec(
            &client,
            &format!(
                "DO $$ BEGIN
                   IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                     ALTER ROLE {r} LOGIN PASSWORD '{password}';
                   ELSE
                     CREATE ROLE {r} LOGIN PASSWORD '{password}';
                   END IF;
                 END $$;"
            ),
        )
        .await
    }

    async fn drop_role(&self, region: &RegionConfig, role: &str) -> Result<(), DataPlaneError> {
        let r = ident(role)?;
        let client = self.connect(region, None).await?;
        self.exec(&client, &format!("DROP ROLE IF EXISTS {r}")).await
    }

    async fn rename_database(&self, region: &RegionConfig, from: &str, to: &str) -> Result<(), DataPlaneError> {
        let (f, t) = (ident(from)?, ident(to)?);
        let client = self.connect(region, None).await?;
        self.exec(&client, &format!("ALTER DATABASE {f} RENAME TO {t}")).await
    }

    async fn database_exists(&self, region: &RegionConfig, database: &str) -> Result<bool, DataPlaneError> {
        let client = self.connect(region, None).await?;
        let row = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
            .await
            .map_err(|e| DataPlaneError::Sql(db_error(&e)))?;
        Ok(row.is_some())
    }

    async fn database_size(&self, region: &RegionConfig, database: &str) -> Result<u64, DataPlaneError> {
        // A built-in read of the catalogue over the admin connection: no tenant SQL runs.
        let client = self.connect(region, None).await?;
        let row = client
            .query_one("SELECT pg_database_size($1::text)", &[&database])
            .await
            .map_err(|e| DataPlaneError::Sql(db_error(&e)))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    async fn close_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError> {
        let db = ident(database)?;
        let client = self.connect(region, None).await?;
        self.exec(&client, &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).await?;
        // Ended sessions take a moment to go away.
        for _ in 0..50 {
            let left: i64 = client
                .query_one(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&database],
                )
                .await
                .map_err(|e| DataPlaneError::Sql(db_error(&e)))?
                .get(0);
            if left == 0 {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = self.exec(&client, &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await;
        Err(DataPlaneError::Sql(format!("sessions on {database} did not end")))
    }

    async fn open_database(&self, region: &RegionConfig, database: &str) -> Result<(), DataPlaneError> {
        let db = ident(database)?;
        let client = self.connect(region, None).await?;
        if self.database_exists(region, database).await? {
            self.exec(&client, &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await?;
        }
        Ok(())
    }

    async fn swap_databases(
        &self,
        region: &RegionConfig,
        live: &str,
        staging: &str,
        keep_as: &str,
    ) -> Result<(), DataPlaneError> {
        let (l, st, k) = (ident(live)?, ident(staging)?, ident(keep_as)?);
        let client = self.connect(region, None).await?;
        // The kept copy is reopened in the same transaction: it has a name no client knows, and
        // our own dump of it must be able to connect, whenever that dump runs.
        let swap = format!(
            "BEGIN; ALTER DATABASE {l} RENAME TO {k}; ALTER DATABASE {k} ALLOW_CONNECTIONS true; \
             ALTER DATABASE {st} RENAME TO {l}; COMMIT;"
        );
        let mut last = String::new();
        for _ in 0..20 {
            match client.batch_execute(&swap).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    last = db_error(&e);
                    // A session that was still going away when the database closed.
                    client
                        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", &[&live])
                        .await
                        .map_err(|e| DataPlaneError::Sql(db_error(&e)))?;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
        Err(DataPlaneError::Sql(format!("could not swap databases: {last}")))
    }
}

/// A sandbox restore that failed because the scratch disk filled up: the worker's shortage,
/// named with the space the archive needs, not a verdict on the archive.
fn scratch_filled(e: DataPlaneError, dump_bytes: Option<u64>, dir: &std::path::Path) -> DataPlaneError {
    match &e {
        DataPlaneError::Tool { message, .. } | DataPlaneError::Sql(message)
            if message.contains("No space left on device") || message.contains("could not extend file") =>
        {
            DataPlaneError::Sandbox(format!(
                "the scratch disk {} filled up while verifying a {} dump; give the worker more scratch space than that ({message})",
                dir.display(),
                gib(dump_bytes.unwrap_or(0))
            ))
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_disk_that_fills_up_during_verification_is_the_workers_shortage() {
        let dir = std::path::Path::new("/tmp");
        let full = DataPlaneError::Tool {
            tool: "pg_restore",
            message: "pg_restore: error: could not extend file \"base/16384/16385\": No space left on device".into(),
        };
        let e = scratch_filled(full, Some(3 << 30), dir);
        assert!(matches!(e, DataPlaneError::Sandbox(_)), "{e}");
        assert!(e.to_string().contains("the scratch disk /tmp filled up while verifying a 3.0 GiB dump"), "{e}");
        let bad = DataPlaneError::Tool { tool: "pg_restore", message: "invalid input syntax".into() };
        assert!(
            matches!(scratch_filled(bad, None, dir), DataPlaneError::Tool { .. }),
            "other failures stay what they are"
        );
    }

    use super::*;

    #[tokio::test]
    async fn a_refused_connection_says_it_was_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = tokio_postgres::connect(&format!("postgres://u:p@127.0.0.1:{port}/d"), tokio_postgres::NoTls)
            .await
            .err()
            .expect("nothing listens there");
        let text = with_causes(&e);
        assert!(text.starts_with("error connecting to server"), "{text}");
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
    }

    #[test]
    fn an_untrusted_extension_is_named_in_the_error() {
        let raw = DataPlaneError::Tool {
            tool: "pg_restore",
            message: "pg_restore: error: could not execute query: ERROR:  permission denied to create extension \"plpython3u\"\nHINT: Must be superuser".into(),
        };
        let text = explain_restore_error(raw).to_string();
        assert!(text.contains("extension \"plpython3u\"") && text.contains("trusted extensions only"), "{text}");
        let other = DataPlaneError::Tool { tool: "pg_restore", message: "relation exists".into() };
        assert_eq!(explain_restore_error(other).to_string(), "pg_restore failed: relation exists");
    }

    #[test]
    fn identifiers_outside_our_alphabet_are_refused() {
        assert_eq!(ident("prj_01abc").unwrap(), "\"prj_01abc\"");
        for bad in ["", "Robert\"; DROP", "a b", &"x".repeat(64)] {
            assert!(ident(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn admin_url_password_is_percent_decoded() {
        let region = RegionConfig {
            name: "r".into(),
            admin_url: "postgres://postgres:p%40ss@127.0.0.1:5433/postgres".into(),
            public_host: "127.0.0.1".into(),
            public_port: 5433,
            pooled_port: None,
            wal_archiving: false,
            display_name: None,
            location: None,
        };
        let a = admin(&region).unwrap();
        assert_eq!((a.host.as_str(), a.port, a.user.as_str()), ("127.0.0.1", 5433, "postgres"));
        assert_eq!(a.password.as_deref(), Some("p@ss"));
    }
}
