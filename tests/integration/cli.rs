//! The `capydb` binary against the running stack: the seed commands and the exit codes.

use crate::harness::TestEnv;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_create_wait_then_list_shows_a_verified_backup() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;

    let url = env.cli(&["connection-string"], Some(&project));
    assert!(url.status.success(), "{}", String::from_utf8_lossy(&url.stderr));
    let (client, conn) =
        tokio_postgres::connect(stdout(&url).trim(), tokio_postgres::NoTls).await.expect("printed URL connects");
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE t AS SELECT generate_series(1, 100) AS n").await.unwrap();

    let out = env.cli(&["backups", "create", "--label", "first", "--wait"], Some(&project));
    assert!(out.status.success(), "{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("completed and verified"), "{}", stdout(&out));

    let out = env.cli(&["backups", "list", "-o", "json"], Some(&project));
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = &listed["backups"][0];
    assert_eq!(b["label"], "first");
    assert_eq!(b["verification_state"], "verified");
    assert!(b["backup_key"].as_str().unwrap().ends_with(".dump.zst"));
    assert!(b["size_bytes"].as_u64().unwrap() > 0);

    let table = env.cli(&["backups", "list"], Some(&project));
    assert!(stdout(&table).contains("first") && stdout(&table).contains("verified"), "{}", stdout(&table));
    let jobs = env.cli(&["jobs", "list", "-o", "json"], Some(&project));
    let jobs: serde_json::Value = serde_json::from_slice(&jobs.stdout).unwrap();
    assert_eq!(jobs["jobs"][0]["type"], "project.backup", "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_say_what_went_wrong() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let code = |o: std::process::Output| o.status.code().unwrap();

    assert_eq!(code(env.cli(&["backups", "list"], None)), 2, "no project: usage");
    assert_eq!(
        code(env.cli(&["backups", "create", "--label", &"x".repeat(201)], Some(&project))),
        2,
        "bad label: usage"
    );
    assert_eq!(code(env.cli(&["backups", "frobnicate"], Some(&project))), 2);
    assert_eq!(code(env.cli(&["backups", "get", "bkp_01j0000000000000000000000z"], Some(&project))), 4);
    let mut bad_key = std::process::Command::new(crate::harness::cli_binary());
    bad_key
        .args(["backups", "list"])
        .env("CAPYDB_API_URL", &env.api)
        .env("CAPYDB_API_KEY", "capy_live_wrong")
        .env("CAPYDB_PROJECT", &project);
    assert_eq!(code(bad_key.output().unwrap()), 3, "bad key: auth");

    // A job that fails makes --wait exit 1.
    let db = env.database_of(&project).await;
    env.sql("local-2", "postgres", &format!("DROP DATABASE \"{db}\" WITH (FORCE)")).await;
    let out = env.cli(&["backups", "create", "--wait"], Some(&project));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pg_dump failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_seed_command_lands_the_backup_in_a_named_preview() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    let url = stdout(&env.cli(&["connection-string"], Some(&project))).trim().to_string();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)").await.unwrap();
    let out = env.cli(&["backups", "create", "--wait", "-o", "json"], Some(&project));
    let backup: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = backup["backup"]["backup_key"].as_str().unwrap().to_string();
    client.batch_execute("DELETE FROM t").await.unwrap();

    let out = env.cli(
        &["restore", "--backup-key", &key, "--preview-name", "inspect-monday", "--ttl-hours", "24", "--wait"],
        Some(&project),
    );
    assert!(out.status.success(), "{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("inspect-monday"), "{}", stdout(&out));
    assert!(stdout(&out).contains("capydb connection-string --preview inspect-monday"), "{}", stdout(&out));

    let preview_url = env.cli(&["connection-string", "--preview", "inspect-monday"], Some(&project));
    assert!(preview_url.status.success(), "{}", String::from_utf8_lossy(&preview_url.stderr));
    let (pc, conn) = tokio_postgres::connect(stdout(&preview_url).trim(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let n: i64 = pc.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0);
    assert_eq!(n, 2, "the preview holds the backed-up rows");
    assert!(stdout(&env.cli(&["preview", "list"], Some(&project))).contains("inspect-monday"));

    // Overwriting production without the flag, with no terminal to confirm on: usage, nothing sent.
    let out = env.cli(&["restore", "--backup-key", &key, "--target-kind", "project"], Some(&project));
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let restores = env.cli(&["restores", "list", "-o", "json"], Some(&project));
    let restores: serde_json::Value = serde_json::from_slice(&restores.stdout).unwrap();
    assert_eq!(restores["restores"].as_array().unwrap().len(), 1, "no second restore was requested");

    let out = env.cli(&["preview", "delete", "inspect-monday"], Some(&project));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_schedule_set_get_disable() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let out = env.cli(&["backups", "schedule", "get"], Some(&project));
    assert!(stdout(&out).contains("no backup schedule"), "{}", stdout(&out));
    let out = env
        .cli(&["backups", "schedule", "set", "--hour", "3", "--minute", "5", "--retention-days", "30"], Some(&project));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).starts_with("daily at 03:05 UTC, retention 30d"), "{}", stdout(&out));
    let out = env.cli(&["backups", "schedule", "disable"], Some(&project));
    assert!(stdout(&out).contains("daily at 03:05 UTC, retention 30d, label scheduled (disabled)"), "{}", stdout(&out));
    let out = env.cli(&["backups", "schedule", "set", "--hour", "25", "--minute", "0"], Some(&project));
    assert_eq!(out.status.code(), Some(2), "out of range is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cron_hour"));
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_list_page_by_page_or_all_and_revoking_stops_the_key() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let mut secrets = Vec::new();
    for name in ["ci", "dashboard", "reader"] {
        let out = env.cli(
            &["api-keys", "create", "--name", name, "--scopes", "projects:read,backups:read", "-o", "json"],
            Some(&project),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["api_key"]["scopes"], serde_json::json!(["projects:read", "backups:read"]));
        secrets.push((
            v["api_key"]["id"].as_str().unwrap().to_string(),
            v["plaintext_api_key"].as_str().unwrap().to_string(),
        ));
    }
    let table = env.cli(&["api-keys", "create", "--name", "shown-once"], Some(&project));
    assert!(
        stdout(&table).contains("shown only this once") && stdout(&table).contains("capy_live_"),
        "{}",
        stdout(&table)
    );

    let page = env.cli(&["api-keys", "list", "--limit", "2"], Some(&project));
    assert!(page.status.success(), "{}", stderr(&page));
    assert_eq!(stdout(&page).lines().filter(|l| l.contains("key_")).count(), 2, "{}", stdout(&page));
    assert!(stderr(&page).contains("more API keys exist: --all"), "{}", stderr(&page));
    let all = env.cli(&["api-keys", "list", "--limit", "2", "--all", "-o", "json"], Some(&project));
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(all["api_keys"].as_array().unwrap().len(), 5, "the bootstrap key and four created: {all}");
    assert!(all["next_cursor"].is_null());
    assert!(all["api_keys"].as_array().unwrap().iter().all(|k| k.get("plaintext_api_key").is_none()));
    assert_eq!(env.cli(&["api-keys", "list", "--limit", "0"], Some(&project)).status.code(), Some(2));

    let (id, secret) = &secrets[0];
    let as_key = |key: &str| {
        let mut cmd = std::process::Command::new(crate::harness::cli_binary());
        cmd.args(["backups", "list"])
            .env("CAPYDB_API_URL", &env.api)
            .env("CAPYDB_API_KEY", key)
            .env("CAPYDB_PROJECT", &project);
        cmd.output().unwrap()
    };
    assert!(as_key(secret).status.success(), "the new key works");
    let revoked = env.cli(&["api-keys", "revoke", id], Some(&project));
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert_eq!(as_key(secret).status.code(), Some(3), "a revoked key is refused");
}

/// What the API answers a backup request with, as the contract types it.
fn accepted_backup() -> String {
    use capydb_api::backups::{Backup, BackupCreated, BackupKind, BackupState, VerificationState};
    use capydb_api::jobs::{Job, JobState, JobType};
    let now = capydb_api::Timestamp(chrono::Utc::now());
    let job = Job {
        id: "job_x".into(),
        job_type: JobType::ProjectBackup,
        state: JobState::Pending,
        organization_id: "org_x".into(),
        project_id: "prj_x".into(),
        attempts: 0,
        max_attempts: 3,
        claimed_at: None,
        claimed_by: None,
        lease_until: None,
        started_at: None,
        completed_at: None,
        error: None,
        cancelled_by: None,
        retry_classification: None,
        last_error: None,
        next_attempt_at: None,
        runner: None,
        task_arn: None,
        progress: None,
        backup_id: Some("bkp_x".into()),
        restore_id: None,
        preview_database_id: None,
        created_at: now,
        updated_at: now,
    };
    let backup = Backup {
        id: "bkp_x".into(),
        project_id: "prj_x".into(),
        organization_id: "org_x".into(),
        job_id: "job_x".into(),
        label: Some("retried".into()),
        kind: BackupKind::OnDemand,
        state: BackupState::Pending,
        database_name: "prj_x".into(),
        backup_key: None,
        size_bytes: None,
        dump_size_bytes: None,
        sha256: None,
        format: "custom".into(),
        compression: "zstd".into(),
        postgres_version: None,
        verification_state: VerificationState::Pending,
        verified_at: None,
        verification_error: None,
        error: None,
        expires_at: None,
        pinned: false,
        created_at: now,
        completed_at: None,
        updated_at: now,
    };
    serde_json::to_string(&BackupCreated { job, backup }).unwrap()
}

/// A stand-in API that answers a POST with 503, then 429, then 202, and keeps the
/// `Idempotency-Key` of each attempt.
async fn flaky_api() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let state = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let seen = state.clone();
        async move {
            let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let attempt = {
                let mut s = seen.lock().unwrap();
                s.push(key);
                s.len()
            };
            match attempt {
                1 => (StatusCode::SERVICE_UNAVAILABLE, "{}").into_response(),
                2 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "{}").into_response(),
                _ => (StatusCode::ACCEPTED, [("content-type", "application/json")], accepted_backup()).into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_retried_after_503_and_429_with_one_idempotency_key() {
    let (url, seen) = flaky_api().await;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::harness::cli_binary())
            .args(["backups", "create", "--label", "retried"])
            .env("CAPYDB_API_URL", url)
            .env("CAPYDB_API_KEY", "capy_live_x")
            .env("CAPYDB_PROJECT", "prj_x")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Backup bkp_x queued"), "{}", stdout(&out));
    let keys = seen.lock().unwrap().clone();
    assert_eq!(keys.len(), 3, "two retries: {keys:?}");
    assert!(keys[0].starts_with("capydb-cli-"), "{keys:?}");
    assert!(keys.iter().all(|k| k == &keys[0]), "one key for every attempt: {keys:?}");
}

/// `capydb` with only the given environment (no CAPYDB_* from the harness), config under `home`.
fn bare_cli(home: &std::path::Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut cmd = std::process::Command::new(crate::harness::cli_binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_keeps_a_profile_that_flags_and_environment_still_override() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let api = env.api.clone();
    let key = env.key.clone();
    let project2 = project.clone();
    let home_path = h.to_path_buf();

    let out = tokio::task::spawn_blocking(move || {
        let h = home_path.as_path();
        // The key on stdin, as a script would pass it.
        let login = bare_cli(h, &["login", "--api-url", &api], &[], Some(&format!("{key}\n")));
        assert!(login.status.success(), "{}", stderr(&login));
        assert!(stdout(&login).contains("Logged in to"), "{}", stdout(&login));
        let file = h.join("config/capydb/config.toml");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only its owner reads the key");
        assert!(std::fs::read_to_string(&file).unwrap().contains(&key));

        let set = bare_cli(h, &["config", "set", "project", &project2], &[], None);
        assert!(set.status.success(), "{}", stderr(&set));
        let listed = bare_cli(h, &["backups", "list", "-o", "json"], &[], None);
        assert!(listed.status.success(), "the profile alone is enough: {}", stderr(&listed));
        let show = bare_cli(h, &["config", "show"], &[], None);
        assert!(stdout(&show).contains(&project2) && !stdout(&show).contains(&key), "{}", stdout(&show));

        // The environment wins over the profile; another profile has nothing.
        let bad = bare_cli(h, &["backups", "list"], &[("CAPYDB_API_KEY", "capy_live_wrong")], None);
        assert_eq!(bad.status.code(), Some(3), "{}", stderr(&bad));
        let other = bare_cli(h, &["backups", "list", "--profile", "staging"], &[], None);
        assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
        let wrong = bare_cli(h, &["login", "--api-url", &api, "--profile", "x"], &[], Some("capy_live_nope\n"));
        assert_eq!(wrong.status.code(), Some(3), "a key that does not work is not kept: {}", stderr(&wrong));
        assert!(!std::fs::read_to_string(&file).unwrap().contains("[profiles.x]"));

        let completions = bare_cli(h, &["completions", "bash"], &[], None);
        assert!(completions.status.success() && stdout(&completions).contains("_capydb"), "{}", stderr(&completions));
        listed
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["backups"].is_array(), "{v}");
}
