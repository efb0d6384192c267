//! Lambda function WebhooksTestFunction: `POST /v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/test`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::WebhooksTest).await
}
