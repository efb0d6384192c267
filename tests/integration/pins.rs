//! A restore point keeps its backup however many points the project has.

use crate::harness::TestEnv;
use capydb_shared::domain::restore_points::{RestorePoint, RestorePointKind, RestorePointState};
use capydb_shared::ids::RestorePointId;
use capydb_shared::services::retention;
use chrono::{Duration, Utc};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_holds_behind_more_than_a_hundred_newer_restore_points() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let tonight = Utc::now() + Duration::days(1);
    capydb_shared::services::nightly::fan_out(&env.ctx, tonight).await.unwrap();
    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    let b = listed["backups"][0].clone();
    let job = env.wait_job(b["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{}", b["id"].as_str().unwrap())).await;
    let b = &b["backup"];

    let (status, point) = env
        .post(
            &format!("/v1/projects/{project}/restore-points"),
            json!({ "label": "keep-me", "backup_key": b["backup_key"] }),
        )
        .await;
    assert_eq!(status, 201, "{point}");
    // 101 newer points (written straight to the store: the API rate-limits creation), so the
    // pin sits beyond the first page of any listing.
    let stored = env.ctx.projects.get_project(&project.parse().unwrap()).await.unwrap().unwrap();
    for i in 0..101 {
        let p = RestorePoint {
            id: RestorePointId::generate(),
            project_id: stored.id.clone(),
            org_id: stored.org_id.clone(),
            label: format!("moment-{i}"),
            kind: RestorePointKind::Pitr,
            backup_id: None,
            backup_key: None,
            pitr_time: Some(Utc::now()),
            pitr_name: None,
            pitr_lsn: None,
            note: None,
            state: RestorePointState::Active,
            created_at: Utc::now(),
        };
        assert!(env.ctx.restore_points.create_restore_point(&p).await.unwrap());
    }

    let path = format!("/v1/projects/{project}/backups/{}", b["id"].as_str().unwrap());
    let (status, refused) = env.call("DELETE", &path, Some(&env.key), None, None).await;
    assert_eq!(status, 409, "a pinned backup is not deleted: {refused}");
    assert_eq!(env.get(&path).await.1["backup"]["pinned"], true);

    let report = retention::sweep(&env.ctx, tonight + Duration::days(15)).await.unwrap();
    assert_eq!((report.deleted, report.pinned), (0, 1), "{report:?}");
    assert_eq!(env.get(&path).await.0, 200, "the sweep kept it");
}
