//! Point-in-time recovery on the archiving cluster (local-1): a base backup, rows written at
//! distinct moments with WAL switches between them, and restores to a time, to a named
//! restore point, to "now" (clamped) and over the project — each seeing exactly the rows of its
//! moment. Plus the refusals, and a gap in the archive shrinking the window.

use crate::harness::{TestEnv, WAL_BUCKET};
use capydb_shared::config::RegionConfig;
use capydb_shared::domain::wal::{format_lsn, BaseBackup, Segment, SEGMENT_BYTES};
use capydb_shared::services::{archive_catalogue, base_backups, pitr};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{json, Value};

async fn rows(url: &str) -> Vec<i32> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.query("SELECT n FROM t ORDER BY n", &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

async fn restore(env: &TestEnv, project: &str, body: Value) -> Value {
    let (status, r) = env.post(&format!("/v1/projects/{project}/restores"), body).await;
    assert_eq!(status, 202, "{r}");
    let job = env.wait_job(r["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    r
}

async fn preview_rows(env: &TestEnv, r: &Value) -> Vec<i32> {
    let preview = r["preview"]["id"].as_str().expect("a new preview");
    rows(&super::restores::preview_url(env, preview).await).await
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_to_a_time_a_restore_point_and_now_see_exactly_the_rows_of_that_moment() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    let (_, c) = env.get(&format!("/v1/projects/{project}/connections")).await;
    let url = c["connections"]["direct_url"].as_str().unwrap().to_string();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE t (n int)").await.unwrap();
    let region = env.ctx.region("local-1").unwrap().clone();
    let taken = base_backups::take(&env.ctx, &region).await.expect("base backup");
    assert!(taken.size_bytes > 0);

    let admin = env.admin_db("local-1", "postgres").await;
    let write = |n: i32| {
        let client = &client;
        let admin = &admin;
        async move {
            client.execute("INSERT INTO t VALUES ($1)", &[&n]).await.unwrap();
            admin.batch_execute("SELECT pg_switch_wal()").await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
    };
    write(1).await;
    write(2).await;
    let between = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, point) = env
        .post(&format!("/v1/projects/{project}/restore-points"), json!({ "label": "before-3", "kind": "pitr" }))
        .await;
    assert_eq!(status, 201, "{point}");
    let point = &point["restore_point"];
    assert!(point["pitr_lsn"].is_string() && point["pitr_name"].is_string(), "{point}");
    write(3).await;

    // The region reports a window that covers all of it.
    let (_, regions) = env.get("/v1/regions").await;
    let local1 = regions["region_details"].as_array().unwrap().iter().find(|r| r["id"] == "local-1").unwrap().clone();
    assert_eq!(local1["pitr_available"], true, "{local1}");
    assert!(at(&local1["earliest_restore_time"]) <= between, "{local1}");
    assert_eq!(local1["pitr_window_days"], 30);
    let local2 = regions["region_details"].as_array().unwrap().iter().find(|r| r["id"] == "local-2").unwrap().clone();
    assert_eq!(local2["pitr_available"], false, "{local2}");

    // A time between the second and the third write: exactly rows 1 and 2.
    let r = restore(&env, &project, json!({ "restore_time": between.to_rfc3339() })).await;
    assert_eq!(r["job"]["type"], "instance.pitr_restore", "CapyDB's name for a WAL replay: {r}");
    assert_eq!(r["pitr"]["restore_time_clamped"], false, "{r}");
    assert_eq!(at(&r["pitr"]["restore_time"]), between.trunc_subsecs(3), "kept to the millisecond it answers with");
    assert_eq!(r["restore"]["source_kind"], "pitr");
    assert_eq!(preview_rows(&env, &r).await, vec![1, 2]);
    let (_, p) = env.get(&format!("/v1/preview-databases/{}", r["preview"]["id"].as_str().unwrap())).await;
    assert_eq!(p["preview_database"]["source_kind"], "pitr");

    // The named restore point, placed after the second write: exact.
    let r = restore(&env, &project, json!({ "restore_point_id": point["id"] })).await;
    assert_eq!(preview_rows(&env, &r).await, vec![1, 2]);

    // "Now", just committed and not yet archived: clamped to the latest moment, which the
    // restore forced into the archive, so the latest committed row is there.
    client.execute("INSERT INTO t VALUES (4)", &[]).await.unwrap();
    // A few seconds ahead (within the documented clock-skew allowance) is surely past the archive.
    let now = Utc::now() + Duration::seconds(20);
    let r = restore(&env, &project, json!({ "restore_time": now.to_rfc3339() })).await;
    assert_eq!(r["pitr"]["restore_time_clamped"], true, "{r}");
    assert_eq!(at(&r["pitr"]["requested_restore_time"]), now.trunc_subsecs(3));
    assert!(at(&r["pitr"]["restore_time"]) < now);
    assert_eq!(preview_rows(&env, &r).await, vec![1, 2, 3, 4]);

    // Over the project, confirmed: production goes back to the moment, the safety copy stays.
    let r = restore(
        &env,
        &project,
        json!({ "restore_time": between.to_rfc3339(), "target_kind": "project", "confirm_project_overwrite": true }),
    )
    .await;
    assert_eq!(rows(&url).await, vec![1, 2], "production is at the moment asked for");
    let (_, got) = env.get(&format!("/v1/projects/{project}/restores/{}", r["restore"]["id"].as_str().unwrap())).await;
    let safety = got["restore"]["safety_backup_id"].as_str().expect("a safety backup").to_string();
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{safety}")).await;
    assert_eq!(
        (b["backup"]["kind"].as_str(), b["backup"]["verification_state"].as_str()),
        (Some("pre_restore"), Some("verified"))
    );

    // Nothing of the recovery instances is left behind.
    let scratch: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("capydb-recovery-"))
        .collect();
    assert!(scratch.is_empty(), "recovery directories left: {scratch:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_times_and_regions_without_archiving_are_refused_with_the_window() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    let region = env.ctx.region("local-1").unwrap().clone();
    base_backups::take(&env.ctx, &region).await.expect("base backup");
    let path = format!("/v1/projects/{project}/restores");

    let (status, body) = env.post(&path, json!({ "restore_time": "yesterday at noon" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("restore_time")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("RFC 3339"), "{body}");
    let (status, body) = env.post(&path, json!({ "restore_time": "2001-01-01T00:00:00Z" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("restore_time")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("before the restorable window of region local-1"), "{body}");
    // However far ahead, a moment past the archive's end is restored as its end, and said so.
    let tomorrow = (Utc::now() + Duration::days(1)).to_rfc3339();
    let (status, body) = env.post(&path, json!({ "restore_time": tomorrow })).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["pitr"]["restore_time_clamped"], true, "{body}");
    let restored = chrono::DateTime::parse_from_rfc3339(body["pitr"]["restore_time"].as_str().unwrap()).unwrap();
    assert!(restored <= Utc::now(), "the latest restorable moment, not tomorrow: {body}");
    let job = env.wait_job(body["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    let (status, body) = env.post(&path, json!({ "restore_time": Utc::now().to_rfc3339(), "backup_key": "x" })).await;
    assert_eq!(status, 400, "one source only: {body}");

    let other = env.project("local-2").await;
    let (status, body) =
        env.post(&format!("/v1/projects/{other}/restores"), json!({ "restore_time": Utc::now().to_rfc3339() })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "point-in-time recovery is not available in region local-2");
    let (status, body) =
        env.post(&format!("/v1/projects/{other}/restore-points"), json!({ "label": "x", "kind": "pitr" })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "point-in-time recovery is not available in region local-2");
    let (_, points) = env.get(&format!("/v1/projects/{other}/restore-points")).await;
    assert!(points["pitr_window_days"].is_null());
    let (status, body) = env
        .post(
            &format!("/v1/projects/{project}/restore-points"),
            json!({ "label": "y", "kind": "pitr", "pitr_time": tomorrow }),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("pitr_time")), "{body}");
}

/// Stores a fake archive for `region`: segments `numbers`, and base backups (id, start, end).
async fn fake_archive(env: &TestEnv, region: &str, numbers: &[u64], bases: &[(&str, u64, u64, DateTime<Utc>)]) {
    let s3 = env.s3().await;
    for n in numbers {
        let name = Segment { timeline: 1, number: *n }.name();
        s3.put_object()
            .bucket(WAL_BUCKET)
            .key(format!("wal/{region}/{name}.zst"))
            .body(vec![0u8; 8].into())
            .send()
            .await
            .unwrap();
    }
    for (id, start, end, done) in bases {
        let manifest = BaseBackup {
            id: id.to_string(),
            region: region.into(),
            timeline: 1,
            start_lsn: format_lsn(start * SEGMENT_BYTES + 40),
            end_lsn: format_lsn(end * SEGMENT_BYTES + 80),
            started_at: *done - Duration::minutes(1),
            completed_at: *done,
            key: format!("basebackups/{region}/{id}/base.tar.zst"),
            size_bytes: 1,
            tar_bytes: 1,
            sha256: "0".into(),
            server_version: "15".into(),
        };
        s3.put_object()
            .bucket(WAL_BUCKET)
            .key(format!("basebackups/{region}/{id}/manifest.json"))
            .body(serde_json::to_vec(&manifest).unwrap().into())
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_segment_shrinks_the_window_and_a_restore_across_it_is_refused() {
    let env = TestEnv::new().await;
    let name = format!("it-gap-{}", &env.name[3..]);
    let region = RegionConfig { name: name.clone(), wal_archiving: true, ..env.ctx.region("local-1").unwrap().clone() };
    // Whole milliseconds, as the window reports them.
    let old = (Utc::now() - Duration::hours(5)).trunc_subsecs(3);
    let newer = (Utc::now() - Duration::hours(2)).trunc_subsecs(3);
    // Segments 3..=9 without 6; base backups before and after the hole.
    fake_archive(&env, &name, &[3, 4, 5, 7, 8, 9], &[("b-old", 3, 4, old), ("b-new", 7, 7, newer)]).await;

    let w = archive_catalogue::region_window(&env.ctx, &region, Utc::now()).await.unwrap();
    assert!(w.pitr_available);
    assert_eq!(w.earliest_restore_time, Some(newer), "the window starts after the gap");
    assert_eq!(w.wal_gaps, vec!["000000010000000000000006..000000010000000000000006".to_string()]);
    let before_gap = old + Duration::minutes(30);
    let err = pitr::plan_time(&env.ctx, &region, "restore_time", before_gap).await.unwrap_err().to_string();
    assert!(err.contains("before the restorable window"), "{err}");
    let planned = pitr::plan_time(&env.ctx, &region, "restore_time", newer + Duration::minutes(1)).await.unwrap();
    assert_eq!(planned.base_backup_id, "b-new");

    // With only the base backup before the gap, nothing is restorable at all.
    let lonely = format!("{name}-b");
    fake_archive(&env, &lonely, &[3, 4, 5, 7], &[("b-old", 3, 4, old)]).await;
    let region = RegionConfig { name: lonely, ..region };
    let w = archive_catalogue::region_window(&env.ctx, &region, Utc::now()).await.unwrap();
    assert!(!w.pitr_available);
    let err = pitr::plan_time(&env.ctx, &region, "restore_time", old + Duration::minutes(30)).await.unwrap_err();
    assert!(err.to_string().contains("no restorable point-in-time window"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_marks_a_moment_before_a_destructive_change_and_restores_it() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    env.tenant_sql(&project, "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2), (3)").await;
    base_backups::take(&env.ctx, env.ctx.region("local-1").unwrap()).await.expect("base backup");
    let cli = |args: &[&str]| {
        let out = env.cli(args, Some(&project));
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let regions = cli(&["regions", "list"]);
    assert!(regions.lines().any(|l| l.contains("local-1") && l.contains("true")), "{regions}");
    let (_, got) = env.get(&format!("/v1/projects/{project}")).await;
    assert_eq!(
        (got["region"]["id"].as_str(), got["region"]["pitr_available"].as_bool()),
        (Some("local-1"), Some(true))
    );
    let shown = cli(&["projects", "get"]);
    assert!(shown.contains("point-in-time") && shown.contains("s behind"), "{shown}");
    let created: Value = serde_json::from_str(&cli(&[
        "restore-points",
        "create",
        "--label",
        "pre-launch",
        "--kind",
        "pitr",
        "-o",
        "json",
    ]))
    .unwrap();
    let id = created["restore_point"]["id"].as_str().unwrap().to_string();
    env.tenant_sql(&project, "DELETE FROM t WHERE n > 1; DROP TABLE IF EXISTS nothing").await;

    let out = cli(&["restore", "--restore-point", &id, "--preview-name", "check", "--wait"]);
    assert!(out.contains("point in time") && out.contains("check"), "{out}");
    let url = cli(&["connection-string", "--preview", "check"]);
    assert_eq!(rows(url.trim()).await, vec![1, 2, 3], "the data from before the change");
    let listed = cli(&["restore-points", "list"]);
    assert!(listed.contains("pre-launch") && listed.contains("pitr") && listed.contains("active"), "{listed}");
}
