//! Lambda function CompletionFunction: fans outbox events out to webhook endpoints and runs
//! follow-ups (deployment integrations after a restore), from the table stream.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_worker("CompletionFunction").await
}
