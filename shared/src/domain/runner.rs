//! Where a job runs: in a Lambda invocation (stopped at 15 minutes, 10 GiB of scratch) or in a
//! container task (no time limit, a disk sized for it), chosen from an estimate of the work and
//! the throughput `make bench` measured. The rule is pure; the service measures and hands over.

use chrono::Duration;
use serde::{Deserialize, Serialize};

/// What runs a job's attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runner {
    Lambda,
    Task,
}

impl Runner {
    pub fn as_str(self) -> &'static str {
        match self {
            Runner::Lambda => "lambda",
            Runner::Task => "task",
        }
    }

    pub fn parse(value: &str) -> Option<Runner> {
        match value {
            "lambda" => Some(Runner::Lambda),
            "task" => Some(Runner::Task),
            _ => None,
        }
    }
}

/// The work a job will do, as far as it can be known before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A dump and its verification: `pg_database_size` of the project database. Verification
    /// restores it into a throw-away instance on the worker's scratch disk.
    Backup { database_bytes: u64 },
    /// A restore: the backup's recorded uncompressed dump size. A custom archive streams into
    /// the cluster; a directory archive's files are `fetched` onto scratch first.
    Restore { dump_bytes: u64, fetched: bool },
    /// A point-in-time restore: the region's base backup, unpacked on scratch and replayed.
    PitrRestore { base_backup_bytes: u64 },
}

/// What a Lambda run can carry, and how fast the work goes there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The time a job may plan to take in one invocation: under the 15-minute hard stop, with
    /// room for a slow start and the finishing writes.
    pub budget: Duration,
    /// Scratch space of one invocation.
    pub scratch_bytes: u64,
    /// Database bytes per second through dump, upload and verification.
    pub backup_bytes_per_second: u64,
    /// Dump bytes per second through download, decompression and `pg_restore`.
    pub restore_bytes_per_second: u64,
    /// Base-backup bytes per second through download, unpacking and replay.
    pub pitr_bytes_per_second: u64,
}

/// Scratch a job may plan to fill: a disk filled to the last byte fails, so a margin stays free.
const SCRATCH_USE: f64 = 0.8;

/// Where a job should run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub runner: Runner,
    pub predicted: Duration,
    pub reason: String,
}

fn predicted(bytes: u64, per_second: u64) -> Duration {
    Duration::seconds(bytes.div_ceil(per_second.max(1)) as i64)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Lambda when the work is predicted to finish inside the budget and fit its scratch space;
/// a task otherwise.
pub fn choose(work: Work, limits: &Limits) -> Choice {
    let (bytes, rate, scratch) = match work {
        Work::Backup { database_bytes } => (database_bytes, limits.backup_bytes_per_second, database_bytes),
        Work::Restore { dump_bytes, fetched } => {
            (dump_bytes, limits.restore_bytes_per_second, if fetched { dump_bytes } else { 0 })
        }
        Work::PitrRestore { base_backup_bytes } => (base_backup_bytes, limits.pitr_bytes_per_second, base_backup_bytes),
    };
    let time = predicted(bytes, rate);
    let room = (limits.scratch_bytes as f64 * SCRATCH_USE) as u64;
    let (runner, reason) = if time > limits.budget {
        (
            Runner::Task,
            format!(
                "{} at {} MB/s takes about {} s, more than a Lambda run's {} s",
                gib(bytes),
                rate / 1_000_000,
                time.num_seconds(),
                limits.budget.num_seconds()
            ),
        )
    } else if scratch > room {
        (Runner::Task, format!("it needs {} of scratch; a Lambda run has {} to spare", gib(scratch), gib(room)))
    } else {
        (Runner::Lambda, format!("{} fits a Lambda run (about {} s)", gib(bytes), time.num_seconds()))
    };
    Choice { runner, predicted: time, reason }
}

/// The largest database a backup may have to run in Lambda under `limits`.
pub fn largest_lambda_backup(limits: &Limits) -> u64 {
    let by_time = limits.backup_bytes_per_second.saturating_mul(limits.budget.num_seconds().max(0) as u64);
    by_time.min((limits.scratch_bytes as f64 * SCRATCH_USE) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1_000_000_000;

    fn limits() -> Limits {
        Limits {
            budget: Duration::minutes(12),
            scratch_bytes: 10 << 30,
            backup_bytes_per_second: 40_000_000,
            restore_bytes_per_second: 30_000_000,
            pitr_bytes_per_second: 50_000_000,
        }
    }

    #[test]
    fn small_work_stays_in_lambda_and_large_work_goes_to_a_task() {
        assert_eq!(choose(Work::Backup { database_bytes: GB }, &limits()).runner, Runner::Lambda);
        let big = choose(Work::Backup { database_bytes: 40 * GB }, &limits());
        assert_eq!(big.runner, Runner::Task);
        assert!(big.reason.contains("more than a Lambda run's 720 s"), "{}", big.reason);
        assert_eq!(choose(Work::Restore { dump_bytes: 10 * GB, fetched: false }, &limits()).runner, Runner::Lambda);
        let long = Work::Restore { dump_bytes: 30 * GB, fetched: false };
        assert_eq!(choose(long, &limits()).runner, Runner::Task, "1000 s at 30 MB/s");
    }

    #[test]
    fn work_that_would_fill_the_scratch_disk_goes_to_a_task_even_when_it_is_quick() {
        let fast = Limits { backup_bytes_per_second: 1000 * 1_000_000, ..limits() };
        let c = choose(Work::Backup { database_bytes: 9 << 30 }, &fast);
        assert_eq!(c.runner, Runner::Task, "9 GiB verified in a sandbox on 10 GiB of scratch");
        assert!(c.reason.contains("scratch"), "{}", c.reason);
        assert_eq!(choose(Work::PitrRestore { base_backup_bytes: 9 << 30 }, &fast).runner, Runner::Task);
        let streamed = Work::Restore { dump_bytes: 9 << 30, fetched: false };
        assert_eq!(choose(streamed, &fast).runner, Runner::Lambda, "a custom archive's restore streams");
        let fetched = Work::Restore { dump_bytes: 9 << 30, fetched: true };
        assert_eq!(choose(fetched, &fast).runner, Runner::Task, "a directory archive's files are fetched onto scratch");
    }

    #[test]
    fn the_boundary_is_the_budget_and_the_largest_lambda_backup_follows_from_it() {
        let edge = 40_000_000 * 720;
        let roomy = Limits { scratch_bytes: 100 << 30, ..limits() };
        assert_eq!(choose(Work::Backup { database_bytes: edge }, &roomy).runner, Runner::Lambda);
        assert_eq!(choose(Work::Backup { database_bytes: edge + 40_000_001 }, &roomy).runner, Runner::Task);
        assert_eq!(largest_lambda_backup(&roomy), edge, "time binds with room on disk");
        assert_eq!(largest_lambda_backup(&limits()), (10u64 << 30) * 8 / 10, "scratch binds first on Lambda's 10 GiB");
    }

    #[test]
    fn runner_names_round_trip() {
        for r in [Runner::Lambda, Runner::Task] {
            assert_eq!(Runner::parse(r.as_str()), Some(r));
        }
        assert_eq!(Runner::parse("fargate"), None);
    }
}
