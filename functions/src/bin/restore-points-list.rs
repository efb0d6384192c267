//! Lambda function RestorePointsListFunction: `GET /v1/projects/{project_id}/restore-points`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::RestorePointsList).await
}
