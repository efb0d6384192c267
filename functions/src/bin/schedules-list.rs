//! Lambda function SchedulesListFunction: `GET /v1/projects/{project_id}/scheduled-backups`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::SchedulesList).await
}
