//! Webhook delivery end to end: real events from real backups and restores reach a local
//! receiver signed so that Stripe's own verifier accepts them; receivers that are down get
//! every event once they are back; receivers that never recover end `failed` with the
//! endpoint's health showing it; and the guard re-checks addresses at delivery time.

use crate::harness::{repo_root, TestEnv};
use crate::receivers::{FakeProviders, Received, Receiver, GOOD_TOKEN};
use capydb_shared::domain::webhooks::{signature_header, Health, WebhookEndpoint};
use capydb_shared::ids::WebhookId;
use capydb_shared::services::deliveries::retry_due;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::process::Command;

/// An endpoint for `receiver`; returns (id, secret).
async fn endpoint(env: &TestEnv, receiver: &Receiver, events: &[&str]) -> (String, String) {
    let (status, created) = env
        .post(
            &format!("/v1/organizations/{}/webhook-endpoints", env.org),
            json!({ "url": receiver.url(), "event_types": events }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    (
        created["webhook_endpoint"]["id"].as_str().unwrap().to_string(),
        created["plaintext_secret"].as_str().unwrap().to_string(),
    )
}

async fn deliveries(env: &TestEnv, endpoint: &str) -> Vec<Value> {
    let (status, body) =
        env.get(&format!("/v1/organizations/{}/webhook-endpoints/{endpoint}/deliveries?limit=100", env.org)).await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

async fn endpoint_view(env: &TestEnv, id: &str) -> Value {
    let (_, listed) = env.get(&format!("/v1/organizations/{}/webhook-endpoints", env.org)).await;
    listed["webhook_endpoints"].as_array().unwrap().iter().find(|e| e["id"] == id).expect("endpoint listed").clone()
}

/// Stripe's own `WebhookSignature.verify_header` (the `stripe` package), not our code.
fn stripe_verifies(body: &str, header: &str, secret: &str) -> Result<(), String> {
    let python = repo_root().join(".capydb/venv/bin/python");
    assert!(python.exists(), "{} missing: run `make deps` to install the test tools", python.display());
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, stripe\n\
             try:\n    stripe.WebhookSignature.verify_header(sys.argv[1], sys.argv[2], sys.argv[3], tolerance=300)\n\
             except stripe.SignatureVerificationError as e:\n    print(e); sys.exit(1)",
            body,
            header,
            secret,
        ])
        .output()
        .expect("python runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

fn of_type<'a>(got: &'a [Received], kind: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.header("x-capydb-event") == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_events_arrive_signed_and_vercel_gets_both_urls() {
    let providers = FakeProviders::start().await;
    let env = TestEnv::with_env(&providers.runtime_env()).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = endpoint(&env, &receiver, &["backup.completed", "restore.completed"]).await;
    let project = env.project("local-1").await;
    let (status, set) = env
        .call(
            "PUT",
            &format!("/v1/projects/{project}/integrations/vercel"),
            Some(&env.key),
            Some(json!({ "project_id": "prj_vercel_app", "token": GOOD_TOKEN })),
            None,
        )
        .await;
    assert_eq!(status, 201, "{set}");
    assert!(!set.to_string().contains(GOOD_TOKEN), "the token is never returned: {set}");
    providers.clear_calls();

    env.tenant_sql(&project, "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)").await;
    let (_, b) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "hooked" })).await;
    let backup_job = env.wait_job(b["job"]["id"].as_str().unwrap()).await;
    assert_eq!(backup_job["state"], "completed", "{backup_job}");
    let (_, backup) = env.get(&format!("/v1/projects/{project}/backups/{}", b["backup"]["id"].as_str().unwrap())).await;
    let key = backup["backup"]["backup_key"].as_str().unwrap().to_string();
    let (status, r) = env.post(&format!("/v1/projects/{project}/restores"), json!({ "backup_key": key })).await;
    assert_eq!(status, 202, "{r}");
    let restore_job = env.wait_job(r["job"]["id"].as_str().unwrap()).await;
    assert_eq!(restore_job["state"], "completed", "{restore_job}");

    let got = receiver
        .wait_for("backup.completed and restore.completed", |got| {
            !of_type(got, "backup.completed").is_empty() && !of_type(got, "restore.completed").is_empty()
        })
        .await;
    // Only what the endpoint subscribed to: no job.completed, preview.ready, ….
    assert!(
        got.iter().all(|r| ["backup.completed", "restore.completed"].contains(&r.header("x-capydb-event"))),
        "{got:?}"
    );
    let backed_up = of_type(&got, "backup.completed")[0];
    let envelope = backed_up.json();
    assert_eq!(envelope["type"], "backup.completed");
    assert!(envelope["id"].as_str().unwrap().starts_with("evt_"), "{envelope}");
    assert_eq!(envelope["data"]["backup_key"], key.as_str());
    assert_eq!(envelope["data"]["project_id"], project.as_str());
    assert_eq!(envelope["data"]["label"], "hooked");
    assert_eq!(backed_up.header("user-agent"), "capydb-webhooks/1.0");
    assert_eq!(backed_up.header("content-type"), "application/json");
    let restored = of_type(&got, "restore.completed")[0].json();
    assert_eq!(restored["data"]["restore_id"], r["restore"]["id"]);
    assert_eq!(restored["data"]["source"]["backup_key"], key.as_str());

    // Stripe's verifier accepts every delivery as sent, and refuses a tampered body or a
    // timestamp outside its tolerance.
    for received in &got {
        let header = received.header("x-capydb-signature");
        stripe_verifies(&received.body, header, &secret).unwrap_or_else(|e| panic!("{header}: {e}"));
    }
    let tampered = backed_up.body.replace("hooked", "hacked");
    let err = stripe_verifies(&tampered, backed_up.header("x-capydb-signature"), &secret).unwrap_err();
    assert!(err.contains("No signatures found matching the expected signature"), "{err}");
    let stale = signature_header(&secret, Utc::now().timestamp() - 3600, backed_up.body.as_bytes());
    let err = stripe_verifies(&backed_up.body, &stale, &secret).unwrap_err();
    assert!(err.contains("Timestamp outside the tolerance zone"), "{err}");
    let err =
        stripe_verifies(&backed_up.body, backed_up.header("x-capydb-signature"), "whsec_not_the_secret").unwrap_err();
    assert!(err.contains("No signatures found"), "{err}");

    // The deliveries API shows the same ids the receiver saw, delivered at the first attempt.
    let listed = deliveries(&env, &endpoint_id).await;
    let ids: HashSet<&str> = listed.iter().map(|d| d["id"].as_str().unwrap()).collect();
    for received in &got {
        assert!(ids.contains(received.header("x-capydb-delivery")), "{listed:?}");
    }
    for d in &listed {
        assert_eq!((d["state"].as_str(), d["attempts"].as_u64()), (Some("delivered"), Some(1)), "{d}");
        assert_eq!(d["attempt_details"][0]["status_code"], 200);
    }

    // After the restore, the fake Vercel API got both connection strings, equal to the project's.
    let (_, c) = env.get(&format!("/v1/projects/{project}/connections")).await;
    let pooled = c["connections"]["pooled_url"].as_str().unwrap();
    let direct = c["connections"]["direct_url"].as_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let pushed = providers.calls().into_iter().any(|call| call.path == "/v10/projects/prj_vercel_app/env");
        if pushed {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no env push after the restore: {:?}", providers.calls());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let push = providers.calls().into_iter().find(|c| c.path == "/v10/projects/prj_vercel_app/env").unwrap();
    assert_eq!((push.method.as_str(), push.query.as_str(), push.token.as_str()), ("POST", "upsert=true", GOOD_TOKEN));
    let keys: Vec<&str> = push.body.as_array().unwrap().iter().map(|v| v["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["DATABASE_URL", "DATABASE_URL_UNPOOLED"]);
    assert_eq!(providers.env_var("vercel", "prj_vercel_app", "DATABASE_URL").as_deref(), Some(pooled));
    assert_eq!(providers.env_var("vercel", "prj_vercel_app", "DATABASE_URL_UNPOOLED").as_deref(), Some(direct));
    let (_, listed) = env.get(&format!("/v1/projects/{project}/integrations")).await;
    let vercel = &listed["integrations"][0];
    assert_eq!((vercel["sync_state"].as_str(), vercel["sync_reason"].as_str()), (Some("synced"), None), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_every_event_exactly_once() {
    let env = TestEnv::with_env(&[("CAPYDB_WEBHOOKS_ALLOW_PRIVATE", "true".into())]).await;
    let mut receiver = Receiver::start().await;
    let (endpoint_id, _) = endpoint(&env, &receiver, &[]).await;
    receiver.stop();

    // Provisioning and a backup: job.completed twice and backup.completed, while nobody listens.
    let project = env.project("local-1").await;
    let (_, b) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(env.wait_job(b["job"]["id"].as_str().unwrap()).await["state"], "completed");
    let expected = events_of(&env, &["job.completed", "backup.completed"]).await;
    assert_eq!(expected, 3, "two jobs and one backup");
    let failed_once = wait_deliveries(&env, &endpoint_id, expected, |d| d["attempts"] == 1).await;
    for d in &failed_once {
        assert_eq!(d["state"], "pending", "{d}");
        assert!(d["attempt_details"][0]["status_code"].is_null(), "nobody answered: {d}");
        assert!(d["attempt_details"][0]["error"].as_str().unwrap().contains("onnect"), "{d}");
        assert!(d["next_attempt_at"].is_string(), "{d}");
    }
    assert_eq!(endpoint_view(&env, &endpoint_id).await["health"], "failing");

    // Back up; two sweeps race for the same due deliveries, and a later one finds nothing.
    receiver.restart().await;
    let later = Utc::now() + Duration::minutes(10);
    let (a, b) = tokio::join!(retry_due(&env.ctx, later), retry_due(&env.ctx, later));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.delivered + b.delivered, expected as u32, "{a:?} {b:?}");
    assert_eq!(retry_due(&env.ctx, later + Duration::hours(1)).await.unwrap().attempted, 0);

    let got = receiver.received();
    let mut per_delivery: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        *per_delivery.entry(r.header("x-capydb-delivery")).or_default() += 1;
    }
    assert_eq!(per_delivery.len(), expected, "{got:?}");
    assert!(got.iter().all(|r| r.status == 200), "only answered requests reach the receiver");
    assert!(per_delivery.values().all(|n| *n == 1), "each delivery exactly once: {per_delivery:?}");
    let events: HashSet<String> = got.iter().map(|r| r.json()["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(events.len(), expected, "one delivery per event");
    for d in deliveries(&env, &endpoint_id).await {
        assert_eq!((d["state"].as_str(), d["attempts"].as_u64()), (Some("delivered"), Some(2)), "{d}");
    }
    let ep = endpoint_view(&env, &endpoint_id).await;
    assert_eq!((ep["health"].as_str(), ep["failing_since"].is_null()), (Some("healthy"), true), "{ep}");
    assert!(ep["last_success_at"].is_string());
}

/// How many outbox events of these types the table holds.
async fn events_of(env: &TestEnv, kinds: &[&str]) -> usize {
    let mut n = 0;
    for k in kinds {
        n += env.events(k).await.len();
    }
    n
}

/// Polls the deliveries list until `count` of them satisfy `pred`.
async fn wait_deliveries(env: &TestEnv, endpoint: &str, count: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let listed = deliveries(env, endpoint).await;
        if listed.len() == count && listed.iter().all(&pred) {
            return listed;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries never settled: {listed:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_forever_ends_failed_after_a_day_and_the_endpoint_shows_it() {
    let env = TestEnv::with_env(&[("CAPYDB_WEBHOOKS_ALLOW_PRIVATE", "true".into())]).await;
    let receiver = Receiver::start().await;
    receiver.respond_with(500);
    let (endpoint_id, _) = endpoint(&env, &receiver, &["job.completed"]).await;
    env.project("local-1").await;
    let first = wait_deliveries(&env, &endpoint_id, 1, |d| d["attempts"] == 1).await.remove(0);

    // Move the sweep's clock to each next attempt until the delivery gives up.
    let mut sweeps = 0;
    loop {
        let d = deliveries(&env, &endpoint_id).await.remove(0);
        if d["state"] != "pending" {
            break;
        }
        let next: DateTime<Utc> = d["next_attempt_at"].as_str().unwrap().parse().unwrap();
        retry_due(&env.ctx, next).await.unwrap();
        sweeps += 1;
        assert!(sweeps < 40, "still pending after {sweeps} retries: {d}");
    }
    let d = deliveries(&env, &endpoint_id).await.remove(0);
    assert_eq!(d["state"], "failed", "{d}");
    assert_eq!(d["id"], first["id"]);
    let attempts = d["attempt_details"].as_array().unwrap();
    assert_eq!(attempts.len(), receiver.received().len(), "every attempt recorded, each one a POST");
    assert!(attempts.iter().all(|a| a["status_code"] == 500 && a["error"] == "HTTP 500"), "{d}");
    assert_eq!(attempts[0]["response_excerpt"], "receiver says hi");
    let at: Vec<DateTime<Utc>> = attempts.iter().map(|a| a["at"].as_str().unwrap().parse().unwrap()).collect();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::seconds(24) && gaps[0] <= Duration::seconds(36), "{gaps:?}");
    assert!(gaps.last().unwrap() > &Duration::hours(3), "backed off to hours: {gaps:?}");
    assert!(*at.last().unwrap() - at[0] >= Duration::hours(24), "retried for at least a day: {at:?}");
    assert!(d["next_attempt_at"].is_null());
    let ep = endpoint_view(&env, &endpoint_id).await;
    assert_eq!(ep["health"], "failing", "{ep}");
    assert_eq!(ep["failing_since"], attempts[0]["at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_and_redeliver_from_the_api_and_cli_and_redirects_are_not_followed() {
    let env = TestEnv::with_env(&[("CAPYDB_WEBHOOKS_ALLOW_PRIVATE", "true".into())]).await;
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = endpoint(&env, &receiver, &["backup.completed"]).await;
    let project = env.project("local-1").await;
    let base = format!("/v1/organizations/{}/webhook-endpoints/{endpoint_id}", env.org);

    let (status, test) = env.post(&format!("{base}/test"), json!({})).await;
    assert_eq!(status, 200, "{test}");
    let d = &test["delivery"];
    assert_eq!((d["state"].as_str(), d["event_type"].as_str()), (Some("delivered"), Some("webhook.test")), "{d}");
    let got = receiver.received();
    assert_eq!(got.len(), 1, "a test is sent even though the endpoint subscribes to backup.completed only");
    assert_eq!(got[0].header("x-capydb-delivery"), d["id"].as_str().unwrap());
    assert_eq!(got[0].json()["data"]["webhook_endpoint_id"], endpoint_id.as_str());
    stripe_verifies(&got[0].body, got[0].header("x-capydb-signature"), &secret).unwrap();

    // A redirect is a failed attempt, and its target is never asked; a test is tried once.
    receiver.respond_with(302);
    let (_, test) = env.post(&format!("{base}/test"), json!({})).await;
    let d = &test["delivery"];
    assert_eq!((d["state"].as_str(), d["attempts"].as_u64()), (Some("failed"), Some(1)), "{d}");
    assert_eq!(d["attempt_details"][0]["error"], "HTTP 302: redirects are not followed");
    assert!(d["next_attempt_at"].is_null());

    // Redelivery: same event, new delivery id, through the CLI.
    receiver.respond_with(200);
    let out = env.cli(&["webhooks", "redeliver", &endpoint_id, d["id"].as_str().unwrap()], Some(&project));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("delivered (HTTP 200"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let got = receiver.received();
    let (failed, again) = (&got[1], &got[2]);
    assert_eq!(failed.json()["id"], again.json()["id"], "the same event");
    assert_ne!(failed.header("x-capydb-delivery"), again.header("x-capydb-delivery"));
    let out = env.cli(&["webhooks", "deliveries", &endpoint_id, "-o", "json"], Some(&project));
    assert!(out.status.success());
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = listed["deliveries"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0]["redelivery_of"], d["id"], "newest first");

    // The CLI's test exits non-zero when the receiver refuses.
    receiver.respond_with(503);
    let out = env.cli(&["webhooks", "test", &endpoint_id], Some(&project));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 503"), "{}", String::from_utf8_lossy(&out.stderr));

    // A disabled endpoint takes no tests.
    env.call("PATCH", &base, Some(&env.key), Some(json!({ "is_active": false })), None).await;
    let (status, body) = env.post(&format!("{base}/test"), json!({})).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_rechecks_the_address_and_refuses_a_host_that_now_resolves_private() {
    // The guard is on. An endpoint whose name has since come to resolve to loopback (stored as
    // it would have been when it resolved publicly) gets nothing.
    let env = TestEnv::new().await;
    let receiver = Receiver::start().await;
    let port = receiver.url().split(':').nth(2).unwrap().split('/').next().unwrap().to_string();
    let now = Utc::now();
    let endpoint = WebhookEndpoint {
        id: WebhookId::generate(),
        org_id: env.org.clone(),
        url: format!("https://localhost:{port}/hooks/capydb"),
        description: None,
        event_types: vec![],
        is_active: true,
        secret_enc: env.ctx.secrets.seal("whsec_test"),
        health: Health::Healthy,
        failing_since: None,
        last_success_at: None,
        created_at: now,
        updated_at: now,
    };
    env.ctx.webhooks.create_webhook(&endpoint).await.unwrap();
    let (status, test) =
        env.post(&format!("/v1/organizations/{}/webhook-endpoints/{}/test", env.org, endpoint.id), json!({})).await;
    assert_eq!(status, 200, "{test}");
    let d = &test["delivery"];
    assert_eq!(d["state"], "failed", "{d}");
    let error = d["attempt_details"][0]["error"].as_str().unwrap();
    assert!(error.contains("localhost resolves to a loopback address"), "{error}");
    assert!(receiver.received().is_empty());
}
