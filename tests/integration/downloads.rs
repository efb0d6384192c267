//! Getting a backup out: a presigned URL from the API, `capydb backups download` checking the
//! SHA-256 as it writes, and the stock `pg_restore` loading what it wrote.

use crate::archive::pg_command;
use crate::harness::TestEnv;
use crate::restores::admin_session;
use capydb_shared::auth::OrgRole;
use serde_json::json;

async fn backup(env: &TestEnv, project: &str) -> (String, String) {
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "to-take-home" })).await;
    let job = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    let id = created["backup"]["id"].as_str().unwrap().to_string();
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{id}")).await;
    (id, b["backup"]["backup_key"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_backup_restores_with_the_stock_pg_restore() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    env.tenant_sql(
        &project,
        "CREATE TABLE invoices (id int PRIMARY KEY, total numeric);
         INSERT INTO invoices SELECT i, i * 1.5 FROM generate_series(1, 2500) i;",
    )
    .await;
    let (backup_id, _) = backup(&env, &project).await;

    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("invoices.dump");
    let out = env
        .cli(&["backups", "download", &backup_id, "--decompress", "--file", plain.to_str().unwrap()], Some(&project));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified"), "{}", String::from_utf8_lossy(&out.stdout));

    // The compressed archive as stored: its bytes are the backup's size.
    let out = env.cli(&["backups", "download", &backup_id, "-o", "json"], Some(&project));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let zst = std::path::PathBuf::from(v["path"].as_str().unwrap());
    assert_eq!(std::fs::metadata(&zst).unwrap().len(), v["download"]["size_bytes"].as_u64().unwrap());
    std::fs::remove_file(&zst).unwrap();

    let target = format!("download_{}", &env.name[3..].to_lowercase());
    env.sql("local-1", "postgres", &format!("CREATE DATABASE {target}")).await;
    let restored = pg_command(&env, "pg_restore", &target)
        .args(["--no-owner", "--exit-on-error", "-d", &target])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let row = env
        .admin_db("local-1", &target)
        .await
        .query_one("SELECT count(*), sum(total)::text FROM invoices", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, String>(1)), (2500, "4689375.0".to_string()));
    env.sql("local-1", "postgres", &format!("DROP DATABASE {target} WITH (FORCE)")).await;

    let audited = env.events("backup.downloaded").await;
    assert_eq!(audited.len(), 2, "every URL handed out is recorded");
    assert_eq!(audited[0]["data"]["backup_id"], backup_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_does_not_match_its_checksum_keeps_nothing() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    env.tenant_sql(&project, "CREATE TABLE t AS SELECT generate_series(1, 100) AS n").await;
    let (backup_id, key) = backup(&env, &project).await;
    env.s3()
        .await
        .put_object()
        .bucket(&env.name)
        .key(&key)
        .body(b"not the archive".to_vec().into())
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.dump.zst");
    let out = env.cli(&["backups", "download", &backup_id, "--file", file.to_str().unwrap()], Some(&project));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file, whole or partial, is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_url_needs_credentials_read_an_admin_session_and_a_completed_backup() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (backup_id, _) = backup(&env, &project).await;
    let path = format!("/v1/projects/{project}/backups/{backup_id}/download-url");

    let (status, created) = env
        .post(
            &format!("/v1/organizations/{}/api-keys", env.org),
            json!({ "name": "reader", "scopes": ["backups:read"] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let reader = created["plaintext_api_key"].as_str().unwrap();
    let (status, body) = env.call("POST", &path, Some(reader), Some(json!({})), None).await;
    assert_eq!(status, 403, "backups:read alone cannot take the data out: {body}");
    assert!(body["error"].as_str().unwrap().contains("credentials:read"), "{body}");
    let member = admin_session(&env, OrgRole::Member);
    let (status, body) = env.call("POST", &path, Some(&member), Some(json!({})), None).await;
    assert_eq!(status, 403, "{body}");
    let admin = admin_session(&env, OrgRole::Admin);
    let (status, body) = env.call("POST", &path, Some(&admin), Some(json!({ "expires_in_seconds": 60 })), None).await;
    assert_eq!(status, 200, "{body}");
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires.timestamp() - chrono::Utc::now().timestamp() - 60).abs() <= 5, "{body}");
    assert!(body["url"].as_str().unwrap().contains("X-Amz-Expires=60"), "{body}");
    assert_eq!(body["format"], "pg_dump-custom");

    for bad in [json!(59), json!(86_401), json!("soon")] {
        let (status, body) = env.post(&path, json!({ "expires_in_seconds": bad })).await;
        assert_eq!((status, body["field"].as_str()), (400, Some("expires_in_seconds")), "{body}");
    }
    let db = env.database_of(&project).await;
    env.sql("local-2", "postgres", &format!("DROP DATABASE \"{db}\" WITH (FORCE)")).await;
    let (_, failed) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    env.wait_job(failed["job"]["id"].as_str().unwrap()).await;
    let failed_path =
        format!("/v1/projects/{project}/backups/{}/download-url", failed["backup"]["id"].as_str().unwrap());
    let (status, body) = env.post(&failed_path, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("is failed"), "{body}");
}
