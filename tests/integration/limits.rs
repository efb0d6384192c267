//! What one tenant may make the region cluster do: point-in-time restores one at a time per
//! project, restore points a bounded number per minute.

use crate::harness::TestEnv;
use capydb_shared::auth::{Credential, OrgRole, Principal};
use capydb_shared::domain::previews::TtlHours;
use capydb_shared::domain::restores::TargetKind;
use capydb_shared::services::base_backups;
use capydb_shared::services::restore_points::PER_MINUTE;
use capydb_shared::services::restores::{request, RestoreRequest};
use serde_json::json;

fn pitr_now() -> RestoreRequest {
    RestoreRequest {
        source: capydb_shared::domain::restores::RestoreSource::Time(chrono::Utc::now()),
        target_kind: TargetKind::NewPreview,
        preview_id: None,
        preview_name: None,
        ttl: TtlHours::parse(None).unwrap(),
        confirm_project_overwrite: false,
        allow_unverified_backup: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_point_in_time_restore_per_project_at_a_time() {
    let mut env = TestEnv::new().await;
    let project = env.project("local-1").await;
    env.tenant_sql(&project, "CREATE TABLE t (n int); INSERT INTO t VALUES (1)").await;
    base_backups::take(&env.ctx, env.ctx.region("local-1").unwrap()).await.expect("base backup");

    // No workers: the first stays in flight.
    env.stop().await;
    let admin = Principal {
        org_id: env.org.clone(),
        credential: Credential::Session { user_id: "u".into(), role: OrgRole::Admin },
    };
    let first =
        request(&env.ctx, &admin, &project.parse().unwrap(), pitr_now(), None).await.expect("the first is accepted");
    let second = request(&env.ctx, &admin, &project.parse().unwrap(), pitr_now(), None).await;
    match second {
        Err(capydb_shared::Error::Conflict { job_id, message }) => {
            assert_eq!(job_id.as_deref(), Some(first.job.id.as_str()), "{message}");
        }
        other => panic!("a second point-in-time restore was not refused: {:?}", other.map(|r| r.job.id)),
    }

    env.start().await;
    let job = env.wait_job(first.job.id.as_str()).await;
    assert_eq!(job["state"], "completed", "{job}");
    // Finished, it frees the project for the next one.
    let third = request(&env.ctx, &admin, &project.parse().unwrap(), pitr_now(), None)
        .await
        .expect("accepted after the first ended");
    assert_eq!(env.wait_job(third.job.id.as_str()).await["state"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_point_creation_is_limited_per_project_per_minute() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (_, b) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(env.wait_job(b["job"]["id"].as_str().unwrap()).await["state"], "completed");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{}", b["backup"]["id"].as_str().unwrap())).await;
    let key = b["backup"]["backup_key"].as_str().unwrap().to_string();
    let path = format!("{}/v1/projects/{project}/restore-points", env.api);
    let http = reqwest::Client::new();
    let mut refused = None;
    // The limit is per calendar minute: a run that crosses a minute boundary gets a fresh
    // allowance, so allow one extra round.
    for i in 0..(2 * PER_MINUTE + 1) {
        let resp = http
            .post(&path)
            .bearer_auth(&env.key)
            .json(&json!({ "label": format!("p{i}"), "backup_key": key }))
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            let body: serde_json::Value = resp.json().await.unwrap();
            refused = Some((i, retry_after, body));
            break;
        }
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
    let (at, retry_after, body) = refused.expect("creation was never limited");
    assert!(at >= PER_MINUTE, "refused after only {at}");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(body["code"], "rate_limited", "{body}");
}
