//! Projects: provisioning on the region cluster, credentials, regions, validation.

use crate::harness::TestEnv;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_gets_its_own_database_and_credentials_that_reach_only_it() {
    let env = TestEnv::new().await;
    let a = env.project("local-1").await;
    let b = env.project("local-1").await;
    let (status, p) = env.get(&format!("/v1/projects/{a}")).await;
    assert_eq!(status, 200);
    assert_eq!((p["project"]["state"].as_str(), p["project"]["region"].as_str()), (Some("ready"), Some("local-1")));
    assert!(p.to_string().find("password").is_none(), "no secret in the project view");

    let (status, c) = env.get(&format!("/v1/projects/{a}/connections")).await;
    assert_eq!(status, 200, "{c}");
    let url = c["connections"]["direct_url"].as_str().unwrap();
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("project credentials work");
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hello')").await.unwrap();
    let user: String = client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(user, c["connections"]["username"].as_str().unwrap());

    let (_, other) = env.get(&format!("/v1/projects/{b}/connections")).await;
    let other_db = other["connections"]["database_name"].as_str().unwrap();
    let cross = url.rsplit_once('/').unwrap().0.to_string() + "/" + other_db;
    assert!(
        tokio_postgres::connect(&cross, tokio_postgres::NoTls).await.is_err(),
        "A's role cannot enter B's database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_input_is_validated_field_by_field() {
    let env = TestEnv::new().await;
    let (status, body) = env.post("/v1/projects", json!({ "name": "x", "region": "mars-1" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("region")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("local-1, local-2"), "{body}");
    let (status, body) = env.post("/v1/projects", json!({ "name": "n".repeat(65), "region": "local-1" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("name")), "{body}");
    let (status, body) = env.post("/v1/projects", json!({ "region": "local-1" })).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("name")), "{body}");
    let (status, body) = env.call("POST", "/v1/projects", Some(&env.key), Some(json!([1])), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")), "{body}");
    for path in ["/v1/projects/prj_nope", "/v1/projects/prj_01j0000000000000000000000z", "/v1/jobs/job_x"] {
        assert_eq!(env.get(path).await.0, 404, "{path}");
    }
    assert_eq!(env.get("/v1/nothing-here").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_say_which_cluster_archives_wal() {
    let env = TestEnv::new().await;
    let (status, body) = env.get("/v1/regions").await;
    assert_eq!(status, 200);
    assert_eq!(body["regions"], json!(["local-1", "local-2"]), "the published list of ids");
    let regions = body["region_details"].as_array().unwrap();
    let find = |n: &str| regions.iter().find(|r| r["id"] == n).unwrap().clone();
    assert_eq!(find("local-1")["wal_archiving"], true);
    assert_eq!(find("local-2")["wal_archiving"], false);
    let local2 = find("local-2");
    assert_eq!((local2["pitr_available"].as_bool(), local2["pitr_window_days"].is_null()), (Some(false), true));
    let local1 = find("local-1");
    assert_eq!(local1["pitr_window_days"], 30);
    // Whether local-1 has a window depends on the base backups other tests took; when it
    // claims one, the window is well-formed.
    if local1["pitr_available"] == true {
        let t = |k: &str| local1[k].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        assert!(t("earliest_restore_time") <= t("latest_restore_time"), "{local1}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_whose_provisioning_failed_is_provisioned_again_and_keeps_its_data() {
    use capydb_shared::domain::projects::ProjectState;
    use capydb_shared::services::bootstrap;

    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    env.tenant_sql(&project, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (7);").await;
    let id = project.parse().unwrap();
    assert!(!bootstrap::reprovision(&env.ctx, &id).await.unwrap(), "a ready project is left alone");

    // What a provisioning that met a cluster still starting leaves behind.
    let mut stored = env.ctx.projects.get_project(&id).await.unwrap().unwrap();
    stored.state = ProjectState::Failed;
    stored.error = Some("provisioning failed: cannot reach region cluster local-1".into());
    env.ctx.projects.update_project(&stored).await.unwrap();
    let (_, p) = env.get(&format!("/v1/projects/{project}")).await;
    assert_eq!(p["project"]["state"], "failed");

    assert!(bootstrap::reprovision(&env.ctx, &id).await.unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, p) = env.get(&format!("/v1/projects/{project}")).await;
        if p["project"]["state"] == "ready" {
            assert!(p["project"]["last_error"].is_null(), "{p}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready again: {p}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let client = env.tenant_db(&project).await;
    let row = client.query_one("SELECT id FROM kept", &[]).await.expect("the tenant still connects");
    assert_eq!(row.get::<_, i32>(0), 7, "provisioning again repairs; it never replaces the data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_created_by_name_alone_lands_in_the_default_region() {
    let env = TestEnv::new().await;
    let (status, body) = env.post("/v1/projects", json!({ "name": "just-a-name" })).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["project"]["region"], "local-1", "the first configured region: {body}");
    let job = env.wait_job(body["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
}
