//! Faults between the code and AWS: a proxy in front of moto that answers chosen requests with
//! the errors S3 and DynamoDB really give (503 SlowDown, ThrottlingException), or holds it
//! forever, on the Nth request matching a pattern. Each case checks the final state: the job
//! ends truthfully, every completed backup restores with its SHA-256, and no multipart upload,
//! scratch database or scratch file is left behind.

use crate::fault_proxy::{
    archive_get, complete_upload, dynamo, upload_part, FaultProxy, Flow, Matcher, PgFaultProxy, SLOW_DOWN, THROTTLED,
    TRANSACTION_CONFLICT,
};
use crate::harness::OwnCluster;
use crate::harness::TestEnv;
use crate::restores::{names_in, preview_url, project_url, project_with, restore, restore_done};
use axum::http::{Method, StatusCode};
use capydb_shared::domain::backups::{files_digest, Manifest};
use capydb_shared::services::sweeper::sweep_jobs;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A project on local-1 whose database holds `mib` MiB of incompressible rows (so its archive
/// spans several 8 MiB parts), and `accounts` with one row.
pub(crate) async fn big_project(env: &TestEnv, mib: u32) -> String {
    big_project_in(env, "local-1", mib).await
}

async fn big_project_in(env: &TestEnv, region: &str, mib: u32) -> String {
    let project = env.project(region).await;
    env.tenant_sql(
        &project,
        &format!(
            "CREATE TABLE accounts (name text PRIMARY KEY);
             INSERT INTO accounts VALUES ('ada');
             CREATE TABLE blobs (b bytea);
             INSERT INTO blobs SELECT (SELECT decode(string_agg(md5(random()::text || g || i), ''), 'hex')
                                       FROM generate_series(1, 64) i)
             FROM generate_series(1, {}) g;",
            mib * 1024
        ),
    )
    .await;
    project
}

/// The stored archive's bytes hash to the recorded SHA-256 (a directory archive's: each file to
/// the hash its manifest lists, and the list to the recorded one), and it restores to the same
/// rows.
pub(crate) async fn restores_as_recorded(env: &TestEnv, project: &str, backup: &serde_json::Value) {
    let key = backup["backup_key"].as_str().unwrap();
    let recorded = backup["sha256"].as_str().unwrap();
    if backup["format"] == "pg_dump-directory" {
        let manifest_key = format!("projects/{project}/backups/{}.manifest.json", backup["id"].as_str().unwrap());
        let manifest: Manifest = serde_json::from_slice(&env.object(&manifest_key).await).unwrap();
        assert_eq!(files_digest(&manifest.files), recorded, "the recorded checksum is the file list's");
        for file in &manifest.files {
            let stored = env.object(&file.key(key)).await;
            assert_eq!(hex::encode(Sha256::digest(&stored)), file.sha256, "{}", file.name);
        }
    } else {
        let stored = env.object(key).await;
        assert_eq!(hex::encode(Sha256::digest(&stored)), recorded, "the recorded checksum");
    }
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

/// Waits for `job` to end, playing the retry sweeper (the environment's back-off base is a
/// second) whenever a transient failure put it back; `between` checks the state between attempts.
async fn ride_out<F: std::future::Future<Output = ()>>(env: &TestEnv, job: &str, between: impl Fn() -> F) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let (_, j) = env.get(&format!("/v1/jobs/{job}")).await;
        let j = j["job"].clone();
        if ["completed", "failed", "cancelled"].contains(&j["state"].as_str().unwrap()) {
            return j;
        }
        if j["state"] == "pending" && j["retry_classification"] == "transient" {
            between().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            sweep_jobs(&env.ctx, chrono::Utc::now()).await.unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "job never ended: {j}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The job's state as the API shows it.
async fn job(env: &TestEnv, id: &str) -> Value {
    env.get(&format!("/v1/jobs/{id}")).await.1["job"].clone()
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
    let done = ride_out(&env, &job, || async {
        assert_eq!(env.multipart_uploads(&format!("projects/{project}/")).await, 0, "the failed upload was aborted");
    })
    .await;
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

/// DynamoDB cancels a transaction that meets another on the same item (`TransactionConflict`),
/// and the SDK does not send it again. Taken for a failed condition, the restore's swap step
/// read as "cancelled or taken over" and failed the restore for good; now it is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_conflict_on_the_restores_steps_is_sent_again_and_the_restore_completes() {
    let proxy = FaultProxy::start().await;
    let env = TestEnv::with_env(&[("AWS_ENDPOINT_URL", proxy.url.clone())]).await;
    let (project, _) = project_with(&env, &["ada", "grace"]).await;
    let key = crate::restores::backup(&env, &project).await;
    let (status, r) = restore(&env, &project, json!({ "backup_key": key, "preview_name": "conflicted" }), None).await;
    assert_eq!(status, 202, "{r}");
    // Every write transaction the worker sends from here meets a conflict, twice in a row.
    proxy.fail(
        dynamo("DynamoDB_20120810.TransactWriteItems"),
        1,
        2,
        StatusCode::BAD_REQUEST,
        "application/x-amz-json-1.0",
        TRANSACTION_CONFLICT,
    );
    let done = env.wait_job(r["job"]["id"].as_str().unwrap()).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(1)), "{done}");
    assert_eq!(proxy.failed(), vec![2], "both conflicts were met");
    let preview = r["preview"]["id"].as_str().unwrap();
    assert_eq!(names_in(&preview_url(&env, preview).await).await, vec!["ada", "grace"]);
    assert!(!env.scratch_left("local-1", "capydb_stage_", r["restore"]["id"].as_str().unwrap()).await);
}

/// The work is done and only the finishing transaction is left, but DynamoDB cancels it for a
/// conflict more often than the adapter sends it again: it is sent again while the lease holds,
/// instead of leaving the job `running` for the lease sweep to run all of it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finishing_transaction_that_keeps_conflicting_is_sent_again_while_the_lease_holds() {
    let proxy = FaultProxy::start().await;
    let mut env = TestEnv::with_env(&[("AWS_ENDPOINT_URL", proxy.url.clone())]).await;
    let (project, _) = project_with(&env, &["ada"]).await;
    let (paused, release) = env.pause_at("backup.verifying").await;
    let (job, backup) = backup_now(&env, &project).await;
    tokio::time::timeout(Duration::from_secs(120), paused.wait()).await.expect("the backup got to verifying");
    proxy.fail(
        dynamo("DynamoDB_20120810.TransactWriteItems"),
        1,
        5,
        StatusCode::BAD_REQUEST,
        "application/x-amz-json-1.0",
        TRANSACTION_CONFLICT,
    );
    release.notify_one();
    let done = env.wait_job(&job).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(1)), "{done}");
    assert_eq!(proxy.failed(), vec![5], "every conflict was met");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    assert_eq!(b["backup"]["verification_state"], "verified", "{b}");
    restores_as_recorded(&env, &project, &b["backup"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_stream_record_twice_at_once_and_again_late_runs_the_job_once() {
    let mut env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["ada"]).await;
    // No runtime: the stream records below are the only deliveries.
    env.stop().await;
    let principal =
        capydb_shared::auth::authenticate(&*env.ctx.api_keys, None, &env.key, chrono::Utc::now()).await.unwrap();
    let (backup, job) =
        capydb_shared::services::backups::request(&env.ctx, &principal, &project.parse().unwrap(), None, None)
            .await
            .unwrap();
    let fixture =
        std::fs::read_to_string(crate::harness::repo_root().join("events/BackupWorkerFunction.json")).unwrap();
    let vars =
        [("JOB_ID", job.id.to_string()), ("CAPYDB_PROJECT", project.clone()), ("CAPYDB_ORG", env.org.to_string())];
    let event =
        capydb_functions::invoke::expand(&fixture, |n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
            .unwrap();
    let worker = capydb_functions::targets::target("BackupWorkerFunction").unwrap();
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
    backup_killed_in_flight(Hold::Body(archive_get(), 1), "verifying", "verifying", true).await;
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
    preview_restore_killed(Kill::Streaming(archive_get()), "staging", true).await;
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

// Between the code and PostgreSQL: the workers reach local-1 through a proxy that cuts or slows
// their connections; a test of its own stops and restarts a cluster of its own.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_whose_connection_drops_midway_is_retried_and_the_backup_is_whole() {
    let pg = PgFaultProxy::start("local-1").await;
    let env = TestEnv::with_env(&[pg.regions_env(), ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into())]).await;
    let project = big_project(&env, 8).await;
    // Only pg_dump's COPY stream carries megabytes back from the cluster.
    pg.cut_after(Flow::ToClient, 2 * 1024 * 1024, 1);

    let (job, backup) = backup_now(&env, &project).await;
    let done = ride_out(&env, &job, || async {
        assert_eq!(
            env.multipart_uploads(&format!("projects/{project}/")).await,
            0,
            "the cut dump's upload was aborted"
        );
    })
    .await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{done}");
    assert_eq!(pg.cut(), 1);
    assert!(done["last_error"].as_str().is_some_and(|e| e.contains("pg_dump")), "the cut is named: {done}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    assert_eq!(b["backup"]["verification_state"], "verified", "{b}");
    let prefix = format!("projects/{project}/");
    assert_eq!(env.keys_under(&prefix).await.len(), 2, "one archive and its manifest");
    assert_eq!(env.multipart_uploads(&prefix).await, 0);
    restores_as_recorded(&env, &project, &b["backup"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_whose_connection_drops_while_loading_is_retried_and_leaves_no_staging() {
    let pg = PgFaultProxy::start("local-1").await;
    let env = TestEnv::with_env(&[pg.regions_env(), ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into())]).await;
    let project = big_project(&env, 8).await;
    let key = crate::restores::backup(&env, &project).await;
    // Only pg_restore's COPY carries megabytes to the cluster.
    pg.cut_after(Flow::ToServer, 2 * 1024 * 1024, 1);

    let (status, r) = restore(&env, &project, json!({ "backup_key": key, "preview_name": "cut" }), None).await;
    assert_eq!(status, 202, "{r}");
    let (id, rst, preview) = (
        r["job"]["id"].as_str().unwrap().to_string(),
        r["restore"]["id"].as_str().unwrap().to_string(),
        r["preview"]["id"].as_str().unwrap().to_string(),
    );
    let done = ride_out(&env, &id, || async {}).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{done}");
    assert_eq!(pg.cut(), 1);
    assert!(done["last_error"].as_str().is_some_and(|e| e.contains("pg_restore")), "the cut is named: {done}");
    assert_eq!(names_in(&preview_url(&env, &preview).await).await, vec!["ada"], "the backup's rows, once");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/preview-databases")).await;
    assert_eq!(listed["preview_databases"].as_array().unwrap().len(), 1, "one preview: {listed}");
    assert!(!env.scratch_left("local-1", "capydb_stage_", &rst).await, "the cut attempt's staging database is gone");
}

/// After an overwrite's swap, the replaced data is dumped into a `pre_restore` backup before its
/// database is dropped. A connection cut in that dump is retried (the next attempt resumes after
/// the swap); it used to end the copy failed and leave the database on the cluster for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrites_safety_copy_cut_midway_is_taken_again_and_leaves_no_safety_database() {
    let pg = PgFaultProxy::start("local-1").await;
    let env = TestEnv::with_env(&[pg.regions_env(), ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into())]).await;
    let project = big_project(&env, 8).await;
    let key = crate::restores::backup(&env, &project).await;
    env.tenant_sql(&project, "INSERT INTO accounts VALUES ('written after the backup')").await;
    // Staging sends the archive to the cluster; only the safety copy's dump reads megabytes back.
    pg.cut_after(Flow::ToClient, 2 * 1024 * 1024, 1);

    let body = json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true });
    let (status, r) = restore(&env, &project, body, None).await;
    assert_eq!(status, 202, "{r}");
    let rst = r["restore"]["id"].as_str().unwrap().to_string();
    let done = ride_out(&env, r["job"]["id"].as_str().unwrap(), || async {}).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{done}");
    assert_eq!(pg.cut(), 1);
    assert!(done["last_error"].as_str().is_some_and(|e| e.contains("safety copy")), "the cut is named: {done}");
    assert_eq!(names_in(&project_url(&env, &project).await).await, vec!["ada"], "production holds the backup");
    let (_, record) = env.get(&format!("/v1/projects/{project}/restores/{rst}")).await;
    let safety = record["restore"]["safety_backup_id"].as_str().expect("a safety backup").to_string();
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{safety}")).await;
    assert_eq!(
        (b["backup"]["state"].as_str(), b["backup"]["verification_state"].as_str()),
        (Some("completed"), Some("verified")),
        "{b}"
    );
    let copy = b["backup"]["backup_key"].as_str().unwrap();
    assert_eq!(hex::encode(Sha256::digest(env.object(copy).await)), b["backup"]["sha256"].as_str().unwrap());
    let restored = restore_done(&env, &project, json!({ "backup_key": copy, "preview_name": "replaced" })).await;
    let url = preview_url(&env, restored["preview_id"].as_str().unwrap()).await;
    assert_eq!(names_in(&url).await, vec!["ada", "written after the backup"], "the copy holds the replaced data");
    assert!(!env.scratch_left("local-1", "capydb_safety_", &rst).await, "the replaced data's database is dropped");
    assert!(!env.scratch_left("local-1", "capydb_stage_", &rst).await);
    assert_eq!(env.multipart_uploads(&format!("projects/{project}/")).await, 0);
}

/// A restore whose data is in place and recorded, but whose cluster refuses connections just
/// when the replaced data's database (`kept`) is to be dropped: the attempt is retried, not
/// completed with the database left behind, and the retry drops it once the cluster is back.
/// The proxy is returned with the rest: dropping it closes the region to the runtime.
async fn drop_refused_after_swap(
    target: Value,
    checkpoint: &str,
    kept: &str,
) -> (TestEnv, PgFaultProxy, String, String) {
    let pg = PgFaultProxy::start("local-1").await;
    let mut env = TestEnv::with_env(&[pg.regions_env(), ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into())]).await;
    let project = big_project(&env, 1).await;
    let key = crate::restores::backup(&env, &project).await;
    let preview = restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "kept" })).await;
    let preview_db = preview_url(&env, preview["preview_id"].as_str().unwrap()).await;
    crate::restores::change(&env, &preview_db, "INSERT INTO accounts VALUES ('written in the preview')").await;
    env.tenant_sql(&project, "INSERT INTO accounts VALUES ('written after the backup')").await;

    let (paused, release) = env.pause_at(checkpoint).await;
    let mut body = target;
    body["backup_key"] = json!(key);
    if body["target_kind"] == "preview" {
        body["preview_id"] = preview["preview_id"].clone();
    }
    let (status, r) = restore(&env, &project, body, None).await;
    assert_eq!(status, 202, "{r}");
    let (job, rst) = (r["job"]["id"].as_str().unwrap().to_string(), r["restore"]["id"].as_str().unwrap().to_string());
    tokio::time::timeout(Duration::from_secs(120), paused.wait()).await.expect("the restore got to its drop");
    pg.refuse().await;
    release.notify_one();

    let waiting = env.wait_retrying(&job).await;
    assert_eq!(waiting["state"], "pending", "{waiting}");
    assert!(waiting["last_error"].as_str().unwrap().to_lowercase().contains("connection refused"), "{waiting}");
    assert!(env.scratch_left("local-1", kept, &rst).await, "kept until the retry can drop it");
    pg.accept().await;
    let done = ride_out(&env, &job, || async {}).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{done}");
    assert!(!env.scratch_left("local-1", kept, &rst).await, "the retry dropped {kept}{rst}");
    assert!(!env.scratch_left("local-1", "capydb_stage_", &rst).await);
    (env, pg, project, rst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previews_old_data_whose_drop_is_refused_is_dropped_by_the_retry() {
    let target = json!({ "target_kind": "preview" });
    let (env, _pg, project, rst) = drop_refused_after_swap(target, "restore.swapped", "capydb_old_").await;
    let (_, record) = env.get(&format!("/v1/projects/{project}/restores/{rst}")).await;
    let preview = record["restore"]["preview_id"].as_str().expect("restored into the preview");
    assert_eq!(names_in(&preview_url(&env, preview).await).await, vec!["ada"], "the preview holds the backup");
    assert_eq!(names_in(&project_url(&env, &project).await).await, vec!["ada", "written after the backup"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrites_safety_database_whose_drop_is_refused_is_dropped_by_the_retry() {
    let target = json!({ "target_kind": "project", "confirm_project_overwrite": true });
    let (env, _pg, project, rst) = drop_refused_after_swap(target, "restore.safety_recorded", "capydb_safety_").await;
    assert_eq!(names_in(&project_url(&env, &project).await).await, vec!["ada"], "production holds the backup");
    let (_, record) = env.get(&format!("/v1/projects/{project}/restores/{rst}")).await;
    let safety = record["restore"]["safety_backup_id"].as_str().expect("a safety backup");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{safety}")).await;
    assert_eq!(b["backup"]["verification_state"], "verified", "dropped only once its copy verified: {b}");
    let copy = b["backup"]["backup_key"].as_str().unwrap();
    let restored = restore_done(&env, &project, json!({ "backup_key": copy, "preview_name": "replaced" })).await;
    let url = preview_url(&env, restored["preview_id"].as_str().unwrap()).await;
    assert_eq!(names_in(&url).await, vec!["ada", "written after the backup"], "the copy holds the replaced data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_refusing_connections_is_waited_for_and_the_backup_taken_when_it_is_back() {
    let pg = PgFaultProxy::start("local-1").await;
    let env = TestEnv::with_env(&[pg.regions_env(), ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into())]).await;
    let project = big_project(&env, 1).await;
    pg.refuse().await;

    let (id, backup) = backup_now(&env, &project).await;
    let waiting = env.wait_retrying(&id).await;
    assert_eq!(waiting["state"], "pending", "{waiting}");
    assert!(waiting["last_error"].as_str().unwrap().to_lowercase().contains("connection refused"), "{waiting}");
    pg.accept().await;

    let done = ride_out(&env, &id, || async {}).await;
    assert_eq!(done["state"], "completed", "{done}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    restores_as_recorded(&env, &project, &b["backup"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_to_the_cluster_is_waited_out_not_failed() {
    let pg = PgFaultProxy::start("local-1").await;
    let env = TestEnv::with_env(&[pg.regions_env()]).await;
    let project = big_project(&env, 1).await;
    // Seconds to connect and a pause before every chunk each way: slow, never an error.
    pg.delay(Duration::from_secs(3), Duration::from_millis(5));
    let (job, backup) = backup_now(&env, &project).await;
    let done = env.wait_job(&job).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(1)), "{done}");
    assert!(done["last_error"].is_null(), "{done}");
    pg.clear();
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    restores_as_recorded(&env, &project, &b["backup"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_region_cluster_stopped_while_a_backup_verifies_does_not_change_its_verdict() {
    let cluster = OwnCluster::start("local-3");
    let proxy = FaultProxy::start().await;
    let env = TestEnv::with_env(&[cluster.regions_env(), ("AWS_ENDPOINT_URL", proxy.url.clone())]).await;
    let project = big_project_in(&env, "local-3", 1).await;
    // The sandbox reads the archive back from S3; it pauses there while the cluster goes down.
    let (reached, release) = proxy.pause_body(archive_get(), 1);
    let (id, backup) = backup_now(&env, &project).await;
    tokio::time::timeout(Duration::from_secs(120), reached.notified()).await.expect("the backup got to verifying");
    // The keeper writes the phase change a moment after the work reaches it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while job(&env, &id).await["progress"]["phase"] != "verifying" {
        assert!(std::time::Instant::now() < deadline, "the job never showed the verifying phase");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop();
    release.notify_one();

    let done = env.wait_job(&id).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(1)), "{done}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup}")).await;
    assert_eq!(b["backup"]["verification_state"], "verified", "verified in its sandbox, not on the cluster: {b}");
    cluster.resume();
    restores_as_recorded(&env, &project, &b["backup"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_region_cluster_stopped_under_a_restore_is_waited_for_and_the_restore_completes() {
    let cluster = OwnCluster::start("local-3");
    let proxy = FaultProxy::start().await;
    let env = TestEnv::with_env(&[
        cluster.regions_env(),
        ("AWS_ENDPOINT_URL", proxy.url.clone()),
        ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into()),
    ])
    .await;
    let project = big_project_in(&env, "local-3", 4).await;
    let key = crate::restores::backup(&env, &project).await;
    // The restore has made its staging database and is fetching the archive when the cluster
    // stops; the archive arrives while it is still down.
    let (reached, release) = proxy.pause_body(archive_get(), 1);
    let (status, r) = restore(&env, &project, json!({ "backup_key": key, "preview_name": "patient" }), None).await;
    assert_eq!(status, 202, "{r}");
    let (id, rst, preview) = (
        r["job"]["id"].as_str().unwrap().to_string(),
        r["restore"]["id"].as_str().unwrap().to_string(),
        r["preview"]["id"].as_str().unwrap().to_string(),
    );
    tokio::time::timeout(Duration::from_secs(120), reached.notified()).await.expect("the restore got to staging");
    assert!(env.scratch_left("local-3", "capydb_stage_", &rst).await, "staging was up");
    cluster.stop();
    release.notify_one();

    let waiting = env.wait_retrying(&id).await;
    assert_eq!(waiting["state"], "pending", "{waiting}");
    assert!(waiting["next_attempt_at"].is_string(), "{waiting}");
    cluster.resume();

    let done = ride_out(&env, &id, || async {}).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    assert_eq!(names_in(&preview_url(&env, &preview).await).await, vec!["ada"], "the backup's rows, once");
    assert!(!env.scratch_left("local-3", "capydb_stage_", &rst).await, "no staging database is left");
    let (_, p) = env.get(&format!("/v1/preview-databases/{preview}")).await;
    assert_eq!(p["preview_database"]["state"], "ready", "{p}");
}

/// `kill -9` runs no destructor: the verification sandbox stays up in the scratch folder. The
/// next start of a worker in that environment stops it and removes it, with the killed run's
/// half-downloaded archive, and leaves everything else there alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_killed_worker_left_in_its_scratch_folder_is_removed_at_the_next_start() {
    use capydb_shared::adapters::{local_instance, sandbox::Sandbox};
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sandbox = Sandbox::start(None, scratch.path(), "killed_worker", 1, 64).await.expect("a sandbox starts");
    std::fs::write(scratch.path().join(format!("{}partial", local_instance::DOWNLOAD_PREFIX)), b"half").unwrap();
    std::fs::write(scratch.path().join("someone-elses"), b"kept").unwrap();
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().path()).collect();
    let instance = left.iter().find(|p| p.to_string_lossy().contains(local_instance::VERIFY_PREFIX)).unwrap().clone();
    let pid_file = std::fs::read_to_string(instance.join("data/postmaster.pid")).expect("the sandbox runs");
    let postmaster = format!("/proc/{}", pid_file.lines().next().unwrap().trim());
    assert!(std::path::Path::new(&postmaster).exists());
    std::mem::forget(sandbox);

    let swept = tokio::task::spawn_blocking({
        let dir = scratch.path().to_path_buf();
        move || local_instance::sweep_abandoned(&dir, None)
    })
    .await
    .unwrap();

    assert_eq!(swept, 2);
    let names: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("someone-elses")]);
    for _ in 0..50 {
        if !std::path::Path::new(&postmaster).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the abandoned sandbox's server ({postmaster}) still runs");
}
