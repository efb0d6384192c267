//! Lambda function WebhooksDeliveriesFunction: `GET /v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::WebhooksDeliveries).await
}
