//! The route table, declared once. Each route is one Lambda function (binary `binary`, SAM
//! resource `function`); the local runtime serves the same table, and a test holds it equal to
//! `template.yaml`.

use crate::handlers::{
    api_keys, backups, integrations, jobs, me, openapi, previews, projects, regions, restore_points, restores,
    schedules, webhooks,
};
use crate::http::{authenticate, error_response, idempotency_key, refuse_body, HttpResult, RequestScope};
use capydb_shared::services::idempotency::{self, Replay};
use capydb_shared::services::Context;
use capydb_shared::Error;
use lambda_http::{Body, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    ProjectsCreate,
    ProjectsList,
    ProjectsGet,
    ProjectsConnections,
    RegionsList,
    Me,
    OpenApi,
    ApiKeysCreate,
    ApiKeysList,
    ApiKeysRevoke,
    JobsGet,
    JobsCancel,
    JobsList,
    BackupsCreate,
    BackupsList,
    BackupsGet,
    BackupsDelete,
    BackupsDownloadUrl,
    RestoresCreate,
    RestoresList,
    RestoresGet,
    PreviewsList,
    PreviewsGet,
    PreviewsConnections,
    PreviewsExtend,
    PreviewsDelete,
    RestorePointsCreate,
    RestorePointsList,
    RestorePointsDelete,
    SchedulesList,
    SchedulesPut,
    SchedulesDelete,
    WebhooksList,
    WebhooksCreate,
    WebhooksUpdate,
    WebhooksDelete,
    WebhooksRotateSecret,
    WebhooksDeliveries,
    WebhooksTest,
    WebhooksRedeliver,
    IntegrationsList,
    IntegrationsPut,
    IntegrationsDelete,
    IntegrationsSync,
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub path: &'static str,
    /// SAM logical id of the function serving the route.
    pub function: &'static str,
    /// Cargo binary (`functions/src/bin/<binary>.rs`) the function runs.
    pub binary: &'static str,
}

macro_rules! route {
    ($id:ident, $method:literal, $path:literal, $function:literal, $binary:literal) => {
        Route { id: RouteId::$id, method: $method, path: $path, function: $function, binary: $binary }
    };
}

pub const ROUTES: &[Route] = &[
    route!(
        SchedulesList,
        "GET",
        "/v1/projects/{project_id}/scheduled-backups",
        "SchedulesListFunction",
        "schedules-list"
    ),
    route!(
        SchedulesPut,
        "PUT",
        "/v1/projects/{project_id}/scheduled-backups/{schedule_id}",
        "SchedulesPutFunction",
        "schedules-put"
    ),
    route!(
        SchedulesDelete,
        "DELETE",
        "/v1/projects/{project_id}/scheduled-backups/{schedule_id}",
        "SchedulesDeleteFunction",
        "schedules-delete"
    ),
    route!(
        RestorePointsCreate,
        "POST",
        "/v1/projects/{project_id}/restore-points",
        "RestorePointsCreateFunction",
        "restore-points-create"
    ),
    route!(
        RestorePointsList,
        "GET",
        "/v1/projects/{project_id}/restore-points",
        "RestorePointsListFunction",
        "restore-points-list"
    ),
    route!(
        RestorePointsDelete,
        "DELETE",
        "/v1/projects/{project_id}/restore-points/{restore_point_id}",
        "RestorePointsDeleteFunction",
        "restore-points-delete"
    ),
    route!(RestoresCreate, "POST", "/v1/projects/{project_id}/restores", "RestoresCreateFunction", "restores-create"),
    route!(RestoresList, "GET", "/v1/projects/{project_id}/restores", "RestoresListFunction", "restores-list"),
    route!(
        RestoresGet,
        "GET",
        "/v1/projects/{project_id}/restores/{restore_id}",
        "RestoresGetFunction",
        "restores-get"
    ),
    route!(PreviewsList, "GET", "/v1/projects/{project_id}/preview-databases", "PreviewsListFunction", "previews-list"),
    route!(PreviewsGet, "GET", "/v1/preview-databases/{preview_id}", "PreviewsGetFunction", "previews-get"),
    route!(
        PreviewsConnections,
        "GET",
        "/v1/preview-databases/{preview_id}/connections",
        "PreviewsConnectionsFunction",
        "previews-connections"
    ),
    route!(
        PreviewsExtend,
        "POST",
        "/v1/preview-databases/{preview_id}/extend",
        "PreviewsExtendFunction",
        "previews-extend"
    ),
    route!(PreviewsDelete, "DELETE", "/v1/preview-databases/{preview_id}", "PreviewsDeleteFunction", "previews-delete"),
    route!(ProjectsCreate, "POST", "/v1/projects", "ProjectsCreateFunction", "projects-create"),
    route!(ProjectsList, "GET", "/v1/projects", "ProjectsListFunction", "projects-list"),
    route!(ProjectsGet, "GET", "/v1/projects/{project_id}", "ProjectsGetFunction", "projects-get"),
    route!(
        ProjectsConnections,
        "GET",
        "/v1/projects/{project_id}/connections",
        "ProjectsConnectionsFunction",
        "projects-connections"
    ),
    route!(RegionsList, "GET", "/v1/regions", "RegionsListFunction", "regions-list"),
    route!(Me, "GET", "/v1/me", "MeFunction", "me"),
    route!(OpenApi, "GET", "/v1/openapi.json", "OpenApiFunction", "openapi"),
    route!(ApiKeysCreate, "POST", "/v1/organizations/{org_id}/api-keys", "ApiKeysCreateFunction", "api-keys-create"),
    route!(ApiKeysList, "GET", "/v1/organizations/{org_id}/api-keys", "ApiKeysListFunction", "api-keys-list"),
    route!(
        ApiKeysRevoke,
        "DELETE",
        "/v1/organizations/{org_id}/api-keys/{key_id}",
        "ApiKeysRevokeFunction",
        "api-keys-revoke"
    ),
    route!(JobsGet, "GET", "/v1/jobs/{job_id}", "JobsGetFunction", "jobs-get"),
    route!(JobsCancel, "POST", "/v1/jobs/{job_id}/cancel", "JobsCancelFunction", "jobs-cancel"),
    route!(JobsList, "GET", "/v1/projects/{project_id}/jobs", "JobsListFunction", "jobs-list"),
    route!(BackupsCreate, "POST", "/v1/projects/{project_id}/backups", "BackupsCreateFunction", "backups-create"),
    route!(BackupsList, "GET", "/v1/projects/{project_id}/backups", "BackupsListFunction", "backups-list"),
    route!(BackupsGet, "GET", "/v1/projects/{project_id}/backups/{backup_id}", "BackupsGetFunction", "backups-get"),
    route!(
        BackupsDownloadUrl,
        "POST",
        "/v1/projects/{project_id}/backups/{backup_id}/download-url",
        "BackupsDownloadUrlFunction",
        "backups-download-url"
    ),
    route!(
        BackupsDelete,
        "DELETE",
        "/v1/projects/{project_id}/backups/{backup_id}",
        "BackupsDeleteFunction",
        "backups-delete"
    ),
    route!(
        WebhooksList,
        "GET",
        "/v1/organizations/{org_id}/webhook-endpoints",
        "WebhooksListFunction",
        "webhooks-list"
    ),
    route!(
        WebhooksCreate,
        "POST",
        "/v1/organizations/{org_id}/webhook-endpoints",
        "WebhooksCreateFunction",
        "webhooks-create"
    ),
    route!(
        WebhooksUpdate,
        "PATCH",
        "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}",
        "WebhooksUpdateFunction",
        "webhooks-update"
    ),
    route!(
        WebhooksDelete,
        "DELETE",
        "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}",
        "WebhooksDeleteFunction",
        "webhooks-delete"
    ),
    route!(
        WebhooksRotateSecret,
        "POST",
        "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/rotate-secret",
        "WebhooksRotateSecretFunction",
        "webhooks-rotate-secret"
    ),
    route!(
        WebhooksDeliveries,
        "GET",
        "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries",
        "WebhooksDeliveriesFunction",
        "webhooks-deliveries"
    ),
    route!(
        WebhooksTest,
        "POST",
        "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/test",
        "WebhooksTestFunction",
        "webhooks-test"
    ),
    route!(
        WebhooksRedeliver,
        "POST",
        "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "WebhooksRedeliverFunction",
        "webhooks-redeliver"
    ),
    route!(
        IntegrationsList,
        "GET",
        "/v1/projects/{project_id}/integrations",
        "IntegrationsListFunction",
        "integrations-list"
    ),
    route!(
        IntegrationsPut,
        "PUT",
        "/v1/projects/{project_id}/integrations/{provider}",
        "IntegrationsPutFunction",
        "integrations-put"
    ),
    route!(
        IntegrationsDelete,
        "DELETE",
        "/v1/projects/{project_id}/integrations/{provider}",
        "IntegrationsDeleteFunction",
        "integrations-delete"
    ),
    route!(
        IntegrationsSync,
        "POST",
        "/v1/projects/{project_id}/integrations/{provider}/sync",
        "IntegrationsSyncFunction",
        "integrations-sync"
    ),
];

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
    let result: HttpResult = match id {
        RouteId::ProjectsCreate => projects::create(ctx, req).await,
        RouteId::ProjectsList => projects::list(ctx, req).await,
        RouteId::ProjectsGet => projects::get(ctx, req).await,
        RouteId::ProjectsConnections => projects::connections(ctx, req).await,
        RouteId::RegionsList => regions::list(ctx, req).await,
        RouteId::Me => me::get(ctx, req).await,
        RouteId::OpenApi => openapi::get(ctx, req).await,
        RouteId::ApiKeysCreate => api_keys::create(ctx, req).await,
        RouteId::ApiKeysList => api_keys::list(ctx, req).await,
        RouteId::ApiKeysRevoke => api_keys::revoke(ctx, req).await,
        RouteId::JobsGet => jobs::get(ctx, req).await,
        RouteId::JobsCancel => jobs::cancel(ctx, req).await,
        RouteId::JobsList => jobs::list(ctx, req).await,
        RouteId::BackupsCreate => backups::create(ctx, req).await,
        RouteId::BackupsList => backups::list(ctx, req).await,
        RouteId::BackupsGet => backups::get(ctx, req).await,
        RouteId::BackupsDownloadUrl => backups::download_url(ctx, req).await,
        RouteId::BackupsDelete => backups::delete(ctx, req).await,
        RouteId::RestoresCreate => restores::create(ctx, req).await,
        RouteId::RestoresList => restores::list(ctx, req).await,
        RouteId::RestoresGet => restores::get(ctx, req).await,
        RouteId::PreviewsList => previews::list(ctx, req).await,
        RouteId::PreviewsGet => previews::get(ctx, req).await,
        RouteId::PreviewsConnections => previews::connections(ctx, req).await,
        RouteId::PreviewsExtend => previews::extend(ctx, req).await,
        RouteId::PreviewsDelete => previews::delete(ctx, req).await,
        RouteId::RestorePointsCreate => restore_points::create(ctx, req).await,
        RouteId::RestorePointsList => restore_points::list(ctx, req).await,
        RouteId::RestorePointsDelete => restore_points::delete(ctx, req).await,
        RouteId::SchedulesList => schedules::list(ctx, req).await,
        RouteId::SchedulesPut => schedules::put(ctx, req).await,
        RouteId::SchedulesDelete => schedules::delete(ctx, req).await,
        RouteId::WebhooksList => webhooks::list(ctx, req).await,
        RouteId::WebhooksCreate => webhooks::create(ctx, req).await,
        RouteId::WebhooksUpdate => webhooks::update(ctx, req).await,
        RouteId::WebhooksDelete => webhooks::delete(ctx, req).await,
        RouteId::WebhooksRotateSecret => webhooks::rotate_secret(ctx, req).await,
        RouteId::WebhooksDeliveries => webhooks::deliveries(ctx, req).await,
        RouteId::WebhooksTest => webhooks::send_test(ctx, req).await,
        RouteId::WebhooksRedeliver => webhooks::redeliver(ctx, req).await,
        RouteId::IntegrationsList => integrations::list(ctx, req).await,
        RouteId::IntegrationsPut => integrations::put(ctx, req).await,
        RouteId::IntegrationsDelete => integrations::delete(ctx, req).await,
        RouteId::IntegrationsSync => integrations::sync(ctx, req).await,
    };
    result.unwrap_or_else(|e| error_response(&e))
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
    fn routes_functions_and_binaries_are_unique() {
        let n = ROUTES.len();
        assert_eq!(ROUTES.iter().map(|r| (r.method, r.path)).collect::<HashSet<_>>().len(), n);
        assert_eq!(ROUTES.iter().map(|r| r.function).collect::<HashSet<_>>().len(), n);
        assert_eq!(ROUTES.iter().map(|r| r.binary).collect::<HashSet<_>>().len(), n);
    }
}
