//! The route table, declared once: one row per route names its method, path and handler, and
//! generates the route enum, the list and the dispatch. Each route is one Lambda function (SAM
//! resource `<Id>Function`, running the one `capydb-lambda` binary); the local runtime serves the
//! same table, and a test holds it equal to `template.yaml`.

use crate::handlers::{
    api_keys, backups, integrations, jobs, me, openapi, previews, projects, regions, restore_points, restores,
    schedules, webhooks,
};
use crate::http::{authenticate, error_response, idempotency_key, refuse_body, HttpResult, RequestScope};
use capydb_shared::services::idempotency::{self, Replay};
use capydb_shared::services::Context;
use capydb_shared::Error;
use lambda_http::{Body, Request, Response};

/// One Lambda function per route, named `<Id>Function` in `template.yaml`.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub path: &'static str,
    /// SAM logical id of the function serving the route (its `CAPYDB_FUNCTION`).
    pub function: &'static str,
}

/// Generates, from the one table below, the route enum, [`ROUTES`] and the dispatch to each
/// route's handler, so the three cannot disagree.
macro_rules! routes {
    ($($id:ident: $method:ident $path:literal => $module:ident::$handler:ident;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RouteId {
            $($id,)+
        }

        pub const ROUTES: &[Route] = &[$(Route {
            id: RouteId::$id,
            method: stringify!($method),
            path: $path,
            function: concat!(stringify!($id), "Function"),
        },)+];

        async fn handle(id: RouteId, ctx: &Context, req: Request) -> HttpResult {
            match id {
                $(RouteId::$id => $module::$handler(ctx, req).await,)+
            }
        }
    };
}

routes! {
    SchedulesList: GET "/v1/projects/{project_id}/scheduled-backups" => schedules::list;
    SchedulesPut: PUT "/v1/projects/{project_id}/scheduled-backups/{schedule_id}" => schedules::put;
    SchedulesDelete: DELETE "/v1/projects/{project_id}/scheduled-backups/{schedule_id}" => schedules::delete;
    RestorePointsCreate: POST "/v1/projects/{project_id}/restore-points" => restore_points::create;
    RestorePointsList: GET "/v1/projects/{project_id}/restore-points" => restore_points::list;
    RestorePointsDelete: DELETE "/v1/projects/{project_id}/restore-points/{restore_point_id}" => restore_points::delete;
    RestoresCreate: POST "/v1/projects/{project_id}/restores" => restores::create;
    RestoresList: GET "/v1/projects/{project_id}/restores" => restores::list;
    RestoresGet: GET "/v1/projects/{project_id}/restores/{restore_id}" => restores::get;
    PreviewsList: GET "/v1/projects/{project_id}/preview-databases" => previews::list;
    PreviewsGet: GET "/v1/preview-databases/{preview_id}" => previews::get;
    PreviewsConnections: GET "/v1/preview-databases/{preview_id}/connections" => previews::connections;
    PreviewsExtend: POST "/v1/preview-databases/{preview_id}/extend" => previews::extend;
    PreviewsDelete: DELETE "/v1/preview-databases/{preview_id}" => previews::delete;
    ProjectsCreate: POST "/v1/projects" => projects::create;
    ProjectsList: GET "/v1/projects" => projects::list;
    ProjectsGet: GET "/v1/projects/{project_id}" => projects::get;
    ProjectsConnections: GET "/v1/projects/{project_id}/connections" => projects::connections;
    RegionsList: GET "/v1/regions" => regions::list;
    Me: GET "/v1/me" => me::get;
    OpenApi: GET "/v1/openapi.json" => openapi::get;
    ApiKeysCreate: POST "/v1/organizations/{org_id}/api-keys" => api_keys::create;
    ApiKeysList: GET "/v1/organizations/{org_id}/api-keys" => api_keys::list;
    ApiKeysRevoke: DELETE "/v1/organizations/{org_id}/api-keys/{key_id}" => api_keys::revoke;
    JobsGet: GET "/v1/jobs/{job_id}" => jobs::get;
    JobsCancel: POST "/v1/jobs/{job_id}/cancel" => jobs::cancel;
    JobsList: GET "/v1/projects/{project_id}/jobs" => jobs::list;
    BackupsCreate: POST "/v1/projects/{project_id}/backups" => backups::create;
    BackupsList: GET "/v1/projects/{project_id}/backups" => backups::list;
    BackupsGet: GET "/v1/projects/{project_id}/backups/{backup_id}" => backups::get;
    BackupsDownloadUrl: POST "/v1/projects/{project_id}/backups/{backup_id}/download-url" => backups::download_url;
    BackupsDelete: DELETE "/v1/projects/{project_id}/backups/{backup_id}" => backups::delete;
    WebhooksList: GET "/v1/organizations/{org_id}/webhook-endpoints" => webhooks::list;
    WebhooksCreate: POST "/v1/organizations/{org_id}/webhook-endpoints" => webhooks::create;
    WebhooksUpdate: PATCH "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}" => webhooks::update;
    WebhooksDelete: DELETE "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}" => webhooks::delete;
    WebhooksRotateSecret: POST "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/rotate-secret" => webhooks::rotate_secret;
    WebhooksDeliveries: GET "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries" => webhooks::deliveries;
    WebhooksTest: POST "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/test" => webhooks::send_test;
    WebhooksRedeliver: POST "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries/{delivery_id}/redeliver" => webhooks::redeliver;
    IntegrationsList: GET "/v1/projects/{project_id}/integrations" => integrations::list;
    IntegrationsPut: PUT "/v1/projects/{project_id}/integrations/{provider}" => integrations::put;
    IntegrationsDelete: DELETE "/v1/projects/{project_id}/integrations/{provider}" => integrations::delete;
    IntegrationsSync: POST "/v1/projects/{project_id}/integrations/{provider}/sync" => integrations::sync;
}

pub fn route(id: RouteId) -> &'static Route {
    ROUTES.iter().find(|r| r.id == id).expect("every RouteId is in ROUTES")
}

/// POSTs whose service writes its idempotency record in the same transaction as its change
/// (so a retry can never create twice); every other POST is made idempotent by
/// [`replayable`].
const OWN_IDEMPOTENCY: [RouteId; 4] =
    [RouteId::ProjectsCreate, RouteId::ApiKeysCreate, RouteId::BackupsCreate, RouteId::RestoresCreate];

/// Runs the handler of `id`; errors become their HTTP responses here, in one place. Every POST
/// honours `Idempotency-Key`.
pub async fn dispatch(id: RouteId, ctx: &Context, req: Request) -> Response<Body> {
    let scope = RequestScope::of(&req);
    scope
        .answer(async {
            if let Some(refused) = refuse_body(&req) {
                return refused;
            }
            let post = route(id).method == "POST";
            if post && !OWN_IDEMPOTENCY.contains(&id) && req.headers().contains_key("idempotency-key") {
                return replayable(id, ctx, req).await;
            }
            run(id, ctx, req).await
        })
        .await
}

/// A POST with an `Idempotency-Key`: the first request runs and its answer is kept for a day;
/// a retry with the same body gets that answer again, another body gets 422, and a retry while
/// the first still runs gets 409.
async fn replayable(id: RouteId, ctx: &Context, req: Request) -> Response<Body> {
    let key = match authenticate(ctx, &req).await.and_then(|p| idempotency_key(&req, &p)) {
        Ok(Some(key)) => key,
        Ok(None) => return run(id, ctx, req).await,
        Err(e) => return error_response(&e),
    };
    match idempotency::begin_response(ctx, &key).await {
        Err(e) => error_response(&e),
        Ok(Replay::InProgress) => error_response(&Error::Conflict {
            message: "a request with this Idempotency-Key is still in progress; retry shortly".into(),
            job_id: None,
        }),
        Ok(Replay::Respond { status, body }) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("idempotent-replayed", "true")
            .body(Body::from(body))
            .expect("stored response parts are valid"),
        Ok(Replay::Run) => {
            let response = run(id, ctx, req).await;
            let body: &[u8] = match response.body() {
                Body::Text(t) => t.as_bytes(),
                Body::Binary(b) => b,
                _ => &[],
            };
            if let Err(e) = idempotency::finish_response(ctx, &key, response.status().as_u16(), body).await {
                tracing::error!(error = %e, "could not keep the response for its Idempotency-Key");
            }
            response
        }
    }
}

async fn run(id: RouteId, ctx: &Context, req: Request) -> Response<Body> {
    handle(id, ctx, req).await.unwrap_or_else(|e| error_response(&e))
}

/// Matches a concrete path against a template, returning the path parameters.
pub fn match_path(template: &str, path: &str) -> Option<PathParams> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (ts, ps) in t.iter().zip(&p) {
        match ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !ps.is_empty() => params.push((name.to_string(), ps.to_string())),
            Some(_) => return None,
            None if ts == ps => {}
            None => return None,
        }
    }
    Some(params)
}

pub type PathParams = Vec<(String, String)>;

/// Why no route answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    UnknownPath,
    MethodNotAllowed,
}

/// The route for a method and path, with its path parameters.
pub fn resolve(method: &str, path: &str) -> Result<(&'static Route, PathParams), NoRoute> {
    let mut path_exists = false;
    for r in ROUTES {
        if let Some(params) = match_path(r.path, path) {
            if r.method == method {
                return Ok((r, params));
            }
            path_exists = true;
        }
    }
    Err(if path_exists { NoRoute::MethodNotAllowed } else { NoRoute::UnknownPath })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn templates_match_and_extract_parameters() {
        let (r, params) = resolve("GET", "/v1/projects/prj_1/backups/bkp_2").unwrap();
        assert_eq!(r.id, RouteId::BackupsGet);
        assert_eq!(params, vec![("project_id".into(), "prj_1".into()), ("backup_id".into(), "bkp_2".into())]);
        assert_eq!(resolve("GET", "/v1/projects").unwrap().0.id, RouteId::ProjectsList);
        assert_eq!(resolve("PUT", "/v1/projects").err(), Some(NoRoute::MethodNotAllowed));
        assert_eq!(resolve("GET", "/v1/nope").err(), Some(NoRoute::UnknownPath));
        assert_eq!(resolve("GET", "/v1/projects//backups").err(), Some(NoRoute::UnknownPath));
    }

    #[test]
    fn routes_and_functions_are_unique() {
        let n = ROUTES.len();
        assert_eq!(ROUTES.iter().map(|r| (r.method, r.path)).collect::<HashSet<_>>().len(), n);
        assert_eq!(ROUTES.iter().map(|r| r.function).collect::<HashSet<_>>().len(), n);
    }
}
