//! Lambda function WebhooksRedeliverFunction: `POST /v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries/{delivery_id}/redeliver`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::WebhooksRedeliver).await
}
