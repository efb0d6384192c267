//! Lambda function ProjectsCreateFunction: `POST /v1/projects`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_route(capydb_functions::routes::RouteId::ProjectsCreate).await
}
