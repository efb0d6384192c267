//! Lambda function ProjectsConnectionsFunction: `GET /v1/projects/{project_id}/connections`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::ProjectsConnections).await
}
