//! Lambda function PreviewsConnectionsFunction: `GET /v1/preview-databases/{preview_id}/connections`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::PreviewsConnections).await
}
