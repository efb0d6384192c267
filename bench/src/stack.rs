//! The bench's own moto and PostgreSQL cluster, apart from `make dev`'s and the tests'.

use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Stack {
    pub dir: PathBuf,
    pub pg_port: u16,
    pub pg_password: String,
    /// The environment a worker (and each child step) runs with.
    pub env: BTreeMap<String, String>,
    moto: Child,
}

pub const REGION: &str = "bench";

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Stack {
    pub fn start() -> anyhow::Result<Stack> {
        Stack::start_with(false)
    }

    /// A stack whose cluster ships its WAL to the emulator through `capydb-wal-archive` (built
    /// beside this binary), for point-in-time restores.
    pub fn start_archiving() -> anyhow::Result<Stack> {
        Stack::start_with(true)
    }

    fn start_with(archiving: bool) -> anyhow::Result<Stack> {
        let moto_bin = std::env::var_os("CAPYDB_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".capydb/venv/bin/moto_server"));
        if !moto_bin.exists() {
            bail!("moto_server not found at {}: run `make deps` first", moto_bin.display());
        }
        // /tmp rather than the checkout: the cluster runs as `postgres`, which may not enter it.
        let suffix = if archiving { "-archiving" } else { "" };
        let dir = std::env::temp_dir().join(format!("capydb-bench-{}{suffix}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let moto_port = free_port()?;
        let log = std::fs::File::create(dir.join("moto.log"))?;
        let moto = Command::new(&moto_bin)
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting moto_server")?;
        let pg_port = free_port()?;
        let pg_password = format!("bench{}", std::process::id());
        let helper = std::env::current_exe()?.with_file_name("capydb-wal-archive");
        let mut cluster = Command::new("bash");
        cluster
            .arg("infra/cluster.sh")
            .arg("start")
            .arg(dir.join("cluster"))
            .arg(pg_port.to_string())
            .arg(&pg_password);
        if archiving {
            if !helper.exists() {
                bail!(
                    "{} not found: `make bench` builds it (cargo build --release -p capydb-functions --bin capydb-wal-archive)",
                    helper.display()
                );
            }
            let config = dir.join("wal-archive.json");
            std::fs::write(
                &config,
                serde_json::json!({
                    "bucket": "capydb-bench",
                    "region": REGION,
                    "aws_region": "us-east-1",
                    "endpoint_url": format!("http://127.0.0.1:{moto_port}"),
                    "create_bucket": true,
                })
                .to_string(),
            )?;
            cluster
                .env("CAPYDB_WAL_HELPER", &helper)
                .env("CAPYDB_WAL_CONFIG", &config)
                .env("AWS_ACCESS_KEY_ID", "bench")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .arg("on");
        } else {
            cluster.arg("off");
        }
        let out = cluster.output().context("running infra/cluster.sh")?;
        if !out.status.success() {
            bail!("starting the bench cluster failed (run `make deps`): {}", String::from_utf8_lossy(&out.stderr));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err() {
            if Instant::now() > deadline {
                bail!("moto did not start; see {}/moto.log", dir.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let region = serde_json::json!([{
            "name": REGION,
            "admin_url": format!("postgres://postgres:{pg_password}@127.0.0.1:{pg_port}/postgres"),
            "public_host": "127.0.0.1",
            "public_port": pg_port,
            "wal_archiving": archiving,
        }]);
        let env: BTreeMap<String, String> = [
            ("CAPYDB_TABLE", "capydb-bench".to_string()),
            ("CAPYDB_BUCKET", "capydb-bench".to_string()),
            ("CAPYDB_SCHEDULE_GROUP", "capydb-bench".to_string()),
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{moto_port}")),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "bench".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "bench".to_string()),
            ("CAPYDB_REGIONS", region.to_string()),
            ("CAPYDB_SECRETS_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string()),
            ("CAPYDB_WORKER_ID", "bench".to_string()),
            // One attempt with a long lease: a bench step is never retried behind our back.
            ("CAPYDB_JOB_LEASE_SECONDS", "600".to_string()),
            ("RUST_LOG", "warn".to_string()),
            ("CAPYDB_WAL_HELPER", helper.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(Stack { dir, pg_port, pg_password, env, moto })
    }

    /// A libpq command (psql, pgbench, pg_dump, pg_restore) aimed at the bench cluster.
    pub fn pg_command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(pg_tool(tool));
        cmd.env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.pg_port.to_string())
            .env("PGUSER", "postgres")
            .env("PGPASSWORD", &self.pg_password)
            .stdin(Stdio::null());
        cmd
    }

    pub fn admin_url(&self, database: &str) -> String {
        format!("postgres://postgres:{}@127.0.0.1:{}/{database}", self.pg_password, self.pg_port)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.moto.kill();
        let _ = self.moto.wait();
        let _ = Command::new("bash").arg("infra/cluster.sh").arg("stop").arg(self.dir.join("cluster")).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed PostgreSQL's tool, so client and server versions agree.
pub fn pg_tool(tool: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.sort_by_key(|d| {
        d.parent().and_then(Path::file_name).and_then(|n| n.to_str()).and_then(|n| n.parse::<u32>().ok()).unwrap_or(0)
    });
    dirs.into_iter().rev().map(|d| d.join(tool)).find(|p| p.exists()).unwrap_or_else(|| PathBuf::from(tool))
}
