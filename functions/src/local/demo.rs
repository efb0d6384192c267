//! The demo organisation, project and admin key of `make dev`. Their ids and the key are kept
//! in the state folder, so a restarted stack keeps the same exports working.

use capydb_shared::domain::api_keys;
use capydb_shared::ids::{OrgId, ProjectId};
use capydb_shared::services::{bootstrap, Context};
use serde::{Deserialize, Serialize};
use std::path::Path;

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
    Ok(demo)
}
