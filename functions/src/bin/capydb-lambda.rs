//! Every Lambda function of `template.yaml` runs this binary; `CAPYDB_FUNCTION` (set per
//! function in the template) says which one it is. One binary links once, where one per
//! function linked the whole crate fifty-six times.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    capydb_functions::lambda::serve_function().await
}
