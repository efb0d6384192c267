//! Lambda function RestoresGetFunction: `GET /v1/projects/{project_id}/restores/{restore_id}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::RestoresGet).await
}
