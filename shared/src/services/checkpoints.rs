//! Named points in long jobs (after a swap, after a safety copy, …) at which a worker can be
//! stopped dead, as a crash there would stop it, or held while a test breaks something under
//! it. In service nothing ever stops; the crash tests halt a worker at each point in turn and
//! prove the next attempt ends truthfully.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

#[derive(Clone, Default)]
pub struct Checkpoints {
    stop: Option<Arc<Stop>>,
}

struct Stop {
    at: String,
    reached: watch::Sender<bool>,
    /// `None`: the worker halts for good. `Some`: it waits there once, until released.
    release: Option<Arc<Notify>>,
    paused: AtomicBool,
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
        Self::stopping_at(at, None)
    }

    /// Checkpoints where the first worker reaching `at` waits until the returned `Notify` is
    /// notified, then goes on; later arrivals pass straight through.
    pub fn pausing_at(at: &str) -> (Checkpoints, Halted, Arc<Notify>) {
        let release = Arc::new(Notify::new());
        let (points, halted) = Self::stopping_at(at, Some(release.clone()));
        (points, halted, release)
    }

    fn stopping_at(at: &str, release: Option<Arc<Notify>>) -> (Checkpoints, Halted) {
        let (reached, rx) = watch::channel(false);
        let stop = Stop { at: at.to_string(), reached, release, paused: AtomicBool::new(false) };
        (Checkpoints { stop: Some(Arc::new(stop)) }, Halted(rx))
    }

    /// Marks that the work got to `name`; never returns if a test halts work there, and returns
    /// only once released if a test pauses it there.
    pub async fn reached(&self, name: &str) {
        let Some(stop) = self.stop.as_ref().filter(|s| s.at == name) else { return };
        match &stop.release {
            None => {
                tracing::warn!(checkpoint = name, "halting here, as a crash would");
                let _ = stop.reached.send(true);
                std::future::pending::<()>().await;
            }
            Some(release) if !stop.paused.swap(true, Ordering::SeqCst) => {
                tracing::warn!(checkpoint = name, "pausing here until the test releases the work");
                let _ = stop.reached.send(true);
                release.notified().await;
            }
            Some(_) => {}
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

    #[tokio::test]
    async fn a_paused_checkpoint_holds_the_first_arrival_until_released_and_no_later_one() {
        let (points, halted, release) = Checkpoints::pausing_at("restore.safety_recorded");
        points.reached("restore.swapped").await;
        let first = tokio::spawn({
            let points = points.clone();
            async move { points.reached("restore.safety_recorded").await }
        });
        tokio::time::timeout(Duration::from_secs(1), halted.wait()).await.expect("the test is told");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!first.is_finished(), "held until released");
        release.notify_one();
        tokio::time::timeout(Duration::from_secs(1), first).await.expect("released").unwrap();
        tokio::time::timeout(Duration::from_millis(50), points.reached("restore.safety_recorded"))
            .await
            .expect("a later arrival passes");
    }
}
