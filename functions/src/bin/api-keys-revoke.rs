//! Lambda function ApiKeysRevokeFunction: `DELETE /v1/organizations/{org_id}/api-keys/{key_id}`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::ApiKeysRevoke).await
}
