//! Jobs handed to a container task. There is no ECS here: the runtime starts the task's binary
//! (`capydb-lambda` as `JobTask`) as a child process with the environment a task gets, and the
//! child claims the job, keeps its lease and finishes it as any worker does. A task dumps with
//! parallel jobs into a directory-format archive, one object per file.

use crate::archive::pg_command;
use crate::fault_proxy::{upload_part, FaultProxy};
use crate::faults::{big_project, restores_as_recorded};
use crate::harness::TestEnv;
use crate::restores::{backup, names_in, preview_url, project_url, project_with, restore_done};
use capydb_shared::services::sweeper::sweep_jobs;
use serde_json::{json, Value};
use std::time::Duration;

fn assert_ran_in_a_task(job: &Value) {
    assert_eq!(job["runner"], "task", "{job}");
    assert!(job["task_arn"].as_str().is_some_and(|a| a.starts_with("arn:capydb:local:task/")), "{job}");
    assert!(job["claimed_by"].as_str().is_some_and(|w| w.starts_with("task-")), "claimed by the task: {job}");
}

/// Tasks with two dump jobs, as on a 2-vCPU task.
fn parallel_tasks() -> [(&'static str, String); 2] {
    [("CAPYDB_FORCE_RUNNER", "task".into()), ("CAPYDB_DUMP_JOBS", "2".into())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_forced_to_a_task_backs_up_verifies_and_restores_through_a_child_process() {
    let env = TestEnv::with_env(&parallel_tasks()).await;
    let (project, _) = project_with(&env, &["ada", "grace"]).await;
    let key = backup(&env, &project).await;

    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    let b = &listed["backups"][0];
    assert_eq!((b["state"].as_str(), b["verification_state"].as_str()), (Some("completed"), Some("verified")), "{b}");
    assert_eq!(b["format"], "pg_dump-directory", "{b}");
    assert!(key.ends_with(".dir/"), "the key is the files' prefix: {key}");
    let files = env.keys_under(&key).await;
    assert!(files.iter().any(|k| k.ends_with("/toc.dat.zst")) && files.len() >= 2, "{files:?}");
    let (_, job) = env.get(&format!("/v1/jobs/{}", b["job_id"].as_str().unwrap())).await;
    assert_ran_in_a_task(&job["job"]);
    assert_eq!(job["job"]["attempts"], 1);

    let r = restore_done(&env, &project, json!({ "backup_key": key, "preview_name": "from-a-task" })).await;
    assert_eq!(r["state"], "completed", "{r}");
    let (_, restore_job) = env.get(&format!("/v1/jobs/{}", r["job_id"].as_str().unwrap())).await;
    assert_ran_in_a_task(&restore_job["job"]);
    assert_eq!(names_in(&preview_url(&env, r["preview_id"].as_str().unwrap()).await).await, vec!["ada", "grace"]);

    let started = env.runtime.as_ref().unwrap().started_tasks();
    let jobs: Vec<String> = started.iter().map(|t| t.job.to_string()).collect();
    for j in [&job["job"]["id"], &restore_job["job"]["id"]] {
        assert_eq!(jobs.iter().filter(|s| j == s.as_str()).count(), 1, "one task for {j}: {jobs:?}");
    }

    // The CLI shows where the job ran.
    let out = env.cli(&["jobs", "get", job["job"]["id"].as_str().unwrap()], None);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown} {}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("runner") && shown.contains("task (arn:capydb:local:task/"), "{shown}");

    // The README's recipe with the stock tools: the files as stored, `zstd -d`, `pg_restore -Fd`.
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("archive");
    let backup_id = b["id"].as_str().unwrap();
    let out = env.cli(&["backups", "download", backup_id, "--file", folder.to_str().unwrap()], Some(&project));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said} {}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("each file's sha256 verified"), "{said}");
    let zst: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(zst.len(), files.len(), "one file per stored object: {zst:?}");
    let unzipped = std::process::Command::new("zstd").args(["-d", "--rm", "-q"]).args(&zst).status().unwrap();
    assert!(unzipped.success(), "zstd -d");
    let target = format!("by_hand_{}", &env.name[3..].to_lowercase());
    env.sql("local-1", "postgres", &format!("CREATE DATABASE {target}")).await;
    let restored = pg_command(&env, "pg_restore", &target)
        .args(["--format=directory", "--jobs=2", "--no-owner", "--exit-on-error", "-d", &target])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let rows = env.admin_db("local-1", &target).await.query("SELECT name FROM accounts ORDER BY name", &[]).await;
    let names: Vec<String> = rows.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(names, vec!["ada", "grace"]);
    env.sql("local-1", "postgres", &format!("DROP DATABASE {target} WITH (FORCE)")).await;

    // A file gone from storage: the restore refuses the archive, naming it, and the project is
    // as it was.
    let data_file = files.iter().find(|k| k.ends_with(".dat.zst") && !k.ends_with("/toc.dat.zst")).unwrap();
    env.s3().await.delete_object().bucket(&env.name).key(data_file).send().await.unwrap();
    let refused = restore_done(
        &env,
        &project,
        json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true }),
    )
    .await;
    assert_eq!(refused["state"], "failed", "{refused}");
    let name = data_file.rsplit('/').next().unwrap().trim_end_matches(".zst");
    assert_eq!(refused["error"], format!("archive file {name} is missing from object storage; nothing was changed"));
    assert_eq!(names_in(&project_url(&env, &project).await).await, vec!["ada", "grace"]);

    // Deleting the backup deletes every file and the manifest.
    let (status, deleted) =
        env.call("DELETE", &format!("/v1/projects/{project}/backups/{backup_id}"), Some(&env.key), None, None).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(env.keys_under(&format!("projects/{project}/backups/")).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_without_the_scratch_space_a_backup_needs_fails_it_naming_the_space() {
    let mut vars = parallel_tasks().to_vec();
    vars.push(("CAPYDB_SCRATCH_LIMIT_BYTES", (1u64 << 20).to_string()));
    let env = TestEnv::with_env(&vars).await;
    let (project, _) = project_with(&env, &["ada"]).await;
    let (_, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    let job = env.wait_job(created["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error
            .starts_with("backup failed: not enough scratch space to verify the backup: it needs at least 0.3 GiB in ")
            && error.ends_with("and 0.0 GiB is free"),
        "{error}"
    );
    let (_, b) =
        env.get(&format!("/v1/projects/{project}/backups/{}", created["backup"]["id"].as_str().unwrap())).await;
    assert_eq!(
        (b["backup"]["state"].as_str(), b["backup"]["verification_state"].as_str()),
        (Some("failed"), Some("pending")),
        "the archive is not blamed: {b}"
    );
    assert_eq!(env.multipart_uploads(&format!("projects/{project}/")).await, 0, "no upload left open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_killed_mid_dump_loses_its_lease_and_a_new_task_takes_the_backup_again_whole() {
    let proxy = FaultProxy::start().await;
    let mut vars = parallel_tasks().to_vec();
    vars.push(("AWS_ENDPOINT_URL", proxy.url.clone()));
    let env = TestEnv::with_env(&vars).await;
    let project = big_project(&env, 20).await;
    // The task's second part upload is held: the dump is half-way through.
    let reached = proxy.hang(upload_part(2), 1);
    let (status, created) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    assert_eq!(status, 202, "{created}");
    let (job, backup) = (created["job"]["id"].as_str().unwrap(), created["backup"]["id"].as_str().unwrap());
    tokio::time::timeout(Duration::from_secs(120), reached.notified())
        .await
        .expect("the task never got to its second part");

    let runtime = env.runtime.as_ref().unwrap();
    let first = runtime.started_tasks().into_iter().find(|t| t.job.as_str() == job).expect("a task for the job");
    let killed = std::process::Command::new("kill").args(["-9", &first.pid.to_string()]).status().unwrap();
    assert!(killed.success(), "the task process is killed");
    proxy.clear();
    let (_, held) = env.get(&format!("/v1/jobs/{job}")).await;
    assert_eq!(
        (held["job"]["state"].as_str(), held["job"]["task_arn"].as_str()),
        (Some("running"), Some(first.arn.as_str()))
    );

    // Nothing renews the dead task's lease; the sweep puts the job back, and a new task runs it.
    let report = sweep_jobs(&env.ctx, chrono::Utc::now() + chrono::Duration::minutes(4)).await.unwrap();
    assert_eq!(report.requeued, 1, "{report:?}");
    let done = env.wait_job(job).await;
    assert_eq!((done["state"].as_str(), done["attempts"].as_u64()), (Some("completed"), Some(2)), "{done}");
    assert_ran_in_a_task(&done);
    assert_ne!(done["task_arn"].as_str(), Some(first.arn.as_str()), "another task finished it");

    let (_, listed) = env.get(&format!("/v1/projects/{project}/backups")).await;
    let backups = listed["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "one backup record, not two: {listed}");
    assert_eq!(
        (backups[0]["id"].as_str(), backups[0]["verification_state"].as_str()),
        (Some(backup), Some("verified"))
    );
    let prefix = format!("projects/{project}/");
    let manifest: Value =
        serde_json::from_slice(&env.object(&format!("projects/{project}/backups/{backup}.manifest.json")).await)
            .unwrap();
    let listed_files = manifest["files"].as_array().unwrap().len();
    assert_eq!(env.keys_under(&prefix).await.len(), listed_files + 1, "the files the manifest lists, and the manifest");
    assert_eq!(env.multipart_uploads(&prefix).await, 0, "the killed task's upload was aborted");
    restores_as_recorded(&env, &project, &backups[0]).await;
}
