//! Lambda function BaseBackupFunction: a physical base backup of every WAL-archiving region
//! cluster (daily at 04:00 UTC), keeping the 30 newest and the WAL they need.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_sweeper(capydb_functions::workers::Sweep::BaseBackups).await
}
