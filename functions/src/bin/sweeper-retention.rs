//! Lambda function RetentionSweeperFunction: deletes backups past their retention (hourly).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_sweeper(capydb_functions::workers::Sweep::Retention).await
}
