//! Lambda function JobSweeperFunction: re-queues jobs whose worker died (every minute).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_sweeper(capydb_functions::workers::Sweep::Jobs).await
}
