//! Lambda function ScheduledBackupFunction: what each project's daily schedule invokes.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_scheduled_backup().await
}
