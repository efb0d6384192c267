//! The task launcher on ECS: one Fargate task of the configured task definition per handed-over
//! job, told its job in `CAPYDB_JOB_ID`.

use crate::config::TaskConfig;
use crate::ids::JobId;
use crate::ports::{LaunchError, TaskLauncher};
use async_trait::async_trait;
use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, KeyValuePair, LaunchType, NetworkConfiguration,
    TaskOverride,
};
use aws_sdk_ecs::Client;

pub struct EcsTaskLauncher {
    client: Client,
    task: TaskConfig,
}

impl EcsTaskLauncher {
    pub fn new(client: Client, task: TaskConfig) -> Self {
        EcsTaskLauncher { client, task }
    }
}

#[async_trait]
impl TaskLauncher for EcsTaskLauncher {
    async fn launch(&self, job: &JobId) -> Result<String, LaunchError> {
        if self.task.cluster.is_empty() || self.task.definition.is_empty() {
            return Err(LaunchError(
                "no task definition is configured (CAPYDB_TASK_CLUSTER, CAPYDB_TASK_DEFINITION)".into(),
            ));
        }
        let mut request = self
            .client
            .run_task()
            .cluster(&self.task.cluster)
            .task_definition(&self.task.definition)
            .launch_type(LaunchType::Fargate)
            .count(1)
            .started_by(format!("capydb-{}", &job.as_str()[..job.as_str().len().min(28)]))
            .overrides(
                TaskOverride::builder()
                    .container_overrides(
                        ContainerOverride::builder()
                            .name(&self.task.container)
                            .environment(KeyValuePair::builder().name("CAPYDB_JOB_ID").value(job.as_str()).build())
                            .build(),
                    )
                    .build(),
            );
        if !self.task.subnets.is_empty() {
            let vpc = AwsVpcConfiguration::builder()
                .set_subnets(Some(self.task.subnets.clone()))
                .set_security_groups(Some(self.task.security_groups.clone()))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .map_err(|e| LaunchError(e.to_string()))?;
            request = request.network_configuration(NetworkConfiguration::builder().awsvpc_configuration(vpc).build());
        }
        let out = request.send().await.map_err(|e| LaunchError(DisplayErrorContext(&e).to_string()))?;
        if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(arn.to_string());
        }
        // RunTask answers 200 with the reasons in `failures` when it placed nothing (capacity).
        let reasons: Vec<String> = out
            .failures()
            .iter()
            .map(|f| format!("{} {}", f.reason().unwrap_or("unknown"), f.detail().unwrap_or("")).trim().to_string())
            .collect();
        Err(LaunchError(if reasons.is_empty() { "ECS started no task".into() } else { reasons.join("; ") }))
    }
}
