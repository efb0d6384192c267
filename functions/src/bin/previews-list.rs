//! Lambda function PreviewsListFunction: `GET /v1/projects/{project_id}/preview-databases`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::PreviewsList).await
}
