//! Daily schedules on EventBridge Scheduler (moto), what a firing creates, and retention.

use crate::harness::TestEnv;
use capydb_functions::workers::{handle_scheduled_backup, ScheduledBackupInput};
use capydb_shared::adapters::aws;
use capydb_shared::domain::schedules::scheduler_name;
use capydb_shared::services::retention;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

async fn put(env: &TestEnv, project: &str, body: Value) -> (u16, Value) {
    env.call("PUT", &format!("/v1/projects/{project}/scheduled-backups/default"), Some(&env.key), Some(body), None)
        .await
}

async fn fire(env: &TestEnv, project: &str) -> String {
    let input = ScheduledBackupInput { project_id: project.parse().unwrap() };
    handle_scheduled_backup(&env.ctx, input).await.unwrap()["result"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_creates_a_real_schedule_and_disabling_flips_it() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (status, body) =
        put(&env, &project, json!({ "cron_hour": 3, "cron_minute": 5, "is_active": true, "retention_days": 7 })).await;
    assert_eq!(status, 200, "{body}");
    let s = &body["scheduled_backup"];
    assert_eq!(
        (s["label"].as_str(), s["retention_days"].as_u64(), s["scheduler_synced"].as_bool()),
        (Some("scheduled"), Some(7), Some(true))
    );
    assert!(s["next_run_at"].as_str().unwrap().contains("T03:05:00"), "{s}");

    let name = scheduler_name(&project.parse().unwrap());
    let entry = env.ctx.scheduler.get(&name).await.unwrap().expect("schedule exists in the scheduler");
    assert_eq!(entry.expression, "cron(5 3 * * ? *)");
    assert!(entry.enabled);
    assert_eq!(serde_json::from_str::<Value>(&entry.input).unwrap()["project_id"], project.as_str());

    let (status, _) = put(&env, &project, json!({ "cron_hour": 3, "cron_minute": 5, "is_active": false })).await;
    assert_eq!(status, 200);
    assert!(!env.ctx.scheduler.get(&name).await.unwrap().unwrap().enabled, "disabled in the scheduler too");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/scheduled-backups")).await;
    assert_eq!(listed["scheduled_backups"][0]["is_active"], false);
    assert!(listed["scheduled_backups"][0]["next_run_at"].is_null());

    let (status, _) = env
        .call("DELETE", &format!("/v1/projects/{project}/scheduled-backups/default"), Some(&env.key), None, None)
        .await;
    assert_eq!(status, 200);
    assert!(env.ctx.scheduler.get(&name).await.unwrap().is_none(), "removed from the scheduler");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/scheduled-backups")).await;
    assert!(listed["scheduled_backups"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_are_refused_naming_the_field_and_range() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let cases = [
        (json!({ "cron_hour": 24, "cron_minute": 0, "is_active": true }), "cron_hour", "0 to 23"),
        (json!({ "cron_hour": 1, "cron_minute": -1, "is_active": true }), "cron_minute", "0 to 59"),
        (
            json!({ "cron_hour": 1, "cron_minute": 0, "is_active": true, "retention_days": 0 }),
            "retention_days",
            "1 to 365",
        ),
        (
            json!({ "cron_hour": 1, "cron_minute": 0, "is_active": true, "retention_days": 366 }),
            "retention_days",
            "1 to 365",
        ),
        (json!({ "cron_hour": 1, "cron_minute": 0 }), "is_active", "true or false"),
        (json!({ "cron_hour": "1", "cron_minute": 0, "is_active": true }), "cron_hour", "0 to 23"),
        (json!({ "cron_hour": 1.5, "cron_minute": 0, "is_active": true }), "cron_hour", "0 to 23"),
    ];
    for (body, field, range) in cases {
        let (status, r) = put(&env, &project, body.clone()).await;
        assert_eq!((status, r["field"].as_str()), (400, Some(field)), "{body}: {r}");
        assert!(r["error"].as_str().unwrap().contains(range), "{r}");
    }
    let (status, _) = env
        .call("PUT", &format!("/v1/projects/{project}/scheduled-backups/weekly"), Some(&env.key), Some(json!({})), None)
        .await;
    assert_eq!(status, 404);
    let (_, listed) = env.get(&format!("/v1/projects/{project}/scheduled-backups")).await;
    assert!(listed["scheduled_backups"].as_array().unwrap().is_empty(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_outage_is_reported_and_the_next_put_repairs_it() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    // The schedule group disappears: every scheduler call fails until it is back.
    let sdk = aws::sdk_config(&env.ctx.config).await;
    aws::scheduler(&sdk).delete_schedule_group().name(&env.ctx.config.schedule_group).send().await.unwrap();

    let body = json!({ "cron_hour": 4, "cron_minute": 30, "is_active": true });
    let (status, r) = put(&env, &project, body.clone()).await;
    assert_eq!((status, r["code"].as_str()), (503, Some("scheduler_unavailable")), "{r}");
    assert!(r["error"].as_str().unwrap().contains("repeat the request"), "{r}");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/scheduled-backups")).await;
    assert_eq!(listed["scheduled_backups"][0]["scheduler_synced"], false, "the record says it is not in effect");

    env.ctx.scheduler.ensure_group().await.unwrap();
    let (status, r) = put(&env, &project, body).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["scheduled_backup"]["scheduler_synced"], true);
    let entry = env.ctx.scheduler.get(&scheduler_name(&project.parse().unwrap())).await.unwrap().expect("repaired");
    assert!(entry.enabled && entry.expression == "cron(30 4 * * ? *)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_makes_one_scheduled_backup_and_retention_deletes_it_unless_pinned() {
    let env = TestEnv::new().await;
    let project = env.project("local-1").await;
    let (status, _) = put(
        &env,
        &project,
        json!({ "cron_hour": 2, "cron_minute": 0, "is_active": true, "label": "nightly", "retention_days": 3 }),
    )
    .await;
    assert_eq!(status, 200);

    assert!(fire(&env, &project).await.starts_with("Created"));
    assert!(fire(&env, &project).await.starts_with("AlreadyRan"), "a duplicate delivery makes no second backup");
    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1);
    let b = &backups[0];
    assert_eq!((b["kind"].as_str(), b["label"].as_str()), (Some("scheduled"), Some("nightly")));
    let job = env.wait_job(b["job_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "completed", "{job}");
    let (_, b) = env.get(&format!("/v1/projects/{project}/backups/{}", b["id"].as_str().unwrap())).await;
    let b = b["backup"].clone();
    assert_eq!(b["verification_state"], "verified");
    let expires = chrono::DateTime::parse_from_rfc3339(b["expires_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    assert_eq!((expires - Utc::now()).num_days(), 2, "3 days of retention (minus the seconds since)");
    let (_, s) = env.get(&format!("/v1/projects/{project}/scheduled-backups")).await;
    assert_eq!(s["scheduled_backups"][0]["last_job_id"], job["id"]);

    // Pin it, move past the retention: it stays.
    let (status, point) = env
        .post(
            &format!("/v1/projects/{project}/restore-points"),
            json!({ "label": "keep", "backup_key": b["backup_key"] }),
        )
        .await;
    assert_eq!(status, 201, "{point}");
    let later = Utc::now() + Duration::days(3) + Duration::hours(1);
    let report = retention::sweep(&env.ctx, later).await.unwrap();
    assert_eq!((report.deleted, report.pinned), (0, 1));
    let key = b["backup_key"].as_str().unwrap();
    assert_eq!(env.keys_under(key).await.len(), 1);

    // Unpinned, the next sweep deletes archive, manifest and record.
    let (status, _) = env
        .call(
            "DELETE",
            &format!("/v1/projects/{project}/restore-points/{}", point["restore_point"]["id"].as_str().unwrap()),
            Some(&env.key),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let report = retention::sweep(&env.ctx, later + Duration::hours(2)).await.unwrap();
    assert_eq!(report.deleted, 1, "{report:?}");
    assert!(env.keys_under(&format!("projects/{project}/backups/")).await.is_empty());
    assert_eq!(env.get(&format!("/v1/projects/{project}/backups/{}", b["id"].as_str().unwrap())).await.0, 404);

    // A disabled schedule's firing does nothing.
    put(&env, &project, json!({ "cron_hour": 2, "cron_minute": 0, "is_active": false })).await;
    assert!(fire(&env, &project).await.starts_with("Skipped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_dumps_take_every_ready_project_once_per_night() {
    let env = TestEnv::new().await;
    let a = env.project("local-1").await;
    let b = env.project("local-2").await;
    // Whatever the time now, the next 02:15 UTC is within a day.
    // (To the millisecond: the precision the API answers with.)
    let tonight = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3) + Duration::days(1);
    let report = capydb_shared::services::nightly::fan_out(&env.ctx, tonight).await.unwrap();
    assert_eq!(report.created, 2, "{report:?}");
    for project in [&a, &b] {
        let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
        let backups = listed["backups"].as_array().unwrap();
        assert_eq!(backups.len(), 1);
        assert_eq!(backups[0]["kind"], "nightly");
        let expires = chrono::DateTime::parse_from_rfc3339(backups[0]["expires_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!((expires - tonight).num_days(), 14);
        let job = env.wait_job(backups[0]["job_id"].as_str().unwrap()).await;
        assert_eq!(job["state"], "completed", "{job}");
    }
    let again = capydb_shared::services::nightly::fan_out(&env.ctx, tonight).await.unwrap();
    assert_eq!(again.created, 0, "the same night is not dumped twice: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_did_not_happen_is_reported_as_missed() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (status, _) = put(&env, &project, json!({ "cron_hour": 6, "cron_minute": 0, "is_active": true })).await;
    assert_eq!(status, 200);
    let id: capydb_shared::ids::ProjectId = project.parse().unwrap();
    let first_check = env
        .ctx
        .schedules
        .get_schedule(&id, "default")
        .await
        .unwrap()
        .unwrap()
        .check_at
        .expect("an active schedule is checked");
    let expected = first_check - capydb_shared::domain::schedules::missed_grace();

    // The first expected run happens and completes: nothing to report.
    let run = capydb_shared::services::schedules::run(&env.ctx, &id, expected).await.unwrap();
    let capydb_shared::services::schedules::ScheduledRun::Created(job) = run else { panic!("{run:?}") };
    assert_eq!(env.wait_job(job.as_str()).await["state"], "completed");
    let missed =
        capydb_shared::services::schedules::check_missed(&env.ctx, first_check + Duration::minutes(1)).await.unwrap();
    assert_eq!(missed, 0);
    let (_, s) = env.get(&format!("/v1/projects/{project}/scheduled-backups")).await;
    assert_eq!(s["scheduled_backups"][0]["last_run_state"], "completed", "{s}");

    // The next day nothing runs (the scheduler never fired): the check reports it.
    let missed = capydb_shared::services::schedules::check_missed(
        &env.ctx,
        first_check + Duration::days(1) + Duration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(missed, 1);
    let events = env.events("backup.missed").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["project_id"], project.as_str());
    assert_eq!(events[0]["data"]["reason"], "no scheduled backup ran");
    let (_, s) = env.get(&format!("/v1/projects/{project}/scheduled-backups")).await;
    assert_eq!(s["scheduled_backups"][0]["last_run_state"], "missed", "{s}");
}
