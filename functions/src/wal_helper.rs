//! `capydb-wal-archive`: the cluster's `archive_command` and the recovery instances'
//! `restore_command`. Exit codes are PostgreSQL's contract: 0 only when the file is durably
//! stored (push) or restored (fetch); 1 when a push failed (PostgreSQL retries it) or the
//! archive does not have the file (the normal end of recovery); 126 when a fetch failed for
//! any other reason, which makes PostgreSQL abort recovery instead of ending it early with
//! less data than asked for.

use capydb_shared::adapters::aws;
use capydb_shared::adapters::s3::S3ObjectStore;
use capydb_shared::services::wal_archive::{self, HelperConfig, Pushed};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "capydb-wal-archive", about = "Archive and restore WAL files in object storage")]
struct Args {
    #[arg(long)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// archive_command = 'capydb-wal-archive --config C push %p %f'
    Push { path: PathBuf, name: String },
    /// restore_command = 'capydb-wal-archive --config C fetch %f %p'
    Fetch { name: String, dest: PathBuf },
}

pub async fn main() -> ExitCode {
    let args = Args::parse();
    let config: HelperConfig = match std::fs::read(&args.config)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("capydb-wal-archive: cannot read {}: {e}", args.config.display());
            return ExitCode::from(if matches!(args.command, Command::Fetch { .. }) { 126 } else { 1 });
        }
    };
    let sdk = aws::sdk_config_for(&config.aws_region, config.endpoint_url.as_deref()).await;
    let store = S3ObjectStore::new(aws::s3_path_style(&sdk, config.endpoint_url.is_some()), config.bucket.clone());
    match args.command {
        Command::Push { path, name } => {
            if config.create_bucket {
                if let Err(e) = store.create_bucket_if_missing().await {
                    eprintln!("capydb-wal-archive: bucket {}: {e}", config.bucket);
                    return ExitCode::from(1);
                }
            }
            match wal_archive::push(&store, &config.region, &path, &name).await {
                Ok(Pushed::Stored) => ExitCode::SUCCESS,
                Ok(Pushed::AlreadyThere) => {
                    eprintln!("capydb-wal-archive: {name} was already archived with the same contents");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("capydb-wal-archive: archiving {name} failed: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Fetch { name, dest } => {
            // A blip in object storage must not end recovery early: retry before giving up.
            let mut last = String::new();
            for attempt in 0..3u64 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
                match wal_archive::fetch(&store, &config.region, &name, &dest).await {
                    Ok(true) => return ExitCode::SUCCESS,
                    Ok(false) => return ExitCode::from(1),
                    Err(e) => last = e.to_string(),
                }
            }
            eprintln!("capydb-wal-archive: fetching {name} failed: {last}");
            ExitCode::from(126)
        }
    }
}
