//! The completion function's work for one outbox event: webhook deliveries, then follow-ups
//! (deployment integrations re-push connection strings after a restore). Both halves are safe
//! to repeat, as a stream retry will.

use super::{deliveries, integrations, Context};
use crate::domain::events::Event;
use crate::Error;
use serde::Serialize;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Completion {
    pub webhooks: deliveries::FanOut,
    pub integrations_pushed: u32,
}

pub async fn complete(ctx: &Context, event: &Event) -> Result<Completion, Error> {
    let webhooks = deliveries::fan_out(ctx, event).await?;
    let integrations_pushed =
        if event.event_type == "restore.completed" { integrations::on_restore_completed(ctx, event).await? } else { 0 };
    Ok(Completion { webhooks, integrations_pushed })
}
