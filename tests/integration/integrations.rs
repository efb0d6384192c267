//! Deployment integrations against a local fake of the Vercel and Netlify APIs: tokens checked
//! on save and refused with the provider's reason, never returned; pushes after restores that
//! survive a provider outage without touching the restore; and the CLI.

use crate::harness::TestEnv;
use crate::receivers::{FakeProviders, GOOD_TOKEN};
use capydb_shared::domain::integrations::Provider;
use capydb_shared::ids::ProjectId;
use capydb_shared::services::integrations::retry_due;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

async fn put(env: &TestEnv, project: &str, provider: &str, body: Value) -> (u16, Value) {
    env.call("PUT", &format!("/v1/projects/{project}/integrations/{provider}"), Some(&env.key), Some(body), None).await
}

async fn listed(env: &TestEnv, project: &str) -> Vec<Value> {
    let (status, body) = env.get(&format!("/v1/projects/{project}/integrations")).await;
    assert_eq!(status, 200, "{body}");
    body["integrations"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_provider_refuses_is_not_saved_and_the_reason_is_shown() {
    let providers = FakeProviders::start().await;
    let env = TestEnv::with_env(&providers.runtime_env()).await;
    let project = env.project("local-1").await;

    let (status, body) = put(&env, &project, "vercel", json!({ "project_id": "app", "token": "tok_bad" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("token")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("You don't have permission: invalid token"), "{body}");
    let (status, body) = put(&env, &project, "netlify", json!({ "site_id": "site-1", "token": "tok_bad" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("token")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("Access Denied: Invalid token"), "{body}");
    let (status, body) = put(&env, &project, "vercel", json!({ "project_id": "missing", "token": GOOD_TOKEN })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Project not found"), "{body}");
    assert!(listed(&env, &project).await.is_empty(), "nothing saved");
    assert!(providers.calls().iter().all(|c| c.method == "GET"), "nothing pushed: {:?}", providers.calls());

    // Field checks before any provider call.
    let calls = providers.calls().len();
    for (provider, body, field) in [
        ("heroku", json!({ "token": GOOD_TOKEN }), "provider"),
        ("vercel", json!({ "token": GOOD_TOKEN }), "project_id"),
        ("vercel", json!({ "project_id": "a/b", "token": GOOD_TOKEN }), "project_id"),
        ("vercel", json!({ "project_id": "app" }), "token"),
        ("netlify", json!({ "site_id": "s", "team_id": "t", "token": GOOD_TOKEN }), "team_id"),
    ] {
        let (status, got) = put(&env, &project, provider, body).await;
        assert_eq!((status, got["field"].as_str()), (400, Some(field)), "{provider}: {got}");
    }
    assert_eq!(providers.calls().len(), calls);

    // The provider being down is a 502 that says nothing was saved.
    providers.set_down(true);
    let (status, body) = put(&env, &project, "vercel", json!({ "project_id": "app", "token": GOOD_TOKEN })).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("upstream_unavailable")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("nothing was saved"), "{body}");
    assert!(listed(&env, &project).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_outage_during_the_push_is_retried_and_the_restore_still_succeeds() {
    let providers = FakeProviders::start().await;
    let env = TestEnv::with_env(&providers.runtime_env()).await;
    let project = env.project("local-1").await;
    let (status, body) = put(&env, &project, "netlify", json!({ "site_id": "site-1", "token": GOOD_TOKEN })).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["integration"]["sync_state"], "synced", "pushed once on connect: {body}");
    assert_eq!(body["integration"]["target"], json!({ "site_id": "site-1" }));
    assert!(!body.to_string().contains(GOOD_TOKEN));
    let stored = env.ctx.integrations.get_integration(&project.parse::<ProjectId>().unwrap(), Provider::Netlify).await;
    let stored = stored.unwrap().unwrap();
    assert!(!stored.token_enc.contains(GOOD_TOKEN), "sealed at rest");
    assert_eq!(env.ctx.secrets.open(&stored.token_enc).unwrap(), GOOD_TOKEN);
    // Netlify: created with POST the first time (the PUT found nothing to update).
    let first: Vec<(String, String)> = providers.calls().iter().map(|c| (c.method.clone(), c.path.clone())).collect();
    assert!(first.contains(&("POST".into(), "/api/v1/accounts/acct_fake/env".into())), "{first:?}");

    // A restore while the provider is down.
    let (_, b) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(env.wait_job(b["job"]["id"].as_str().unwrap()).await["state"], "completed");
    let (_, backup) = env.get(&format!("/v1/projects/{project}/backups/{}", b["backup"]["id"].as_str().unwrap())).await;
    providers.set_down(true);
    let (status, r) = env
        .post(&format!("/v1/projects/{project}/restores"), json!({ "backup_key": backup["backup"]["backup_key"] }))
        .await;
    assert_eq!(status, 202, "{r}");
    let job = env.wait_job(r["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "the restore does not depend on the provider: {job}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let pending = loop {
        let i = listed(&env, &project).await.remove(0);
        if i["sync_reason"] == "restore.completed" && i["sync_attempts"].as_u64() >= Some(1) {
            break i;
        }
        assert!(std::time::Instant::now() < deadline, "no push attempt after the restore: {i}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(pending["sync_state"], "pending", "{pending}");
    assert!(pending["last_sync_error"].as_str().unwrap().contains("HTTP 503"), "{pending}");
    let next: DateTime<Utc> = pending["next_sync_at"].as_str().unwrap().parse().unwrap();

    // The provider recovers; the sweep's retry pushes and the values update in place.
    providers.set_down(false);
    providers.clear_calls();
    let report = retry_due(&env.ctx, next).await.unwrap();
    assert_eq!((report.attempted, report.synced), (1, 1), "{report:?}");
    let i = listed(&env, &project).await.remove(0);
    assert_eq!((i["sync_state"].as_str(), i["last_sync_error"].as_str()), (Some("synced"), None), "{i}");
    let calls: Vec<(String, String)> = providers.calls().iter().map(|c| (c.method.clone(), c.path.clone())).collect();
    assert!(calls.contains(&("PUT".into(), "/api/v1/accounts/acct_fake/env/DATABASE_URL".into())), "{calls:?}");
    assert!(!calls.iter().any(|(m, _)| m == "POST"), "updated, not created twice: {calls:?}");
    let (_, c) = env.get(&format!("/v1/projects/{project}/connections")).await;
    assert_eq!(
        providers.env_var("netlify", "site-1", "DATABASE_URL_UNPOOLED").as_deref(),
        c["connections"]["direct_url"].as_str()
    );
    assert_eq!(retry_due(&env.ctx, next + chrono::Duration::hours(1)).await.unwrap().attempted, 0, "nothing left due");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sets_lists_syncs_and_removes_an_integration() {
    let providers = FakeProviders::start().await;
    let env = TestEnv::with_env(&providers.runtime_env()).await;
    let project = env.project("local-1").await;
    let cli = |args: &[&str]| {
        let out = env.cli(args, Some(&project));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, stdout, stderr) = cli(&[
        "integrations",
        "set",
        "vercel",
        "--vercel-project",
        "web",
        "--team-id",
        "team_9",
        "--token",
        GOOD_TOKEN,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("DATABASE_URL and DATABASE_URL_UNPOOLED pushed to team_9/web"), "{stdout}");
    let push = providers.calls().into_iter().find(|c| c.method == "POST").expect("pushed");
    assert_eq!(push.query, "upsert=true&teamId=team_9");

    let (code, stdout, _) = cli(&["integrations", "list"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("vercel") && stdout.contains("team_9/web") && stdout.contains("synced"), "{stdout}");
    assert!(!stdout.contains(GOOD_TOKEN));

    providers.set_down(true);
    let (code, _, stderr) = cli(&["integrations", "sync", "vercel"]);
    assert_eq!(code, Some(1), "a push that did not go through exits non-zero");
    assert!(stderr.contains("HTTP 503"), "{stderr}");
    providers.set_down(false);
    let (code, stdout, stderr) = cli(&["integrations", "sync", "vercel"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("synced"), "{stdout}");

    let (code, _, stderr) = cli(&["integrations", "set", "netlify", "--site-id", "s1", "--token", "tok_bad"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("Access Denied"), "{stderr}");

    let (code, stdout, _) = cli(&["integrations", "remove", "vercel"]);
    assert_eq!((code, stdout.trim()), (Some(0), "vercel integration removed."));
    assert!(listed(&env, &project).await.is_empty());
    let (code, _, _) = cli(&["integrations", "remove", "vercel"]);
    assert_eq!(code, Some(4), "already gone");
}
