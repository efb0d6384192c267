//! The bounded soak (`make soak`, not part of `make test`): five projects back up, restore into
//! previews and over themselves, and make restore points, all at once, for `DURATION` (10
//! minutes by default), while a chaos task keeps injecting faults through both proxies (S3
//! SlowDown and 500s, DynamoDB throttling and transaction conflicts, PostgreSQL connections cut,
//! refused or slowed) and the webhook receiver goes down now and then. Then the faults stop,
//! everything settles, and the fault suite's invariants are checked over all of it. It prints
//! what it did, what failed and what was retried, as tables.

use crate::fault_proxy::{
    archive_get, complete_upload, dynamo, FaultProxy, Flow, Matcher, PgFaultProxy, SLOW_DOWN, THROTTLED,
    TRANSACTION_CONFLICT,
};
use crate::harness::TestEnv;
use crate::receivers::Receiver;
use axum::http::{Method, StatusCode};
use capydb_shared::domain::webhooks::signature_header;
use capydb_shared::services::{deliveries::retry_due, sweeper::sweep_jobs};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PROJECTS: usize = 5;
/// The DynamoDB calls the chaos task throttles, by `X-Amz-Target`.
const THROTTLED_TARGETS: [&str; 4] = [
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.GetItem",
    "DynamoDB_20120810.Query",
];
const EVENTS: &[&str] = &["backup.completed", "backup.failed", "restore.completed", "restore.failed"];
const INTERNAL_ERROR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>soak</RequestId></Error>";

/// `90s`, `10m`, `1h` or plain seconds.
fn parse_duration(text: &str) -> Duration {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().unwrap_or_else(|_| panic!("DURATION {text:?}: expected e.g. 90s, 10m or 1h"));
    match unit {
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => panic!("DURATION {text:?}: the unit is s, m or h"),
    }
}

/// One kind of operation's tally.
#[derive(Default, Clone, Copy)]
struct Tally {
    started: u32,
    completed: u32,
    failed: u32,
    /// Jobs that needed more than one attempt.
    retried: u32,
}

#[derive(Default)]
struct Report {
    ops: BTreeMap<&'static str, Tally>,
    /// Fault kind → (times injected, requests or connections it hit).
    faults: BTreeMap<&'static str, (u32, usize)>,
    /// API calls the soak's client repeated after a 5xx or 429 (with the same Idempotency-Key).
    client_retries: u32,
    failures: Vec<String>,
    violations: Vec<String>,
}

type Shared = Arc<Mutex<Report>>;

fn violation(report: &Shared, what: String) {
    eprintln!("soak: VIOLATION: {what}");
    report.lock().unwrap().violations.push(what);
}

/// A completed backup and the rows it holds.
#[derive(Clone)]
struct Taken {
    key: String,
    rows: Vec<String>,
}

/// The API as a careful client calls it: a 5xx or 429 is asked again, a write with the same
/// Idempotency-Key so it happens once.
async fn call(env: &TestEnv, report: &Shared, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let idem = (method == "POST").then(|| format!("soak-{}", rand::random::<u64>()));
    for attempt in 0.. {
        let (status, out) = env.call(method, path, Some(&env.key), body.clone(), idem.as_deref()).await;
        if (status < 500 && status != 429) || attempt == 8 {
            return (status, out);
        }
        report.lock().unwrap().client_retries += 1;
        tokio::time::sleep(Duration::from_millis(250 << attempt.min(4))).await;
    }
    unreachable!()
}

/// Waits for a job to end (the sweeper task retries it when a fault put it back) and tallies it.
async fn finish(env: &TestEnv, report: &Shared, op: &'static str, id: &str) -> Value {
    report.lock().unwrap().ops.entry(op).or_default().started += 1;
    let deadline = Instant::now() + Duration::from_secs(600);
    let job = loop {
        let (status, j) = call(env, report, "GET", &format!("/v1/jobs/{id}"), None).await;
        if status == 200 && ["completed", "failed", "cancelled"].contains(&j["job"]["state"].as_str().unwrap_or("")) {
            break j["job"].clone();
        }
        if Instant::now() > deadline {
            violation(report, format!("{op} job {id} never ended: {j}"));
            return j["job"].clone();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut r = report.lock().unwrap();
    let tally = r.ops.entry(op).or_default();
    if job["state"] == "completed" {
        tally.completed += 1;
    } else {
        tally.failed += 1;
    }
    if job["attempts"].as_u64().unwrap_or(0) > 1 {
        tally.retried += 1;
    }
    if job["state"] != "completed" {
        r.failures.push(format!("{op}: {}", job["error"].as_str().unwrap_or("?")));
        if job["error"].as_str().is_none_or(str::is_empty) {
            drop(r);
            violation(report, format!("{op} job {id} failed without saying why: {job}"));
        }
    }
    job
}

async fn names(url: &str) -> Result<Vec<String>, String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let rows = client.query("SELECT name FROM accounts ORDER BY name", &[]).await.map_err(|e| e.to_string())?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn project_url(env: &TestEnv, report: &Shared, project: &str) -> String {
    let (_, c) = call(env, report, "GET", &format!("/v1/projects/{project}/connections"), None).await;
    c["connections"]["direct_url"].as_str().expect("connection string").to_string()
}

/// Restores `body` into a new preview, checks it holds exactly `rows`, and deletes it.
async fn restore_into_preview(
    env: &TestEnv,
    report: &Shared,
    project: &str,
    op: &'static str,
    body: Value,
    rows: &[String],
) {
    let (status, r) = call(env, report, "POST", &format!("/v1/projects/{project}/restores"), Some(body)).await;
    if status != 202 {
        violation(report, format!("{op}: restore request answered {status}: {r}"));
        return;
    }
    let job = finish(env, report, op, r["job"]["id"].as_str().unwrap()).await;
    let preview = r["preview"]["id"].as_str().unwrap();
    if job["state"] == "completed" {
        let (_, c) = call(env, report, "GET", &format!("/v1/preview-databases/{preview}/connections"), None).await;
        match names(c["direct_url"].as_str().unwrap_or_default()).await {
            Ok(got) if got == rows => {}
            got => violation(report, format!("{op}: preview {preview} holds {got:?}, the backup held {rows:?}")),
        }
    }
    let (status, out) = call(env, report, "DELETE", &format!("/v1/preview-databases/{preview}"), None).await;
    if !(200..300).contains(&status) && status != 404 {
        violation(report, format!("{op}: deleting preview {preview} answered {status}: {out}"));
    }
}

/// One project's life: write a row, back up, then restore, make a restore point, or overwrite
/// production — one step at a time, so what each backup holds is known exactly.
async fn project_loop(env: Arc<TestEnv>, report: Shared, project: String, until: Instant, seed: u64) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut rows = vec!["ada".to_string()];
    let mut taken: Vec<Taken> = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let row = format!("row-{n:04}");
        let url = project_url(&env, &report, &project).await;
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("tenant connects");
        tokio::spawn(conn);
        client.execute("INSERT INTO accounts VALUES ($1)", &[&row]).await.expect("tenant writes");
        rows.push(row);
        rows.sort();

        let (status, b) =
            call(&env, &report, "POST", &format!("/v1/projects/{project}/backups"), Some(json!({}))).await;
        if status != 202 {
            violation(&report, format!("backup request answered {status}: {b}"));
            continue;
        }
        let job = finish(&env, &report, "backup", b["job"]["id"].as_str().unwrap()).await;
        if job["state"] == "completed" {
            let (_, got) = call(
                &env,
                &report,
                "GET",
                &format!("/v1/projects/{project}/backups/{}", b["backup"]["id"].as_str().unwrap()),
                None,
            )
            .await;
            taken.push(Taken { key: got["backup"]["backup_key"].as_str().unwrap().to_string(), rows: rows.clone() });
        }
        let Some(pick) = (!taken.is_empty()).then(|| taken[rng.random_range(0..taken.len())].clone()) else { continue };
        match rng.random_range(0..10) {
            0..=4 => {
                let body = json!({ "backup_key": pick.key, "preview_name": format!("soak-{n}") });
                restore_into_preview(&env, &report, &project, "restore into a preview", body, &pick.rows).await;
            }
            5..=7 => {
                let body = json!({ "backup_key": pick.key, "label": format!("soak {n}") });
                let (status, p) =
                    call(&env, &report, "POST", &format!("/v1/projects/{project}/restore-points"), Some(body)).await;
                report.lock().unwrap().ops.entry("restore point").or_default().started += 1;
                if status != 201 {
                    violation(&report, format!("restore point answered {status}: {p}"));
                    continue;
                }
                report.lock().unwrap().ops.entry("restore point").or_default().completed += 1;
                let body =
                    json!({ "restore_point_id": p["restore_point"]["id"], "preview_name": format!("point-{n}") });
                restore_into_preview(&env, &report, &project, "restore from a restore point", body, &pick.rows).await;
            }
            _ => {
                let body =
                    json!({ "backup_key": pick.key, "target_kind": "project", "confirm_project_overwrite": true });
                let (status, r) =
                    call(&env, &report, "POST", &format!("/v1/projects/{project}/restores"), Some(body)).await;
                if status != 202 {
                    violation(&report, format!("overwrite request answered {status}: {r}"));
                    continue;
                }
                let job = finish(&env, &report, "restore over production", r["job"]["id"].as_str().unwrap()).await;
                if job["state"] == "completed" {
                    rows = pick.rows.clone();
                }
                // Production holds exactly what it held, unless the restore completed.
                match names(&project_url(&env, &report, &project).await).await {
                    Ok(got) if got == rows => {}
                    got => violation(&report, format!("production of {project} holds {got:?}, expected {rows:?}")),
                }
            }
        }
    }
    rows
}

/// Injects one fault after another until `until`, each for a few seconds.
async fn chaos(s3: Arc<FaultProxy>, pg: Arc<PgFaultProxy>, receiver: Arc<Receiver>, report: Shared, until: Instant) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let any_part = || -> Matcher {
        Box::new(|m, uri, _| *m == Method::PUT && uri.query().is_some_and(|q| q.contains("partNumber=")))
    };
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.random_range(2000..6000))).await;
        let hold = Duration::from_millis(rng.random_range(2000..6000));
        let (cut, accepted) = (pg.cut(), pg.accepted());
        let refused_deliveries = || receiver.received().iter().filter(|r| r.status == 503).count();
        let refused = refused_deliveries();
        // Connections a fault ended or slowed, beyond what the S3/DynamoDB rules count.
        let mut pg_hit = 0;
        let mut slowed = false;
        let kind: &'static str = match rng.random_range(0..10) {
            0 => {
                s3.fail(
                    any_part(),
                    1,
                    rng.random_range(1..4),
                    StatusCode::SERVICE_UNAVAILABLE,
                    "application/xml",
                    SLOW_DOWN,
                );
                "S3 503 SlowDown on upload parts"
            }
            1 => {
                s3.fail(
                    archive_get(),
                    1,
                    rng.random_range(1..6),
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "application/xml",
                    INTERNAL_ERROR,
                );
                "S3 500 on archive reads"
            }
            2 => {
                s3.fail(
                    complete_upload(),
                    1,
                    rng.random_range(1..6),
                    StatusCode::SERVICE_UNAVAILABLE,
                    "application/xml",
                    SLOW_DOWN,
                );
                "S3 503 on CompleteMultipartUpload"
            }
            3 => {
                let target = THROTTLED_TARGETS[rng.random_range(0..THROTTLED_TARGETS.len())];
                s3.fail(
                    dynamo(target),
                    1,
                    rng.random_range(1..6),
                    StatusCode::BAD_REQUEST,
                    "application/x-amz-json-1.0",
                    THROTTLED,
                );
                "DynamoDB ThrottlingException"
            }
            4 => {
                let transact = dynamo("DynamoDB_20120810.TransactWriteItems");
                let count = rng.random_range(1..4);
                s3.fail(
                    transact,
                    1,
                    count,
                    StatusCode::BAD_REQUEST,
                    "application/x-amz-json-1.0",
                    TRANSACTION_CONFLICT,
                );
                "DynamoDB TransactionConflict"
            }
            5 => {
                pg.cut_after(if rng.random_bool(0.5) { Flow::ToClient } else { Flow::ToServer }, 1 << 20, 1);
                "PostgreSQL connection cut mid-stream"
            }
            6 => {
                pg_hit = pg.cut_all();
                "PostgreSQL connections all cut"
            }
            7 => {
                pg_hit = pg.refuse().await;
                "PostgreSQL refusing connections"
            }
            8 => {
                pg.delay(Duration::from_millis(1500), Duration::from_millis(2));
                slowed = true;
                "PostgreSQL slowed down"
            }
            _ => {
                receiver.respond_with(503);
                "webhook receiver answering 503"
            }
        };
        tokio::time::sleep(hold).await;
        if slowed {
            pg_hit = pg.accepted() - accepted;
        }
        let hit = s3.failed().iter().sum::<usize>() + (pg.cut() - cut) + pg_hit + (refused_deliveries() - refused);
        s3.clear();
        pg.clear();
        pg.accept().await;
        receiver.respond_with(200);
        let mut r = report.lock().unwrap();
        let entry = r.faults.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += hit;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a soak of minutes: run it with `make soak` (DURATION=10m by default)"]
async fn soak() {
    let length = parse_duration(&std::env::var("CAPYDB_SOAK_DURATION").unwrap_or_else(|_| "10m".into()));
    let started = Instant::now();
    let s3 = Arc::new(FaultProxy::start().await);
    let pg = Arc::new(PgFaultProxy::start("local-1").await);
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = Arc::new(
        TestEnv::with_env(&[
            ("AWS_ENDPOINT_URL", s3.url.clone()),
            pg.regions_env(),
            ("CAPYDB_JOB_RETRY_BASE_SECONDS", "2".into()),
            ("CAPYDB_WEBHOOKS_ALLOW_PRIVATE", "true".into()),
            ("CAPYDB_SCRATCH_DIR", scratch.path().display().to_string()),
        ])
        .await,
    );
    let report: Shared = Arc::default();
    let receiver = Arc::new(Receiver::start().await);
    let (status, hook) = env
        .post(
            &format!("/v1/organizations/{}/webhook-endpoints", env.org),
            json!({ "url": receiver.url(), "event_types": EVENTS }),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["plaintext_secret"].as_str().unwrap().to_string();

    let mut projects = Vec::new();
    for _ in 0..PROJECTS {
        let project = env.project("local-1").await;
        env.tenant_sql(
            &project,
            "CREATE TABLE accounts (name text PRIMARY KEY); INSERT INTO accounts VALUES ('ada');
             CREATE TABLE blobs (b bytea);
             INSERT INTO blobs SELECT (SELECT decode(string_agg(md5(random()::text || g || i), ''), 'hex')
                                       FROM generate_series(1, 64) i) FROM generate_series(1, 12 * 1024) g;",
        )
        .await;
        projects.push(project);
    }
    println!("soak: {PROJECTS} projects ready after {:?}; running for {length:?} with faults", started.elapsed());

    // What the scheduled sweepers do in service: hand back jobs whose back-off ran out or whose
    // worker died, and retry deliveries.
    let sweeping = {
        let ctx = env.ctx.clone();
        tokio::spawn(async move {
            loop {
                let now = chrono::Utc::now();
                let _ = sweep_jobs(&ctx, now).await;
                let _ = retry_due(&ctx, now).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let until = Instant::now() + length;
    let chaos_task = tokio::spawn(chaos(s3.clone(), pg.clone(), receiver.clone(), report.clone(), until));
    let loops: Vec<_> = projects
        .iter()
        .enumerate()
        .map(|(i, p)| tokio::spawn(project_loop(env.clone(), report.clone(), p.clone(), until, i as u64)))
        .collect();
    let mut expected = Vec::new();
    for l in loops {
        expected.push(l.await.expect("a project's loop"));
    }
    chaos_task.await.unwrap();
    println!("soak: faults stopped after {:?}; settling and checking", started.elapsed());

    check(&env, &report, &projects, &expected, &receiver, &secret, scratch.path()).await;
    sweeping.abort();
    print_report(&report.lock().unwrap(), started.elapsed());
    let violations = report.lock().unwrap().violations.clone();
    assert!(violations.is_empty(), "{} invariant violations:\n{}", violations.len(), violations.join("\n"));
}

/// The invariants, over everything the soak did.
async fn check(
    env: &TestEnv,
    report: &Shared,
    projects: &[String],
    expected: &[Vec<String>],
    receiver: &Receiver,
    secret: &str,
    scratch: &std::path::Path,
) {
    let mut checked = 0;
    for (project, rows) in projects.iter().zip(expected) {
        // Every job ended.
        let (_, jobs) = call(env, report, "GET", &format!("/v1/projects/{project}/jobs?limit=100"), None).await;
        let mut cursor = jobs["next_cursor"].as_str().map(str::to_string);
        let mut all = jobs["jobs"].as_array().cloned().unwrap_or_default();
        while let Some(c) = cursor {
            let (_, more) =
                call(env, report, "GET", &format!("/v1/projects/{project}/jobs?limit=100&cursor={c}"), None).await;
            all.extend(more["jobs"].as_array().cloned().unwrap_or_default());
            cursor = more["next_cursor"].as_str().map(str::to_string);
        }
        for j in &all {
            checked += 1;
            if !["completed", "failed", "cancelled"].contains(&j["state"].as_str().unwrap_or("")) {
                violation(report, format!("job {} is still {}", j["id"], j["state"]));
            }
        }
        // Every completed backup is verified and its object hashes to its SHA-256; every object
        // belongs to a backup; no upload is left open.
        let mut keys = HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let (_, listed) =
                call(env, report, "GET", &format!("/v1/projects/{project}/backups?limit=100{page}"), None).await;
            for b in listed["backups"].as_array().cloned().unwrap_or_default() {
                checked += 1;
                if let Some(key) = b["backup_key"].as_str() {
                    keys.insert(key.to_string());
                    keys.insert(key.replace(".dump.zst", ".manifest.json"));
                }
                if b["state"] != "completed" {
                    continue;
                }
                if b["verification_state"] != "verified" {
                    violation(report, format!("backup {} completed but {}", b["id"], b["verification_state"]));
                }
                let stored = env.object(b["backup_key"].as_str().unwrap()).await;
                if hex::encode(Sha256::digest(&stored)) != b["sha256"].as_str().unwrap_or_default() {
                    violation(report, format!("backup {}: the stored object does not hash to its SHA-256", b["id"]));
                }
            }
            cursor = listed["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        for key in env.keys_under(&format!("projects/{project}/")).await {
            checked += 1;
            if !keys.contains(&key) {
                violation(report, format!("object {key} belongs to no backup"));
            }
        }
        if env.multipart_uploads(&format!("projects/{project}/")).await > 0 {
            violation(report, format!("a multipart upload under projects/{project}/ is still open"));
        }
        // Production holds what the last completed restore put there, plus what was written since.
        checked += 1;
        match names(&project_url(env, report, project).await).await {
            Ok(got) if &got == rows => {}
            got => violation(report, format!("production of {project} holds {got:?}, expected {rows:?}")),
        }
    }
    for prefix in ["capydb_stage_", "capydb_old_", "capydb_safety_"] {
        checked += 1;
        let left = env.databases_like("local-1", prefix).await;
        if !left.is_empty() {
            violation(report, format!("scratch databases left on the cluster: {left:?}"));
        }
    }
    checked += 1;
    let files: Vec<_> = std::fs::read_dir(scratch).unwrap().map(|e| e.unwrap().file_name()).collect();
    if !files.is_empty() {
        violation(report, format!("scratch files left: {files:?}"));
    }

    // Every event the endpoint subscribed to reached it, signed; at-least-once, so repeats are
    // counted, not faulted.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut events = Vec::new();
    for kind in EVENTS {
        events.extend(env.events(kind).await);
    }
    loop {
        let got = receiver.received();
        let seen: HashSet<String> = got
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.json()["id"].as_str().unwrap_or_default().to_string())
            .collect();
        let missing: Vec<_> = events.iter().filter(|e| !seen.contains(e["id"].as_str().unwrap_or_default())).collect();
        if missing.is_empty() {
            for r in &got {
                checked += 1;
                let header = r.header("x-capydb-signature");
                let t: i64 =
                    header.split(',').find_map(|p| p.strip_prefix("t=")).and_then(|t| t.parse().ok()).unwrap_or(0);
                if signature_header(secret, t, r.body.as_bytes()) != header {
                    violation(report, format!("a delivery's signature does not verify: {header}"));
                }
            }
            let mut rep = report.lock().unwrap();
            let deliveries = rep.ops.entry("webhook delivery").or_default();
            deliveries.started = events.len() as u32;
            deliveries.completed = seen.len() as u32;
            deliveries.retried = (got.len() - seen.len()) as u32;
            break;
        }
        if Instant::now() > deadline {
            violation(report, format!("{} events never reached the endpoint", missing.len()));
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!("soak: {checked} invariant checks");
}

/// The tables, printed and kept in `target/soak-report.md`.
fn print_report(r: &Report, elapsed: Duration) {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "soak: {:.1} minutes, {PROJECTS} projects\n", elapsed.as_secs_f64() / 60.0);
    let _ = writeln!(out, "| operation | started | completed | failed | retried |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (op, t) in &r.ops {
        let _ = writeln!(out, "| {op} | {} | {} | {} | {} |", t.started, t.completed, t.failed, t.retried);
    }
    let _ = writeln!(out, "\n| fault injected | times | requests or connections hit |");
    let _ = writeln!(out, "|---|---:|---:|");
    for (kind, (times, hit)) in &r.faults {
        let _ = writeln!(out, "| {kind} | {times} | {hit} |");
    }
    let _ = writeln!(out, "\nAPI calls repeated by the client after a 5xx/429: {}", r.client_retries);
    let _ = writeln!(out, "invariant violations: {}", r.violations.len());
    for f in &r.failures {
        let _ = writeln!(out, "failed: {f}");
    }
    println!("\n{out}");
    let path = crate::harness::repo_root().join("target/soak-report.md");
    std::fs::write(&path, &out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
