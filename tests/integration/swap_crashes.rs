//! A worker that dies at each step of a project overwrite — after closing production to
//! connections, after the rename transaction, after recording the safety copy, after dropping
//! the old database — and what the next attempt, or the sweeper once attempts run out, makes of
//! it: production is open again, swapped exactly once, the job says what really happened, and
//! the old data always has its backup record.

use crate::harness::TestEnv;
use crate::restores::{backup, change, names_in, project_url, project_with, restore, restore_done};
use capydb_shared::services::sweeper::sweep_jobs;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

struct Halted {
    env: TestEnv,
    project: String,
    url: String,
    job: String,
    restore: String,
}

/// A project holding `before` and then `after`, restored from the backup holding only `before`
/// by a worker that dies at `checkpoint`; the runtime is restarted with healthy workers.
async fn overwrite_dying_at(checkpoint: &str, max_attempts: u32) -> Halted {
    let mut env = TestEnv::with_env(&[("CAPYDB_JOB_MAX_ATTEMPTS", max_attempts.to_string())]).await;
    let (project, _) = project_with(&env, &["before"]).await;
    let key = backup(&env, &project).await;
    let url = project_url(&env, &project).await;
    change(&env, &url, "INSERT INTO accounts VALUES ('after')").await;

    let halted = env.halt_at(checkpoint).await;
    let (status, r) = restore(
        &env,
        &project,
        json!({ "backup_key": key, "target_kind": "project", "confirm_project_overwrite": true }),
        None,
    )
    .await;
    assert_eq!(status, 202, "{r}");
    tokio::time::timeout(std::time::Duration::from_secs(120), halted.wait())
        .await
        .unwrap_or_else(|_| panic!("the worker never reached {checkpoint}"));
    let job = r["job"]["id"].as_str().unwrap().to_string();
    let restore = r["restore"]["id"].as_str().unwrap().to_string();
    Halted { env, project, url, job, restore }
}

impl Halted {
    /// The dead worker's lease runs out and the sweeper acts on the job.
    async fn crash_and_sweep(&mut self) -> Value {
        self.env.crash_and_restart().await;
        sweep_jobs(&self.env.ctx, Utc::now() + Duration::minutes(4)).await.unwrap();
        self.env.wait_job(&self.job).await
    }

    async fn restore_record(&self) -> Value {
        let (_, r) = self.env.get(&format!("/v1/projects/{}/restores/{}", self.project, self.restore)).await;
        r["restore"].clone()
    }

    async fn pre_restore_backups(&self) -> Vec<Value> {
        let (_, listed) = self.env.get(&format!("/v1/projects/{}/backups", self.project)).await;
        listed["backups"].as_array().unwrap().iter().filter(|b| b["kind"] == "pre_restore").cloned().collect()
    }

    async fn left(&self, prefix: &str) -> bool {
        self.env.scratch_left("local-1", prefix, &self.restore).await
    }

    /// The resumed job completed: production holds the backup's rows plus anything written
    /// since the swap, and the one safety backup verified and holds production as it was.
    async fn assert_completed_once(&mut self, written_since_swap: &[&str]) {
        let job = self.crash_and_sweep().await;
        assert_eq!((job["state"].as_str(), job["attempts"].as_u64()), (Some("completed"), Some(2)), "{job}");
        let mut expected: Vec<String> = written_since_swap.iter().map(|s| s.to_string()).collect();
        expected.push("before".into());
        expected.sort();
        assert_eq!(names_in(&self.url).await, expected, "production open, swapped once, nothing written since lost");

        let r = self.restore_record().await;
        assert_eq!((r["state"].as_str(), r["step"].as_str()), (Some("completed"), Some("safety_recorded")), "{r}");
        let safety = self.pre_restore_backups().await;
        assert_eq!(safety.len(), 1, "one safety backup, whatever the attempts: {safety:?}");
        assert_eq!(safety[0]["id"], r["safety_backup_id"]);
        assert_eq!(
            (safety[0]["state"].as_str(), safety[0]["verification_state"].as_str()),
            (Some("completed"), Some("verified"))
        );
        assert!(!self.left("capydb_safety_").await, "the safety database is dropped once its backup verified");
        assert!(!self.left("capydb_stage_").await);

        let copy = restore_done(
            &self.env,
            &self.project,
            json!({ "backup_key": safety[0]["backup_key"], "preview_name": "old-production" }),
        )
        .await;
        assert_eq!(copy["state"], "completed", "{copy}");
        let preview_url = super::restores::preview_url(&self.env, copy["preview_id"].as_str().unwrap()).await;
        assert_eq!(names_in(&preview_url).await, vec!["after", "before"], "the safety backup is production as it was");
    }
}

async fn connects(url: &str) -> bool {
    tokio_postgres::connect(url, tokio_postgres::NoTls).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dead_after_closing_production_leaves_it_open_and_the_next_attempt_swaps() {
    let mut h = overwrite_dying_at("restore.closed", 3).await;
    assert!(!connects(&h.url).await, "production is closed while the swap is under way");
    h.assert_completed_once(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dead_after_the_rename_is_not_swapped_again() {
    let mut h = overwrite_dying_at("restore.swapped", 3).await;
    // Production already holds the restored data and is open: customers write to it.
    change(&h.env, &h.url, "INSERT INTO accounts VALUES ('written-after-swap')").await;
    h.assert_completed_once(&["written-after-swap"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dead_after_recording_the_safety_copy_only_drops_it() {
    let mut h = overwrite_dying_at("restore.safety_recorded", 3).await;
    assert!(h.left("capydb_safety_").await, "not dropped yet");
    change(&h.env, &h.url, "INSERT INTO accounts VALUES ('written-after-swap')").await;
    h.assert_completed_once(&["written-after-swap"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dead_after_dropping_the_old_database_does_not_swap_again() {
    let mut h = overwrite_dying_at("restore.safety_dropped", 3).await;
    assert!(!h.left("capydb_safety_").await);
    change(&h.env, &h.url, "INSERT INTO accounts VALUES ('written-after-swap')").await;
    h.assert_completed_once(&["written-after-swap"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_attempts_before_the_swap_fails_and_reopens_production_untouched() {
    let mut h = overwrite_dying_at("restore.closed", 1).await;
    let job = h.crash_and_sweep().await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(names_in(&h.url).await, vec!["after", "before"], "production open and as it was");
    assert_eq!(h.restore_record().await["state"], "failed");
    assert!(h.pre_restore_backups().await.is_empty());
    assert!(!h.left("capydb_stage_").await, "staging dropped");
    assert!(!h.left("capydb_safety_").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_attempts_after_the_swap_completes_and_records_the_kept_safety_database() {
    let mut h = overwrite_dying_at("restore.swapped", 1).await;
    let job = h.crash_and_sweep().await;
    assert_eq!(job["state"], "completed", "production holds the restored data, so the restore did complete: {job}");
    assert_eq!(names_in(&h.url).await, vec!["before"]);
    let r = h.restore_record().await;
    assert_eq!(r["state"], "completed", "{r}");
    let safety = h.pre_restore_backups().await;
    assert_eq!(safety.len(), 1, "{safety:?}");
    assert_eq!((safety[0]["id"].clone(), safety[0]["state"].as_str()), (r["safety_backup_id"].clone(), Some("failed")));
    let error = safety[0]["error"].as_str().unwrap();
    assert!(error.contains(&format!("capydb_safety_{}", h.restore)), "names where the old data is: {error}");
    assert!(h.left("capydb_safety_").await, "the old data is kept on the cluster");
}
