//! Faults between the code and AWS: a proxy in front of moto that answers chosen requests with
//! the errors S3 and DynamoDB really give (503 SlowDown, ThrottlingException), or holds it
//! forever, on the Nth request matching a pattern. Each case checks the final state: the job
//! ends truthfully, every completed backup restores with its SHA-256, and no multipart upload,
//! scratch database or scratch file is left behind.

use crate::harness::{stack, TestEnv};
use crate::restores::{names_in, preview_url, project_url, project_with, restore, restore_done};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use capydb_shared::services::sweeper::sweep_jobs;
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

type Matcher = Box<dyn Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    /// Requests matching so far.
    seen: usize,
    /// Which matching requests meet `action`: the `from`-th (1-based) and the `count - 1` after it.
    from: usize,
    count: usize,
    action: Action,
    failed: usize,
}

#[derive(Clone)]
enum Action {
    /// Answer with this error instead of forwarding.
    Answer { status: StatusCode, content_type: &'static str, body: &'static str },
    /// Hold the request forever (as a worker killed mid-request leaves it), and say so here.
    Hang(Arc<Notify>),
    /// Forward it, but stop after the first bytes of the answer's body (and say so here).
    StallBody(Arc<Notify>),
}

/// A proxy in front of moto that fails what its rules say and forwards everything else.
struct FaultProxy {
    url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    async fn start() -> FaultProxy {
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let state = rules.clone();
        let upstream = stack().moto_url.clone();
        let http = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (rules, upstream, http) = (state.clone(), upstream.clone(), http.clone());
            async move {
                let mut stall = None;
                match fault(&rules, &method, &uri, &headers) {
                    Some(Action::Answer { status, content_type, body }) => {
                        let mut resp = (status, body).into_response();
                        resp.headers_mut().insert("content-type", content_type.parse().unwrap());
                        return resp;
                    }
                    Some(Action::Hang(reached)) => {
                        reached.notify_one();
                        return std::future::pending().await;
                    }
                    Some(Action::StallBody(reached)) => stall = Some(reached),
                    None => {}
                }
                let url = format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
                let mut req = http.request(method, url).body(body);
                for (k, v) in headers.iter().filter(|(k, _)| *k != "host" && *k != "content-length") {
                    req = req.header(k, v);
                }
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let headers = resp.headers().clone();
                        let bytes = resp.bytes().await.unwrap_or_default();
                        let body = match stall {
                            None => axum::body::Body::from(bytes),
                            Some(reached) => {
                                let first = bytes.slice(..bytes.len().min(64 * 1024));
                                let sent = futures::stream::once(async move {
                                    reached.notify_one();
                                    Ok::<_, std::io::Error>(first)
                                });
                                axum::body::Body::from_stream(sent.chain(futures::stream::pending()))
                            }
                        };
                        let mut out = Response::new(body);
                        *out.status_mut() = status;
                        for (k, v) in
                            headers.iter().filter(|(k, _)| *k != "content-length" && *k != "transfer-encoding")
                        {
                            out.headers_mut().insert(k, v.clone());
                        }
                        out
                    }
                    Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
                }
            }
        });
        // Parts are 8 MiB and more: far past axum's default body limit.
        let app = app.layer(axum::extract::DefaultBodyLimit::disable());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fault proxy serves");
        });
        FaultProxy { url, rules, task }
    }

    fn push(&self, matches: Matcher, from: usize, count: usize, action: Action) {
        self.rules.lock().unwrap().push(Rule { matches, seen: 0, from, count, action, failed: 0 });
    }

    fn fail(
        &self,
        matches: Matcher,
        from: usize,
        count: usize,
        status: StatusCode,
        content_type: &'static str,
        body: &'static str,
    ) {
        self.push(matches, from, count, Action::Answer { status, content_type, body });
    }

    /// Holds the `nth` request matching forever; the returned handle fires when it arrives.
    fn hang(&self, matches: Matcher, nth: usize) -> Arc<Notify> {
        let reached = Arc::new(Notify::new());
        self.push(matches, nth, 1, Action::Hang(reached.clone()));
        reached
    }

    /// Answers the `nth` request matching with its first 64 KiB and then nothing more, as a
    /// connection that stops mid-stream; the returned handle fires once those bytes went out.
    fn stall_body(&self, matches: Matcher, nth: usize) -> Arc<Notify> {
        let reached = Arc::new(Notify::new());
        self.push(matches, nth, 1, Action::StallBody(reached.clone()));
        reached
    }

    /// Forwards everything from now on.
    fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// How many requests the rules failed, in the order they were added.
    fn failed(&self) -> Vec<usize> {
        self.rules.lock().unwrap().iter().map(|r| r.failed).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fault(rules: &Mutex<Vec<Rule>>, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Action> {
    let mut rules = rules.lock().unwrap();
    for rule in rules.iter_mut() {
        if !(rule.matches)(method, uri, headers) {
            continue;
        }
        rule.seen += 1;
        if rule.seen >= rule.from && rule.seen < rule.from + rule.count {
            rule.failed += 1;
            return Some(rule.action.clone());
        }
    }
    None
}

const SLOW_DOWN: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>";
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;

fn upload_part(n: u32) -> Matcher {
    Box::new(move |m, uri, _| {
        *m == Method::PUT
            && uri
                .query()
                .is_some_and(|q| q.contains(&format!("partNumber={n}&")) || q.ends_with(&format!("partNumber={n}")))
    })
}

fn complete_upload() -> Matcher {
    Box::new(|m, uri, _| *m == Method::POST && uri.query().is_some_and(|q| q.contains("uploadId=")))
}

fn dynamo(target: &'static str) -> Matcher {
    Box::new(move |_, _, h| h.get("x-amz-target").and_then(|v| v.to_str().ok()) == Some(target))
}

/// A project whose database holds `mib` MiB of incompressible rows (so its archive spans
/// several 8 MiB parts), and `accounts` with one row.
async fn big_project(env: &TestEnv, mib: u32) -> String {
    let (project, _) = project_with(env, &["ada"]).await;
    let url = project_url(env, &project).await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "CREATE TABLE blobs (b bytea);
             INSERT INTO blobs SELECT (SELECT decode(string_agg(md5(random()::text || g || i), ''), 'hex')
                                       FROM generate_series(1, 64) i)
             FROM generate_series(1, {}) g;",
            mib * 1024
        ))
        .await
        .unwrap();
    project
}

/// The stored archive's bytes hash to the recorded SHA-256, and it restores to the same rows.
async fn restores_as_recorded(env: &TestEnv, project: &str, backup: &serde_json::Value) {
    let key = backup["backup_key"].as_str().unwrap();
    let stored = env.object(key).await;
    assert_eq!(hex::encode(Sha256::digest(&stored)), backup["sha256"].as_str().unwrap(), "the recorded checksum");
    let restored = restore_done(env, project, json!({ "backup_key": key, "preview_name": "checked" })).await;
    assert_eq!(restored["state"], "completed", "{restored}");
    let url = crate::restores::preview_url(env, restored["preview_id"].as_str().unwrap()).await;
    assert_eq!(names_in(&url).await, vec!["ada"]);
}

async fn backup_now(env: &TestEnv, project: &str) -> (String, String) {
    let (status, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(status, 202, "{created}");
    (created["job"]["id"].as_str().unwrap().to_string(), created["backup"]["id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_slowing_down_on_the_third_part_is_retried_and_the_backup_is_whole() {
    let proxy = FaultProxy::start().await;
    let env = TestEnv::with_env(&[("AWS_ENDPOINT_URL", proxy.url.clone())]).await;
    let project = big_project(&env, 20).await;
    proxy.fail(upload_part(3), 1, 1, StatusCode::SERVICE_UNAVAILABLE, "application/xml", SLOW_DOWN);

    let (job, backup) = backup_now(&env, &project).await;
    let done = env.wait_job(&job).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(1)), "{done}");
    assert_eq!(proxy.failed(), vec![1], "the third part was refused once");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    restores_as_recorded(&env, &project, &b["backup"]).await;
    assert_eq!(env.multipart_uploads(&format!("projects/{project}/")).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_the_upload_failing_past_the_sdk_retries_retries_the_job_and_leaves_no_parts() {
    let proxy = FaultProxy::start().await;
    let env =
        TestEnv::with_env(&[("AWS_ENDPOINT_URL", proxy.url.clone()), ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into())])
            .await;
    let project = big_project(&env, 10).await;
    // More failures in a row than the SDK's own attempts: the attempt fails, transiently.
    proxy.fail(complete_upload(), 1, 5, StatusCode::SERVICE_UNAVAILABLE, "application/xml", SLOW_DOWN);

    let (job, backup) = backup_now(&env, &project).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let done = loop {
        let (_, j) = env.get(&format!("/v1/jobs/{job}")).await;
        let j = j["job"].clone();
        if j["state"] == "completed" || j["state"] == "failed" {
            break j;
        }
        if j["state"] == "pending" && j["retry_classification"] == "transient" {
            assert_eq!(
                env.multipart_uploads(&format!("projects/{project}/")).await,
                0,
                "the failed upload was aborted"
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
            sweep_jobs(&env.ctx, chrono::Utc::now()).await.unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "job never ended: {j}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(done["state"], "completed", "{done}");
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    assert!(done["last_error"].as_str().is_some_and(|e| !e.is_empty()), "the transient failure is kept: {done}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    restores_as_recorded(&env, &project, &b["backup"]).await;
    assert_eq!(env.multipart_uploads(&format!("projects/{project}/")).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_throttling_the_claim_and_the_final_transaction_is_ridden_out() {
    let proxy = FaultProxy::start().await;
    let env = TestEnv::with_env(&[("AWS_ENDPOINT_URL", proxy.url.clone())]).await;
    let (project, _) = project_with(&env, &["ada"]).await;
    // The claim is a conditional PutItem; the finish is a TransactWriteItems.
    proxy.fail(
        dynamo("DynamoDB_20120810.PutItem"),
        1,
        2,
        StatusCode::BAD_REQUEST,
        "application/x-amz-json-1.0",
        THROTTLED,
    );
    proxy.fail(
        dynamo("DynamoDB_20120810.TransactWriteItems"),
        2,
        2,
        StatusCode::BAD_REQUEST,
        "application/x-amz-json-1.0",
        THROTTLED,
    );

    let (job, backup) = backup_now(&env, &project).await;
    let done = env.wait_job(&job).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(proxy.failed().iter().all(|n| *n > 0), "both were throttled: {:?}", proxy.failed());
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    restores_as_recorded(&env, &project, &b["backup"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_stream_record_twice_at_once_and_again_late_runs_the_job_once() {
    let mut env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["ada"]).await;
    // No runtime: the stream records below are the only deliveries.
    env.stop().await;
    let principal = capydb_shared::auth::authenticate(&env.ctx.repo, None, &env.key, chrono::Utc::now()).await.unwrap();
    let (backup, job) =
        capydb_shared::services::backups::request(&env.ctx, &principal, &project, None, None).await.unwrap();
    let fixture = std::fs::read_to_string(crate::harness::repo_root().join("events/worker-backup.json")).unwrap();
    let vars =
        [("JOB_ID", job.id.to_string()), ("CAPYDB_PROJECT", project.clone()), ("CAPYDB_ORG", env.org.to_string())];
    let event =
        capydb_functions::invoke::expand(&fixture, |n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
            .unwrap();
    let worker = capydb_functions::invoke::target("worker-backup").unwrap();
    let (a, b) = tokio::join!(
        capydb_functions::invoke::invoke(&env.ctx, worker, &event),
        capydb_functions::invoke::invoke(&env.ctx, worker, &event),
    );
    assert_eq!(a.unwrap()["batchItemFailures"], json!([]));
    assert_eq!(b.unwrap()["batchItemFailures"], json!([]));
    // The same record again, after the job ended (a late redelivery, out of order).
    let late = capydb_functions::invoke::invoke(&env.ctx, worker, &event).await.unwrap();
    assert_eq!(late["batchItemFailures"], json!([]));

    env.start().await;
    let done = env.wait_job(job.id.as_str()).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(1)), "{done}");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1, "one backup: {listed}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{}", backup.id)).await;
    assert_eq!(b["backup"]["state"], "completed");
    restores_as_recorded(&env, &project, &b["backup"]).await;
}

/// A backup whose worker is killed while the `nth` request matching `at` is in flight (the proxy
/// holds it); then the dead worker's lease runs out and a fresh worker takes the job over. One
/// backup comes out, verified, restoring to its rows with its recorded SHA-256, and the dead
/// attempt leaves no upload, object, scratch database or scratch file behind.
enum Hold {
    Request(Matcher, usize),
    Body(Matcher, usize),
}

async fn backup_killed_in_flight(hold: Hold, phase: &str, reported_phase: &str, sandbox_up: bool) {
    let proxy = FaultProxy::start().await;
    let scratch = tempfile::tempdir().unwrap();
    // The sandbox and recovery instances run as `postgres`, inside it.
    std::fs::set_permissions(scratch.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut env = TestEnv::with_env(&[
        ("AWS_ENDPOINT_URL", proxy.url.clone()),
        ("CAPYDB_SCRATCH_DIR", scratch.path().display().to_string()),
    ])
    .await;
    let project = big_project(&env, 20).await;
    let reached = match hold {
        Hold::Request(at, nth) => proxy.hang(at, nth),
        Hold::Body(at, nth) => proxy.stall_body(at, nth),
    };
    let (job, backup) = backup_now(&env, &project).await;
    tokio::time::timeout(Duration::from_secs(120), reached.notified())
        .await
        .unwrap_or_else(|_| panic!("the backup never got to {phase}"));
    let (_, held) = env.get(&format!("/v1/jobs/{job}")).await;
    assert_eq!(held["job"]["progress"]["phase"], reported_phase, "{phase}: held where meant: {held}");
    if sandbox_up {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !std::fs::read_dir(scratch.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("capydb-verify-"))
        {
            assert!(std::time::Instant::now() < deadline, "{phase}: no verification sandbox came up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    env.crash_and_restart().await;
    proxy.clear();
    let report = sweep_jobs(&env.ctx, chrono::Utc::now() + chrono::Duration::minutes(4)).await.unwrap();
    assert_eq!(report.requeued, 1, "{phase}: {report:?}");
    let done = env.wait_job(&job).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{phase}: {done}");

    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{phase}: one backup record: {listed}");
    assert_eq!(backups[0]["id"], backup.as_str());
    assert_eq!(backups[0]["verification_state"], "verified", "{phase}");
    let prefix = format!("projects/{project}/");
    assert_eq!(env.keys_under(&prefix).await.len(), 2, "{phase}: one archive and its manifest");
    assert_eq!(env.multipart_uploads(&prefix).await, 0, "{phase}: the dead attempt's upload was aborted");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{phase}: scratch files left behind: {left:?}");
    restores_as_recorded(&env, &project, &backups[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_while_uploading_is_taken_again_whole() {
    backup_killed_in_flight(Hold::Request(upload_part(2), 1), "uploading", "dumping", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_while_completing_the_upload_is_taken_again_whole() {
    backup_killed_in_flight(Hold::Request(complete_upload(), 1), "completing the upload", "dumping", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_in_its_final_transaction_is_taken_again_whole() {
    // The first TransactWriteItems is the request itself; the worker's is the second.
    backup_killed_in_flight(
        Hold::Request(dynamo("DynamoDB_20120810.TransactWriteItems"), 2),
        "the final transaction",
        "verifying",
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_while_verifying_leaves_no_sandbox_and_is_taken_again_whole() {
    // The sandbox is restoring the archive as it streams in from S3; the stream stops, the worker dies.
    let archive: Matcher = Box::new(|m, uri, _| *m == Method::GET && uri.path().ends_with(".dump.zst"));
    backup_killed_in_flight(Hold::Body(archive, 1), "verifying", "verifying", true).await;
}

enum Kill {
    /// The archive's download stops mid-stream while it is being restored into staging.
    Streaming(Matcher),
    /// The worker stops dead at a named checkpoint.
    At(&'static str),
}

/// A restore into a new preview whose worker dies at `kill`; the lease runs out and a fresh
/// worker finishes it: the preview holds the backup's rows, once, and no staging database or
/// scratch file is left.
async fn preview_restore_killed(kill: Kill, phase: &str, staging_up: bool) {
    let proxy = FaultProxy::start().await;
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut env = TestEnv::with_env(&[
        ("AWS_ENDPOINT_URL", proxy.url.clone()),
        ("CAPYDB_SCRATCH_DIR", scratch.path().display().to_string()),
    ])
    .await;
    let project = big_project(&env, 4).await;
    let key = crate::restores::backup(&env, &project).await;

    let stalled = match &kill {
        Kill::Streaming(_) => None,
        Kill::At(checkpoint) => Some(env.halt_at(checkpoint).await),
    };
    let streaming = match kill {
        Kill::Streaming(archive) => Some(proxy.stall_body(archive, 1)),
        Kill::At(_) => None,
    };
    let (status, r) = restore(&env, &project, json!({ "backup_key": key, "preview_name": "killed" }), None).await;
    assert_eq!(status, 202, "{r}");
    let (job, rst, preview) = (
        r["job"]["id"].as_str().unwrap().to_string(),
        r["restore"]["id"].as_str().unwrap().to_string(),
        r["preview"]["id"].as_str().unwrap().to_string(),
    );
    let reached = async {
        match (stalled, streaming) {
            (Some(halted), _) => halted.wait().await,
            (_, Some(notify)) => notify.notified().await,
            _ => unreachable!("one kind of kill"),
        }
    };
    tokio::time::timeout(Duration::from_secs(120), reached)
        .await
        .unwrap_or_else(|_| panic!("the restore never got to {phase}"));
    assert_eq!(env.scratch_left("local-1", "capydb_stage_", &rst).await, staging_up, "{phase}: staging database up");

    env.crash_and_restart().await;
    proxy.clear();
    let report = sweep_jobs(&env.ctx, chrono::Utc::now() + chrono::Duration::minutes(4)).await.unwrap();
    assert_eq!(report.requeued, 1, "{phase}: {report:?}");
    let done = env.wait_job(&job).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{phase}: {done}");
    let (_, record) = env.get(&format!("/v1/projects/{project}/restores/{rst}")).await;
    assert_eq!(record["restore"]["state"], "completed", "{phase}: {record}");
    let (_, p) = env.get(&format!("/v1/preview-databases/{preview}")).await;
    assert_eq!(p["preview_database"]["state"], "ready", "{phase}: {p}");
    assert_eq!(names_in(&preview_url(&env, &preview).await).await, vec!["ada"], "{phase}: the backup's rows, once");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/preview-databases")).await;
    assert_eq!(listed["preview_databases"].as_array().unwrap().len(), 1, "{phase}: one preview: {listed}");
    assert!(!env.scratch_left("local-1", "capydb_stage_", &rst).await, "{phase}: the staging database is gone");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{phase}: scratch files left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_restore_killed_while_staging_is_finished_by_the_next_worker() {
    let archive: Matcher = Box::new(|m, uri, _| *m == Method::GET && uri.path().ends_with(".dump.zst"));
    preview_restore_killed(Kill::Streaming(archive), "staging", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_restore_killed_after_its_checksum_matched_is_finished_by_the_next_worker() {
    preview_restore_killed(Kill::At("restore.staged"), "after the checksum, before the swap", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_restore_killed_after_its_swap_is_not_swapped_again() {
    preview_restore_killed(Kill::At("restore.swapped"), "after the swap", false).await;
}

/// A point-in-time restore into a new preview whose worker dies at `kill` while its recovery
/// instance runs; a fresh worker finishes it with exactly the rows of the moment, and the dead
/// attempt's recovery instance and staging database are gone.
async fn pitr_restore_killed(kill: Kill, phase: &str) {
    let proxy = FaultProxy::start().await;
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut env = TestEnv::with_env(&[
        ("AWS_ENDPOINT_URL", proxy.url.clone()),
        ("CAPYDB_SCRATCH_DIR", scratch.path().display().to_string()),
    ])
    .await;
    let (project, _) = project_with(&env, &["ada"]).await;
    let region = env.ctx.region("local-1").unwrap().clone();
    capydb_shared::services::base_backups::take(&env.ctx, &region).await.expect("base backup");
    let url = project_url(&env, &project).await;
    crate::restores::change(&env, &url, "INSERT INTO accounts VALUES ('grace')").await;
    let admin = env.admin_db("local-1", "postgres").await;
    admin.batch_execute("SELECT pg_switch_wal()").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let moment = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Later rows the moment must not see.
    crate::restores::change(&env, &url, "INSERT INTO accounts VALUES ('later')").await;
    admin.batch_execute("SELECT pg_switch_wal()").await.unwrap();
    let (stalled, held) = match kill {
        Kill::At(checkpoint) => (Some(env.halt_at(checkpoint).await), None),
        Kill::Streaming(wal) => (None, Some(proxy.hang(wal, 1))),
    };
    let at = moment.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (status, r) = restore(&env, &project, json!({ "restore_time": at, "preview_name": "moment" }), None).await;
    assert_eq!(status, 202, "{r}");
    let (job, preview) =
        (r["job"]["id"].as_str().unwrap().to_string(), r["preview"]["id"].as_str().unwrap().to_string());
    let reached = async {
        match (stalled, held) {
            (Some(halted), _) => halted.wait().await,
            (_, Some(notify)) => notify.notified().await,
            _ => unreachable!("one kind of kill"),
        }
    };
    tokio::time::timeout(Duration::from_secs(120), reached)
        .await
        .unwrap_or_else(|_| panic!("the restore never got to {phase}"));
    let running = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("capydb-recovery-"))
    };
    assert!(running(scratch.path()), "{phase}: killed with its recovery instance up");

    env.crash_and_restart().await;
    proxy.clear();
    let report = sweep_jobs(&env.ctx, chrono::Utc::now() + chrono::Duration::minutes(4)).await.unwrap();
    assert_eq!(report.requeued, 1, "{phase}: {report:?}");
    let done = env.wait_job(&job).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{phase}: {done}");
    assert_eq!(names_in(&preview_url(&env, &preview).await).await, vec!["ada", "grace"], "{phase}: the moment's rows");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{phase}: recovery files left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pitr_restore_killed_while_its_recovery_instance_replays_is_finished_by_the_next_worker() {
    // The recovery instance asks for its first WAL segment through the archive helper; it never comes.
    let segment: Matcher = Box::new(|m, uri, _| {
        *m == Method::GET
            && uri.path().contains("/wal/local-1/")
            && uri.path().rsplit('/').next().is_some_and(|name| {
                let segment = name.trim_end_matches(".zst");
                segment.len() == 24 && segment.bytes().all(|b| b.is_ascii_hexdigit())
            })
    });
    pitr_restore_killed(Kill::Streaming(segment), "recovery running").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pitr_restore_killed_while_dumping_out_of_the_recovery_instance_is_finished_by_the_next_worker() {
    pitr_restore_killed(Kill::At("restore.pitr_dumping"), "dumping out of the recovery instance").await;
}
