//! Lambda function RestoreWorkerFunction: runs restore jobs from the table stream.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_worker("RestoreWorkerFunction").await
}
