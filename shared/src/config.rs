//! Configuration read once per process from the environment. Lambda functions get these from
//! `template.yaml`; the local runtime and the tests set them directly.

use crate::domain::runner::{Limits, Runner};
use base64::Engine;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A region cluster that project databases live on.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct RegionConfig {
    pub name: String,
    /// Superuser connection used for provisioning, dumps and restores.
    pub admin_url: String,
    /// Host and port clients use to reach project databases.
    pub public_host: String,
    pub public_port: u16,
    /// Port of the connection pooler, when the region has one.
    #[serde(default)]
    pub pooled_port: Option<u16>,
    /// Whether the cluster ships its WAL continuously (`archive_mode = on`).
    #[serde(default)]
    pub wal_archiving: bool,
    /// How the region is shown to people; its name when not set.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Where it runs (for example `AWS us-east-1`).
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Clone)]
pub struct Config {
    pub table: String,
    pub bucket: String,
    pub aws_region: String,
    pub endpoint_url: Option<String>,
    pub regions: Vec<RegionConfig>,
    /// HMAC secret verifying human session tokens; sessions are refused when unset.
    pub session_secret: Option<String>,
    /// AES-256-GCM key for secrets stored in the table (database passwords).
    pub secrets_key: [u8; 32],
    pub worker_id: String,
    pub job_lease: Duration,
    pub job_max_attempts: u32,
    /// First wait before retrying a transiently failed job; it doubles per attempt.
    pub job_retry_base: Duration,
    /// How long after its creation a job may still be retried.
    pub job_retry_window: Duration,
    pub pg_bin_dir: Option<PathBuf>,
    /// `pg_restore --jobs` for restores and verification; above 1 the archive is staged in
    /// `scratch_dir` first (pg_restore cannot run parallel jobs from a pipe).
    pub restore_jobs: u32,
    /// `pg_dump --jobs` for backups (`CAPYDB_DUMP_JOBS`; 1 in a Lambda worker, the task's vCPUs in
    /// a task). Above 1 a backup is a directory-format archive, one object per file.
    pub dump_jobs: u32,
    pub scratch_dir: PathBuf,
    /// The most of the scratch volume a job counts on (`CAPYDB_SCRATCH_LIMIT_BYTES`), when the
    /// volume is shared with others; unset: whatever is free.
    pub scratch_limit: Option<u64>,
    /// Lets webhook receivers be private or loopback addresses, over plain http too: for the
    /// local runtime and tests only (`CAPYDB_WEBHOOKS_ALLOW_PRIVATE=true`).
    pub webhooks_allow_private: bool,
    /// Deployment providers' API base URLs (`CAPYDB_VERCEL_API_URL`, `CAPYDB_NETLIFY_API_URL`);
    /// tests point them at local fakes.
    pub vercel_api_url: String,
    pub netlify_api_url: String,
    /// Bucket of the WAL archive and base backups (`wal/<region>/`, `basebackups/<region>/`);
    /// the backup bucket unless `CAPYDB_WAL_BUCKET` says otherwise.
    pub wal_bucket: String,
    /// The `capydb-wal-archive` binary recovery instances fetch WAL with
    /// (`CAPYDB_WAL_HELPER`; default: beside this executable, else on `PATH`).
    pub wal_helper: PathBuf,
    /// EventBridge Scheduler group holding the per-project daily backup schedules.
    pub schedule_group: String,
    /// The function the schedules invoke, and the role they invoke it with.
    pub scheduled_backup_arn: String,
    pub scheduler_role_arn: String,
    /// What this process is: a Lambda worker, which may hand large jobs over, or the container
    /// task a job was handed to (`CAPYDB_RUNNER`, `lambda` by default).
    pub runner: Runner,
    /// Sends every job to this runner instead of estimating (`CAPYDB_FORCE_RUNNER`), for tests
    /// and for an operator who knows better.
    pub force_runner: Option<Runner>,
    /// What a Lambda run can carry and how fast work goes there (`CAPYDB_LAMBDA_BUDGET_SECONDS`,
    /// `CAPYDB_LAMBDA_SCRATCH_BYTES`, `CAPYDB_{BACKUP,RESTORE,PITR}_BYTES_PER_SECOND`); the
    /// defaults are the figures in ARCHITECTURE.md "Where a job runs".
    pub runner_limits: Limits,
    /// When a Lambda run stops its work and hands the job over (`CAPYDB_JOB_DEADLINE_SECONDS`,
    /// 840 in a Lambda worker: a minute before Lambda's 15-minute stop; none in a task).
    pub job_deadline: Option<Duration>,
    /// Where the container tasks run (`CAPYDB_TASK_*`; empty locally, where a child process
    /// stands in for them).
    pub task: TaskConfig,
}

/// The ECS task definition jobs are handed to, and its network.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskConfig {
    pub cluster: String,
    pub definition: String,
    pub container: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// The job a task process runs (`CAPYDB_JOB_ID`, set per task by the worker that launched
    /// it).
    pub job_id: Option<String>,
    /// The task's own ARN when the platform does not tell it (`CAPYDB_TASK_ARN`; the local
    /// stand-in sets it, ECS exposes it through its metadata endpoint).
    pub own_arn: Option<String>,
    /// The binary the local stand-in starts for a task (`CAPYDB_TASK_BINARY`; default:
    /// `capydb-lambda` beside this executable).
    pub binary: PathBuf,
}

/// Chosen from `make bench` on a 2-core worker; see ARCHITECTURE.md "Performance choices".
pub const DEFAULT_RESTORE_JOBS: u32 = 2;

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("bucket", &self.bucket)
            .field("aws_region", &self.aws_region)
            .field("endpoint_url", &self.endpoint_url)
            .field("regions", &self.regions.iter().map(|r| &r.name).collect::<Vec<_>>())
            .field("worker_id", &self.worker_id)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name));
        let regions_json = required("CAPYDB_REGIONS")?;
        let regions: Vec<RegionConfig> = serde_json::from_str(&regions_json)
            .map_err(|e| ConfigError::Invalid { name: "CAPYDB_REGIONS", reason: e.to_string() })?;
        if regions.is_empty() {
            return Err(ConfigError::Invalid { name: "CAPYDB_REGIONS", reason: "no regions configured".into() });
        }
        let key_b64 = required("CAPYDB_SECRETS_KEY")?;
        let key_bytes = base64::engine::general_purpose::STANDARD
            .decode(key_b64.trim())
            .map_err(|e| ConfigError::Invalid { name: "CAPYDB_SECRETS_KEY", reason: e.to_string() })?;
        let secrets_key: [u8; 32] = key_bytes.try_into().map_err(|_| ConfigError::Invalid {
            name: "CAPYDB_SECRETS_KEY",
            reason: "must be 32 bytes, base64-encoded".into(),
        })?;
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => {
                    v.parse().map_err(|_| ConfigError::Invalid { name, reason: format!("`{v}` is not a whole number") })
                }
            }
        };
        let lease = number("CAPYDB_JOB_LEASE_SECONDS", 60)?;
        if lease < 3 {
            return Err(ConfigError::Invalid { name: "CAPYDB_JOB_LEASE_SECONDS", reason: "must be at least 3".into() });
        }
        let restore_jobs = number("CAPYDB_RESTORE_JOBS", DEFAULT_RESTORE_JOBS.into())?;
        if !(1..=16).contains(&restore_jobs) {
            return Err(ConfigError::Invalid {
                name: "CAPYDB_RESTORE_JOBS",
                reason: "must be between 1 and 16".into(),
            });
        }
        let runner_var = |name: &'static str| -> Result<Option<Runner>, ConfigError> {
            match get(name).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => Runner::parse(&v)
                    .map(Some)
                    .ok_or(ConfigError::Invalid { name, reason: format!("`{v}` is not `lambda` or `task`") }),
            }
        };
        let runner = runner_var("CAPYDB_RUNNER")?.unwrap_or(Runner::Lambda);
        let default_dump_jobs = match runner {
            Runner::Lambda => 1,
            Runner::Task => std::thread::available_parallelism().map_or(1, |n| n.get() as u64).min(16),
        };
        let dump_jobs = number("CAPYDB_DUMP_JOBS", default_dump_jobs)?;
        if !(1..=16).contains(&dump_jobs) {
            return Err(ConfigError::Invalid { name: "CAPYDB_DUMP_JOBS", reason: "must be between 1 and 16".into() });
        }
        let list = |name: &str| -> Vec<String> {
            get(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect()
        };
        let text = |name: &str| get(name).filter(|v| !v.is_empty());
        let deadline = match (runner, number("CAPYDB_JOB_DEADLINE_SECONDS", 0)?) {
            (Runner::Task, 0) => None,
            (Runner::Lambda, 0) => Some(Duration::from_secs(DEFAULT_LAMBDA_DEADLINE_SECONDS)),
            (_, seconds) => Some(Duration::from_secs(seconds)),
        };
        Ok(Config {
            runner,
            force_runner: runner_var("CAPYDB_FORCE_RUNNER")?,
            runner_limits: Limits {
                budget: chrono::Duration::seconds(number("CAPYDB_LAMBDA_BUDGET_SECONDS", 720)? as i64),
                scratch_bytes: number("CAPYDB_LAMBDA_SCRATCH_BYTES", 10 << 30)?,
                backup_bytes_per_second: number("CAPYDB_BACKUP_BYTES_PER_SECOND", DEFAULT_BACKUP_BYTES_PER_SECOND)?,
                restore_bytes_per_second: number("CAPYDB_RESTORE_BYTES_PER_SECOND", DEFAULT_RESTORE_BYTES_PER_SECOND)?,
                pitr_bytes_per_second: number("CAPYDB_PITR_BYTES_PER_SECOND", DEFAULT_PITR_BYTES_PER_SECOND)?,
            },
            job_deadline: deadline,
            task: TaskConfig {
                cluster: text("CAPYDB_TASK_CLUSTER").unwrap_or_default(),
                definition: text("CAPYDB_TASK_DEFINITION").unwrap_or_default(),
                container: text("CAPYDB_TASK_CONTAINER").unwrap_or_else(|| "worker".into()),
                subnets: list("CAPYDB_TASK_SUBNETS"),
                security_groups: list("CAPYDB_TASK_SECURITY_GROUPS"),
                job_id: text("CAPYDB_JOB_ID"),
                own_arn: text("CAPYDB_TASK_ARN"),
                binary: text("CAPYDB_TASK_BINARY")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| beside_this_executable("capydb-lambda")),
            },
            table: required("CAPYDB_TABLE")?,
            bucket: required("CAPYDB_BUCKET")?,
            aws_region: get("AWS_REGION").filter(|v| !v.is_empty()).unwrap_or_else(|| "us-east-1".into()),
            endpoint_url: get("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()),
            regions,
            session_secret: get("CAPYDB_SESSION_SECRET").filter(|v| !v.is_empty()),
            secrets_key,
            worker_id: get("CAPYDB_WORKER_ID").filter(|v| !v.is_empty()).unwrap_or_else(|| {
                format!("worker-{}-{}", std::process::id(), ulid::Ulid::new().to_string().to_lowercase())
            }),
            job_lease: Duration::from_secs(lease),
            job_max_attempts: number("CAPYDB_JOB_MAX_ATTEMPTS", 3)? as u32,
            job_retry_base: Duration::from_secs(number("CAPYDB_JOB_RETRY_BASE_SECONDS", 30)?),
            job_retry_window: Duration::from_secs(number("CAPYDB_JOB_RETRY_WINDOW_MINUTES", 120)? * 60),
            pg_bin_dir: get("CAPYDB_PG_BIN_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
            restore_jobs: restore_jobs as u32,
            dump_jobs: dump_jobs as u32,
            scratch_limit: match number("CAPYDB_SCRATCH_LIMIT_BYTES", 0)? {
                0 => None,
                limit => Some(limit),
            },
            webhooks_allow_private: get("CAPYDB_WEBHOOKS_ALLOW_PRIVATE").is_some_and(|v| v == "true" || v == "1"),
            vercel_api_url: get("CAPYDB_VERCEL_API_URL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "https://api.vercel.com".into()),
            wal_bucket: get("CAPYDB_WAL_BUCKET").filter(|v| !v.is_empty()).unwrap_or(required("CAPYDB_BUCKET")?),
            wal_helper: get("CAPYDB_WAL_HELPER")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(default_wal_helper),
            netlify_api_url: get("CAPYDB_NETLIFY_API_URL")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "https://api.netlify.com".into()),
            scratch_dir: get("CAPYDB_SCRATCH_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
            schedule_group: get("CAPYDB_SCHEDULE_GROUP")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "capydb-backups".into()),
            scheduled_backup_arn: get("CAPYDB_SCHEDULED_BACKUP_ARN")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "arn:aws:lambda:us-east-1:000000000000:function:capydb-scheduled-backup".into()),
            scheduler_role_arn: get("CAPYDB_SCHEDULER_ROLE_ARN")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "arn:aws:iam::000000000000:role/capydb-scheduler".into()),
        })
    }

    pub fn region(&self, name: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.name == name)
    }
}

fn default_wal_helper() -> PathBuf {
    beside_this_executable("capydb-wal-archive")
}

/// `name` in this executable's folder if it is there, else `name` (found on `PATH`).
fn beside_this_executable(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Lambda stops an invocation at 900 s; a run gives its job up a minute before that, so the
/// hand-over and the attempt's last writes still happen.
pub const DEFAULT_LAMBDA_DEADLINE_SECONDS: u64 = 840;
/// Measured by `make bench` (README "Performance", 2026-12-03): the backup job, verification
/// included, on the slowest dataset (mixed types: 431 MB in 13.0 s; 10.8 s the day before).
pub const DEFAULT_BACKUP_BYTES_PER_SECOND: u64 = 33_000_000;
/// The restore job on the same dataset ran at 39–55 MB/s of database size; a dump is smaller
/// than the database it came from, so per dump byte it is slower. Taken lower, at 30 MB/s.
pub const DEFAULT_RESTORE_BYTES_PER_SECOND: u64 = 30_000_000;
/// Measured by `make bench`: a point-in-time restore job to the latest moment ran at 56 MB/s of
/// the base backup's unpacked size (a 345 MB cluster, pgbench scale 20, little WAL to replay);
/// rounded down.
pub const DEFAULT_PITR_BYTES_PER_SECOND: u64 = 50_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    const REGIONS: &str = r#"[{"name":"local-1","admin_url":"postgres://postgres:pw@127.0.0.1:5433/postgres","public_host":"127.0.0.1","public_port":5433,"wal_archiving":true}]"#;
    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn reads_a_complete_environment() {
        let c = Config::from_lookup(env(&[
            ("CAPYDB_TABLE", "t"),
            ("CAPYDB_BUCKET", "b"),
            ("CAPYDB_REGIONS", REGIONS),
            ("CAPYDB_SECRETS_KEY", KEY),
        ]))
        .unwrap();
        assert_eq!(c.region("local-1").unwrap().public_port, 5433);
        assert_eq!(c.job_lease, Duration::from_secs(60));
        assert!(c.session_secret.is_none());
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        let e = Config::from_lookup(env(&[("CAPYDB_TABLE", "t")])).unwrap_err();
        assert!(e.to_string().contains("CAPYDB_REGIONS"), "{e}");
        let e = Config::from_lookup(env(&[
            ("CAPYDB_TABLE", "t"),
            ("CAPYDB_BUCKET", "b"),
            ("CAPYDB_REGIONS", REGIONS),
            ("CAPYDB_SECRETS_KEY", "c2hvcnQ="),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("32 bytes"), "{e}");
    }
}
