//! Lambda function ApiKeysCreateFunction: `POST /v1/organizations/{org_id}/api-keys`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::ApiKeysCreate).await
}
