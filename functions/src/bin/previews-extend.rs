//! Lambda function PreviewsExtendFunction: `POST /v1/preview-databases/{preview_id}/extend`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::PreviewsExtend).await
}
