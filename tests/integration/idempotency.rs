//! Every POST of the route table honours `Idempotency-Key`: a retry with the same body gets the
//! first answer (and changes nothing), the same key with another body is refused.

use crate::harness::TestEnv;
use crate::receivers::{FakeProviders, Receiver, GOOD_TOKEN};
use capydb_functions::routes::{RouteId, ROUTES};
use serde_json::{json, Value};

async fn post(env: &TestEnv, path: &str, body: &Value, key: &str) -> (u16, Value) {
    env.call("POST", path, Some(&env.key), Some(body.clone()), Some(key)).await
}

/// The resource a response is about, to compare a retry's answer with the first.
fn ids(v: &Value) -> String {
    let mut found = Vec::new();
    for field in [
        "job",
        "project",
        "backup",
        "restore",
        "api_key",
        "restore_point",
        "webhook_endpoint",
        "delivery",
        "preview_database",
        "preview",
        "integration",
    ] {
        if let Some(id) = v[field]["id"].as_str().or(v[field]["provider"].as_str()) {
            found.push(format!("{field}={id}"));
        }
    }
    // A download URL is its own answer: a replay hands out the same one.
    if let Some(url) = v["url"].as_str() {
        found.push(format!("url={url}"));
    }
    found.join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_route_replays_a_retry_and_refuses_another_body() {
    let providers = FakeProviders::start().await;
    let receiver = Receiver::start().await;
    let env = TestEnv::with_env(&providers.runtime_env()).await;
    let project = env.project("local-2").await;
    let (_, b) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(env.wait_job(b["job"]["id"].as_str().unwrap()).await["state"], "completed");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{}", b["backup"]["id"].as_str().unwrap())).await;
    let backup_key = b["backup"]["backup_key"].as_str().unwrap().to_string();
    let backup_id = b["backup"]["id"].as_str().unwrap().to_string();
    let (_, r) = env.post(&format!("/v1/projects/{project}/restores"), json!({ "backup_key": backup_key })).await;
    assert_eq!(env.wait_job(r["job"]["id"].as_str().unwrap()).await["state"], "completed");
    let preview = r["restore"]["preview_id"].as_str().unwrap().to_string();
    let hooks = format!("/v1/organizations/{}/webhook-endpoints", env.org);
    let (_, ep) = env.post(&hooks, json!({ "url": receiver.url() })).await;
    let endpoint = ep["webhook_endpoint"]["id"].as_str().unwrap().to_string();
    let (_, tested) = env.post(&format!("{hooks}/{endpoint}/test"), json!({})).await;
    let delivery = tested["delivery"]["id"].as_str().expect("a test delivery").to_string();
    let (status, i) = env
        .call(
            "PUT",
            &format!("/v1/projects/{project}/integrations/vercel"),
            Some(&env.key),
            Some(json!({ "project_id": "app", "token": GOOD_TOKEN })),
            None,
        )
        .await;
    assert_eq!(status, 201, "{i}");

    let mut covered = 0;
    for route in ROUTES.iter().filter(|r| r.method == "POST") {
        let (path, body, other) = match route.id {
            RouteId::ProjectsCreate => (
                "/v1/projects".to_string(),
                json!({ "name": "again", "region": "local-2" }),
                json!({ "name": "b", "region": "local-2" }),
            ),
            RouteId::ApiKeysCreate => (
                format!("/v1/organizations/{}/api-keys", env.org),
                json!({ "name": "retry" }),
                json!({ "name": "other" }),
            ),
            RouteId::BackupsCreate => {
                (format!("/v1/projects/{project}/backups"), json!({ "label": "r" }), json!({ "label": "s" }))
            }
            RouteId::RestoresCreate => (
                format!("/v1/projects/{project}/restores"),
                json!({ "backup_key": backup_key, "preview_name": "retry" }),
                json!({ "backup_key": backup_key, "preview_name": "other" }),
            ),
            RouteId::BackupsDownloadUrl => (
                format!("/v1/projects/{project}/backups/{backup_id}/download-url"),
                json!({ "expires_in_seconds": 600 }),
                json!({ "expires_in_seconds": 900 }),
            ),
            RouteId::PreviewsExtend => (
                format!("/v1/preview-databases/{preview}/extend"),
                json!({ "ttl_hours": 48 }),
                json!({ "ttl_hours": 12 }),
            ),
            RouteId::RestorePointsCreate => (
                format!("/v1/projects/{project}/restore-points"),
                json!({ "label": "retry", "backup_key": backup_key }),
                json!({ "label": "other", "backup_key": backup_key }),
            ),
            RouteId::WebhooksCreate => {
                (hooks.clone(), json!({ "url": receiver.url() }), json!({ "url": receiver.url(), "description": "x" }))
            }
            RouteId::WebhooksRotateSecret => {
                (format!("{hooks}/{endpoint}/rotate-secret"), json!({}), json!({ "x": 1 }))
            }
            RouteId::WebhooksTest => (format!("{hooks}/{endpoint}/test"), json!({}), json!({ "x": 1 })),
            RouteId::WebhooksRedeliver => {
                (format!("{hooks}/{endpoint}/deliveries/{delivery}/redeliver"), json!({}), json!({ "x": 1 }))
            }
            RouteId::JobsCancel => {
                // A backup just queued: verifying it takes seconds, so it is still cancellable.
                let (_, queued) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
                (format!("/v1/jobs/{}/cancel", queued["job"]["id"].as_str().unwrap()), json!({}), json!({ "x": 1 }))
            }
            RouteId::IntegrationsSync => {
                (format!("/v1/projects/{project}/integrations/vercel/sync"), json!({}), json!({ "x": 1 }))
            }
            other => panic!("POST route {other:?} has no case here: every POST must honour Idempotency-Key"),
        };
        let key = format!("idem-{:?}", route.id);
        let (first_status, first) = post(&env, &path, &body, &key).await;
        assert!((200..300).contains(&first_status), "{path}: {first_status} {first}");
        let (again_status, again) = post(&env, &path, &body, &key).await;
        assert_eq!(again_status, first_status, "{path}: {again}");
        assert!(!ids(&first).is_empty(), "{path}: {first}");
        assert_eq!(ids(&again), ids(&first), "{path}: a retry answers with the same resources");
        if let Some(secret) = first["plaintext_secret"].as_str() {
            assert_eq!(again["plaintext_secret"].as_str(), Some(secret), "{path}: the retry shows the same secret");
        }
        let (status, refused) = post(&env, &path, &other, &key).await;
        assert_eq!((status, refused["code"].as_str()), (422, Some("idempotency_key_reused")), "{path}: {refused}");
        covered += 1;
    }
    assert_eq!(covered, 13);
    // Retries created nothing twice.
    let (_, eps) = env.get(&hooks).await;
    assert_eq!(eps["webhook_endpoints"].as_array().unwrap().len(), 2, "{eps}");
    let (_, points) = env.get(&format!("/v1/projects/{project}/restore-points")).await;
    assert_eq!(points["restore_points"].as_array().unwrap().len(), 1, "{points}");
}
