//! Medians, ratios against the baselines, the goals, and the markdown / JSON report.

use crate::child::Measured;
use crate::orchestrate::Options;
use capydb_shared::ids::ProjectId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Serialize, Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub description: String,
    #[serde(skip)]
    pub project: ProjectId,
    #[serde(skip)]
    pub database: String,
    pub database_bytes: u64,
    pub check_table: String,
    pub check_rows: u64,
}

#[derive(Serialize, Clone, Debug)]
pub struct Sample {
    pub seconds: f64,
    pub bytes: Option<u64>,
    pub peak_rss_kb: Option<u64>,
}

impl Sample {
    pub fn time(seconds: f64) -> Sample {
        Sample { seconds, bytes: None, peak_rss_kb: None }
    }
    pub fn sized(seconds: f64, bytes: u64) -> Sample {
        Sample { seconds, bytes: Some(bytes), peak_rss_kb: None }
    }
}

impl From<&Measured> for Sample {
    fn from(m: &Measured) -> Sample {
        Sample {
            seconds: m.seconds,
            bytes: (m.archive_bytes > 0).then_some(m.archive_bytes),
            peak_rss_kb: Some(m.peak_rss_kb),
        }
    }
}

#[derive(Serialize, Debug)]
pub struct Step {
    pub median_seconds: f64,
    pub mb_per_second: f64,
    pub archive_bytes: Option<u64>,
    pub peak_rss_mb: Option<f64>,
    pub samples: Vec<Sample>,
}

#[derive(Serialize, Debug)]
pub struct DatasetResult {
    pub dataset: Dataset,
    pub steps: BTreeMap<&'static str, Step>,
}

#[derive(Serialize, Debug)]
pub struct Goal {
    pub goal: String,
    pub dataset: String,
    pub value: f64,
    pub limit: f64,
    pub met: bool,
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub machine: BTreeMap<String, String>,
    pub scale: u32,
    pub runs: usize,
    pub datasets: Vec<DatasetResult>,
    pub goals: Vec<Goal>,
}

/// What each step measures, in report order.
const STEPS: [(&str, &str); 18] = [
    ("read_limit", "`pg_dump -Fc -Z0 > /dev/null` (read limit)"),
    ("naive_dump", "`pg_dump -Fc` (gzip) to a file"),
    ("naive_total", "naive pipeline: `pg_dump -Fc` to a file, then upload"),
    ("ours_pipeline", "ours: dump → zstd → SHA-256 into a counting sink"),
    ("ours_upload", "ours: dump → zstd → SHA-256 → S3 multipart"),
    ("ours_backup_job", "ours: backup job incl. verification"),
    ("naive_dir_dump", "`pg_dump -Fd -Z0 -j 2` to a local folder"),
    ("ours_upload_parallel", "ours, parallel: `pg_dump -Fd -j 2` → each file zstd → SHA-256 → S3"),
    ("ours_backup_job_parallel", "ours, parallel: backup job incl. verification (2 jobs)"),
    ("pg_restore_dir_j2", "`CREATE DATABASE` + `pg_restore -Fd -j 2` from a local folder"),
    ("ours_restore_parallel", "ours, parallel: restore job (files fetched, `pg_restore -Fd -j 2`)"),
    ("pg_restore_j1", "`CREATE DATABASE` + `pg_restore` from a local file, 1 job"),
    ("ours_restore_j1", "ours: restore job into a new preview, 1 job"),
    ("pg_restore_j2", "`CREATE DATABASE` + `pg_restore -j 2` from a local file"),
    ("ours_restore_j2", "ours: restore job into a new preview, 2 jobs"),
    ("ours_restore_default", "ours: restore job, default job count"),
    ("ours_base_backup", "ours: base backup (`pg_basebackup` → zstd → S3, WAL switched and archived)"),
    ("ours_pitr_job", "ours: point-in-time restore job into a new preview (recovery copy → dump → restore)"),
];

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

impl Report {
    pub fn new(options: &Options, machine: BTreeMap<String, String>) -> Report {
        Report { machine, scale: options.scale, runs: options.runs, datasets: vec![], goals: vec![] }
    }

    pub fn add(&mut self, dataset: Dataset, samples: BTreeMap<&'static str, Vec<Sample>>) {
        let steps = samples
            .into_iter()
            .map(|(name, samples)| {
                let median_seconds = median(&mut samples.iter().map(|s| s.seconds).collect::<Vec<_>>());
                let step = Step {
                    median_seconds,
                    mb_per_second: dataset.database_bytes as f64 / 1e6 / median_seconds,
                    archive_bytes: samples.iter().filter_map(|s| s.bytes).max(),
                    peak_rss_mb: samples.iter().filter_map(|s| s.peak_rss_kb).max().map(|kb| kb as f64 / 1024.0),
                    samples,
                };
                (name, step)
            })
            .collect();
        self.datasets.push(DatasetResult { dataset, steps });
        self.goals = self.evaluate();
    }

    fn evaluate(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        let mut ratio = |goal: &str, d: &DatasetResult, ours: &str, base: &str, limit: f64| {
            if let (Some(o), Some(b)) = (d.steps.get(ours), d.steps.get(base)) {
                let value = o.median_seconds / b.median_seconds;
                goals.push(Goal {
                    goal: goal.into(),
                    dataset: d.dataset.name.clone(),
                    value,
                    limit,
                    met: value <= limit,
                });
            }
        };
        for d in &self.datasets {
            ratio("backup (no verification) / naive pipeline", d, "ours_upload", "naive_total", 0.5);
            ratio("streaming pipeline / read limit", d, "ours_pipeline", "read_limit", 1.15);
            ratio("restore, 1 job / pg_restore", d, "ours_restore_j1", "pg_restore_j1", 1.15);
            ratio("restore, 2 jobs / pg_restore -j 2", d, "ours_restore_j2", "pg_restore_j2", 1.15);
            ratio("parallel backup (no verification) / naive pipeline", d, "ours_upload_parallel", "naive_total", 0.5);
            ratio(
                "parallel restore / pg_restore -Fd -j 2 from a local folder",
                d,
                "ours_restore_parallel",
                "pg_restore_dir_j2",
                1.1,
            );
        }
        for d in &self.datasets {
            let size = |step: &str| d.steps.get(step).and_then(|s| s.archive_bytes);
            if let (Some(ours), Some(naive)) = (size("ours_upload"), size("naive_dump")) {
                let value = ours as f64 / naive as f64;
                goals.push(Goal {
                    goal: "archive size / `pg_dump -Fc` file".into(),
                    dataset: d.dataset.name.clone(),
                    value,
                    limit: 1.0,
                    met: value <= 1.0,
                });
            }
        }
        let peak = |d: &DatasetResult, steps: &[&str]| {
            steps.iter().filter_map(|s| d.steps.get(s).and_then(|s| s.peak_rss_mb)).fold(0.0, f64::max)
        };
        let all = [
            "ours_pipeline",
            "ours_upload",
            "ours_backup_job",
            "ours_restore_j1",
            "ours_restore_j2",
            "ours_restore_default",
            "ours_upload_parallel",
            "ours_backup_job_parallel",
            "ours_restore_parallel",
            "ours_pitr_job",
        ];
        for d in &self.datasets {
            let value = peak(d, &all);
            goals.push(Goal {
                goal: "worker peak RSS (MB)".into(),
                dataset: d.dataset.name.clone(),
                value,
                limit: 150.0,
                met: value < 150.0,
            });
        }
        // Flat memory: the full-size dataset's peak against its quarter's, backup and restore.
        let by_name = |n: &str| self.datasets.iter().find(|d| d.dataset.name == n);
        if let (Some(full), Some(quarter)) = (by_name("pgbench"), by_name("pgbench-quarter")) {
            for (what, full_step, quarter_step) in [
                ("backup", "ours_backup_job", "ours_backup_job"),
                ("restore", crate::orchestrate::DEFAULT_RESTORE_STEP, "ours_restore_default"),
            ] {
                let (f, q) = (peak(full, &[full_step]), peak(quarter, &[quarter_step]));
                if q > 0.0 {
                    let value = f / q;
                    goals.push(Goal {
                        goal: format!("{what} peak RSS, 4× data / 1× data"),
                        dataset: "pgbench".into(),
                        value,
                        limit: 1.25,
                        met: value <= 1.25,
                    });
                }
            }
        }
        // The parallel path's memory, across datasets of different sizes.
        if let (Some(large), Some(small)) = (by_name("pgbench-large"), by_name("pgbench")) {
            for (what, step) in
                [("parallel backup", "ours_backup_job_parallel"), ("parallel restore", "ours_restore_parallel")]
            {
                let (l, s) = (peak(large, &[step]), peak(small, &[step]));
                if s > 0.0 {
                    let value = l / s;
                    goals.push(Goal {
                        goal: format!(
                            "{what} peak RSS, pgbench-large / pgbench ({:.0}× data)",
                            large.dataset.database_bytes as f64 / small.dataset.database_bytes as f64
                        ),
                        dataset: "pgbench-large".into(),
                        value,
                        limit: 1.25,
                        met: value <= 1.25,
                    });
                }
            }
        }
        goals
    }

    /// Where jobs of this machine's measured speed would run: the largest database a Lambda
    /// run carries (its budget and scratch as the worker is configured by default) and how long a
    /// task would take on larger ones, with today's single stream. The rule is the workers' own
    /// (`domain::runner`); the throughput is the slowest full-size dataset's, as the defaults
    /// take it.
    fn placement(&self) -> String {
        use capydb_shared::domain::runner::{largest_lambda_backup, Limits};
        // Full-size datasets only: on the quarter, fixed costs (the sandbox's start) outweigh the
        // per-byte cost that decides large jobs.
        let slowest = |step: &str| {
            self.datasets
                .iter()
                .filter(|d| !d.dataset.name.ends_with("-quarter"))
                .filter_map(|d| d.steps.get(step).filter(|s| s.mb_per_second > 0.0).map(|s| (s.mb_per_second, d)))
                .min_by(|a, b| a.0.total_cmp(&b.0))
        };
        let mut out = String::new();
        let Some((backup, of)) = slowest("ours_backup_job") else { return out };
        let restore = slowest(crate::orchestrate::DEFAULT_RESTORE_STEP).map(|(r, _)| r).unwrap_or(0.0);
        let pitr = slowest("ours_pitr_job").map(|(p, _)| p);
        let limits = Limits {
            budget: chrono::Duration::seconds(720),
            scratch_bytes: 10 << 30,
            backup_bytes_per_second: (backup * 1e6) as u64,
            restore_bytes_per_second: (restore * 1e6) as u64,
            pitr_bytes_per_second: (pitr.unwrap_or(restore) * 1e6) as u64,
        };
        let by_time = backup * 1e6 * 720.0;
        let _ = writeln!(
            out,
            "### Where a job runs\n\nThe slowest backup job here ({}: {backup:.0} MB/s of database, verification included) \
             and restore job ({restore:.0} MB/s), against a Lambda run's 720 s and 10 GiB of scratch:\n",
            of.dataset.name
        );
        let _ = writeln!(out, "| | value |\n|---|---:|");
        let _ = writeln!(
            out,
            "| largest backup in a Lambda run | {:.1} GB ({}) |",
            largest_lambda_backup(&limits) as f64 / 1e9,
            if by_time > (10u64 << 30) as f64 * 0.8 { "scratch binds" } else { "time binds" }
        );
        let _ = writeln!(
            out,
            "| largest restore in a Lambda run (by time; it streams) | {:.1} GB |",
            restore * 720.0 / 1e3
        );
        if let Some(pitr) = pitr {
            let by_time = pitr * 720.0 / 1e3;
            let by_scratch = (10u64 << 30) as f64 * 0.8 / 1e9;
            let _ = writeln!(
                out,
                "| largest point-in-time restore in a Lambda run ({pitr:.0} MB/s of base backup) | {:.1} GB of base backup ({}) |",
                by_time.min(by_scratch),
                if by_time > by_scratch { "scratch binds" } else { "time binds" }
            );
        }
        for (label, bytes) in [("100 GB", 100e9), ("1 TB", 1e12)] {
            let _ = writeln!(
                out,
                "| {label} on a task, one stream: backup / restore | {:.1} h / {:.1} h |",
                bytes / (backup * 1e6) / 3600.0,
                if restore > 0.0 { bytes / (restore * 1e6) / 3600.0 } else { f64::NAN }
            );
        }
        // A task with 16 vCPUs runs 16 dump and restore jobs. Measured here with 2; the projection
        // scales the per-job rate, which holds only while there are as many tables of similar
        // size as jobs (one table is one stream) and S3 and the cluster keep up.
        if let (Some((pb, of)), Some((pr, _))) = (slowest("ours_backup_job_parallel"), slowest("ours_restore_parallel"))
        {
            let (b16, r16) = (pb * 8.0, pr * 8.0);
            for (label, bytes) in [("100 GB", 100e9), ("1 TB", 1e12)] {
                let _ = writeln!(
                    out,
                    "| {label} on a 16-vCPU task, 16 jobs (projected from {} with 2: ×8): backup / restore | {:.1} h / {:.1} h |",
                    of.dataset.name,
                    bytes / (b16 * 1e6) / 3600.0,
                    bytes / (r16 * 1e6) / 3600.0
                );
            }
        }
        out.push('\n');
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let get = |k: &str| m.get(k).map(String::as_str).unwrap_or("?");
        let _ = writeln!(
            out,
            "Measured {} on {} cores ({}), {} GiB RAM, {}; median of {} runs, local S3 emulator (moto).\n",
            get("date"),
            get("cores"),
            get("cpu"),
            get("memory_gib"),
            get("postgres"),
            self.runs
        );
        for d in &self.datasets {
            let _ = writeln!(
                out,
                "### {} — {} ({:.0} MB on disk)\n",
                d.dataset.name,
                d.dataset.description,
                d.dataset.database_bytes as f64 / 1e6
            );
            let _ = writeln!(out, "| step | median s | MB/s | archive MB | peak RSS MB |");
            let _ = writeln!(out, "|---|---:|---:|---:|---:|");
            for (key, label) in STEPS.iter() {
                if let Some(s) = d.steps.get(key) {
                    let _ = writeln!(
                        out,
                        "| {label} | {:.2} | {:.0} | {} | {} |",
                        s.median_seconds,
                        s.mb_per_second,
                        s.archive_bytes.map(|b| format!("{:.1}", b as f64 / 1e6)).unwrap_or_default(),
                        s.peak_rss_mb.map(|r| format!("{r:.1}")).unwrap_or_default()
                    );
                }
            }
            out.push('\n');
        }
        out.push_str(&self.placement());
        let _ = writeln!(out, "### Goals\n\n| goal | dataset | value | limit | met |\n|---|---|---:|---:|---|");
        for g in &self.goals {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {} {} | {} |",
                g.goal,
                g.dataset,
                g.value,
                if g.goal.contains("RSS (MB)") { "<" } else { "≤" },
                g.limit,
                if g.met { "yes" } else { "**no**" }
            );
        }
        out
    }
}
