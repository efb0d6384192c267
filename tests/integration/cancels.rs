//! Cancelling a job: a pending one never starts; a running backup stops within seconds and
//! leaves no upload, archive or completed record; a restore stops and drops its staging
//! database; a project overwrite can be cancelled until its swap begins and is refused after
//! that, so production is never half-swapped. Each ends `cancelled`, names who cancelled it and
//! sends `job.cancelled`.

use crate::harness::TestEnv;
use crate::restores::{backup, change, names_in, project_url, project_with, restore};
use capydb_shared::auth;
use capydb_shared::services::{backups, jobs};
use serde_json::{json, Value};
use std::time::Duration;

async fn halted_within(halted: capydb_shared::services::checkpoints::Halted) {
    tokio::time::timeout(Duration::from_secs(120), halted.wait()).await.expect("the worker reached its checkpoint");
}

async fn cancel(env: &TestEnv, job: &str) -> (u16, Value) {
    env.post(&format!("/v1/jobs/{job}/cancel"), json!({})).await
}

/// The job once it has ended, however long stopping takes (seconds, not a lease).
async fn ended(env: &TestEnv, job: &str) -> Value {
    let started = std::time::Instant::now();
    let job = env.wait_job(job).await;
    assert!(started.elapsed() < Duration::from_secs(30), "stopping took {:?}", started.elapsed());
    job
}

fn cancelled_by_us(env: &TestEnv, job: &Value) {
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(job["cancelled_by"].as_str().is_some_and(|by| by.starts_with("api_key:key_")), "{job}");
    assert!(job["error"].as_str().unwrap().starts_with("cancelled by api_key:"), "{job}");
    let _ = env;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_backup_is_cancelled_at_once_and_never_runs() {
    let mut env = TestEnv::new().await;
    let project = env.project("local-2").await;
    // With the runtime stopped nothing claims the job: it stays pending until cancelled.
    env.stop().await;
    let principal = auth::authenticate(&*env.ctx.api_keys, None, &env.key, chrono::Utc::now()).await.unwrap();
    let (backup, job) = backups::request(&env.ctx, &principal, &project.parse().unwrap(), None, None).await.unwrap();
    let done = jobs::cancel(&env.ctx, &principal, &job.id).await.unwrap();
    assert_eq!(done.state.as_str(), "cancelled");
    env.start().await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, got) = env.get(&format!("/v1/jobs/{}", job.id)).await;
    cancelled_by_us(&env, &got["job"]);
    assert_eq!(got["job"]["attempts"], 0, "it never started: {got}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{}", backup.id)).await;
    assert_eq!(b["backup"]["state"], "failed", "{b}");
    assert!(env.keys_under(&format!("projects/{project}/backups/")).await.is_empty());
    assert_eq!(env.events("job.cancelled").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_backup_stops_within_seconds_and_leaves_nothing_behind() {
    let mut env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["ada", "grace"]).await;
    let halted = env.halt_at("backup.verifying").await;
    let (status, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(status, 202, "{created}");
    halted_within(halted).await;
    let job = created["job"]["id"].as_str().unwrap();
    assert!(!env.keys_under(&format!("projects/{project}/backups/")).await.is_empty(), "the archive was uploaded");

    let (status, r) = cancel(&env, job).await;
    assert_eq!(status, 202, "{r}");
    let done = ended(&env, job).await;
    cancelled_by_us(&env, &done);
    let (_, b) =
        env.get(&format!("/v1/projects/{project}/backups/{}", created["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(b["backup"]["state"], "failed", "no backup is recorded as completed: {b}");
    assert!(env.keys_under(&format!("projects/{project}/backups/")).await.is_empty(), "the archive is removed");
    assert_eq!(env.multipart_uploads(&format!("projects/{project}/")).await, 0);
    let events = env.events("job.cancelled").await;
    assert_eq!(events.len(), 1);
    assert!(events[0]["data"].to_string().contains("api_key:key_"), "{}", events[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_into_a_preview_stops_and_drops_its_staging_database() {
    let mut env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["ada"]).await;
    let key = backup(&env, &project).await;
    let halted = env.halt_at("restore.staged").await;
    let (status, r) = restore(&env, &project, json!({ "backup_key": key, "preview_name": "stopped" }), None).await;
    assert_eq!(status, 202, "{r}");
    halted_within(halted).await;
    let restore_id = r["restore"]["id"].as_str().unwrap();
    assert!(env.scratch_left("local-1", "capydb_stage_", restore_id).await, "staged before the cancel");

    let job = r["job"]["id"].as_str().unwrap();
    assert_eq!(cancel(&env, job).await.0, 202);
    cancelled_by_us(&env, &ended(&env, job).await);
    assert!(!env.scratch_left("local-1", "capydb_stage_", restore_id).await, "the staging database is dropped");
    let (_, got) = env.get(&format!("/v1/projects/{project}/restores/{restore_id}")).await;
    assert_eq!((got["restore"]["state"].as_str(), got["restore"]["step"].as_str()), (Some("failed"), Some("staging")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_overwrite_can_be_cancelled_until_its_swap_begins_and_never_after() {
    let mut env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["before"]).await;
    let key = backup(&env, &project).await;
    let url = project_url(&env, &project).await;
    change(&env, &url, "INSERT INTO accounts VALUES ('after')").await;
    let overwrite = json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true });

    // Staged, not yet swapping: cancelled, production untouched, the project free again.
    let halted = env.halt_at("restore.staged").await;
    let (status, r) = restore(&env, &project, overwrite.clone(), None).await;
    assert_eq!(status, 202, "{r}");
    halted_within(halted).await;
    let job = r["job"]["id"].as_str().unwrap();
    assert_eq!(cancel(&env, job).await.0, 202);
    cancelled_by_us(&env, &ended(&env, job).await);
    assert_eq!(names_in(&url).await, vec!["after", "before"], "production is untouched");
    assert!(!env.scratch_left("local-1", "capydb_stage_", r["restore"]["id"].as_str().unwrap()).await);

    // Swapping (production closed for the rename): refused, and the job is still running.
    let halted = env.halt_at("restore.closed").await;
    let (status, r) = restore(&env, &project, overwrite, None).await;
    assert_eq!(status, 202, "the lifecycle lock was released by the cancellation: {r}");
    halted_within(halted).await;
    let job = r["job"]["id"].as_str().unwrap();
    let (status, refused) = cancel(&env, job).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("conflict")), "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("can no longer be cancelled"), "{refused}");
    let (_, got) = env.get(&format!("/v1/jobs/{job}")).await;
    assert_eq!(got["job"]["state"], "running", "{got}");
    let (_, rr) = env.get(&format!("/v1/projects/{project}/restores/{}", r["restore"]["id"].as_str().unwrap())).await;
    assert_eq!(rr["restore"]["step"], "swapping", "{rr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_and_provisioning_cannot_be_cancelled_and_the_cli_says_so() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (_, jobs) = env.get(&format!("/v1/projects/{project}/jobs")).await;
    let provision = jobs["jobs"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = cancel(&env, &provision).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("already completed"), "{body}");

    let out = env.cli(&["jobs", "cancel", &provision], Some(&project));
    assert_eq!(out.status.code(), Some(5), "conflict exit code: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to cancel"));
    let (status, _) = cancel(&env, "job_01hzzzzzzzzzzzzzzzzzzzzzzz").await;
    assert_eq!(status, 404);
}
