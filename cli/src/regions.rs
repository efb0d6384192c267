//! `capydb regions list`.

use crate::client::Api;
use crate::exit::CliError;
use crate::output::{self, opt, Format};
use capydb_api::projects::RegionList;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum RegionsCmd {
    List,
}

pub async fn run(api: &Api, cmd: &RegionsCmd, out: Format) -> Result<(), CliError> {
    match cmd {
        RegionsCmd::List => {
            let v: RegionList = api.get("/v1/regions").await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::table(
                    &v.region_details,
                    &[
                        ("REGION", &|r| r.id.clone()),
                        ("NAME", &|r| r.display_name.clone()),
                        ("PITR", &|r| r.pitr_available.to_string()),
                        ("EARLIEST", &|r| opt(&r.earliest_restore_time)),
                        ("LATEST", &|r| opt(&r.latest_restore_time)),
                        ("ARCHIVE LAG (S)", &|r| opt(&r.archive_lag_seconds)),
                    ],
                ),
            }
            Ok(())
        }
    }
}
