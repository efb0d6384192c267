//! Lambda function BackupsDownloadUrlFunction:
//! `POST /v1/projects/{project_id}/backups/{backup_id}/download-url`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::BackupsDownloadUrl).await
}
