//! `make bench`: how fast our backup and restore paths move data, and what they cost in memory,
//! next to the raw PostgreSQL tools on the same machine and the same local S3 emulator.
//!
//! The orchestrator (`capydb-bench` without a subcommand) starts its own moto and cluster, loads the datasets and
//! runs every measured step several times. Each of our steps runs in a fresh child process
//! (`capydb-bench child …`) so its peak RSS is the worker's alone.

mod child;
mod orchestrate;
mod report;
mod stack;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmark CapyDB backups and restores against pg_dump / pg_restore")]
struct Args {
    /// Without a subcommand: run every measurement and write the report.
    #[command(flatten)]
    options: orchestrate::Options,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// One measured step in its own process; prints one JSON line. Used by the orchestrator.
    #[command(hide = true)]
    Child {
        #[command(subcommand)]
        step: child::Step,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match args.command {
        None => runtime.block_on(orchestrate::run(args.options)),
        Some(Command::Child { step }) => runtime.block_on(child::run(step)),
    }
}
