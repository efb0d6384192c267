//! The store ports' contract (`capydb_shared::store_conformance`) against DynamoDB on moto: the
//! same checks the unit tests run against the in-memory store.

use crate::harness::TestEnv;
use capydb_shared::adapters::dynamo::Repository;
use capydb_shared::store_conformance;

/// One test per port's contract, each on a table of its own.
macro_rules! meets {
    ($($test:ident => $suite:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                // No workers: the suites write pending jobs that a runtime would try to run.
                let mut env = TestEnv::new().await;
                env.stop().await;
                store_conformance::$suite(&Repository::for_config(&env.ctx.config).await).await;
            }
        )*
    };
}

meets! {
    the_dynamodb_repository_meets_the_restore_point_contract => restore_points,
    the_dynamodb_repository_meets_the_webhook_contract => webhooks,
    the_dynamodb_repository_meets_the_delivery_contract => deliveries,
    the_dynamodb_repository_meets_the_project_contract => projects,
    the_dynamodb_repository_meets_the_backup_contract => backups,
    the_dynamodb_repository_meets_the_job_contract => jobs,
    the_dynamodb_repository_meets_the_restore_and_preview_contract => restores,
    the_dynamodb_repository_meets_the_schedule_contract => schedules,
    the_dynamodb_repository_meets_the_api_key_and_response_contract => api_keys_and_responses,
    the_dynamodb_repository_meets_the_integration_contract => integrations,
}
