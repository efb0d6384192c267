//! The project provisioning job: the project's role and database on its region cluster.

use super::job_work::{JobWork, Outcome, ProgressReporter};
use super::Context;
use crate::domain::jobs::Job;
use crate::domain::projects::ProjectState;
use crate::domain::schedules::next_nightly_after;
use crate::store::RecordWrite;
use crate::Error;

pub struct ProvisionWork;

#[async_trait::async_trait]
impl JobWork for ProvisionWork {
    async fn execute(&self, ctx: &Context, job: &Job, _: &ProgressReporter) -> Result<Outcome, Error> {
        execute(ctx, job).await
    }

    async fn abandoned(&self, ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
        abandoned(ctx, job, reason).await
    }
}

pub async fn execute(ctx: &Context, job: &Job) -> Result<Outcome, Error> {
    let mut project = ctx.projects.get_project(&job.project_id).await?.ok_or_else(|| Error::not_found("project"))?;
    let region = ctx.region(&project.region)?;
    let password = ctx.secrets.open(&project.db_password_enc).map_err(|e| Error::Internal(e.to_string()))?;
    let result =
        ctx.data_plane.provision_database(region, &project.database_name, &project.db_username, &password).await;
    project.updated_at = ctx.clock.now();
    match result {
        Ok(()) => {
            project.state = ProjectState::Ready;
            project.error = None;
            project.next_nightly_at = Some(next_nightly_after(project.updated_at));
            Ok(Outcome { error: None, records: vec![RecordWrite::Project(project)], events: vec![] })
        }
        Err(e) => {
            let reason = format!("provisioning failed: {e}");
            project.state = ProjectState::Failed;
            project.error = Some(reason.clone());
            Ok(Outcome { error: Some(reason), records: vec![RecordWrite::Project(project)], events: vec![] })
        }
    }
}

pub async fn abandoned(ctx: &Context, job: &Job, reason: &str) -> Result<Outcome, Error> {
    let records = match ctx.projects.get_project(&job.project_id).await? {
        Some(mut project) => {
            project.state = ProjectState::Failed;
            project.error = Some(reason.to_string());
            project.updated_at = ctx.clock.now();
            vec![RecordWrite::Project(project)]
        }
        None => vec![],
    };
    Ok(Outcome { error: Some(reason.to_string()), records, events: vec![] })
}
