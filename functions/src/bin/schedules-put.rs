//! Lambda function SchedulesPutFunction: `PUT /v1/projects/{project_id}/scheduled-backups/{schedule_id}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::SchedulesPut).await
}
