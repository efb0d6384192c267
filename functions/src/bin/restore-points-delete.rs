//! Lambda function RestorePointsDeleteFunction: `DELETE /v1/projects/{project_id}/restore-points/{restore_point_id}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::RestorePointsDelete).await
}
