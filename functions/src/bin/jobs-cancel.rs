//! Lambda function JobsCancelFunction: `POST /v1/jobs/{job_id}/cancel`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::JobsCancel).await
}
