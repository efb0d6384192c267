//! The WAL archive helper for region clusters and recovery instances (not a Lambda function);
//! see `capydb_functions::wal_helper`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    capydb_functions::wal_helper::main().await
}
