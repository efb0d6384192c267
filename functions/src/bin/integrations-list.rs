//! Lambda function IntegrationsListFunction: `GET /v1/projects/{project_id}/integrations`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::IntegrationsList).await
}
