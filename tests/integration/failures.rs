//! What goes wrong: bad input, a dump that fails, an archive that does not restore, and a
//! worker that dies mid-backup. Each leaves nothing half-done behind.

use crate::harness::TestEnv;
use capydb_shared::services::sweeper::sweep_jobs;
use chrono::{Duration, Utc};
use serde_json::json;

async fn jobs_of(env: &TestEnv, project: &str) -> Vec<serde_json::Value> {
    let (_, body) = env.get(&format!("/v1/projects/{project}/jobs")).await;
    body["jobs"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_labels_are_refused_naming_the_field_and_create_nothing() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let path = format!("/v1/projects/{project}/backups");
    for (label, needle) in [
        (json!("x".repeat(201)), "at most 200"),
        (json!("line\nbreak"), "control characters"),
        (json!(""), "1 to 200"),
        (json!(42), "must be a string"),
    ] {
        let (status, body) = env.post(&path, json!({ "label": label })).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "label", "{body}");
        assert_eq!(body["code"], "invalid_field");
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, body) = env.post(&path, json!({ "lable": "typo" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("lable")), "{body}");
    let (status, body) = env.call("POST", &path, Some(&env.key), None, None).await;
    assert_eq!(status, 202, "an empty body is a backup without a label: {body}");
    env.wait_job(body["job"]["id"].as_str().unwrap()).await;

    let backup_jobs = jobs_of(&env, &project).await.into_iter().filter(|j| j["type"] == "project.backup").count();
    assert_eq!(backup_jobs, 1, "refused requests created no job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_dump_fails_the_job_with_the_reason_and_leaves_no_object_or_upload() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    let db = env.database_of(&project).await;
    // The database disappears under us: pg_dump cannot connect.
    env.sql("local-1", "postgres", &format!("DROP DATABASE \"{db}\" WITH (FORCE)")).await;

    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "doomed" })).await;
    let job = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "failed");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("pg_dump failed") && error.contains("does not exist"), "{error}");

    let backup_id = created["backup"]["id"].as_str().unwrap();
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup_id}")).await;
    assert_eq!(b["backup"]["state"], "failed");
    assert!(b["backup"]["backup_key"].is_null());
    let prefix = format!("projects/{project}/");
    assert!(env.keys_under(&prefix).await.is_empty(), "no object left");
    assert_eq!(env.multipart_uploads(&prefix).await, 0, "multipart upload aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_that_does_not_restore_is_never_reported_completed() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    // pg_dump succeeds on this schema, but pg_restore cannot rebuild the index: the function
    // relies on search_path, which restores run empty. Only a test restore finds out.
    env.tenant_sql(
        &project,
        "CREATE TABLE t2 (x int); INSERT INTO t2 VALUES (1);
         CREATE FUNCTION f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + (SELECT count(*)::int FROM t2)';
         CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2);
         CREATE INDEX t_f ON t (f(a));",
    )
    .await;

    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "looks-fine" })).await;
    let job = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().starts_with("verification failed"), "{job}");

    let backup_id = created["backup"]["id"].as_str().unwrap();
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup_id}")).await;
    let b = &b["backup"];
    assert_eq!(b["state"], "failed");
    assert_eq!(b["verification_state"], "failed");
    let reason = b["verification_error"].as_str().unwrap();
    assert!(reason.contains("pg_restore failed") && reason.contains("t2"), "{reason}");
    assert!(b["backup_key"].is_string(), "the archive is kept for salvage, marked failed");
    assert!(!env.scratch_left("local-1", "capydb_verify_", backup_id).await, "scratch database dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_mid_backup_is_retried_and_completes_without_duplicates() {
    let mut env = TestEnv::new().await;
    let project = env.project("local-1").await;
    env.tenant_sql(&project, "CREATE TABLE ledger (id int); INSERT INTO ledger SELECT generate_series(1, 100);").await;

    // Hold a lock pg_dump must wait for, so the first attempt is caught mid-backup.
    let locker = env.tenant_db(&project).await;
    locker.batch_execute("BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;").await.unwrap();

    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "survivor" })).await;
    let job_id = created["job"]["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, j) = env.get(&format!("/v1/jobs/{job_id}")).await;
        if j["job"]["state"] == "running" && j["job"]["progress"]["phase"] == "dumping" {
            assert_eq!(j["job"]["attempts"], 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "job never started dumping: {j}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    env.crash_and_restart().await;
    // Time passes beyond the dead worker's lease; the sweeper hands the job to a new worker.
    // (Past the 60 s lease and the 2 min clock-skew allowance.)
    let report = sweep_jobs(&env.ctx, Utc::now() + Duration::minutes(4)).await.unwrap();
    assert_eq!(report.requeued, 1, "{report:?}");
    // The lease (60 s) and the skew allowance ran out about a minute before the moved clock:
    // that is the sweeper's lag.
    assert!((50..=125).contains(&report.lag_seconds), "{report:?}");
    locker.batch_execute("COMMIT").await.unwrap();

    let job = env.wait_job(&job_id).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["attempts"], 2);
    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "no duplicate backup record");
    assert_eq!(backups[0]["verification_state"], "verified");
    let prefix = format!("projects/{project}/");
    assert_eq!(env.keys_under(&prefix).await.len(), 2, "one archive and its manifest");
    assert_eq!(env.multipart_uploads(&prefix).await, 0, "the dead attempt's upload was aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_whose_worker_keeps_dying_fail_after_max_attempts() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    env.tenant_sql(&project, "CREATE TABLE t (id int)").await;
    let locker = env.tenant_db(&project).await;
    locker.batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;").await.unwrap();
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    let job_id = created["job"]["id"].as_str().unwrap().to_string();

    // Each sweep finds the lease expired (time runs ahead); the third expiry is final.
    let mut now = Utc::now();
    for attempt in 1..=3 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (_, j) = env.get(&format!("/v1/jobs/{job_id}")).await;
            if j["job"]["state"] == "running" && j["job"]["attempts"] == attempt {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "attempt {attempt} never started: {j}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        now += Duration::minutes(5);
        sweep_jobs(&env.ctx, now).await.unwrap();
    }
    let job = env.wait_job(&job_id).await;
    assert_eq!(job["state"], "failed");
    assert!(job["error"].as_str().unwrap().contains("attempt 3 of 3"), "{job}");
    let (_, b) =
        env.get(&format!("/v1/projects/{project}/backups/{}", created["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(b["backup"]["state"], "failed", "{b}");
    locker.batch_execute("ROLLBACK").await.unwrap();
}
