//! Restores: into a new preview, into an existing preview, and over the project — with the
//! safety copy, the undo, and the failures that must leave every target untouched.

use crate::harness::{TestEnv, SESSION_SECRET};
use capydb_shared::auth::{sign_session, OrgRole, SessionClaims};
use capydb_shared::services::previews::sweep_expired;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

/// A project on local-1 with `accounts` holding one row per name; returns (project, database).
pub(crate) async fn project_with(env: &TestEnv, names: &[&str]) -> (String, String) {
    let project = env.project("local-1").await;
    let db = env.database_of(&project).await;
    let (_, c) = env.get(&format!("/v1/projects/{project}/connections")).await;
    // Created through the project's own credentials, as a customer would.
    let (client, conn) =
        tokio_postgres::connect(c["connections"]["direct_url"].as_str().unwrap(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE accounts (name text PRIMARY KEY)").await.unwrap();
    for n in names {
        client.execute("INSERT INTO accounts VALUES ($1)", &[n]).await.unwrap();
    }
    (project, db)
}

pub(crate) async fn names_in(url: &str) -> Vec<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.query("SELECT name FROM accounts ORDER BY name", &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

pub(crate) async fn project_url(env: &TestEnv, project: &str) -> String {
    let (_, c) = env.get(&format!("/v1/projects/{project}/connections")).await;
    c["connections"]["direct_url"].as_str().unwrap().to_string()
}

pub(crate) async fn preview_url(env: &TestEnv, preview: &str) -> String {
    let (status, c) = env.get(&format!("/v1/preview-databases/{preview}/connections")).await;
    assert_eq!(status, 200, "{c}");
    c["direct_url"].as_str().expect("connection for credentials:read").to_string()
}

pub(crate) async fn backup(env: &TestEnv, project: &str) -> String {
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    let job = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    let (_, b) =
        env.get(&format!("/v1/projects/{project}/backups/{}", created["backup"]["id"].as_str().unwrap())).await;
    b["backup"]["backup_key"].as_str().unwrap().to_string()
}

pub(crate) async fn restore(env: &TestEnv, project: &str, body: Value, key: Option<&str>) -> (u16, Value) {
    env.call("POST", &format!("/v1/projects/{project}/restores"), Some(key.unwrap_or(&env.key)), Some(body), None).await
}

pub(crate) async fn restore_done(env: &TestEnv, project: &str, body: Value) -> Value {
    let (status, r) = restore(env, project, body, None).await;
    assert_eq!(status, 202, "{r}");
    let job = env.wait_job(r["job"]["id"].as_str().unwrap()).await;
    let (_, got) = env.get(&format!("/v1/projects/{project}/restores/{}", r["restore"]["id"].as_str().unwrap())).await;
    assert_eq!(got["restore"]["state"], job["state"], "{got}");
    got["restore"].clone()
}

pub(crate) async fn change(env: &TestEnv, url: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
    let _ = env;
}

/// An org admin, for calling the services directly while the runtime is stopped.
fn admin_principal(env: &TestEnv) -> capydb_shared::auth::Principal {
    capydb_shared::auth::Principal {
        org_id: env.org.clone(),
        credential: capydb_shared::auth::Credential::Session { user_id: "u".into(), role: OrgRole::Admin },
    }
}

/// A restore of `key` into `target`, as the API would build it.
fn backup_request(
    key: &str,
    target: capydb_shared::domain::restores::TargetKind,
    preview_name: Option<&str>,
) -> capydb_shared::services::restores::RestoreRequest {
    use capydb_shared::domain::previews::{PreviewName, TtlHours};
    use capydb_shared::domain::restores::TargetKind;
    capydb_shared::services::restores::RestoreRequest {
        source: capydb_shared::domain::restores::RestoreSource::Backup(key.to_string()),
        target_kind: target,
        preview_id: None,
        preview_name: preview_name.map(|n| PreviewName::parse(n).unwrap()),
        ttl: TtlHours::parse(None).unwrap(),
        confirm_project_overwrite: target == TargetKind::Project,
        allow_unverified_backup: false,
    }
}

pub(crate) fn admin_session(env: &TestEnv, role: OrgRole) -> String {
    let claims = SessionClaims {
        sub: "usr_ops".into(),
        org_id: env.org.to_string(),
        org_role: role,
        exp: (Utc::now() + Duration::hours(1)).timestamp(),
    };
    sign_session(&claims, SESSION_SECRET)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_into_a_new_preview_shows_the_old_rows_while_the_project_keeps_the_new() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["alice", "bob"]).await;
    let key = backup(&env, &project).await;
    let url = project_url(&env, &project).await;
    change(&env, &url, "DELETE FROM accounts WHERE name = 'bob'; INSERT INTO accounts VALUES ('carol')").await;

    let r =
        restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "inspect-monday", "ttl_hours": 24 }))
            .await;
    assert_eq!(r["state"], "completed", "{r}");
    assert_eq!(r["target_kind"], "new_preview");
    let preview = r["preview_id"].as_str().unwrap();
    let (_, p) = env.get(&format!("/v1/preview-databases/{preview}")).await;
    assert_eq!(p["preview_database"]["name"], "inspect-monday");
    assert_eq!(p["preview_database"]["state"], "ready");
    assert_eq!(p["preview_database"]["source_backup_key"], key.as_str());
    assert_eq!(names_in(&preview_url(&env, preview).await).await, vec!["alice", "bob"]);
    assert_eq!(names_in(&url).await, vec!["alice", "carol"], "the project is untouched");

    let (_, listed) = env.get(&format!("/v1/projects/{project}/preview-databases")).await;
    assert_eq!(listed["preview_databases"].as_array().unwrap().len(), 1);
    let completed = env.events("restore.completed").await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["data"]["target"]["preview_id"], preview);
    assert_eq!(env.events("preview.ready").await.len(), 1);
    assert!(!env.scratch_left("local-1", "capydb_stage_", r["id"].as_str().unwrap()).await, "no staging left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_into_an_existing_preview_replaces_its_data() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["v1"]).await;
    let first = backup(&env, &project).await;
    let url = project_url(&env, &project).await;
    change(&env, &url, "UPDATE accounts SET name = 'v2'").await;
    let second = backup(&env, &project).await;

    let r = restore_done(&env, &project, json!({ "backup_key": first, "preview_name": "staging" })).await;
    let preview = r["preview_id"].as_str().unwrap().to_string();
    let before = preview_url(&env, &preview).await;
    assert_eq!(names_in(&before).await, vec!["v1"]);

    let r = restore_done(
        &env,
        &project,
        json!({ "backup_key": second, "target_kind": "preview", "preview_name": "staging" }),
    )
    .await;
    assert_eq!(r["state"], "completed", "{r}");
    assert_eq!(r["preview_id"], preview.as_str());
    let after = preview_url(&env, &preview).await;
    assert_eq!(after, before, "same preview, same credentials");
    assert_eq!(names_in(&after).await, vec!["v2"]);
    assert!(
        !env.scratch_left("local-1", "capydb_old_", r["id"].as_str().unwrap()).await,
        "the preview's old data is dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_overwrite_restores_old_rows_keeps_a_safety_copy_and_can_be_undone() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["before"]).await;
    let key = backup(&env, &project).await;
    let url = project_url(&env, &project).await;
    change(&env, &url, "INSERT INTO accounts VALUES ('after')").await;
    let admin = admin_session(&env, OrgRole::Admin);

    let (status, r) = restore(
        &env,
        &project,
        json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true }),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let job = env.wait_job(r["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(names_in(&url).await, vec!["before"], "production rolled back; the connection string still works");

    let (_, got) = env.get(&format!("/v1/projects/{project}/restores/{}", r["restore"]["id"].as_str().unwrap())).await;
    let safety_id = got["restore"]["safety_backup_id"].as_str().expect("a safety backup").to_string();
    let (_, safety) = env.get(&format!("/v1/projects/{project}/backups/{safety_id}")).await;
    let safety = &safety["backup"];
    assert_eq!(
        (safety["kind"].as_str(), safety["verification_state"].as_str()),
        (Some("pre_restore"), Some("verified")),
        "{safety}"
    );
    let expires = chrono::DateTime::parse_from_rfc3339(safety["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires.with_timezone(&Utc) - Utc::now()).num_days() >= 6, "kept about a week");
    assert!(
        !env.scratch_left("local-1", "capydb_safety_", r["restore"]["id"].as_str().unwrap()).await,
        "safety database dropped once its backup verified"
    );

    // The undo: restore the safety copy over the project.
    let undo = restore_done(
        &env,
        &project,
        json!({ "backup_key": safety["backup_key"], "target_kind": "project", "confirm_project_overwrite": true }),
    )
    .await;
    assert_eq!(undo["state"], "completed", "{undo}");
    assert_eq!(names_in(&url).await, vec!["after", "before"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_requests_are_validated_and_refusals_create_nothing() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["x"]).await;
    let key = backup(&env, &project).await;
    let other = env.project("local-2").await;
    let (_, theirs) = {
        let r = restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "taken" })).await;
        (r.clone(), r)
    };
    let _ = theirs;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 400, "backup_key"),
        (json!({ "backup_key": key, "restore_time": "2026-06-09T14:30:00Z" }), 400, "backup_key"),
        (json!({ "backup_key": key, "target_kind": "production" }), 400, "target_kind"),
        (json!({ "backup_key": key, "ttl_hours": 0 }), 400, "ttl_hours"),
        (json!({ "backup_key": key, "ttl_hours": 169 }), 400, "ttl_hours"),
        (json!({ "backup_key": key, "ttl_hours": "1" }), 400, "ttl_hours"),
        (json!({ "backup_key": key, "preview_name": "Bad Name" }), 400, "preview_name"),
        (json!({ "backup_key": key, "target_kind": "project" }), 400, "confirm_project_overwrite"),
        (json!({ "backup_key": "projects/elsewhere/x.dump.zst" }), 400, "backup_key"),
    ];
    for (body, status, field) in cases {
        let (got, r) = restore(&env, &project, body.clone(), None).await;
        assert_eq!((got, r["field"].as_str()), (status, Some(field)), "{body}: {r}");
    }
    let (status, r) = restore(&env, &project, json!({ "backup_key": key, "preview_name": "taken" }), None).await;
    assert_eq!(status, 409, "name clash: {r}");
    // Long before any base backup of local-1: outside the window, or no window at all yet when
    // no test has taken a base backup (pitr.rs covers both exactly).
    let (status, r) = restore(&env, &project, json!({ "restore_time": "2001-06-09T14:30:00Z" }), None).await;
    assert!(matches!(status, 400 | 422) && r["error"].as_str().unwrap().contains("window"), "{r}");
    let (_, other_preview) = {
        let k2 = backup(&env, &other).await;
        let r = restore_done(&env, &other, json!({ "backup_key": k2 })).await;
        (r.clone(), r)
    };
    let (status, r) = restore(
        &env,
        &project,
        json!({ "backup_key": key, "target_kind": "preview", "preview_id": other_preview["preview_id"] }),
        None,
    )
    .await;
    assert_eq!(status, 404, "another project's preview: {r}");
    let member = admin_session(&env, OrgRole::Member);
    let (status, r) = restore(
        &env,
        &project,
        json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true }),
        Some(&member),
    )
    .await;
    assert_eq!(status, 403, "{r}");

    let (_, jobs) = env.get(&format!("/v1/projects/{project}/jobs")).await;
    let restores = jobs["jobs"].as_array().unwrap().iter().filter(|j| j["type"] == "project.restore").count();
    assert_eq!(restores, 1, "only the one accepted restore made a job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_tampered_archives_fail_the_restore_and_leave_targets_untouched() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["good"]).await;
    let key = backup(&env, &project).await;
    let url = project_url(&env, &project).await;
    change(&env, &url, "INSERT INTO accounts VALUES ('current')").await;
    let r = restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "keep" })).await;
    let preview = r["preview_id"].as_str().unwrap().to_string();

    // Another project's archive under this backup's key: a valid dump with the wrong bytes.
    let (other, _) = project_with(&env, &["intruder"]).await;
    let other_key = backup(&env, &other).await;
    let s3 = env.s3().await;
    let foreign = env.object(&other_key).await;
    s3.put_object().bucket(&env.name).key(&key).body(foreign.into()).send().await.unwrap();
    for target in [
        json!({ "target_kind": "preview", "preview_id": preview }),
        json!({ "target_kind": "project", "confirm_project_overwrite": true }),
    ] {
        let mut body = target.clone();
        body["backup_key"] = json!(key);
        let r = restore_done(&env, &project, body).await;
        assert_eq!(r["state"], "failed", "{r}");
        assert!(r["error"].as_str().unwrap().contains("checksum"), "{r}");
        assert!(!env.scratch_left("local-1", "capydb_stage_", r["id"].as_str().unwrap()).await, "staging dropped");
    }
    assert_eq!(names_in(&url).await, vec!["current", "good"], "project untouched");
    assert_eq!(names_in(&preview_url(&env, &preview).await).await, vec!["good"], "preview untouched");

    s3.delete_object().bucket(&env.name).key(&key).send().await.unwrap();
    let r = restore_done(
        &env,
        &project,
        json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true }),
    )
    .await;
    assert_eq!(r["state"], "failed");
    assert!(r["error"].as_str().unwrap().contains("missing"), "{r}");
    assert_eq!(names_in(&url).await, vec!["current", "good"]);
    assert!(!env.scratch_left("local-1", "capydb_stage_", r["id"].as_str().unwrap()).await, "staging dropped");
    assert_eq!(env.events("restore.failed").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_overwrite_while_one_runs_is_a_conflict_naming_the_job() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["a"]).await;
    let key = backup(&env, &project).await;
    let body = json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true });
    let (status, first) = restore(&env, &project, body.clone(), None).await;
    assert_eq!(status, 202, "{first}");
    let (status, second) = restore(&env, &project, body.clone(), None).await;
    assert_eq!(status, 409, "{second}");
    assert_eq!(second["job_id"], first["job"]["id"]);
    assert!(second["error"].as_str().unwrap().contains(first["job"]["id"].as_str().unwrap()));
    env.wait_job(first["job"]["id"].as_str().unwrap()).await;
    let (status, third) = restore(&env, &project, body, None).await;
    assert_eq!(status, 202, "the lock is released when the job ends: {third}");
    env.wait_job(third["job"]["id"].as_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_expire_by_themselves_and_can_be_extended_or_deleted() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["p"]).await;
    let key = backup(&env, &project).await;
    let short =
        restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "short", "ttl_hours": 1 })).await;
    let long = restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "long", "ttl_hours": 1 })).await;
    let (short, long) =
        (short["preview_id"].as_str().unwrap().to_string(), long["preview_id"].as_str().unwrap().to_string());

    let (status, r) = env.post(&format!("/v1/preview-databases/{long}/extend"), json!({ "ttl_hours": 169 })).await;
    assert_eq!((status, r["field"].as_str()), (400, Some("ttl_hours")), "{r}");
    let (status, r) = env.post(&format!("/v1/preview-databases/{long}/extend"), json!({ "ttl_hours": 48 })).await;
    assert_eq!(status, 200, "{r}");

    // Two hours later, the sweep (scheduled every 5 minutes) finds the short one expired.
    let removed = sweep_expired(&env.ctx, Utc::now() + Duration::hours(2)).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(env.get(&format!("/v1/preview-databases/{short}")).await.0, 404);
    assert_eq!(env.databases_like("local-1", &short).await.len(), 0, "its database is dropped");
    assert_eq!(env.get(&format!("/v1/preview-databases/{long}")).await.0, 200);
    let deleted = env.events("preview.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["data"]["reason"], "expired");

    let (status, _) = env.call("DELETE", &format!("/v1/preview-databases/{long}"), Some(&env.key), None, None).await;
    assert_eq!(status, 200);
    assert!(env.databases_like("local-1", &long).await.is_empty());
    let (_, listed) = env.get(&format!("/v1/projects/{project}/preview-databases")).await;
    assert!(listed["preview_databases"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_points_name_a_backup_pin_it_and_restore_it() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["launch-day"]).await;
    let key = backup(&env, &project).await;
    let url = project_url(&env, &project).await;
    change(&env, &url, "DELETE FROM accounts").await;
    let points = format!("/v1/projects/{project}/restore-points");

    let (status, created) =
        env.post(&points, json!({ "label": "pre-launch", "backup_key": key, "note": "before the launch" })).await;
    assert_eq!(status, 201, "{created}");
    let point = created["restore_point"].clone();
    assert_eq!((point["kind"].as_str(), point["state"].as_str()), (Some("backup"), Some("active")), "kind inferred");
    let (status, r) = env.post(&points, json!({ "label": "pre-launch", "backup_key": key })).await;
    assert_eq!(status, 409, "labels are unique per project: {r}");
    let (status, r) = env.post(&points, json!({ "label": "now", "kind": "pitr", "backup_key": key })).await;
    assert_eq!((status, r["field"].as_str()), (400, Some("backup_key")), "a moment has no backup: {r}");
    let (status, r) = env.post(&points, json!({ "label": "x".repeat(201), "backup_key": key })).await;
    assert_eq!((status, r["field"].as_str()), (400, Some("label")), "{r}");
    let (status, r) = env.post(&points, json!({ "label": "bad", "kind": "snapshot" })).await;
    assert_eq!((status, r["field"].as_str()), (400, Some("kind")), "{r}");

    // A pinned backup says so, and cannot be deleted while its point exists.
    let backup_id = point["backup_id"].as_str().unwrap();
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup_id}")).await;
    assert_eq!(b["backup"]["pinned"], true, "{b}");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    assert_eq!(listed["backups"][0]["pinned"], true);
    let (status, r) =
        env.call("DELETE", &format!("/v1/projects/{project}/backups/{backup_id}"), Some(&env.key), None, None).await;
    assert_eq!(status, 409, "{r}");
    assert!(r["error"].as_str().unwrap().contains("pre-launch"), "{r}");

    let r = restore_done(&env, &project, json!({ "restore_point_id": point["id"], "preview_name": "check" })).await;
    assert_eq!(r["state"], "completed", "{r}");
    assert_eq!(r["source_restore_point_id"], point["id"]);
    assert_eq!(names_in(&preview_url(&env, r["preview_id"].as_str().unwrap()).await).await, vec!["launch-day"]);

    let (_, listed) = env.get(&points).await;
    assert_eq!(listed["restore_points"].as_array().unwrap().len(), 1);
    assert!(listed.get("pitr_window_days").is_some());
    let (status, _) =
        env.call("DELETE", &format!("{points}/{}", point["id"].as_str().unwrap()), Some(&env.key), None, None).await;
    assert_eq!(status, 200);
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{backup_id}")).await;
    assert_eq!(b["backup"]["pinned"], false);
    let (status, r) =
        env.call("DELETE", &format!("/v1/projects/{project}/backups/{backup_id}"), Some(&env.key), None, None).await;
    assert_eq!(status, 200, "unpinned now: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_not_found_and_unverified_backups_need_an_explicit_flag() {
    let env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["a"]).await;
    let unknown = format!("projects/{project}/backups/bkp_01j0000000000000000000000z.dump.zst");
    let (status, r) = restore(&env, &project, json!({ "backup_key": unknown }), None).await;
    assert_eq!(status, 404, "{r}");

    // A backup whose archive does not restore (see the failures suite) is stored but unverified.
    env.tenant_sql(
        &project,
        "CREATE TABLE t2 (x int); INSERT INTO t2 VALUES (1);
         CREATE FUNCTION f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + (SELECT count(*)::int FROM t2)';
         CREATE TABLE t (a int); INSERT INTO t VALUES (1); CREATE INDEX t_f ON t (f(a));",
    )
    .await;
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    let (_, b) =
        env.get(&format!("/v1/projects/{project}/backups/{}", created["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(b["backup"]["verification_state"], "failed");
    let key = b["backup"]["backup_key"].as_str().unwrap();

    let (status, r) = restore(&env, &project, json!({ "backup_key": key }), None).await;
    assert_eq!(status, 422, "{r}");
    assert!(r["error"].as_str().unwrap().contains("allow_unverified_backup"), "{r}");
    let r = restore_done(&env, &project, json!({ "backup_key": key, "allow_unverified_backup": true })).await;
    // Attempted on request; this archive still cannot be restored, so it fails cleanly.
    assert_eq!(r["state"], "failed", "{r}");
    assert!(r["error"].as_str().unwrap().contains("pg_restore failed"), "{r}");
    assert!(!env.scratch_left("local-1", "capydb_stage_", r["id"].as_str().unwrap()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_being_restored_into_cannot_be_deleted_extended_or_expired() {
    use capydb_shared::domain::previews::{PreviewState, TtlHours};
    use capydb_shared::domain::restores::TargetKind;
    use capydb_shared::services::previews;
    use capydb_shared::services::restores::request;

    let mut env = TestEnv::new().await;
    let (project, _) = project_with(&env, &["v1"]).await;
    let key = backup(&env, &project).await;
    let r = restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "busy" })).await;
    let preview = r["preview_id"].as_str().unwrap().to_string();

    // No workers: the restore into the preview stays in flight while we try everything else.
    env.stop().await;
    let admin = admin_principal(&env);
    let req = backup_request(&key, TargetKind::Preview, Some("busy"));
    let done = request(&env.ctx, &admin, &project.parse().unwrap(), req, None).await.unwrap();
    let stored = env.ctx.previews.get_preview(&preview.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.state, PreviewState::Restoring);

    let deleted = previews::delete(&env.ctx, &admin, &preview.parse().unwrap()).await;
    assert!(matches!(deleted, Err(capydb_shared::Error::Conflict { .. })), "{deleted:?}");
    let extended =
        previews::extend(&env.ctx, &admin, &preview.parse().unwrap(), TtlHours::parse(Some(48)).unwrap()).await;
    assert!(matches!(extended, Err(capydb_shared::Error::Conflict { .. })), "{extended:?}");
    let swept = previews::sweep_expired(&env.ctx, Utc::now() + Duration::days(30)).await.unwrap();
    assert_eq!(swept, 0, "a preview being restored into is not expired");

    env.start().await;
    let job = env.wait_job(done.job.id.as_str()).await;
    assert_eq!(job["state"], "completed", "{job}");
    let stored = env.ctx.previews.get_preview(&preview.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.state, PreviewState::Ready);
    assert_eq!(names_in(&preview_url(&env, &preview).await).await, vec!["v1"]);

    // Extending writes only the expiry: the state it read is never written back.
    let (status, e) = env.post(&format!("/v1/preview-databases/{preview}/extend"), json!({ "ttl_hours": 48 })).await;
    assert_eq!(status, 200, "{e}");
    let stored = env.ctx.previews.get_preview(&preview.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.state, PreviewState::Ready);
    assert!((stored.ttl_expires_at - Utc::now()).num_hours() >= 47);
}
