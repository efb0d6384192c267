//! The local runtime serves the built dashboard on the API's own origin, as CloudFront does in a
//! deployment: files as files, in-app paths as `index.html`, `/v1` still the API, and the
//! dashboard's security headers on every page. (The app itself is tested in a real browser by
//! `dashboard/tests`, run inside the walkthrough.)

use crate::harness::TestEnv;
use capydb_functions::local::{Options, Runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_serves_the_dashboard_beside_the_api() {
    let env = TestEnv::new().await;
    let dist = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><title>CapyDB Backups</title>").unwrap();
    std::fs::write(dist.path().join("assets/app-1234.js"), "console.log('app')").unwrap();
    let options = Options {
        listen: ([127, 0, 0, 1], 0).into(),
        schedules: false,
        dashboard: Some(dist.path().to_path_buf()),
        ..Options::default()
    };
    let runtime = Runtime::start(env.ctx.clone(), options).await.expect("runtime starts");
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", runtime.api_url)).send();

    for path in ["/", "/projects/prj_x", "/settings"] {
        let page = get(path).await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(page.headers()["cache-control"], "no-cache");
        assert!(page.text().await.unwrap().contains("<title>CapyDB Backups</title>"), "{path} is the app");
    }
    let asset = get("/assets/app-1234.js").await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(asset.text().await.unwrap(), "console.log('app')");
    assert_eq!(get("/assets/missing.js").await.unwrap().status(), 404, "a missing file is not the app");

    // The API keeps its paths, its JSON errors and its authentication.
    for path in ["/v1", "/v1/"] {
        let bare = get(path).await.unwrap();
        assert_eq!(bare.status(), 404, "{path} is the API's");
        assert_eq!(bare.json::<serde_json::Value>().await.unwrap()["code"], "not_found", "{path}");
    }
    let unknown = get("/v1/nothing-here").await.unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert_eq!(get("/v1/me").await.unwrap().status(), 401);
    let me = http.get(format!("{}/v1/me", runtime.api_url)).bearer_auth(&env.key).send().await.unwrap();
    assert_eq!(me.status(), 200);
    runtime.kill().await;

    // Without a build, the page says how to make one instead of answering with the API.
    let bare = Runtime::start(
        env.ctx.clone(),
        Options { listen: ([127, 0, 0, 1], 0).into(), schedules: false, ..Options::default() },
    )
    .await
    .expect("runtime starts");
    let page = reqwest::get(format!("{}/", bare.api_url)).await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("make dev"));
    bare.kill().await;
}
