//! Operator commands: bootstrap an organisation with its first admin API key; take a base
//! backup of a region on demand.

use capydb_shared::config::Config;
use capydb_shared::domain::api_keys;
use capydb_shared::ids::OrgId;
use capydb_shared::services::{base_backups, bootstrap, Context};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "CapyDB Backups operator commands (uses the same environment as the functions)")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an organisation and print its id and a new admin API key (shown once).
    BootstrapOrg {
        #[arg(long)]
        name: String,
    },
    /// Take a physical base backup of a WAL-archiving region now (what the daily function
    /// does), e.g. from the cluster host when the cluster is too large for a Lambda run.
    BaseBackup {
        #[arg(long)]
        region: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let ctx = Context::from_config(Config::from_env()?).await;
    match args.command {
        Command::BootstrapOrg { name } => {
            let org_id = OrgId::generate();
            let key = api_keys::generate_plaintext();
            bootstrap::organization(&ctx, &org_id, &name, &key).await?;
            println!("org_id={org_id}\napi_key={key}");
        }
        Command::BaseBackup { region } => {
            let region = ctx.region(&region)?.clone();
            let taken = base_backups::take(&ctx, &region).await?;
            println!("{}", serde_json::to_string_pretty(&taken)?);
        }
    }
    Ok(())
}
