//! The local stand-in for ECS: a job handed to a task starts the task's binary (`capydb-lambda`
//! as `JobTask`) as a child process, with the environment a task gets, and its output goes to
//! this runtime's log.

use capydb_shared::ids::JobId;
use capydb_shared::ports::{LaunchError, TaskLauncher};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A task started here, for tests that stop one as a lost host would.
#[derive(Debug, Clone)]
pub struct LocalTask {
    pub job: JobId,
    pub arn: String,
    pub pid: u32,
}

pub struct ChildTasks {
    binary: PathBuf,
    /// Where each task gets a scratch folder of its own, as each Fargate task gets its own disk:
    /// a task sweeps what it finds in its scratch folder when it starts, which in a shared one
    /// would be other tasks' live sandboxes.
    scratch_root: PathBuf,
    /// What the task gets beyond this process's own environment (the tests' configuration,
    /// which they never put in the process environment).
    env: Vec<(String, String)>,
    started: Arc<Mutex<Vec<LocalTask>>>,
}

impl ChildTasks {
    pub fn new(binary: PathBuf, scratch_root: PathBuf, env: Vec<(String, String)>) -> Self {
        ChildTasks { binary, scratch_root, env, started: Arc::default() }
    }

    pub fn started(&self) -> Arc<Mutex<Vec<LocalTask>>> {
        self.started.clone()
    }
}

#[async_trait::async_trait]
impl TaskLauncher for ChildTasks {
    async fn launch(&self, job: &JobId) -> Result<String, LaunchError> {
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let arn = format!("arn:capydb:local:task/{id}");
        let scratch = self.scratch_root.join(format!("capydb-task-{id}"));
        std::fs::create_dir_all(&scratch).map_err(|e| LaunchError(format!("{}: {e}", scratch.display())))?;
        // Sandboxes run as `postgres` beneath it.
        std::fs::set_permissions(&scratch, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(|e| LaunchError(format!("{}: {e}", scratch.display())))?;
        let mut child = tokio::process::Command::new(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("CAPYDB_FUNCTION", crate::targets::TASK_FUNCTION)
            .env("CAPYDB_RUNNER", "task")
            .env("CAPYDB_JOB_ID", job.as_str())
            .env("CAPYDB_TASK_ARN", &arn)
            .env("CAPYDB_SCRATCH_DIR", &scratch)
            .env("CAPYDB_WORKER_ID", format!("task-{}", &arn[arn.len() - 8..]))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LaunchError(format!("{}: {e}", self.binary.display())))?;
        let pid = child.id().unwrap_or_default();
        tracing::info!(job = %job, task = arn, pid, binary = %self.binary.display(), "no ECS here: started the task's binary as a child process");
        self.started.lock().expect("task list").push(LocalTask { job: job.clone(), arn: arn.clone(), pid });
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        {
            let arn = arn.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(task = arn, "{line}");
                }
            });
        }
        let (job, task) = (job.clone(), arn.clone());
        tokio::spawn(async move {
            match child.wait().await {
                Ok(status) => tracing::info!(job = %job, task, %status, "task exited"),
                Err(e) => tracing::warn!(job = %job, task, error = %e, "task could not be waited for"),
            }
            // Its disk goes with it, as a Fargate task's does.
            let _ = std::fs::remove_dir_all(&scratch);
        });
        Ok(arn)
    }
}
