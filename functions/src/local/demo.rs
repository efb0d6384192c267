//! The demo organisation, project and admin key of `make dev`. Their ids and the key are kept
//! in the state folder, so a restarted stack keeps the same exports working.

use anyhow::{bail, Context as _};
use capydb_shared::auth::{sign_session, OrgRole, SessionClaims};
use capydb_shared::domain::api_keys;
use capydb_shared::domain::projects::ProjectState;
use capydb_shared::ids::{OrgId, ProjectId};
use capydb_shared::services::{bootstrap, Context};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Demo {
    pub org_id: OrgId,
    pub project_id: ProjectId,
    pub api_key: String,
}

pub async fn ensure(ctx: &Context, state_dir: &Path, region: &str) -> anyhow::Result<Demo> {
    let file = state_dir.join("demo.json");
    let demo = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(_) => {
            let demo = Demo {
                org_id: OrgId::generate(),
                project_id: ProjectId::generate(),
                api_key: api_keys::generate_plaintext(),
            };
            std::fs::create_dir_all(state_dir)?;
            std::fs::write(&file, serde_json::to_vec_pretty(&demo)?)?;
            demo
        }
    };
    bootstrap::organization(ctx, &demo.org_id, "Demo organization", &demo.api_key).await?;
    bootstrap::project(ctx, &demo.org_id, &demo.project_id, "demo", region).await?;
    ready(ctx, &demo.project_id).await?;
    Ok(demo)
}

/// Waits until the demo project is ready (the exports are printed only then). A provisioning
/// that failed is queued again, a few times, before giving up with its error.
async fn ready(ctx: &Context, id: &ProjectId) -> anyhow::Result<()> {
    const TRIES: u32 = 3;
    let mut tries = 1;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let project = ctx.projects.get_project(id).await?.context("the demo project vanished")?;
        match project.state {
            ProjectState::Ready => return Ok(()),
            ProjectState::Failed if tries < TRIES => {
                tracing::warn!(error = ?project.error, "the demo project's provisioning failed; provisioning it again");
                bootstrap::reprovision(ctx, id).await?;
                tries += 1;
            }
            ProjectState::Failed => {
                bail!("the demo project could not be provisioned: {}", project.error.unwrap_or_default())
            }
            _ if Instant::now() > deadline => bail!("the demo project is still {:?} after 3 minutes", project.state),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// How long the printed sign-in link works.
pub const SIGN_IN_HOURS: i64 = 12;

/// A dashboard link that signs the demo org's admin in: a session token, as the identity provider
/// would issue it, in the URL fragment (never sent to the server; the app moves it to session
/// storage and strips it from the address bar). `None` when sessions are off (no secret).
pub fn sign_in_link(ctx: &Context, demo: &Demo, dashboard_url: &str) -> Option<String> {
    let secret = ctx.config.session_secret.as_deref()?;
    let claims = SessionClaims {
        sub: "demo-admin".into(),
        org_id: demo.org_id.to_string(),
        org_role: OrgRole::Admin,
        exp: (ctx.clock.now() + chrono::Duration::hours(SIGN_IN_HOURS)).timestamp(),
    };
    Some(format!("{dashboard_url}#session={}", sign_session(&claims, secret)))
}

/// Writes a secret-bearing file readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
