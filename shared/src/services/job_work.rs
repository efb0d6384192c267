//! What the job runner (`jobs.rs`) asks of the work of one kind of job, and what the work hands
//! back. The runner claims, keeps the lease, retries and finishes; the work only does its job.
//! Both sides depend on this module and on nothing of each other.

use super::Context;
use crate::domain::events::Event;
use crate::domain::jobs::{Job, Progress};
use crate::store::RecordWrite;
use crate::Error;
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[async_trait]
pub trait JobWork: Send + Sync {
    /// Does the job's work; `Ok` with an error in the outcome is a failure of the work itself.
    async fn execute(&self, ctx: &Context, job: &Job, progress: &ProgressReporter) -> Result<Outcome, Error>;
    /// What to write when the job ends without its work finishing (worker gone, attempts spent,
    /// cancelled): its subject records failed, or completed where the work had got far enough.
    async fn abandoned(&self, ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error>;
}

/// How a job's work ended, with what to write in the finishing transaction.
pub struct Outcome {
    pub error: Option<String>,
    pub records: Vec<RecordWrite>,
    pub events: Vec<Event>,
}

/// Lets the work report its phase; phase changes are written promptly, byte counts ride along.
#[derive(Clone, Default)]
pub struct ProgressReporter {
    current: Arc<Mutex<Progress>>,
    changed: Arc<Notify>,
}

impl ProgressReporter {
    pub fn phase(&self, phase: &str) {
        let mut p = self.current.lock().expect("progress lock");
        p.phase = phase.to_string();
        p.bytes_done = 0;
        self.changed.notify_one();
    }

    pub fn bytes(&self, bytes_done: u64) {
        self.current.lock().expect("progress lock").bytes_done = bytes_done;
    }

    /// Resolves when the phase changes (the runner writes phase changes promptly).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await
    }

    pub(crate) fn snapshot(&self) -> Progress {
        self.current.lock().expect("progress lock").clone()
    }
}
