//! Lambda function OpenApiFunction: `GET /v1/openapi.json`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::OpenApi).await
}
