//! Lambda function BackupsGetFunction: `GET /v1/projects/{project_id}/backups/{backup_id}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::BackupsGet).await
}
