//! The store ports' contract (`capydb_shared::store_conformance`) against DynamoDB on moto: the
//! same checks the unit tests run against the in-memory store.

use crate::harness::TestEnv;
use capydb_shared::adapters::dynamo::Repository;
use capydb_shared::store_conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_restore_point_contract() {
    let env = TestEnv::new().await;
    store_conformance::restore_points(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_webhook_contract() {
    let env = TestEnv::new().await;
    store_conformance::webhooks(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_delivery_contract() {
    let env = TestEnv::new().await;
    store_conformance::deliveries(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_project_contract() {
    let env = TestEnv::new().await;
    store_conformance::projects(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_backup_contract() {
    let env = TestEnv::new().await;
    store_conformance::backups(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_job_contract() {
    let env = TestEnv::new().await;
    store_conformance::jobs(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_restore_and_preview_contract() {
    let env = TestEnv::new().await;
    store_conformance::restores(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_schedule_contract() {
    let env = TestEnv::new().await;
    store_conformance::schedules(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_api_key_and_response_contract() {
    let env = TestEnv::new().await;
    store_conformance::api_keys_and_responses(&Repository::for_config(&env.ctx.config).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_repository_meets_the_integration_contract() {
    let env = TestEnv::new().await;
    store_conformance::integrations(&Repository::for_config(&env.ctx.config).await).await;
}
