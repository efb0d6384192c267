//! Lambda function NightlyDumpFunction: the platform's nightly backup of every project (02:15 UTC).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_sweeper(capydb_functions::workers::Sweep::Nightly).await
}
