//! Lambda function JobsGetFunction: `GET /v1/jobs/{job_id}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::JobsGet).await
}
