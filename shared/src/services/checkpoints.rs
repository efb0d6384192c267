//! Named points in long jobs (after a swap, after a safety copy, …) at which a worker can be
//! stopped dead, as a crash there would stop it. In service nothing ever halts; the crash tests
//! halt a worker at each point in turn and prove the next attempt ends truthfully.

use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone, Default)]
pub struct Checkpoints {
    halt: Option<Arc<Halt>>,
}

struct Halt {
    at: String,
    reached: watch::Sender<bool>,
}

/// Tells a test when the worker has stopped at its checkpoint.
pub struct Halted(watch::Receiver<bool>);

impl Halted {
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|reached| *reached).await;
    }
}

impl Checkpoints {
    /// Checkpoints where a worker reaching `at` stops there for good.
    pub fn halting_at(at: &str) -> (Checkpoints, Halted) {
        let (reached, rx) = watch::channel(false);
        (Checkpoints { halt: Some(Arc::new(Halt { at: at.to_string(), reached })) }, Halted(rx))
    }

    /// Marks that the work got to `name`; never returns if a test halts work there.
    pub async fn reached(&self, name: &str) {
        if let Some(halt) = self.halt.as_ref().filter(|h| h.at == name) {
            tracing::warn!(checkpoint = name, "halting here, as a crash would");
            let _ = halt.reached.send(true);
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn only_the_named_checkpoint_halts() {
        let (points, halted) = Checkpoints::halting_at("restore.swapped");
        points.reached("restore.closed").await;
        Checkpoints::default().reached("restore.swapped").await;
        let stuck = tokio::time::timeout(Duration::from_millis(50), points.reached("restore.swapped")).await;
        assert!(stuck.is_err(), "the named point never returns");
        tokio::time::timeout(Duration::from_secs(1), halted.wait()).await.expect("the test is told");
    }
}
