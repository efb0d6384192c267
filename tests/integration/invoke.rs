//! Every event in `events/` goes through its function's handler, as `make invoke` runs it, so
//! the fixtures stay true to the code: API requests answer 2xx, stream batches report no
//! failure, sweeps and the scheduled backup run.

use crate::harness::{repo_root, TestEnv};
use capydb_functions::invoke;
use capydb_functions::targets::{self, Target};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_fixture_runs_through_its_handler() {
    let env = TestEnv::new().await;
    let project = env.project("local-2").await;
    let (_, queued) = env.post(&format!("/v1/projects/{project}/backups"), json!({})).await;
    let job = queued["job"]["id"].as_str().unwrap().to_string();
    let vars = [
        ("CAPYDB_API_KEY", env.key.clone()),
        ("CAPYDB_PROJECT", project.clone()),
        ("CAPYDB_ORG", env.org.to_string()),
        ("JOB_ID", job.clone()),
    ];
    let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());

    let mut fixtures: Vec<_> =
        std::fs::read_dir(repo_root().join("events")).unwrap().map(|e| e.unwrap().path()).collect();
    fixtures.sort();
    let mut kinds = std::collections::BTreeSet::new();
    for path in &fixtures {
        let function = path.file_stem().unwrap().to_str().unwrap();
        let target = targets::target(function).unwrap_or_else(|| panic!("{} names no function", path.display()));
        let event = invoke::expand(&std::fs::read_to_string(path).unwrap(), lookup).unwrap();
        let answer: Value =
            invoke::invoke(&env.ctx, target, &event).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match target {
            Target::Route(_) => {
                let status = answer["statusCode"].as_u64().unwrap();
                assert!((200..300).contains(&status), "{}: {answer}", path.display());
                assert!(answer["headers"]["x-request-id"].is_string(), "{answer}");
                kinds.insert("api");
            }
            Target::Worker(_) => {
                assert_eq!(answer["batchItemFailures"], json!([]), "{}: {answer}", path.display());
                kinds.insert("stream");
            }
            Target::Sweep(_) => {
                kinds.insert("sweep");
            }
            Target::ScheduledBackup => {
                kinds.insert("scheduled backup");
            }
        }
    }
    assert_eq!(kinds.len(), 4, "a fixture of every kind: {kinds:?}");
    // The stream fixture's job ran (or was already run by the runtime's own pump): it ended.
    assert_eq!(env.wait_job(&job).await["state"], "completed");
}
