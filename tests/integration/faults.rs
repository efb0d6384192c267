//! Faults between the code and AWS: a proxy in front of moto that answers chosen requests with
//! the errors S3 and DynamoDB really give (503 SlowDown, ThrottlingException), on the Nth
//! request matching a pattern. Each case checks the final state: the job ends truthfully, every
//! completed backup restores with its SHA-256, and no multipart upload is left behind.

use crate::harness::{stack, TestEnv};
use crate::restores::{names_in, project_url, project_with, restore_done};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use capydb_shared::services::sweeper::sweep_jobs;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Matcher = Box<dyn Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    /// Requests matching so far.
    seen: usize,
    /// Which matching requests fail: the `from`-th (1-based) and the `count - 1` after it.
    from: usize,
    count: usize,
    status: StatusCode,
    content_type: &'static str,
    body: &'static str,
    failed: usize,
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
                if let Some(fault) = fault(&rules, &method, &uri, &headers) {
                    return fault;
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
                        let mut out = Response::new(axum::body::Body::from(bytes));
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

    fn fail(
        &self,
        matches: Matcher,
        from: usize,
        count: usize,
        status: StatusCode,
        content_type: &'static str,
        body: &'static str,
    ) {
        self.rules.lock().unwrap().push(Rule { matches, seen: 0, from, count, status, content_type, body, failed: 0 });
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

fn fault(rules: &Mutex<Vec<Rule>>, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let mut rules = rules.lock().unwrap();
    for rule in rules.iter_mut() {
        if !(rule.matches)(method, uri, headers) {
            continue;
        }
        rule.seen += 1;
        if rule.seen >= rule.from && rule.seen < rule.from + rule.count {
            rule.failed += 1;
            let mut resp = (rule.status, rule.body).into_response();
            resp.headers_mut().insert("content-type", rule.content_type.parse().unwrap());
            return Some(resp);
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
