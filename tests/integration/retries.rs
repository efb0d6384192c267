//! A failure that may pass is retried with back-off, and the job recovers by itself once the
//! cause is gone; one that cannot pass fails at once and says why. The job shows how its last
//! failure was judged (`retry_classification`), the error and when the next attempt is due.

use crate::harness::{stack, TestEnv};
use capydb_shared::config::RegionConfig;
use capydb_shared::services::sweeper::sweep_jobs;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A region whose cluster does not answer: the port of a listener that was just closed.
fn unreachable_region() -> RegionConfig {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let like = stack().regions.iter().find(|r| r.name == "local-2").unwrap().clone();
    RegionConfig {
        name: "local-9".into(),
        admin_url: like.admin_url.replace(&format!(":{}/", like.public_port), &format!(":{port}/")),
        public_port: port,
        ..like
    }
}

async fn job(env: &TestEnv, id: &str) -> Value {
    env.get(&format!("/v1/jobs/{id}")).await.1["job"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_is_down_is_waited_for_and_the_project_recovers_by_itself() {
    let mut regions = stack().regions.clone();
    regions.push(unreachable_region());
    let mut env = TestEnv::with_env(&[
        ("CAPYDB_REGIONS", serde_json::to_string(&regions).unwrap()),
        ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into()),
    ])
    .await;
    let (status, created) = env.post("/v1/projects", json!({ "name": "patient", "region": "local-9" })).await;
    assert_eq!(status, 202, "{created}");
    let id = created["job"]["id"].as_str().unwrap().to_string();

    // The first attempt meets a refused connection: back to pending, with the reason and when.
    let waiting = env.wait_retrying(&id).await;
    assert_eq!((waiting["state"].as_str(), waiting["attempts"].as_u64()), (Some("pending"), Some(1)), "{waiting}");
    assert!(waiting["last_error"].as_str().unwrap().contains("local-9"), "{waiting}");
    assert!(waiting["next_attempt_at"].is_string(), "{waiting}");
    assert!(waiting["error"].is_null(), "not failed: {waiting}");
    let (_, p) = env.get(&format!("/v1/projects/{}", created["project"]["id"].as_str().unwrap())).await;
    assert_eq!(p["project"]["state"], "provisioning", "the project waits too: {p}");

    // The cluster comes back (the region now reaches local-2's); the next sweep after the
    // back-off hands the job to a worker, and the project is provisioned.
    env.stop().await;
    let mut config = (*env.ctx.config).clone();
    let back = stack().regions.iter().find(|r| r.name == "local-2").unwrap().clone();
    let r = config.regions.iter_mut().find(|r| r.name == "local-9").unwrap();
    r.admin_url = back.admin_url.clone();
    r.public_port = back.public_port;
    env.ctx.config = Arc::new(config);
    env.start().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = sweep_jobs(&env.ctx, chrono::Utc::now()).await.unwrap();
    assert_eq!(report.kicked, 1, "{report:?}");
    let done = env.wait_job(&id).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{done}");
    let (_, p) = env.get(&format!("/v1/projects/{}", created["project"]["id"].as_str().unwrap())).await;
    assert_eq!(p["project"]["state"], "ready", "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_attempts_ends_in_a_failure_that_names_it() {
    let mut regions = stack().regions.clone();
    regions.push(unreachable_region());
    let env = TestEnv::with_env(&[
        ("CAPYDB_REGIONS", serde_json::to_string(&regions).unwrap()),
        ("CAPYDB_JOB_RETRY_BASE_SECONDS", "1".into()),
        ("CAPYDB_JOB_MAX_ATTEMPTS", "2".into()),
    ])
    .await;
    let (_, created) = env.post("/v1/projects", json!({ "name": "doomed", "region": "local-9" })).await;
    let id = created["job"]["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let failed = loop {
        let j = job(&env, &id).await;
        if j["state"] == "failed" {
            break j;
        }
        assert!(std::time::Instant::now() < deadline, "never failed: {j}");
        if j["state"] == "pending" && j["retry_classification"] == "transient" {
            tokio::time::sleep(Duration::from_secs(2)).await;
            sweep_jobs(&env.ctx, chrono::Utc::now()).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["attempts"], 2, "{failed}");
    assert_eq!(failed["retry_classification"], "transient", "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("cannot reach region cluster local-9"), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_cannot_pass_fails_at_once() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let database = env.database_of(&project).await;
    env.sql("local-2", "postgres", &format!("DROP DATABASE \"{database}\" WITH (FORCE)")).await;
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    let failed = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!((failed["state"].as_str(), failed["attempts"].as_u64()), (Some("failed"), Some(1)), "{failed}");
    assert_eq!(failed["retry_classification"], "permanent", "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("does not exist"), "{failed}");
    assert!(failed["next_attempt_at"].is_null());
}
