//! Backups end to end: the archive in S3 restores to the same rows; idempotency; deletion.

use crate::harness::{stack, unzstd, TestEnv};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::process::Command;

const SEED: &str = "
    CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(10,2), meta jsonb, raw bytea);
    INSERT INTO orders SELECT g, 'customer ' || g, g * 1.5, jsonb_build_object('n', g), decode(md5(g::text), 'hex')
      FROM generate_series(1, 5000) g;
    CREATE INDEX orders_customer ON orders (customer);
    CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_is_verified_and_the_stored_archive_restores_the_same_rows() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    let db = env.database_of(&project).await;
    env.tenant_sql(&project, SEED).await;

    let (status, created) =
        env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "before-the-big-migration" })).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["job"]["state"], "pending");
    let job = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["attempts"], 1);

    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1);
    let b = &backups[0];
    assert_eq!(b["label"], "before-the-big-migration");
    assert_eq!(b["state"], "completed");
    assert_eq!(b["verification_state"], "verified");
    assert!(b["verified_at"].is_string());
    let key = b["backup_key"].as_str().unwrap();
    assert_eq!(key, format!("projects/{project}/backups/{}.dump.zst", b["id"].as_str().unwrap()));

    // The stored object is exactly what the record describes.
    let archive = env.object(key).await;
    assert_eq!(archive.len() as u64, b["size_bytes"].as_u64().unwrap());
    assert_eq!(hex_sha(&archive), b["sha256"].as_str().unwrap());
    let manifest: serde_json::Value =
        serde_json::from_slice(&env.object(&key.replace(".dump.zst", ".manifest.json")).await).unwrap();
    assert_eq!(manifest["sha256"], b["sha256"]);

    // And it restores with the stock tools into a fresh database, to the same rows.
    let dump = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(dump.path(), unzstd(&archive).await).unwrap();
    env.sql("local-1", "postgres", "CREATE DATABASE restored_by_hand").await;
    let region = env.region("local-1");
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--host", "127.0.0.1", "--port", &region.public_port.to_string()])
        .args(["--username", "postgres", "--dbname", "restored_by_hand"])
        .arg(dump.path())
        .env("PGPASSWORD", &stack().pg_password)
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));
    let check = "SELECT count(*)::bigint, sum(total)::text, md5(string_agg(customer || meta::text || encode(raw, 'hex'), ',' ORDER BY id)) FROM orders";
    let original = env.admin_db("local-1", &db).await.query_one(check, &[]).await.unwrap();
    let restored = env.admin_db("local-1", "restored_by_hand").await.query_one(check, &[]).await.unwrap();
    assert_eq!(restored.get::<_, i64>(0), 5000);
    assert_eq!(
        (restored.get::<_, String>(1), restored.get::<_, String>(2)),
        (original.get::<_, String>(1), original.get::<_, String>(2))
    );
    let views: i64 = env
        .admin_db("local-1", "restored_by_hand")
        .await
        .query_one("SELECT count(*) FROM big_orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(views, 5000 - 66, "the view came back too");

    // Verification leaves no scratch database behind.
    assert!(!env.scratch_left("local-1", "capydb_verify_", b["id"].as_str().unwrap()).await);
}

fn hex_sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_idempotency_key_gives_one_job_and_another_body_is_refused() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let path = format!("/v1/projects/{project}/backups");
    let body = json!({ "label": "nightly-by-hand" });
    let (s1, first) = env.call("POST", &path, Some(&env.key), Some(body.clone()), Some("retry-me-1")).await;
    let (s2, second) = env.call("POST", &path, Some(&env.key), Some(body), Some("retry-me-1")).await;
    assert_eq!((s1, s2), (202, 202), "{first} {second}");
    assert_eq!(first["job"]["id"], second["job"]["id"]);
    assert_eq!(first["backup"]["id"], second["backup"]["id"]);

    let (s3, third) =
        env.call("POST", &path, Some(&env.key), Some(json!({ "label": "other" })), Some("retry-me-1")).await;
    assert_eq!(s3, 422, "{third}");
    assert_eq!(third["code"], "idempotency_key_reused");

    env.wait_job(first["job"]["id"].as_str().unwrap()).await;
    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1, "one backup for two identical requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_archive_and_the_record() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    let backup_id = created["backup"]["id"].as_str().unwrap();
    let prefix = format!("projects/{project}/backups/");
    assert_eq!(env.keys_under(&prefix).await.len(), 2, "archive and manifest");

    let (status, body) =
        env.call("DELETE", &format!("/v1/projects/{project}/backups/{backup_id}"), Some(&env.key), None, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(env.keys_under(&prefix).await.is_empty());
    let (status, _) = env.get(&format!("/v1/projects/{project}/backups/{backup_id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_newest_first_with_cursors() {
    let env = TestEnv::new().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body) = env.post("/v1/projects", json!({ "name": "paged", "region": "local-2" })).await;
        ids.push(body["project"]["id"].as_str().unwrap().to_string());
    }
    let (_, page1) = env.get("/v1/projects?limit=2").await;
    let first: Vec<&str> = page1["projects"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(first, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = page1["next_cursor"].as_str().expect("a next page");
    let (_, page2) = env.get(&format!("/v1/projects?limit=2&cursor={cursor}")).await;
    let second: Vec<&str> = page2["projects"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(second, vec![ids[0].as_str()]);

    let (status, body) = env.get("/v1/projects?limit=0").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("limit")), "{body}");
    let (status, body) = env.get("/v1/projects?cursor=garbage!").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("cursor")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_truncated_cursors_get_a_400_naming_cursor() {
    use base64::Engine;
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let other = env.project("local-2").await;
    let enc = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let forged = [
        // Another project's partition.
        enc(json!({ "pk": format!("PROJECT#{other}"), "sk": "BACKUP#bkp_01j0000000000000000000000z" })),
        // Another item family in the same partition.
        enc(json!({ "pk": format!("PROJECT#{project}"), "sk": "SCHEDULE#default" })),
        // Keys a backups list never returns.
        enc(json!({ "pk": format!("PROJECT#{project}"), "sk": "BACKUP#x", "extra": "1" })),
        enc(json!({ "pk": 5 })),
        "not-base64!".to_string(),
        enc(json!({ "pk": format!("PROJECT#{project}") }))[..10].to_string(),
    ];
    for cursor in &forged {
        for path in [
            format!("/v1/projects/{project}/backups?cursor={cursor}"),
            format!("/v1/projects/{project}/restore-points?cursor={cursor}"),
            format!("/v1/projects/{project}/jobs?cursor={cursor}"),
            format!("/v1/projects/{project}/preview-databases?cursor={cursor}"),
        ] {
            let (status, body) = env.get(&path).await;
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(body["field"], "cursor", "{path}: {body}");
        }
    }
}
