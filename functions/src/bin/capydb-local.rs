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
    /// The built dashboard, served at every path outside `/v1`.
    #[arg(long, default_value = "dashboard/dist")]
    dashboard_dir: PathBuf,
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
    let runtime = Runtime::start(
        ctx.clone(),
        Options { listen: args.listen, dashboard: Some(args.dashboard_dir), ..Options::default() },
    )
    .await?;
    let demo = demo::ensure(&ctx, &args.state_dir, &args.demo_region).await?;
    println!("\nCapyDB Backups is running. In another shell:\n");
    println!("export CAPYDB_API_URL={}", runtime.api_url);
    println!("export CAPYDB_API_KEY={}", demo.api_key);
    println!("export CAPYDB_PROJECT={}", demo.project_id);
    println!("export PATH=\"$PWD/target/debug:$PATH\"\n");
    println!("then: capydb backups create --label first --wait\n");
    let dashboard = format!("{}/", runtime.api_url);
    println!("Dashboard: {dashboard}");
    match demo::sign_in_link(&ctx, &demo, &dashboard) {
        Some(link) => {
            println!("Sign in as the demo org's admin ({} h): {link}", demo::SIGN_IN_HOURS);
            // `make browser` reads it back, as the user would copy it.
            demo::write_private(&args.state_dir.join("sign-in.url"), &link)?;
        }
        None => println!("(no sign-in link: CAPYDB_SESSION_SECRET is not set; paste the API key above instead)"),
    }
    println!("(Ctrl-C stops the stack)");
    runtime.run_until_ctrl_c().await;
    Ok(())
}
