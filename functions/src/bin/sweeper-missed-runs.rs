//! Lambda function MissedRunsFunction: reports scheduled backups that did not happen (every 15 minutes).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_sweeper(capydb_functions::workers::Sweep::MissedRuns).await
}
