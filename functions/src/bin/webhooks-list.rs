//! Lambda function WebhooksListFunction: `GET /v1/organizations/{org_id}/webhook-endpoints`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::WebhooksList).await
}
