//! Lambda function RegionsListFunction: `GET /v1/regions`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::RegionsList).await
}
