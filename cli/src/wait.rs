//! Waiting for a job: polls with backoff, shows a spinner with the state, phase and elapsed
//! time when stderr is a terminal, and gives up after the wait timeout.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::size;
use capydb_api::jobs::{Job, JobResponse};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub async fn job(api: &Api, job_id: &str, timeout: Duration) -> Result<Job, CliError> {
    let started = Instant::now();
    let spinner = std::io::stderr().is_terminal().then(|| {
        let pb = ProgressBar::new_spinner();
        pb.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
        pb.enable_steady_tick(Duration::from_millis(100));
        pb
    });
    let mut delay = Duration::from_millis(250);
    loop {
        let job = api.get::<JobResponse>(&format!("/v1/jobs/{job_id}")).await?.job;
        let state = crate::output::name(&job.state);
        if let Some(pb) = &spinner {
            let phase = job.progress.as_ref().map_or("", |p| p.phase.as_str());
            let bytes = job
                .progress
                .as_ref()
                .map(|p| p.bytes_done)
                .filter(|b| *b > 0)
                .map(|b| format!(" · {}", size(Some(b))))
                .unwrap_or_default();
            pb.set_message(format!("{job_id} {state} {phase}{bytes} · {}s", started.elapsed().as_secs()));
        }
        if job.state.is_terminal() {
            if let Some(pb) = spinner {
                pb.finish_and_clear();
            }
            return Ok(job);
        }
        if started.elapsed() >= timeout {
            if let Some(pb) = spinner {
                pb.finish_and_clear();
            }
            return Err(CliError::Timeout(format!(
                "job {job_id} is still {state} after {}s; check it later with `capydb jobs get {job_id}`",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(2));
    }
}

/// Parses `90s`, `15m`, `2h` or plain seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = digits.parse().map_err(|_| format!("`{raw}` is not a duration like 90s, 15m or 2h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{raw}` is not a duration like 90s, 15m or 2h")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
