//! The API speaks its contract: the OpenAPI document is served without credentials and is the
//! committed one, every answer of a real flow is exactly its contract type (nothing missing,
//! nothing extra), every body refuses an unknown field by name, and the published shapes hold
//! (keys that say when they were used, previews that say where they are reached).

use crate::harness::TestEnv;
use crate::restores::{backup, names_in, project_with, restore_done};
use capydb_api::backups::{BackupCreated, BackupList, BackupResponse};
use capydb_api::identity::{ApiKeyCreated, ApiKeyList, ApiKeyResponse, Me};
use capydb_api::jobs::{JobList, JobResponse};
use capydb_api::previews::{PreviewExtended, PreviewResponse};
use capydb_api::projects::{Connections, ProjectDetail, ProjectList, RegionList};
use capydb_api::restore_points::{RestorePointList, RestorePointResponse};
use capydb_api::restores::{RestoreList, RestoreResponse};
use capydb_api::ErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// `body` read as `T` and written back is `body` itself: the answer has exactly the contract's
/// fields, with the contract's types.
fn exactly<T: DeserializeOwned + Serialize>(what: &str, body: &Value) -> T {
    let typed: T =
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{what} is not its type: {e}\n{body}"));
    assert_eq!(&serde_json::to_value(&typed).unwrap(), body, "{what} has fields its type does not");
    typed
}

async fn ok<T: DeserializeOwned + Serialize>(env: &TestEnv, path: &str) -> T {
    let (status, body) = env.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    exactly(path, &body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_without_credentials_and_is_the_committed_one() {
    let env = TestEnv::new().await;
    let resp = reqwest::get(format!("{}/v1/openapi.json", env.api)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let served: Value = resp.json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(crate::harness::repo_root().join("api/openapi.json")).unwrap())
            .unwrap();
    assert_eq!(served, committed, "the served document is api/openapi.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_a_real_flow_is_exactly_its_contract_type() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["ada", "grace"]).await;
    let (status, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "typed" })).await;
    assert_eq!(status, 202);
    let created: BackupCreated = exactly("backup create", &created);
    let job = env.wait_job(&created.job.id).await;
    assert_eq!(job["type"], "project.backup");
    let job: JobResponse = ok(&env, &format!("/v1/jobs/{}", created.job.id)).await;
    assert_eq!(job.job.organization_id, env.org.to_string());
    let b: BackupResponse = ok(&env, &format!("/v1/projects/{project}/backups/{}", created.backup.id)).await;
    let _: BackupList = ok(&env, &format!("/v1/projects/{project}/backups")).await;
    let _: JobList = ok(&env, &format!("/v1/projects/{project}/jobs")).await;
    let _: ProjectList = ok(&env, "/v1/projects").await;
    let detail: ProjectDetail = ok(&env, &format!("/v1/projects/{project}")).await;
    assert_eq!(detail.project.organization_id, env.org.to_string());
    let regions: RegionList = ok(&env, "/v1/regions").await;
    assert_eq!(regions.regions, vec!["local-1", "local-2"]);
    let me: Me = ok(&env, "/v1/me").await;
    assert_eq!(me.organization_id, env.org.to_string());

    let (status, point) = env
        .post(
            &format!("/v1/projects/{project}/restore-points"),
            json!({ "label": "typed", "backup_key": b.backup.backup_key }),
        )
        .await;
    assert_eq!(status, 201, "{point}");
    let _: RestorePointResponse = exactly("restore point", &point);
    let _: RestorePointList = ok(&env, &format!("/v1/projects/{project}/restore-points")).await;
    let restored =
        restore_done(&env, &project, json!({ "backup_key": b.backup.backup_key, "preview_name": "typed" })).await;
    let _: RestoreResponse =
        ok(&env, &format!("/v1/projects/{project}/restores/{}", restored["id"].as_str().unwrap())).await;
    let _: RestoreList = ok(&env, &format!("/v1/projects/{project}/restores")).await;

    let (status, err) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": 7 })).await;
    assert_eq!(status, 400);
    let err: ErrorBody = exactly("error", &err);
    assert_eq!(err.field.as_deref(), Some("label"));
    assert!(err.request_id.is_some_and(|id| id.starts_with("req_")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_refuses_an_unknown_field_by_name() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let org = env.org.to_string();
    let ids = |path: &str| {
        path.replace("{project_id}", &project)
            .replace("{org_id}", &org)
            .replace("{provider}", "vercel")
            .replace("{schedule_id}", "default")
            .replace("{backup_id}", "bkp_01hzzzzzzzzzzzzzzzzzzzzzzz")
            .replace("{preview_id}", "pvw_01hzzzzzzzzzzzzzzzzzzzzzzz")
            .replace("{webhook_id}", "whk_01hzzzzzzzzzzzzzzzzzzzzzzz")
            .replace("{delivery_id}", "dlv_01hzzzzzzzzzzzzzzzzzzzzzzz")
    };
    let mut checked = 0;
    for op in capydb_api::openapi::operations().into_iter().filter(|o| o.body.is_some()) {
        let path = ids(op.path);
        let (status, body) =
            env.call(op.method, &path, Some(&env.key), Some(json!({ "no_such_field": 1 })), None).await;
        assert_eq!((status, body["field"].as_str()), (400, Some("no_such_field")), "{} {path}: {body}", op.method);
        assert!(body["error"].as_str().unwrap().contains("unknown field `no_such_field`"), "{body}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} operations take a body");
    let (_, jobs) = env.get(&format!("/v1/projects/{project}/jobs")).await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1, "nothing refused did anything: {jobs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_says_when_it_was_last_used_and_whether_it_still_works() {
    let env = TestEnv::new().await;
    let base = format!("/v1/organizations/{}/api-keys", env.org);
    let (status, created) = env.post(&base, json!({ "name": "ci", "scopes": ["projects:read"] })).await;
    assert_eq!(status, 201, "{created}");
    let created: ApiKeyCreated = exactly("key create", &created);
    let secret = created.plaintext_api_key.expect("the plaintext, once");
    assert!(secret.starts_with(&created.api_key.key_prefix), "{secret} / {}", created.api_key.key_prefix);
    assert!(created.api_key.is_active && created.api_key.last_used_at.is_none());

    let (status, _) = env.call("GET", "/v1/projects", Some(&secret), None, None).await;
    assert_eq!(status, 200);
    let list: ApiKeyList = ok(&env, &base).await;
    let key = list.api_keys.iter().find(|k| k.id == created.api_key.id).unwrap();
    let used = key.last_used_at.expect("recorded on use");
    assert!((chrono::Utc::now() - used.get()).num_seconds() < 30, "{used}");

    let (status, revoked) = env.call("DELETE", &format!("{base}/{}", key.id), Some(&env.key), None, None).await;
    assert_eq!(status, 200);
    let revoked: ApiKeyResponse = exactly("key revoke", &revoked);
    assert!(!revoked.api_key.is_active && revoked.api_key.revoked_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_says_where_it_is_reached_and_its_connections_work() {
    let env = TestEnv::new().await;
    let (project, database) = project_with(&env, &["ada"]).await;
    let key = backup(&env, &project).await;
    let restored = restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "look" })).await;
    let preview = restored["preview_id"].as_str().unwrap();

    let p: PreviewResponse = ok(&env, &format!("/v1/preview-databases/{preview}")).await;
    let region = env.region("local-1");
    let p = p.preview_database;
    assert_eq!((p.public_host.as_str(), p.direct_port), (region.public_host.as_str(), region.public_port));
    assert_eq!(p.source_database, database);
    assert!(p.last_error.is_none());

    let c: Connections = ok(&env, &format!("/v1/preview-databases/{preview}/connections")).await;
    assert_eq!((c.username.as_str(), c.role.as_str()), (p.role_name.as_str(), p.role_name.as_str()));
    assert_eq!(c.database_name, p.database_name);
    assert_eq!(names_in(&c.direct_url).await, vec!["ada"], "the URL reaches the restored data");
    assert_eq!(names_in(&c.pooled_url).await, vec!["ada"]);

    let (status, extended) =
        env.post(&format!("/v1/preview-databases/{preview}/extend"), json!({ "ttl_hours": 48 })).await;
    assert_eq!(status, 200, "{extended}");
    let extended: PreviewExtended = exactly("extend", &extended);
    assert!(extended.preview.ttl_expires_at > p.ttl_expires_at);

    // Connection details are credentials: a key without credentials:read gets none.
    let (_, reader) = env
        .post(&format!("/v1/organizations/{}/api-keys", env.org), json!({ "name": "r", "scopes": ["backups:read"] }))
        .await;
    let reader = reader["plaintext_api_key"].as_str().unwrap();
    let (status, body) =
        env.call("GET", &format!("/v1/preview-databases/{preview}/connections"), Some(reader), None, None).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_and_a_restore_write_their_metrics_as_embedded_metric_lines() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["ada"]).await;
    let key = backup(&env, &project).await;
    restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "measured" })).await;
    let lines: Vec<Value> =
        env.metric_lines.lock().unwrap().iter().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let of = |kind: &str| {
        lines
            .iter()
            .find(|l| l["JobType"] == kind && l["ProjectId"] == project.as_str())
            .unwrap_or_else(|| panic!("no {kind} line in {lines:?}"))
            .clone()
    };
    let b = of("project.backup");
    let declared: Vec<&str> = b["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in ["BackupDuration", "BackupBytes", "BackupThroughput", "VerificationFailures", "JobsCompleted"] {
        assert!(declared.contains(&name), "{name} declared: {b}");
    }
    assert_eq!(b["_aws"]["CloudWatchMetrics"][0]["Namespace"], "CapyDB/Backups");
    assert_eq!(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["JobType"]]));
    assert!(b["BackupBytes"].as_f64().unwrap() > 0.0 && b["BackupDuration"].as_f64().unwrap() > 0.0, "{b}");
    assert_eq!((b["VerificationFailures"].as_f64(), b["JobsCompleted"].as_f64()), (Some(0.0), Some(1.0)));
    let r = of("project.restore");
    assert!(r["RestoreSecondsPerGB"].as_f64().unwrap() > 0.0, "the measured RTO: {r}");
}
