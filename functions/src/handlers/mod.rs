//! API handlers: parse → authorise → call the service → map to HTTP. Nothing else.

pub mod api_keys;
pub mod backups;
pub mod integrations;
pub mod jobs;
pub mod me;
pub mod openapi;
pub mod previews;
pub mod projects;
pub mod regions;
pub mod restore_points;
pub mod restores;
pub mod schedules;
pub mod webhooks;

use crate::http::query_param;
use capydb_shared::domain::pagination::{Cursor, Limit};
use capydb_shared::Error;
use lambda_http::Request;

/// `?limit=&cursor=` of a list route.
pub(crate) fn paging(req: &Request) -> Result<(u32, Option<Cursor>), Error> {
    let limit = Limit::parse(query_param(req, "limit").as_deref())?;
    let cursor = query_param(req, "cursor").map(|c| Cursor::decode(&c)).transpose()?;
    Ok((limit.get(), cursor))
}
