//! `make bench`: how fast our backup and restore paths move data, and what they cost in memory,
//! next to the raw PostgreSQL tools on the same machine and the same local S3 emulator.
//!
//! The orchestrator (`capydb-bench run`) starts its own moto and cluster, loads the datasets and
//! runs every measured step several times. Each of our steps runs in a fresh child process
//! (`capydb-bench child …`) so its peak RSS is the worker's alone.

mod child;
mod orchestrate;
mod report;
mod stack;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Benchmark CapyDB backups and restores against pg_dump / pg_restore")]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every measurement and write the report (the default).
    Run(orchestrate::Options),
    /// One measured step in its own process; prints one JSON line. Used by `run`.
    #[command(hide = true)]
    Child {
        #[command(subcommand)]
        step: child::Step,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match args.command.unwrap_or(Command::Run(orchestrate::Options::default_from_env())) {
        Command::Run(options) => runtime.block_on(orchestrate::run(options)),
        Command::Child { step } => runtime.block_on(child::run(step)),
    }
}

/// Where the report goes (an ignored folder of the checkout).
pub fn default_out_dir() -> PathBuf {
    PathBuf::from(".capydb/bench")
}
