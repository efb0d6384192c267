//! Lambda function ProvisionWorkerFunction: runs project provisioning jobs from the table stream.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_worker("ProvisionWorkerFunction").await
}
