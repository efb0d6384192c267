//! What every route does with requests it cannot take: a body too large (413), a body that is
//! not JSON by its `Content-Type` (415), ids of the wrong kind in the path (404, never a 5xx),
//! and list parameters out of range (400 naming the parameter). Every answer carries an
//! `X-Request-Id`, and every error body the same `request_id`.

use crate::harness::TestEnv;
use capydb_functions::routes::{RouteId, ROUTES};
use serde_json::{json, Value};

/// A request with a raw body and the given `Content-Type` (none when `None`).
async fn raw(
    env: &TestEnv,
    method: &str,
    path: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> (u16, String, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{}", env.api, path))
        .bearer_auth(&env.key)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("API reachable");
    let status = resp.status().as_u16();
    let request_id =
        resp.headers().get("x-request-id").expect("every answer has X-Request-Id").to_str().unwrap().to_string();
    let text = resp.text().await.unwrap();
    (status, request_id, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn backup_jobs(env: &TestEnv, project: &str) -> usize {
    let (_, jobs) = env.get(&format!("/v1/projects/{project}/jobs")).await;
    jobs["jobs"].as_array().unwrap().iter().filter(|j| j["type"] == "project.backup").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_too_large_or_not_json_are_refused_before_anything_happens() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let path = format!("/v1/projects/{project}/backups");

    let huge = serde_json::to_vec(&json!({ "label": "x".repeat(70 * 1024) })).unwrap();
    let (status, request_id, body) = raw(&env, "POST", &path, huge, Some("application/json")).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("payload_too_large")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("65536"), "says the limit: {body}");
    assert_eq!(body["request_id"], request_id.as_str(), "the body quotes the header's id");
    assert!(request_id.starts_with("req_"), "{request_id}");

    let label = br#"{"label":"form"}"#.to_vec();
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let (status, _, body) = raw(&env, "POST", &path, label.clone(), content_type).await;
        assert_eq!((status, body["code"].as_str()), (415, Some("unsupported_media_type")), "{content_type:?}: {body}");
        assert!(body["error"].as_str().unwrap().contains("application/json"), "{body}");
    }
    assert_eq!(backup_jobs(&env, &project).await, 0, "nothing refused created a job");

    let (status, _, body) = raw(&env, "POST", &path, label, Some("application/json; charset=utf-8")).await;
    assert_eq!(status, 202, "JSON with a charset is JSON: {body}");
    let (status, _, body) = raw(&env, "POST", &path, b"{\"label\": ".to_vec(), Some("application/json")).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("not valid JSON"), "{body}");
    let (status, _, body) = raw(&env, "POST", &path, b"[1]".to_vec(), Some("application/json")).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = raw(&env, "POST", &path, br#"{"label": 7}"#.to_vec(), Some("application/json")).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("label")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_the_wrong_kind_anywhere_in_a_path_are_not_found_never_a_server_error() {
    let env = TestEnv::new().await;
    // Well-formed ids of another kind, and strings that are no id at all.
    for wrong in ["bkp_01m8vf7q6v447x12mjswx1z128", "prj_01M8VF7Q6V447X12MJSWX1Z128", "..", "%00", "x"] {
        for route in ROUTES {
            let path = route
                .path
                .split('/')
                .map(|seg| match seg {
                    "{provider}" => "vercel",
                    "{schedule_id}" => "default",
                    s if s.starts_with('{') => wrong,
                    s => s,
                })
                .collect::<Vec<_>>()
                .join("/");
            if path == route.path {
                continue;
            }
            let with_body = matches!(route.method, "POST" | "PUT" | "PATCH");
            let (status, body) =
                env.call(route.method, &path, Some(&env.key), with_body.then(|| json!({})), None).await;
            // Another org's id is forbidden rather than unknown; a body is validated (400) before
            // its target is looked up.
            let org = route.path.starts_with("/v1/organizations/{org_id}") && status == 403;
            assert!(status == 404 || org || (with_body && status == 400), "{} {path}: {status} {body}", route.method);
            assert!(body["request_id"].is_string(), "{} {path}: {body}", route.method);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_parameters_out_of_range_are_refused_naming_the_parameter() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let paged = [
        RouteId::ProjectsList,
        RouteId::ApiKeysList,
        RouteId::JobsList,
        RouteId::BackupsList,
        RouteId::RestoresList,
        RouteId::PreviewsList,
        RouteId::RestorePointsList,
        RouteId::WebhooksList,
    ];
    let lists = ROUTES
        .iter()
        .filter(|r| paged.contains(&r.id))
        .map(|r| r.path.replace("{project_id}", &project).replace("{org_id}", env.org.as_str()))
        .collect::<Vec<_>>();
    assert_eq!(lists.len(), paged.len());
    for list in &lists {
        for (query, param) in
            [("limit=0", "limit"), ("limit=1000", "limit"), ("limit=ten", "limit"), ("cursor=eyJwayI6", "cursor")]
        {
            let (status, body) = env.get(&format!("{list}?{query}")).await;
            assert_eq!((status, body["field"].as_str()), (400, Some(param)), "{list}?{query}: {body}");
            assert!(body["request_id"].is_string(), "{body}");
        }
    }
}

/// Every RFC 3339 timestamp anywhere in `v` with more than three fractional digits.
fn too_precise(v: &Value, at: &str, found: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let is_time = s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T';
            let digits = s.split_once('.').map(|(_, f)| f.chars().take_while(char::is_ascii_digit).count());
            if is_time && digits.is_some_and(|d| d > 3) {
                found.push(format!("{at} = {s}"));
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, x)| too_precise(x, &format!("{at}[{i}]"), found)),
        Value::Object(map) => map.iter().for_each(|(k, x)| too_precise(x, &format!("{at}.{k}"), found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_have_at_most_millisecond_precision() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (_, b) = env.post(&format!("/v1/projects/{project}/backups"), json!({ "label": "t" })).await;
    env.wait_job(b["job"]["id"].as_str().unwrap()).await;
    let (_, got) = env.get(&format!("/v1/projects/{project}/backups/{}", b["backup"]["id"].as_str().unwrap())).await;
    let key = got["backup"]["backup_key"].as_str().unwrap().to_string();
    let (_, r) = env.post(&format!("/v1/projects/{project}/restores"), json!({ "backup_key": key })).await;
    env.wait_job(r["job"]["id"].as_str().unwrap()).await;
    env.post(&format!("/v1/projects/{project}/restore-points"), json!({ "label": "p", "backup_key": key })).await;
    let put = json!({ "cron_hour": 3, "cron_minute": 5, "is_active": true });
    env.call("PUT", &format!("/v1/projects/{project}/scheduled-backups/default"), Some(&env.key), Some(put), None)
        .await;

    let mut found = Vec::new();
    for path in [
        format!("/v1/projects/{project}"),
        format!("/v1/projects/{project}/jobs"),
        format!("/v1/projects/{project}/backups"),
        format!("/v1/projects/{project}/restores"),
        format!("/v1/projects/{project}/preview-databases"),
        format!("/v1/projects/{project}/restore-points"),
        format!("/v1/projects/{project}/scheduled-backups"),
        format!("/v1/organizations/{}/api-keys", env.org),
        "/v1/regions".to_string(),
    ] {
        let (status, body) = env.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        too_precise(&body, &path, &mut found);
    }
    assert!(found.is_empty(), "timestamps finer than a millisecond: {found:#?}");
}
