//! Lambda function PreviewSweeperFunction: drops preview databases past their TTL (every 5 minutes).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_sweeper(capydb_functions::workers::Sweep::Previews).await
}
