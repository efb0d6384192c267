//! Shared stack (moto + region clusters, started once) and per-test environments.

use async_compression::tokio::bufread::ZstdDecoder;
use capydb_functions::local::{Options, Runtime};
use capydb_shared::adapters::aws;
use capydb_shared::config::{Config, RegionConfig};
use capydb_shared::domain::api_keys;
use capydb_shared::ids::OrgId;
use capydb_shared::services::checkpoints::{Checkpoints, Halted};
use capydb_shared::services::wal_archive::HelperConfig;
use capydb_shared::services::{bootstrap, Context};
use serde_json::Value;
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

pub struct Stack {
    pub moto_url: String,
    /// Where the clusters, moto's log and the WAL helper's config live; removed at exit.
    pub dir: PathBuf,
    pub regions: Vec<RegionConfig>,
    pub pg_password: String,
    /// moto and the teardown watchdog outlive every test; the watchdog ends them both.
    _processes: Vec<std::process::Child>,
}

static STACK: OnceLock<Stack> = OnceLock::new();
static WORKERS: AtomicU32 = AtomicU32::new(0);

pub const SESSION_SECRET: &str = "integration-session-secret";

/// The bucket local-1's WAL archive and base backups live in.
pub const WAL_BUCKET: &str = "capydb-wal";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub fn stack() -> &'static Stack {
    STACK.get_or_init(start_stack)
}

fn start_stack() -> Stack {
    // CAPYDB_TEST_LOG=debug (or any filter) shows the runtime's logs while a test runs.
    if let Ok(filter) = std::env::var("CAPYDB_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let moto = std::env::var_os("CAPYDB_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".capydb/venv/bin/moto_server"));
    assert!(
        moto.exists(),
        "moto_server not found at {}: run `make deps` (infra/install-deps.sh) to install moto and PostgreSQL",
        moto.display()
    );
    // Everything the stack needs is checked before anything starts, so a missing piece leaks
    // no process.
    let wal_helper = wal_helper_binary();
    let dir = PathBuf::from(format!("/tmp/capydb-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("test state dir");
    let log = std::fs::File::create(dir.join("moto.log")).expect("moto log");
    let moto_port = free_port();
    let moto_child = Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("moto_server starts");
    let cluster_sh = repo_root().join("infra/cluster.sh");
    // Tears the stack down when this test process exits, however it exits — also when a
    // cluster below fails to start (a panic here is retried by the next test). The clusters stop
    // first, while moto still takes their last WAL segment; stopped the other way round, the
    // archiver retries against a dead endpoint for a minute.
    // Clusters a test started for itself ([`OwnCluster`]) live beside them and stop too.
    let cleanup = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         for c in {dir}/*/; do bash {sh} stop \"$c\"; done; kill {moto} 2>/dev/null; rm -rf {dir}",
        pid = std::process::id(),
        moto = moto_child.id(),
        sh = cluster_sh.display(),
        dir = dir.display()
    );
    let watchdog = Command::new("setsid")
        .args(["bash", "-c", &cleanup])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cleanup watchdog starts");

    let pg_password = format!("it{}", std::process::id());
    // local-1 archives its WAL into one bucket shared by every test of this process (the cluster
    // is shared too); the helper creates the bucket on its first push.
    let wal_config = dir.join("wal-archive.json");
    std::fs::write(
        &wal_config,
        serde_json::to_string(&HelperConfig {
            bucket: WAL_BUCKET.into(),
            region: "local-1".into(),
            aws_region: "us-east-1".into(),
            endpoint_url: Some(format!("http://127.0.0.1:{moto_port}")),
            create_bucket: true,
        })
        .unwrap(),
    )
    .expect("WAL helper config");
    let mut regions = Vec::new();
    for (name, archive) in [("local-1", true), ("local-2", false)] {
        let port = free_port();
        let out = Command::new("bash")
            .arg(&cluster_sh)
            .arg("start")
            .arg(dir.join(name))
            .arg(port.to_string())
            .arg(&pg_password)
            .arg(if archive { "on" } else { "off" })
            .env("CAPYDB_WAL_HELPER", &wal_helper)
            .env("CAPYDB_WAL_CONFIG", &wal_config)
            .output()
            .expect("cluster.sh runs");
        assert!(
            out.status.success(),
            "starting cluster {name} failed (is PostgreSQL installed? run `make deps`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        regions.push(RegionConfig {
            name: name.into(),
            admin_url: format!("postgres://postgres:{pg_password}@127.0.0.1:{port}/postgres"),
            public_host: "127.0.0.1".into(),
            public_port: port,
            pooled_port: None,
            wal_archiving: archive,
            display_name: None,
            location: None,
        });
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start; see {}/moto.log", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    Stack {
        moto_url: format!("http://127.0.0.1:{moto_port}"),
        dir,
        regions,
        pg_password,
        _processes: vec![moto_child, watchdog],
    }
}

/// A region cluster of one test's own, for faults that would disturb every other test on a
/// shared one (stopping it, restarting it). It stops and is removed when dropped.
pub struct OwnCluster {
    pub region: RegionConfig,
    dir: PathBuf,
}

impl OwnCluster {
    /// Starts a fresh cluster serving as region `name`, without WAL archiving.
    pub fn start(name: &str) -> OwnCluster {
        let s = stack();
        let dir = s.dir.join(format!("{name}-{}", unique_name()));
        let port = free_port();
        let cluster = OwnCluster {
            region: RegionConfig {
                name: name.into(),
                admin_url: format!("postgres://postgres:{}@127.0.0.1:{port}/postgres", s.pg_password),
                public_host: "127.0.0.1".into(),
                public_port: port,
                pooled_port: None,
                wal_archiving: false,
                display_name: None,
                location: None,
            },
            dir,
        };
        cluster.resume();
        cluster
    }

    /// Stops the cluster the way an operator or a failover does (`pg_ctl -m fast`): open
    /// sessions are ended, new connections refused.
    pub fn stop(&self) {
        self.cluster_sh(&["stop"]);
    }

    /// Starts it again on the same port and data, and waits until it accepts connections.
    pub fn resume(&self) {
        let port = self.region.public_port.to_string();
        self.cluster_sh(&["start", &port, &stack().pg_password, "off"]);
    }

    /// `CAPYDB_REGIONS`: the shared regions and this one.
    pub fn regions_env(&self) -> (&'static str, String) {
        let mut regions = stack().regions.clone();
        regions.push(self.region.clone());
        ("CAPYDB_REGIONS", serde_json::to_string(&regions).unwrap())
    }

    fn cluster_sh(&self, args: &[&str]) {
        let out = Command::new("bash")
            .arg(repo_root().join("infra/cluster.sh"))
            .arg(args[0])
            .arg(&self.dir)
            .args(&args[1..])
            .output()
            .expect("cluster.sh runs");
        assert!(out.status.success(), "cluster.sh {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(repo_root().join("infra/cluster.sh")).arg("stop").arg(&self.dir).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A name no other test uses (table, bucket, schedule group).
fn unique_name() -> String {
    format!("it-{}", &capydb_shared::ids::JobId::generate().as_str()[4..])
}

fn config(name: &str, worker: &str, extra: &[(&'static str, String)]) -> Config {
    let vars = vars(name, worker, extra);
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test config")
}

fn task_env(name: &str, worker: &str, extra: &[(&'static str, String)]) -> Vec<(String, String)> {
    vars(name, worker, extra).into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The test's configuration as environment variables: what its runtime reads, and what the
/// child processes standing in for container tasks get.
fn vars(name: &str, worker: &str, extra: &[(&'static str, String)]) -> HashMap<&'static str, String> {
    let s = stack();
    let mut vars: HashMap<&'static str, String> = HashMap::from([
        ("CAPYDB_TABLE", name.to_string()),
        ("CAPYDB_BUCKET", name.to_string()),
        ("AWS_ENDPOINT_URL", s.moto_url.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("CAPYDB_REGIONS", serde_json::to_string(&s.regions).unwrap()),
        ("CAPYDB_SECRETS_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string()),
        ("CAPYDB_SESSION_SECRET", SESSION_SECRET.to_string()),
        ("CAPYDB_WORKER_ID", worker.to_string()),
        // Each test its own schedule group, like its own table and bucket.
        ("CAPYDB_SCHEDULE_GROUP", name.to_string()),
        ("CAPYDB_WAL_BUCKET", WAL_BUCKET.to_string()),
        ("CAPYDB_WAL_HELPER", wal_helper_binary().display().to_string()),
        ("CAPYDB_TASK_BINARY", task_binary().display().to_string()),
    ]);
    vars.extend(extra.iter().cloned());
    vars
}

pub struct TestEnv {
    pub name: String,
    pub ctx: Context,
    pub runtime: Option<Runtime>,
    pub api: String,
    pub org: OrgId,
    pub key: String,
    http: reqwest::Client,
    extra: Vec<(&'static str, String)>,
    /// Every metric line the runtime wrote (CloudWatch Embedded Metric Format).
    pub metric_lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        Self::with_env(&[]).await
    }

    /// An environment whose runtime gets these environment variables on top of the defaults
    /// (e.g. `CAPYDB_WEBHOOKS_ALLOW_PRIVATE` for a local receiver, provider API URLs).
    pub async fn with_env(extra: &[(&'static str, String)]) -> TestEnv {
        let name = unique_name();
        let worker = format!("worker-{}", WORKERS.fetch_add(1, Ordering::SeqCst));
        let mut ctx = Context::from_config(config(&name, &worker, extra)).await;
        let (metrics, metric_lines) = capydb_shared::services::metrics::Metrics::capturing();
        ctx.metrics = metrics;
        let runtime = start_runtime(ctx.clone(), task_env(&name, &worker, extra)).await;
        let org = OrgId::generate();
        let key = api_keys::generate_plaintext();
        bootstrap::organization(&ctx, &org, "Integration org", &key).await.expect("bootstrap");
        TestEnv {
            name,
            api: runtime.api_url.clone(),
            ctx,
            runtime: Some(runtime),
            org,
            key,
            http: reqwest::Client::new(),
            extra: extra.to_vec(),
            metric_lines,
        }
    }

    /// Kills the runtime mid-work (as a crashed worker would die) and starts a fresh one with
    /// another worker id on the same table and bucket.
    pub async fn crash_and_restart(&mut self) {
        self.stop().await;
        let worker = format!("worker-{}", WORKERS.fetch_add(1, Ordering::SeqCst));
        self.ctx = Context::from_config(config(&self.name, &worker, &self.extra)).await;
        self.start().await;
    }

    /// Restarts the runtime with workers that stop dead at `checkpoint` (see
    /// [`Checkpoints`]); the returned handle says when one got there. [`TestEnv::crash_and_restart`]
    /// then plays the crash, and its fresh workers halt nowhere.
    pub async fn halt_at(&mut self, checkpoint: &str) -> Halted {
        self.stop().await;
        let (points, halted) = Checkpoints::halting_at(checkpoint);
        self.ctx.checkpoints = points;
        self.start().await;
        halted
    }

    /// Restarts the runtime with workers of which the first to reach `checkpoint` waits there
    /// until the returned `Notify` is notified, so a test can break something under it.
    pub async fn pause_at(&mut self, checkpoint: &str) -> (Halted, Arc<Notify>) {
        self.stop().await;
        let (points, paused, release) = Checkpoints::pausing_at(checkpoint);
        self.ctx.checkpoints = points;
        self.start().await;
        (paused, release)
    }

    /// Stops the runtime: nothing serves HTTP or runs jobs until [`TestEnv::start`].
    pub async fn stop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.kill().await;
        }
    }

    pub async fn start(&mut self) {
        let rt = start_runtime(self.ctx.clone(), task_env(&self.name, &self.ctx.config.worker_id, &self.extra)).await;
        self.api = rt.api_url.clone();
        self.runtime = Some(rt);
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{}", self.api, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(i) = idem {
            req = req.header("Idempotency-Key", i);
        }
        let resp = req.send().await.expect("API reachable");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, Some(&self.key), None, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(&self.key), Some(body), None).await
    }

    pub async fn wait_job(&self, job_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, body) = self.get(&format!("/v1/jobs/{job_id}")).await;
            assert_eq!(status, 200, "{body}");
            let state = body["job"]["state"].as_str().unwrap().to_string();
            if state == "completed" || state == "failed" || state == "cancelled" {
                return body["job"].clone();
            }
            assert!(Instant::now() < deadline, "job {job_id} still {state} after 120s: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until a transient failure has put `job_id` back to wait for its retry (never
    /// failing it); the job as it then is.
    pub async fn wait_retrying(&self, job_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, body) = self.get(&format!("/v1/jobs/{job_id}")).await;
            let job = body["job"].clone();
            if job["retry_classification"] == "transient" {
                return job;
            }
            assert_ne!(job["state"], "failed", "a transient failure is retried: {job}");
            assert!(Instant::now() < deadline, "job {job_id} never retried: {job}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Creates a project and waits until its database is ready; returns its id.
    pub async fn project(&self, region: &str) -> String {
        let (status, body) = self.post("/v1/projects", serde_json::json!({ "name": "test", "region": region })).await;
        assert_eq!(status, 202, "{body}");
        let job = self.wait_job(body["job"]["id"].as_str().unwrap()).await;
        assert_eq!(job["state"], "completed", "{job}");
        body["project"]["id"].as_str().unwrap().to_string()
    }

    /// The database name of a project, as the API reports it.
    pub async fn database_of(&self, project: &str) -> String {
        let (status, p) = self.get(&format!("/v1/projects/{project}")).await;
        assert_eq!(status, 200, "{p}");
        p["project"]["database_name"].as_str().unwrap().to_string()
    }

    /// Whether the scratch database `<prefix><id>` (verification, staging, safety copy) of one of
    /// this test's backups or restores is still on the cluster.
    pub async fn scratch_left(&self, region: &str, prefix: &str, id: &str) -> bool {
        !self.databases_like(region, &format!("{prefix}{id}")).await.is_empty()
    }

    /// Outbox events of `kind` written so far (a test-only scan of this test's table).
    pub async fn events(&self, kind: &str) -> Vec<Value> {
        let sdk = aws::sdk_config(&self.ctx.config).await;
        let (mut found, mut start) = (Vec::new(), None);
        loop {
            let out = aws::dynamodb(&sdk)
                .scan()
                .table_name(&self.name)
                .filter_expression("#t = :e AND event_type = :k")
                .expression_attribute_names("#t", "type")
                .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S("event".into()))
                .expression_attribute_values(":k", aws_sdk_dynamodb::types::AttributeValue::S(kind.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan events");
            found.extend(
                out.items
                    .unwrap_or_default()
                    .into_iter()
                    .map(|item| serde_dynamo::from_item::<_, Value>(item).expect("event item")),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                return found;
            }
        }
    }

    pub async fn databases_like(&self, region: &str, prefix: &str) -> Vec<String> {
        self.admin_db(region, "postgres")
            .await
            .query("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)", &[&prefix])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// A region's cluster as it really is: a shared one directly (never through a test's fault
    /// proxy), or a test's own cluster.
    pub fn region(&self, name: &str) -> &RegionConfig {
        stack().regions.iter().chain(&self.ctx.config.regions).find(|r| r.name == name).expect("region")
    }

    /// A superuser connection to `database` on `region`.
    pub async fn admin_db(&self, region: &str, database: &str) -> tokio_postgres::Client {
        let base = self.region(region).admin_url.rsplit_once('/').expect("admin URL has a database").0;
        let url = format!("{base}/{database}");
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect as admin");
        tokio::spawn(conn);
        client
    }

    /// Runs `sql` in a project's database through its own credentials, as its tenant would.
    pub async fn tenant_sql(&self, project: &str, sql: &str) {
        self.tenant_db(project).await.batch_execute(sql).await.expect("tenant sql runs");
    }

    /// A connection to a project's database as its own role.
    pub async fn tenant_db(&self, project: &str) -> tokio_postgres::Client {
        let (status, c) = self.get(&format!("/v1/projects/{project}/connections")).await;
        assert_eq!(status, 200, "{c}");
        let url = c["connections"]["direct_url"].as_str().expect("direct_url");
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect as the tenant");
        tokio::spawn(conn);
        client
    }

    pub async fn sql(&self, region: &str, database: &str, sql: &str) {
        self.admin_db(region, database).await.batch_execute(sql).await.expect("sql runs");
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = aws::sdk_config(&self.ctx.config).await;
        aws::s3(&sdk, &self.ctx.config)
    }

    pub async fn object(&self, key: &str) -> Vec<u8> {
        let out = self.s3().await.get_object().bucket(&self.name).key(key).send().await.expect("object exists");
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    pub async fn keys_under(&self, prefix: &str) -> Vec<String> {
        let out = self.s3().await.list_objects_v2().bucket(&self.name).prefix(prefix).send().await.unwrap();
        out.contents.unwrap_or_default().into_iter().filter_map(|o| o.key).collect()
    }

    pub async fn multipart_uploads(&self, prefix: &str) -> usize {
        let out = self.s3().await.list_multipart_uploads().bucket(&self.name).prefix(prefix).send().await.unwrap();
        out.uploads.map(|u| u.len()).unwrap_or(0)
    }

    /// Runs the `capydb` binary with this environment's API and key.
    pub fn cli(&self, args: &[&str], project: Option<&str>) -> std::process::Output {
        let mut cmd = Command::new(cli_binary());
        cmd.args(args)
            .env("CAPYDB_API_URL", &self.api)
            .env("CAPYDB_API_KEY", &self.key)
            .env_remove("CAPYDB_PROJECT")
            .stdin(Stdio::null());
        if let Some(p) = project {
            cmd.env("CAPYDB_PROJECT", p);
        }
        cmd.output().expect("capydb runs")
    }
}

async fn start_runtime(ctx: Context, task_env: Vec<(String, String)>) -> Runtime {
    let options = Options {
        listen: ([127, 0, 0, 1], 0).into(),
        stream_poll: Duration::from_millis(100),
        schedules: false,
        // Tests fire schedules themselves.
        project_schedules_every: Duration::from_secs(3600),
        dashboard: None,
        task_env,
    };
    Runtime::start(ctx, options).await.expect("local runtime starts")
}

/// The WAL archive helper the clusters and recovery instances run.
/// What a container task runs (`capydb-lambda` as `JobTask`).
pub fn task_binary() -> PathBuf {
    built_binary("capydb-lambda", "capydb-functions")
}

pub fn wal_helper_binary() -> PathBuf {
    built_binary("capydb-wal-archive", "capydb-functions")
}

pub fn cli_binary() -> PathBuf {
    built_binary("capydb", "capydb-cli")
}

fn built_binary(name: &str, package: &str) -> PathBuf {
    // target/<profile>/deps/integration-… → target/<profile>/<name>
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join(name);
    assert!(
        bin.exists(),
        "{} not found: build it first with `cargo build -p {package} --bin {name}` (make test does)",
        bin.display()
    );
    bin
}

/// Decompresses a stored archive back into the `pg_dump` custom-format bytes.
pub async fn unzstd(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ZstdDecoder::new(bytes).read_to_end(&mut out).await.expect("valid zstd");
    out
}
