//! Lambda function IntegrationsSyncFunction: `POST /v1/projects/{project_id}/integrations/{provider}/sync`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::IntegrationsSync).await
}
