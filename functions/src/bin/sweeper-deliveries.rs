//! Lambda function DeliveryRetryFunction: retries due webhook deliveries and integration pushes
//! (every minute).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_sweeper(capydb_functions::workers::Sweep::Deliveries).await
}
