//! EventBridge Scheduler: one schedule per project in our schedule group, targeting the
//! scheduled-backup function with our own JSON as input.

use aws_sdk_scheduler::error::{DisplayErrorContext, SdkError};
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
use aws_sdk_scheduler::Client;

#[derive(Debug, thiserror::Error)]
#[error("the scheduler is unavailable: {0}")]
pub struct SchedulerError(String);

fn backend<E: std::error::Error + 'static>(e: SdkError<E>) -> SchedulerError {
    SchedulerError(DisplayErrorContext(&e).to_string())
}

/// A schedule as the scheduler holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleEntry {
    pub name: String,
    pub expression: String,
    pub enabled: bool,
    pub input: String,
}

#[derive(Clone)]
pub struct EventBridgeScheduler {
    client: Client,
    group: String,
    target_arn: String,
    role_arn: String,
}

impl EventBridgeScheduler {
    pub fn new(client: Client, group: String, target_arn: String, role_arn: String) -> Self {
        EventBridgeScheduler { client, group, target_arn, role_arn }
    }

    /// Creates our schedule group unless it exists (SAM creates it in AWS).
    pub async fn ensure_group(&self) -> Result<(), SchedulerError> {
        if self.client.get_schedule_group().name(&self.group).send().await.is_ok() {
            return Ok(());
        }
        self.client.create_schedule_group().name(&self.group).send().await.map_err(backend)?;
        Ok(())
    }

    /// Creates or replaces a daily schedule (UTC).
    pub async fn put(&self, name: &str, expression: &str, enabled: bool, input: &str) -> Result<(), SchedulerError> {
        let target = Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(input)
            .build()
            .map_err(|e| SchedulerError(e.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| SchedulerError(e.to_string()))?;
        let state = if enabled { ScheduleState::Enabled } else { ScheduleState::Disabled };
        let exists = self.client.get_schedule().group_name(&self.group).name(name).send().await.is_ok();
        if exists {
            self.client
                .update_schedule()
                .group_name(&self.group)
                .name(name)
                .schedule_expression(expression)
                .schedule_expression_timezone("UTC")
                .state(state)
                .flexible_time_window(window)
                .target(target)
                .send()
                .await
                .map_err(backend)?;
        } else {
            self.client
                .create_schedule()
                .group_name(&self.group)
                .name(name)
                .schedule_expression(expression)
                .schedule_expression_timezone("UTC")
                .state(state)
                .flexible_time_window(window)
                .target(target)
                .send()
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<(), SchedulerError> {
        match self.client.delete_schedule().group_name(&self.group).name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    pub async fn get(&self, name: &str) -> Result<Option<ScheduleEntry>, SchedulerError> {
        match self.client.get_schedule().group_name(&self.group).name(name).send().await {
            Ok(out) => Ok(Some(ScheduleEntry {
                name: out.name.unwrap_or_default(),
                expression: out.schedule_expression.unwrap_or_default(),
                enabled: out.state == Some(ScheduleState::Enabled),
                input: out.target.and_then(|t| t.input).unwrap_or_default(),
            })),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    /// Every schedule in our group (the local runtime fires them; moto never does).
    pub async fn list(&self) -> Result<Vec<ScheduleEntry>, SchedulerError> {
        let mut entries = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_schedules()
                .group_name(&self.group)
                .set_next_token(token)
                .send()
                .await
                .map_err(backend)?;
            for summary in out.schedules {
                if let Some(name) = summary.name {
                    if let Some(entry) = self.get(&name).await? {
                        entries.push(entry);
                    }
                }
            }
            match out.next_token {
                Some(t) => token = Some(t),
                None => return Ok(entries),
            }
        }
    }
}
