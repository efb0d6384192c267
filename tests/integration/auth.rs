//! Who may do what: API keys (scopes, expiry, revocation, project restriction), human
//! sessions (roles), and tenancy (other orgs see nothing).

use crate::harness::{TestEnv, SESSION_SECRET};
use capydb_shared::auth::{sign_session, OrgRole, SessionClaims};
use capydb_shared::domain::api_keys::{self, ApiKey};
use capydb_shared::domain::scopes::Scope;
use capydb_shared::ids::{ApiKeyId, OrgId};
use capydb_shared::services::bootstrap;
use chrono::{Duration, Utc};
use serde_json::json;

async fn key_with(env: &TestEnv, body: serde_json::Value) -> String {
    let (status, created) =
        env.call("POST", &format!("/v1/organizations/{}/api-keys", env.org), Some(&env.key), Some(body), None).await;
    assert_eq!(status, 201, "{created}");
    created["plaintext_api_key"].as_str().unwrap().to_string()
}

fn session(org: &OrgId, role: OrgRole, expires_in: Duration) -> String {
    let claims = SessionClaims {
        sub: "usr_1".into(),
        org_id: org.to_string(),
        org_role: role,
        exp: (Utc::now() + expires_in).timestamp(),
    };
    sign_session(&claims, SESSION_SECRET)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_invalid_expired_and_revoked_credentials_get_401() {
    let env = TestEnv::new().await;
    let path = "/v1/projects";
    let (status, body) = env.call("GET", path, None, None, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{body}");
    let (status, _) = env.call("GET", path, Some("capy_live_0000"), None, None).await;
    assert_eq!(status, 401);
    let (status, _) = env.call("GET", path, Some("not-a-jwt"), None, None).await;
    assert_eq!(status, 401);
    let (status, body) =
        env.call("GET", path, Some(&session(&env.org, OrgRole::Admin, Duration::hours(-2))), None, None).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("expired"), "{body}");

    // An expired key (written directly: the API refuses to create one already expired).
    let expired = api_keys::generate_plaintext();
    let key = ApiKey {
        id: ApiKeyId::generate(),
        org_id: env.org.clone(),
        name: "old".into(),
        display_prefix: api_keys::display_prefix(&expired),
        scopes: Scope::ALL.to_vec(),
        project_id: None,
        expires_at: Some(Utc::now() - Duration::minutes(1)),
        revoked_at: None,
        parent_key_id: None,
        last_used_at: None,
        created_at: Utc::now() - Duration::days(1),
    };
    env.ctx.api_keys.create_api_key(&key, &api_keys::hash(&expired), None).await.unwrap();
    let (status, body) = env.call("GET", path, Some(&expired), None, None).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("expired"), "{body}");

    let revocable = key_with(&env, json!({ "name": "temp" })).await;
    assert_eq!(env.call("GET", path, Some(&revocable), None, None).await.0, 200);
    let (_, keys) = env.get(&format!("/v1/organizations/{}/api-keys", env.org)).await;
    let id = keys["api_keys"].as_array().unwrap().iter().find(|k| k["name"] == "temp").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) =
        env.call("DELETE", &format!("/v1/organizations/{}/api-keys/{id}", env.org), Some(&env.key), None, None).await;
    assert_eq!(status, 200);
    let (status, body) = env.call("GET", path, Some(&revocable), None, None).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("revoked"), "{body}");
    assert!(keys.to_string().find("key_hash").is_none(), "hashes are never listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_limit_keys_and_cannot_be_escalated() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let reader =
        key_with(&env, json!({ "name": "reader", "scopes": ["backups:read", "projects:read", "jobs:read"] })).await;
    let (status, body) =
        env.call("POST", &format!("/v1/projects/{project}/backups"), Some(&reader), Some(json!({})), None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("backups:write"), "{body}");
    assert_eq!(env.call("GET", &format!("/v1/projects/{project}/backups"), Some(&reader), None, None).await.0, 200);

    let (status, body) = env
        .call(
            "POST",
            &format!("/v1/organizations/{}/api-keys", env.org),
            Some(&env.key),
            Some(json!({ "name": "x", "scopes": ["root"] })),
            None,
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("scopes")), "{body}");

    let manager = key_with(&env, json!({ "name": "manager", "scopes": ["api_keys:write", "backups:read"] })).await;
    let (status, body) = env
        .call(
            "POST",
            &format!("/v1/organizations/{}/api-keys", env.org),
            Some(&manager),
            Some(json!({ "name": "escalated", "scopes": ["backups:write"] })),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_orgs_and_other_projects_are_not_found() {
    let env = TestEnv::new().await;
    let mine = env.project("local-2").await;
    let other_project = env.project("local-2").await;

    let other_org = OrgId::generate();
    let outsider = api_keys::generate_plaintext();
    bootstrap::organization(&env.ctx, &other_org, "Other org", &outsider).await.unwrap();
    for (method, path) in [
        ("GET", format!("/v1/projects/{mine}")),
        ("GET", format!("/v1/projects/{mine}/backups")),
        ("POST", format!("/v1/projects/{mine}/backups")),
        ("GET", format!("/v1/organizations/{}/api-keys", env.org)),
    ] {
        let (status, body) = env.call(method, &path, Some(&outsider), Some(json!({})), None).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let (_, list) = env.call("GET", "/v1/projects", Some(&outsider), None, None).await;
    assert_eq!(list["projects"].as_array().unwrap().len(), 0);

    let scoped = key_with(&env, json!({ "name": "ci", "project_id": mine, "scopes": ["backups:read", "backups:write", "projects:read", "jobs:read"] })).await;
    assert_eq!(env.call("GET", &format!("/v1/projects/{mine}/backups"), Some(&scoped), None, None).await.0, 200);
    assert_eq!(
        env.call("GET", &format!("/v1/projects/{other_project}/backups"), Some(&scoped), None, None).await.0,
        404
    );
    let (_, list) = env.call("GET", "/v1/projects", Some(&scoped), None, None).await;
    assert_eq!(list["projects"].as_array().unwrap().len(), 1);
    let (status, _) = env
        .call(
            "POST",
            &format!("/v1/organizations/{}/api-keys", env.org),
            Some(&scoped),
            Some(json!({ "name": "x" })),
            None,
        )
        .await;
    assert_eq!(status, 403, "project-scoped keys cannot manage keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_act_by_org_role() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let member = session(&env.org, OrgRole::Member, Duration::hours(1));
    let admin = session(&env.org, OrgRole::Admin, Duration::hours(1));
    let (status, body) =
        env.call("POST", &format!("/v1/projects/{project}/backups"), Some(&member), Some(json!({})), None).await;
    assert_eq!(status, 202, "members take backups: {body}");
    let keys = format!("/v1/organizations/{}/api-keys", env.org);
    let (status, body) = env.call("POST", &keys, Some(&member), Some(json!({ "name": "m" })), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("admin"), "{body}");
    let (status, body) = env.call("POST", &keys, Some(&admin), Some(json!({ "name": "a" })), None).await;
    assert_eq!(status, 201, "{body}");
    let stranger = session(&OrgId::generate(), OrgRole::Admin, Duration::hours(1));
    assert_eq!(env.call("GET", &format!("/v1/projects/{project}"), Some(&stranger), None, None).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_cannot_outlive_the_key_that_created_it() {
    let env = TestEnv::new().await;
    let keys = format!("/v1/organizations/{}/api-keys", env.org);
    let parent_expiry = Utc::now() + Duration::hours(1);
    let (status, parent) = env
        .post(&keys, json!({ "name": "parent", "expires_at": parent_expiry.to_rfc3339(), "scopes": ["api_keys:read", "api_keys:write", "projects:read"] }))
        .await;
    assert_eq!(status, 201, "{parent}");
    let parent_key = parent["plaintext_api_key"].as_str().unwrap().to_string();
    let parent_id = parent["api_key"]["id"].as_str().unwrap().to_string();

    for asked in [None, Some(Utc::now() + Duration::days(30))] {
        let mut body = json!({ "name": "child", "scopes": ["projects:read"] });
        if let Some(at) = asked {
            body["expires_at"] = json!(at.to_rfc3339());
        }
        let (status, child) = env.call("POST", &keys, Some(&parent_key), Some(body), None).await;
        assert_eq!(status, 201, "{child}");
        let expires = chrono::DateTime::parse_from_rfc3339(child["api_key"]["expires_at"].as_str().expect("capped"))
            .unwrap()
            .with_timezone(&Utc);
        assert!((expires - parent_expiry).num_seconds().abs() <= 1, "{child}");
        assert_eq!(child["api_key"]["parent_key_id"], parent_id.as_str());
    }

    // A grandchild, then revoke the parent: everything below it stops working.
    let (_, child) = env
        .call(
            "POST",
            &keys,
            Some(&parent_key),
            Some(json!({ "name": "c", "scopes": ["api_keys:write", "api_keys:read", "projects:read"] })),
            None,
        )
        .await;
    let child_key = child["plaintext_api_key"].as_str().unwrap().to_string();
    let (status, grandchild) = env
        .call("POST", &keys, Some(&child_key), Some(json!({ "name": "g", "scopes": ["projects:read"] })), None)
        .await;
    assert_eq!(status, 201, "{grandchild}");
    let grandchild_key = grandchild["plaintext_api_key"].as_str().unwrap().to_string();
    assert_eq!(env.call("GET", "/v1/projects", Some(&grandchild_key), None, None).await.0, 200);
    let (status, _) = env.call("DELETE", &format!("{keys}/{parent_id}"), Some(&env.key), None, None).await;
    assert_eq!(status, 200);
    for key in [&child_key, &grandchild_key] {
        let (status, body) = env.call("GET", "/v1/projects", Some(key), None, None).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["error"].as_str().unwrap().contains("revoked"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_names_the_callers_organization_credential_and_scopes() {
    let env = TestEnv::new().await;
    let (status, me) = env.get("/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["organization_id"], env.org.as_str());
    assert_eq!((me["credential_type"].as_str(), me["project_id"].is_null()), (Some("api_key"), true), "{me}");
    assert!(me["api_key_id"].as_str().unwrap().starts_with("key_"), "{me}");
    assert!(me["scopes"].as_array().unwrap().iter().any(|s| s == "backups:write"), "{me}");

    let project = env.project("local-2").await;
    let (_, created) = env
        .post(
            &format!("/v1/organizations/{}/api-keys", env.org),
            serde_json::json!({ "name": "narrow", "scopes": ["backups:read"], "project_id": project }),
        )
        .await;
    let narrow = created["plaintext_api_key"].as_str().unwrap();
    let (status, me) = env.call("GET", "/v1/me", Some(narrow), None, None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["scopes"].clone(), me["project_id"].as_str()),
        (serde_json::json!(["backups:read"]), Some(project.as_str()))
    );
    assert_eq!(me["api_key_id"], created["api_key"]["id"]);

    let (status, _) = env.call("GET", "/v1/me", None, None, None).await;
    assert_eq!(status, 401);
}
