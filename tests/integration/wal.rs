//! The WAL archive: local-1 ships its segments to object storage through the helper, and the
//! helper keeps PostgreSQL's contract — success only when stored, never overwriting a different
//! segment, a distinguishable "not archived" for recovery.

use crate::harness::{stack, wal_helper_binary, TestEnv, WAL_BUCKET};
use capydb_shared::services::wal_archive::HelperConfig;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn helper(config: &Path, args: &[&str]) -> Output {
    Command::new(wal_helper_binary()).arg("--config").arg(config).args(args).output().expect("helper runs")
}

fn write_config(dir: &Path, file: &str, region: &str, endpoint: &str) -> std::path::PathBuf {
    let path = dir.join(file);
    let cfg = HelperConfig {
        bucket: WAL_BUCKET.into(),
        region: region.into(),
        aws_region: "us-east-1".into(),
        endpoint_url: Some(endpoint.into()),
        create_bucket: true,
    };
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_1_ships_each_finished_segment_to_object_storage() {
    let env = TestEnv::new().await;
    let admin = env.admin_db("local-1", "postgres").await;
    admin.batch_execute("CREATE TEMP TABLE w AS SELECT generate_series(1, 1000) n").await.unwrap();
    let row = admin.query_one("SELECT pg_walfile_name(pg_switch_wal())", &[]).await.unwrap();
    let segment: String = row.get(0);
    let key = format!("wal/local-1/{segment}.zst");
    let s3 = env.s3().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let head = loop {
        match s3.head_object().bucket(WAL_BUCKET).key(&key).send().await {
            Ok(h) => break h,
            Err(_) => {
                assert!(Instant::now() < deadline, "{key} was never archived");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let stored = s3.get_object().bucket(WAL_BUCKET).key(&key).send().await.unwrap();
    let compressed = stored.body.collect().await.unwrap().into_bytes();
    let raw = crate::harness::unzstd(&compressed).await;
    assert_eq!(raw.len(), 16 * 1024 * 1024, "a whole segment");
    // Stored as a zstd frame. How much it shrinks depends on what every test on the shared
    // cluster wrote into the segment (random bytes do not compress), so no ratio is asserted.
    assert_eq!(compressed[..4], [0x28, 0xB5, 0x2F, 0xFD], "stored compressed with zstd");
    let meta = head.metadata.unwrap_or_default();
    assert_eq!(meta.get("sha256"), Some(&hex::encode(Sha256::digest(&raw))), "checksum of the original bytes");
    // The archiver counts the segment once `archive_command` has exited, a moment after the
    // object is stored.
    loop {
        let archived: Option<String> =
            admin.query_one("SELECT last_archived_wal FROM pg_stat_archiver", &[]).await.unwrap().get(0);
        if archived.as_deref().is_some_and(|a| a >= segment.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "pg_stat_archiver never counted {segment}: {archived:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helper_succeeds_only_when_stored_and_never_overwrites_a_different_segment() {
    let _env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let region = format!("it-helper-{}", std::process::id());
    let config = write_config(dir.path(), "up.json", &region, &stack().moto_url);
    let name = "000000010000000000000007";
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, vec![7u8; 1 << 20]).unwrap();
    std::fs::write(&b, vec![8u8; 1 << 20]).unwrap();

    let out = helper(&config, &["push", a.to_str().unwrap(), name]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = helper(&config, &["push", a.to_str().unwrap(), name]);
    assert!(again.status.success(), "the same bytes again (a retry after a crash) succeed");
    let other = helper(&config, &["push", b.to_str().unwrap(), name]);
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stderr).contains("refusing to overwrite"), "{other:?}");

    let dest = dir.path().join("restored");
    let out = helper(&config, &["fetch", name, dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&a).unwrap(), "the first bytes stayed");
    let missing = helper(&config, &["fetch", "000000010000000000000008", dir.path().join("x").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1), "not archived: the normal end of recovery");
    assert!(!dir.path().join("x").exists());
    assert_eq!(helper(&config, &["push", a.to_str().unwrap(), "../../etc/passwd"]).status.code(), Some(1));

    // Object storage unreachable: a push fails (PostgreSQL keeps the segment and retries), a
    // fetch aborts recovery rather than ending it early.
    let down = write_config(dir.path(), "down.json", &region, "http://127.0.0.1:9");
    let out = helper(&down, &["push", b.to_str().unwrap(), "000000010000000000000009"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let out = helper(&config, &["fetch", "000000010000000000000009", dest.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing was stored by the failed push: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = helper(&down, &["fetch", name, dir.path().join("y").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "{}", String::from_utf8_lossy(&out.stderr));
}
