//! The local runtime: every route, worker and schedule in one process (see `make dev`).

use capydb_functions::local::{demo, Options, Runtime};
use capydb_shared::config::Config;
use capydb_shared::services::Context;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Run CapyDB Backups locally against moto and local PostgreSQL clusters")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Folder holding the demo org, project and key between runs.
    #[arg(long, default_value = ".capydb")]
    state_dir: PathBuf,
    /// Region of the demo project.
    #[arg(long, default_value = "local-1")]
    demo_region: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,aws=warn".into()),
        )
        .init();
    let args = Args::parse();
    let ctx = Context::from_config(Config::from_env()?).await;
    let runtime = Runtime::start(ctx.clone(), Options { listen: args.listen, ..Options::default() }).await?;
    let demo = demo::ensure(&ctx, &args.state_dir, &args.demo_region).await?;
    println!("\nCapyDB Backups is running. In another shell:\n");
    println!("export CAPYDB_API_URL={}", runtime.api_url);
    println!("export CAPYDB_API_KEY={}", demo.api_key);
    println!("export CAPYDB_PROJECT={}", demo.project_id);
    println!("export PATH=\"$PWD/target/debug:$PATH\"\n");
    println!("then: capydb backups create --label first --wait\n(Ctrl-C stops the stack)");
    runtime.run_until_ctrl_c().await;
    Ok(())
}
