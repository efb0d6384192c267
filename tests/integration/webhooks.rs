//! Webhook endpoints: the secret shown once and sealed at rest, changes, deletion, and the
//! SSRF guard refusing receivers that are not public.

use crate::harness::TestEnv;
use capydb_shared::ids::WebhookId;
use serde_json::json;

/// A public address literal: no DNS is needed to accept it.
const PUBLIC_URL: &str = "https://93.184.216.34/capydb-hook";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_created_once_with_a_secret_changed_rotated_and_deleted() {
    let env = TestEnv::new().await;
    let base = format!("/v1/organizations/{}/webhook-endpoints", env.org);
    let (status, created) =
        env.post(&base, json!({ "url": PUBLIC_URL, "event_types": ["backup.completed", "restore.completed"] })).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["plaintext_secret"].as_str().expect("secret returned on create").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let ep = &created["webhook_endpoint"];
    let id = ep["id"].as_str().unwrap().to_string();
    assert_eq!((ep["is_active"].as_bool(), ep["health"].as_str()), (Some(true), Some("healthy")));

    // Listed without any form of the secret; stored only sealed.
    let (_, listed) = env.get(&base).await;
    assert_eq!(listed["webhook_endpoints"][0]["id"], id.as_str());
    assert!(!listed.to_string().contains(&secret) && !listed.to_string().contains("secret"), "{listed}");
    let stored = env.ctx.webhooks.get_webhook(&env.org, &id.parse::<WebhookId>().unwrap()).await.unwrap().unwrap();
    assert!(!stored.secret_enc.contains(&secret));
    assert_eq!(env.ctx.secrets.open(&stored.secret_enc).unwrap(), secret);

    let (status, patched) = env
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(&env.key),
            Some(json!({ "is_active": false, "event_types": [], "description": "ops pager" })),
            None,
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let ep = &patched["webhook_endpoint"];
    assert_eq!((ep["is_active"].as_bool(), ep["description"].as_str()), (Some(false), Some("ops pager")));
    assert_eq!(ep["event_types"], json!([]), "empty means every event");
    assert_eq!(ep["url"], PUBLIC_URL, "untouched fields stay");

    // A refused change changes nothing, not even the fields that were valid.
    let (status, body) = env
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            Some(&env.key),
            Some(json!({ "url": "https://10.0.0.1/hook", "is_active": true })),
            None,
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("url")), "{body}");
    let (_, listed) = env.get(&base).await;
    assert_eq!(listed["webhook_endpoints"][0]["url"], PUBLIC_URL);
    assert_eq!(listed["webhook_endpoints"][0]["is_active"], false);

    let (status, rotated) = env.post(&format!("{base}/{id}/rotate-secret"), json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["plaintext_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let stored = env.ctx.webhooks.get_webhook(&env.org, &id.parse::<WebhookId>().unwrap()).await.unwrap().unwrap();
    assert_eq!(env.ctx.secrets.open(&stored.secret_enc).unwrap(), new_secret);

    let (status, _) = env.call("DELETE", &format!("{base}/{id}"), Some(&env.key), None, None).await;
    assert_eq!(status, 200);
    let (status, body) = env.call("DELETE", &format!("{base}/{id}"), Some(&env.key), None, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    let (_, listed) = env.get(&base).await;
    assert_eq!(listed["webhook_endpoints"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_that_are_not_public_https_are_refused_naming_url() {
    let env = TestEnv::new().await;
    let base = format!("/v1/organizations/{}/webhook-endpoints", env.org);
    for (url, says) in [
        ("http://93.184.216.34/hook", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.0.0.7/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://100.64.1.1/hook", "carrier-grade NAT"),
        ("https://[fd00::1]/hook", "unique local"),
        // A name that resolves to loopback is refused after resolution.
        ("https://localhost/hook", "resolves to a loopback address"),
        ("https://user:pw@93.184.216.34/hook", "credentials"),
    ] {
        let (status, body) = env.post(&base, json!({ "url": url })).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["code"], "invalid_field", "{url}: {body}");
        assert_eq!(body["field"], "url", "{url}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{url}: {body}");
    }
    let (status, body) = env.post(&base, json!({ "url": PUBLIC_URL, "event_types": ["backup.exploded"] })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("event_types")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("backup.completed"), "lists the allowed types: {body}");
    // Nothing was written by any refused request.
    let (_, listed) = env.get(&base).await;
    assert_eq!(listed["webhook_endpoints"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organizations_endpoints_are_invisible() {
    let env = TestEnv::new().await;
    let other = capydb_shared::ids::OrgId::generate();
    let (status, body) =
        env.post(&format!("/v1/organizations/{other}/webhook-endpoints"), json!({ "url": PUBLIC_URL })).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = env.get(&format!("/v1/organizations/{other}/webhook-endpoints")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_endpoints_of_the_projects_organization() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();

    let out = env.cli(
        &["webhooks", "create", "--url", PUBLIC_URL, "--events", "backup.completed,backup.failed"],
        Some(&project),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text(&out).contains("Signing secret (shown only now): whsec_"), "{}", text(&out));

    let out = env.cli(&["webhooks", "list", "-o", "json"], Some(&project));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ep = &listed["webhook_endpoints"][0];
    assert_eq!(ep["event_types"], json!(["backup.completed", "backup.failed"]));
    let id = ep["id"].as_str().unwrap();

    let out = env.cli(&["webhooks", "update", id, "--active", "false"], Some(&project));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.cli(&["webhooks", "list"], Some(&project));
    assert!(text(&out).contains("backup.completed,backup.failed") && text(&out).contains("false"), "{}", text(&out));

    let refused = env.cli(&["webhooks", "create", "--url", "http://example.com/hook"], Some(&project));
    assert_eq!(refused.status.code(), Some(2), "bad input is a usage error");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("https://"));

    let out = env.cli(&["webhooks", "delete", id], Some(&project));
    assert!(out.status.success());
    let out = env.cli(&["webhooks", "list", "-o", "json"], Some(&project));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["webhook_endpoints"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_keys_and_member_sessions_cannot_read_org_webhooks_or_deliveries() {
    use crate::harness::SESSION_SECRET;
    use capydb_shared::auth::{sign_session, OrgRole, SessionClaims};
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let base = format!("/v1/organizations/{}/webhook-endpoints", env.org);
    let (status, created) = env.post(&base, json!({ "url": PUBLIC_URL })).await;
    assert_eq!(status, 201, "{created}");
    let id = created["webhook_endpoint"]["id"].as_str().unwrap().to_string();

    let (status, key) = env
        .post(
            &format!("/v1/organizations/{}/api-keys", env.org),
            json!({ "name": "one project", "project_id": project,
                    "scopes": ["organizations:read", "backups:read", "projects:read"] }),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let project_key = key["plaintext_api_key"].as_str().unwrap().to_string();
    let member = sign_session(
        &SessionClaims {
            sub: "usr_member".into(),
            org_id: env.org.to_string(),
            org_role: OrgRole::Member,
            exp: (chrono::Utc::now() + chrono::Duration::hours(1)).timestamp(),
        },
        SESSION_SECRET,
    );
    for who in [&project_key, &member] {
        for path in [base.clone(), format!("{base}/{id}/deliveries")] {
            let (status, body) = env.call("GET", &path, Some(who), None, None).await;
            assert_eq!(status, 403, "{path}: {body}");
            assert!(!body.to_string().contains(&id), "{body}");
        }
    }
    // The org-wide admin key still reads both.
    assert_eq!(env.get(&base).await.0, 200);
    assert_eq!(env.get(&format!("{base}/{id}/deliveries")).await.0, 200);
}
