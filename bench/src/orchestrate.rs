//! Sets up the stack and datasets, runs each measured step `runs` times and writes the report.

use crate::child::Measured;
use crate::report::{Dataset, Report, Sample};
use crate::stack::{Stack, REGION};
use anyhow::{bail, Context as _};
use bytes::Bytes;
use capydb_shared::config::Config;
use capydb_shared::domain::api_keys;
use capydb_shared::ids::{OrgId, ProjectId};
use capydb_shared::services::{bootstrap, jobs, Context};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// pgbench scale of the main dataset (the mixed dataset is sized to match).
    #[arg(long, env = "BENCH_SCALE", default_value_t = 20)]
    pub scale: u32,
    /// Repetitions of each step; the median is reported.
    #[arg(long, env = "BENCH_RUNS", default_value_t = 3)]
    pub runs: usize,
    #[arg(long, default_value = ".capydb/bench")]
    pub out: PathBuf,
    /// pgbench scale of the large dataset, which the parallel path is measured on too.
    #[arg(long, env = "BENCH_LARGE_SCALE", default_value_t = 100)]
    pub large_scale: u32,
    /// Only these datasets (comma-separated: pgbench, mixed, pgbench-large, pgbench-quarter,
    /// pitr); all by default.
    #[arg(long, env = "BENCH_DATASETS", value_delimiter = ',')]
    pub datasets: Vec<String>,
}

/// The full-size restore step that runs with the default job count, as the quarter-size
/// dataset's restore does: their peak RSS is compared.
pub const DEFAULT_RESTORE_STEP: &str =
    if capydb_shared::config::DEFAULT_RESTORE_JOBS == 1 { "ours_restore_j1" } else { "ours_restore_j2" };

/// Uploads of the naive pipeline: 8 MiB parts, as `aws s3 cp` sends them.
const NAIVE_PART: usize = 8 * 1024 * 1024;

pub async fn run(options: Options) -> anyhow::Result<()> {
    anyhow::ensure!(options.scale >= 4, "BENCH_SCALE must be at least 4 (a quarter-size dataset is measured too)");
    anyhow::ensure!(options.runs >= 1, "BENCH_RUNS must be at least 1");
    let stack = Stack::start()?;
    let config = Config::from_lookup(|k| stack.env.get(k).cloned())?;
    let ctx = Context::from_config(config).await;
    capydb_functions::local::ensure_storage(&ctx).await?;
    let org = OrgId::generate();
    bootstrap::organization(&ctx, &org, "Bench", &api_keys::generate_plaintext()).await?;
    let work = stack.dir.join("files");
    std::fs::create_dir_all(&work)?;

    eprintln!(
        "loading datasets (pgbench scale {}, its quarter, the mixed dataset, and pgbench scale {})…",
        options.scale, options.large_scale
    );
    let wanted = |name: &str| options.datasets.is_empty() || options.datasets.iter().any(|d| d == name);
    let mut full = Vec::new();
    if wanted("pgbench") {
        full.push(load(&ctx, &stack, &org, "pgbench", Loader::Pgbench(options.scale)).await?);
    }
    if wanted("mixed") {
        full.push(load(&ctx, &stack, &org, "mixed", Loader::Mixed(options.scale * 40_000)).await?);
    }
    if wanted("pgbench-large") {
        full.push(load(&ctx, &stack, &org, "pgbench-large", Loader::Pgbench(options.large_scale)).await?);
    }

    let mut report = Report::new(&options, machine(&stack)?);
    for dataset in &full {
        eprintln!("measuring {} ({:.0} MB)…", dataset.name, mb(dataset.database_bytes));
        let mut samples: BTreeMap<&'static str, Vec<Sample>> = BTreeMap::new();
        let naive_file = work.join(format!("{}.dump", dataset.name));
        for run in 0..options.runs {
            eprintln!("  run {}/{}", run + 1, options.runs);
            let t = timed(stack.pg_command("pg_dump").args(["-Fc", "-Z0", &dataset.database]))?;
            samples.entry("read_limit").or_default().push(Sample::time(t));

            let dump_s =
                timed(stack.pg_command("pg_dump").args(["-Fc", "-f"]).arg(&naive_file).arg(&dataset.database))?;
            let upload_s = naive_upload(&ctx, &naive_file, &format!("naive/{}-{run}.dump", dataset.name)).await?;
            let size = std::fs::metadata(&naive_file)?.len();
            samples.entry("naive_dump").or_default().push(Sample::sized(dump_s, size));
            samples.entry("naive_total").or_default().push(Sample::sized(dump_s + upload_s, size));

            let m = child(&stack, &["pipeline", dataset.project.as_str()], &[])?;
            samples.entry("ours_pipeline").or_default().push(Sample::from(&m));
            let m = child(&stack, &["backup-upload", dataset.project.as_str()], &[])?;
            samples.entry("ours_upload").or_default().push(Sample::from(&m));
            let backup = child(&stack, &["backup-job", dataset.project.as_str()], &[])?;
            samples.entry("ours_backup_job").or_default().push(Sample::from(&backup));

            parallel_path(&ctx, &stack, dataset, &work, run, &mut samples).await?;

            for jobs in [1u32, 2] {
                let target = format!("bench_pgrestore_{jobs}");
                drop_database(&stack, &target)?;
                // Into a new database, like ours: creating it is part of the work.
                let started = Instant::now();
                psql(&stack, "postgres", &format!("CREATE DATABASE {target}"))?;
                run_ok(
                    stack
                        .pg_command("pg_restore")
                        .args(["--no-owner", "--no-acl", "--exit-on-error", "-j", &jobs.to_string(), "-d", &target])
                        .arg(&naive_file),
                )?;
                let t = started.elapsed().as_secs_f64();
                check_restored(&stack, dataset, &target)?;
                drop_database(&stack, &target)?;
                samples
                    .entry(if jobs == 1 { "pg_restore_j1" } else { "pg_restore_j2" })
                    .or_default()
                    .push(Sample::time(t));

                let preview = format!("bench-{}-{run}-j{jobs}", dataset.name);
                let m = child(
                    &stack,
                    &["restore-job", dataset.project.as_str(), &backup.output, &preview],
                    &[("CAPYDB_RESTORE_JOBS", jobs.to_string())],
                )?;
                check_restored(&stack, dataset, &m.output)?;
                drop_database(&stack, &m.output)?;
                samples
                    .entry(if jobs == 1 { "ours_restore_j1" } else { "ours_restore_j2" })
                    .or_default()
                    .push(Sample::from(&m));
            }
        }
        report.add(dataset.clone(), samples);
    }

    if wanted("pgbench-quarter") {
        let quarter = load(&ctx, &stack, &org, "pgbench-quarter", Loader::Pgbench(options.scale / 4)).await?;
        memory_at_quarter(&stack, &options, &mut report, quarter)?;
    }

    if wanted("pitr") {
        point_in_time(&options, &mut report).await?;
    }

    write(&options, &report)
}

/// Point-in-time restores on a cluster of its own that archives its WAL (archiving would tax
/// every other measurement): a base backup, then a restore to the latest moment, per run. Its
/// MB/s are of the base backup's unpacked size, the unit `CAPYDB_PITR_BYTES_PER_SECOND` sizes
/// such a restore by.
async fn point_in_time(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    use capydb_shared::services::{archive_catalogue, base_backups};
    eprintln!("measuring point-in-time restores on a WAL-archiving cluster…");
    let stack = Stack::start_archiving()?;
    let ctx = Context::from_config(Config::from_lookup(|k| stack.env.get(k).cloned())?).await;
    capydb_functions::local::ensure_storage(&ctx).await?;
    let org = OrgId::generate();
    bootstrap::organization(&ctx, &org, "Bench", &api_keys::generate_plaintext()).await?;
    let mut dataset = load(&ctx, &stack, &org, "pitr", Loader::Pgbench(options.scale)).await?;
    let region = ctx.region(REGION)?.clone();
    let mut samples: BTreeMap<&'static str, Vec<Sample>> = BTreeMap::new();
    let mut tar_bytes = Vec::new();
    for run in 0..options.runs {
        eprintln!("  run {}/{}", run + 1, options.runs);
        let started = Instant::now();
        let taken = base_backups::take(&ctx, &region).await?;
        samples
            .entry("ours_base_backup")
            .or_default()
            .push(Sample::sized(started.elapsed().as_secs_f64(), taken.size_bytes));
        let base = archive_catalogue::get(ctx.wal_objects.as_ref(), REGION, &taken.base_backup_id)
            .await?
            .context("the base backup just taken")?;
        tar_bytes.push(base.tar_bytes);
        let preview = format!("bench-pitr-{run}");
        let m = child(&stack, &["pitr-job", dataset.project.as_str(), &preview], &[])?;
        check_restored(&stack, &dataset, &m.output)?;
        drop_database(&stack, &m.output)?;
        samples.entry("ours_pitr_job").or_default().push(Sample::from(&m));
    }
    let unpacked = tar_bytes.iter().max().copied().unwrap_or(0);
    dataset.description = format!(
        "{} on a WAL-archiving cluster; sizes and MB/s are of its base backup, the whole cluster unpacked",
        dataset.description
    );
    dataset.database_bytes = unpacked;
    report.add(dataset, samples);
    Ok(())
}

/// The parallel path with two jobs (this machine's cores) against the stock tools' own
/// parallel path: `pg_dump -Fd -j 2` to a local folder and `pg_restore -Fd -j 2` from it.
async fn parallel_path(
    ctx: &Context,
    stack: &Stack,
    dataset: &Dataset,
    work: &Path,
    run: usize,
    samples: &mut BTreeMap<&'static str, Vec<Sample>>,
) -> anyhow::Result<()> {
    let two = [("CAPYDB_DUMP_JOBS", "2".to_string()), ("CAPYDB_RESTORE_JOBS", "2".to_string())];
    let m = child(stack, &["backup-upload-parallel", dataset.project.as_str()], &two)?;
    samples.entry("ours_upload_parallel").or_default().push(Sample::from(&m));
    let backup = child(stack, &["backup-job", dataset.project.as_str()], &two)?;
    anyhow::ensure!(backup.output.ends_with(".dir/"), "the parallel backup is a directory archive: {}", backup.output);
    samples.entry("ours_backup_job_parallel").or_default().push(Sample::from(&backup));

    let folder = work.join(format!("{}-dir", dataset.name));
    let _ = std::fs::remove_dir_all(&folder);
    let t =
        timed(stack.pg_command("pg_dump").args(["-Fd", "-Z0", "-j", "2", "-f"]).arg(&folder).arg(&dataset.database))?;
    samples.entry("naive_dir_dump").or_default().push(Sample::time(t));
    let target = "bench_pgrestore_dir";
    drop_database(stack, target)?;
    let started = Instant::now();
    psql(stack, "postgres", &format!("CREATE DATABASE {target}"))?;
    run_ok(
        stack
            .pg_command("pg_restore")
            .args(["-Fd", "--no-owner", "--no-acl", "--exit-on-error", "-j", "2", "-d", target])
            .arg(&folder),
    )?;
    samples.entry("pg_restore_dir_j2").or_default().push(Sample::time(started.elapsed().as_secs_f64()));
    check_restored(stack, dataset, target)?;
    drop_database(stack, target)?;
    std::fs::remove_dir_all(&folder)?;

    let preview = format!("bench-{}-{run}-parallel", dataset.name);
    let m = child(stack, &["restore-job", dataset.project.as_str(), &backup.output, &preview], &two)?;
    check_restored(stack, dataset, &m.output)?;
    drop_database(stack, &m.output)?;
    samples.entry("ours_restore_parallel").or_default().push(Sample::from(&m));
    let id = backup.output.trim_end_matches(".dir/").rsplit('/').next().unwrap_or_default();
    if let Ok(id) = id.parse() {
        capydb_shared::services::backups::remove_stored(ctx, &dataset.project, &id).await?;
    }
    Ok(())
}

/// Peak RSS of a backup and a restore job at a quarter of the main dataset's size: it must not
/// grow with the data.
fn memory_at_quarter(stack: &Stack, options: &Options, report: &mut Report, quarter: Dataset) -> anyhow::Result<()> {
    eprintln!("measuring worker memory at a quarter of the size…");
    let mut samples: BTreeMap<&'static str, Vec<Sample>> = BTreeMap::new();
    for run in 0..options.runs {
        let backup = child(stack, &["backup-job", quarter.project.as_str()], &[])?;
        samples.entry("ours_backup_job").or_default().push(Sample::from(&backup));
        let preview = format!("bench-quarter-{run}");
        let m = child(stack, &["restore-job", quarter.project.as_str(), &backup.output, &preview], &[])?;
        check_restored(stack, &quarter, &m.output)?;
        drop_database(stack, &m.output)?;
        samples.entry("ours_restore_default").or_default().push(Sample::from(&m));
    }
    report.add(quarter, samples);
    Ok(())
}

fn write(options: &Options, report: &Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.out)?;
    let markdown = report.markdown();
    std::fs::write(options.out.join("results.md"), &markdown)?;
    std::fs::write(options.out.join("results.json"), serde_json::to_vec_pretty(&report)?)?;
    println!("{markdown}");
    eprintln!("written to {}/results.md and results.json", options.out.display());
    Ok(())
}

enum Loader {
    Pgbench(u32),
    Mixed(u32),
}

/// A project whose database holds the dataset; provisioned through the real provisioning job.
async fn load(ctx: &Context, stack: &Stack, org: &OrgId, name: &str, loader: Loader) -> anyhow::Result<Dataset> {
    let id = ProjectId::generate();
    let project = bootstrap::project(ctx, org, &id, name, REGION).await?;
    let job = ctx.jobs.list_jobs(&id, 10, None).await?.items.into_iter().next().context("provisioning job")?;
    jobs::run(ctx, &job.id).await?;
    let db = project.database_name.clone();
    // Loaded by the project's own role, as a customer would: the backup connects as that role
    // and reads only what it owns.
    let login = capydb_shared::services::projects::login(ctx, &project)?;
    let as_tenant = |tool: &str| {
        let mut cmd = stack.pg_command(tool);
        cmd.env("PGUSER", &login.role).env("PGPASSWORD", &login.password);
        cmd
    };
    let (table, description) = match loader {
        Loader::Pgbench(scale) => {
            run_ok(as_tenant("pgbench").args(["-i", "-q", "-s", &scale.to_string(), &db]))?;
            ("pgbench_accounts", format!("pgbench scale {scale}"))
        }
        Loader::Mixed(rows) => {
            run_ok(as_tenant("psql").args(["-Xq", "-v", "ON_ERROR_STOP=1", "-d", &db, "-c", &mixed_sql(rows)]))?;
            ("orders", format!("mixed types, {rows} rows"))
        }
    };
    psql(stack, &db, "VACUUM ANALYZE")?;
    let client = connect(stack, &db).await?;
    let size: i64 = client.query_one("SELECT pg_database_size(current_database())", &[]).await?.get(0);
    let rows: i64 = client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await?.get(0);
    Ok(Dataset {
        name: name.to_string(),
        description,
        project: id,
        database: db,
        database_bytes: size as u64,
        check_table: table.to_string(),
        check_rows: rows as u64,
    })
}

/// Orders with the column types real applications store: text that compresses, JSONB,
/// timestamps, numerics and random bytes that do not, with btree and GIN indexes.
fn mixed_sql(rows: u32) -> String {
    format!(
        "CREATE TABLE orders (
           id bigint PRIMARY KEY,
           created_at timestamptz NOT NULL,
           customer_email text NOT NULL,
           status text NOT NULL,
           amount numeric(12,2) NOT NULL,
           attributes jsonb NOT NULL,
           note text,
           payload bytea NOT NULL);
         INSERT INTO orders
         SELECT i,
                timestamptz '2025-01-01' + (i * interval '37 seconds'),
                'customer' || (i % 50000) || '@example.' || (ARRAY['com','org','net'])[1 + i % 3],
                (ARRAY['pending','paid','shipped','refunded'])[1 + i % 4],
                round((random() * 1000)::numeric, 2),
                jsonb_build_object('sku', 'SKU-' || (i % 997), 'qty', 1 + i % 9,
                                   'tags', jsonb_build_array('t' || (i % 13), 't' || (i % 7)),
                                   'ref', md5(i::text)),
                repeat('lorem ipsum dolor sit amet ', 1 + i % 5) || md5((i * 7)::text),
                decode(md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex')
         FROM generate_series(1, {rows}) AS i;
         CREATE INDEX orders_created_at ON orders (created_at);
         CREATE INDEX orders_email ON orders (customer_email);
         CREATE INDEX orders_attributes ON orders USING gin (attributes);"
    )
}

/// The restored database holds the dataset: a benchmark of a restore that lost rows is void.
fn check_restored(stack: &Stack, dataset: &Dataset, database: &str) -> anyhow::Result<()> {
    let out = stack
        .pg_command("psql")
        .args(["-XAtq", "-d", database, "-c", &format!("SELECT count(*) FROM {}", dataset.check_table)])
        .output()?;
    let rows: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    if rows != dataset.check_rows {
        bail!("{database}: {} has {rows} rows, expected {}", dataset.check_table, dataset.check_rows);
    }
    Ok(())
}

async fn connect(stack: &Stack, db: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(&stack.admin_url(db), tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

fn psql(stack: &Stack, db: &str, sql: &str) -> anyhow::Result<()> {
    run_ok(stack.pg_command("psql").args(["-Xq", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql]))
}

fn drop_database(stack: &Stack, db: &str) -> anyhow::Result<()> {
    psql(stack, "postgres", &format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output()?;
    if !out.status.success() {
        bail!("{:?} failed: {}", cmd.get_program(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn timed(cmd: &mut Command) -> anyhow::Result<f64> {
    let started = Instant::now();
    run_ok(cmd)?;
    Ok(started.elapsed().as_secs_f64())
}

/// Runs one of our steps in a fresh `capydb-bench child` process and reads its measurement.
fn child(stack: &Stack, args: &[&str], extra_env: &[(&str, String)]) -> anyhow::Result<Measured> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .arg("child")
        .args(args)
        .envs(&stack.env)
        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("child {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The job also writes its metric lines to stdout, as in service; the measurement is last.
    let printed = String::from_utf8_lossy(&out.stdout);
    let line = printed.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(line.trim()).with_context(|| format!("child {args:?} printed {printed:?}"))
}

/// The naive pipeline's second half: upload a finished dump file as `aws s3 cp` would, in
/// 8 MiB parts with several in flight.
async fn naive_upload(ctx: &Context, file: &Path, key: &str) -> anyhow::Result<f64> {
    use futures::{stream, StreamExt, TryStreamExt};
    let started = Instant::now();
    let objects = ctx.objects.clone();
    let upload_id = objects.start_upload(key).await?;
    // Parts are read as the uploads ask for them, so at most a few are in memory.
    let parts = stream::try_unfold(std::fs::File::open(file)?, |mut f| async move {
        let mut part = Vec::with_capacity(NAIVE_PART);
        (&mut f).take(NAIVE_PART as u64).read_to_end(&mut part)?;
        anyhow::Ok((!part.is_empty()).then(|| (Bytes::from(part), f)))
    });
    let etags: Vec<(u32, String)> = parts
        .enumerate()
        .map(|(i, part)| {
            let (objects, upload_id) = (objects.clone(), upload_id.clone());
            async move {
                let n = i as u32 + 1;
                anyhow::Ok((n, objects.upload_part(key, &upload_id, n, part?).await?))
            }
        })
        .buffered(4)
        .try_collect()
        .await?;
    objects.complete_upload(key, &upload_id, etags).await?;
    let seconds = started.elapsed().as_secs_f64();
    objects.delete(key).await?;
    Ok(seconds)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// The machine the numbers came from, for the report's header.
fn machine(stack: &Stack) -> anyhow::Result<BTreeMap<String, String>> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let version = String::from_utf8_lossy(&stack.pg_command("pg_dump").arg("--version").output()?.stdout).to_string();
    Ok(BTreeMap::from([
        ("cpu".to_string(), cpu.trim().to_string()),
        ("cores".to_string(), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string()),
        ("memory_gib".to_string(), format!("{:.0}", mem_kb as f64 / 1_048_576.0)),
        ("postgres".to_string(), version.trim().to_string()),
        ("date".to_string(), chrono::Utc::now().format("%Y-%m-%d").to_string()),
    ]))
}
