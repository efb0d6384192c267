//! The OpenAPI 3.1 document, generated from the contract's types.
//!
//! The schemas come from the types' `ToSchema` derives; the operations come from [`operations`],
//! whose every request and response names a type of this crate, so the document cannot describe
//! a field the code does not have. A test in the functions crate holds [`operations`] equal to
//! the route table and `template.yaml`.

use crate::backups::*;
use crate::errors::{ErrorBody, ErrorCode};
use crate::events::*;
use crate::identity::*;
use crate::integrations::*;
use crate::jobs::*;
use crate::previews::*;
use crate::projects::*;
use crate::restore_points::*;
use crate::restores::*;
use crate::schedules::*;
use crate::webhooks::*;
use crate::Empty;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use utoipa::{OpenApi, ToSchema};

/// Page size bounds of every list route.
pub const LIMIT_DEFAULT: u32 = 25;
pub const LIMIT_MAX: u32 = 100;

/// One operation of the API.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: Option<&'static str>,
    /// The request body's schema, and whether a body is required.
    pub body: Option<(Cow<'static, str>, bool)>,
    /// Success statuses and the response schema (`None`: any JSON, for the document itself).
    pub success: Vec<u16>,
    pub response: Option<Cow<'static, str>>,
    pub paged: bool,
    /// Served without credentials.
    pub public: bool,
    /// Refused with 409 while something else holds the resource.
    pub conflicts: bool,
    /// Limited per caller (429).
    pub rate_limited: bool,
}

fn op<R: ToSchema>(
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    tag: &'static str,
    summary: &'static str,
    status: u16,
) -> Operation {
    Operation {
        method,
        path,
        operation_id,
        tag,
        summary,
        description: None,
        body: None,
        success: vec![status],
        response: Some(R::name()),
        paged: false,
        public: false,
        conflicts: method != "GET",
        rate_limited: false,
    }
}

impl Operation {
    fn body<B: ToSchema>(mut self) -> Self {
        self.body = Some((B::name(), true));
        self
    }

    /// A body whose every field is optional: it may be left out.
    fn optional_body<B: ToSchema>(mut self) -> Self {
        self.body = Some((B::name(), false));
        self
    }

    fn paged(mut self) -> Self {
        self.paged = true;
        self
    }

    fn describe(mut self, text: &'static str) -> Self {
        self.description = Some(text);
        self
    }

    fn also(mut self, status: u16) -> Self {
        self.success.push(status);
        self
    }

    fn rate_limited(mut self) -> Self {
        self.rate_limited = true;
        self
    }

    /// Path parameters, in order.
    pub fn path_params(&self) -> Vec<&'static str> {
        self.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
    }

    /// The error statuses this operation can answer.
    pub fn error_statuses(&self) -> Vec<u16> {
        let mut out = vec![];
        let has_body = self.body.is_some();
        if has_body || self.paged || !self.path_params().is_empty() {
            out.push(400);
        }
        if !self.public {
            out.extend([401, 403]);
        }
        if !self.path_params().is_empty() || !self.public {
            out.push(404);
        }
        if self.conflicts {
            out.push(409);
        }
        if has_body {
            out.extend([413, 415]);
        }
        if self.method == "POST" {
            out.push(422);
        }
        if self.rate_limited || self.method == "POST" {
            out.push(429);
        }
        out.extend([500, 502, 503]);
        out
    }
}

/// Every operation of the API.
pub fn operations() -> Vec<Operation> {
    const ORG: &str = "/v1/organizations/{org_id}";
    let _ = ORG;
    vec![
        op::<ProjectCreated>("POST", "/v1/projects", "createProject", "Projects", "Create a project", 202)
            .body::<ProjectCreateRequest>()
            .describe("Provisions the project database on its region cluster; follow `job`. `{name}` alone uses the first region."),
        op::<ProjectList>("GET", "/v1/projects", "listProjects", "Projects", "List the org's projects", 200).paged(),
        op::<ProjectDetail>("GET", "/v1/projects/{project_id}", "getProject", "Projects", "Get a project and its region", 200),
        op::<ProjectConnections>(
            "GET",
            "/v1/projects/{project_id}/connections",
            "getProjectConnections",
            "Projects",
            "Connection URLs of the project database (scope `credentials:read`)",
            200,
        ),
        op::<RegionList>("GET", "/v1/regions", "listRegions", "Projects", "Regions, with their point-in-time window", 200),
        op::<Me>("GET", "/v1/me", "getMe", "Identity", "Who is calling: organization, credential, role and scopes", 200),
        Operation { public: true, response: None, ..op::<Empty>("GET", "/v1/openapi.json", "getOpenApi", "Identity", "This document", 200) },
        op::<ApiKeyCreated>("POST", "/v1/organizations/{org_id}/api-keys", "createApiKey", "API keys", "Create an API key", 201)
            .body::<ApiKeyCreateRequest>()
            .describe("The key (`plaintext_api_key`) is returned once. A key can grant at most its creator's scopes and expiry, and stops working when its creator is revoked."),
        op::<ApiKeyList>("GET", "/v1/organizations/{org_id}/api-keys", "listApiKeys", "API keys", "List API keys", 200).paged(),
        op::<ApiKeyResponse>("DELETE", "/v1/organizations/{org_id}/api-keys/{key_id}", "revokeApiKey", "API keys", "Revoke an API key and every key it created", 200),
        op::<JobResponse>("GET", "/v1/jobs/{job_id}", "getJob", "Jobs", "Get a job", 200),
        op::<JobResponse>("POST", "/v1/jobs/{job_id}/cancel", "cancelJob", "Jobs", "Cancel a job", 202)
            .optional_body::<Empty>()
            .describe("A pending job ends `cancelled` at once and never starts. A running backup or restore stops within seconds and undoes what it did: the upload is aborted and the archive removed, staging databases are dropped; no backup is recorded as completed. A restore can be cancelled only until its swap begins (409 after that: the swap is never left half-done). Provisioning cannot be cancelled. The job records `cancelled_by` and a `job.cancelled` event is sent. Needs `backups:write` (and the admin role for a session cancelling a project overwrite)."),
        op::<JobList>("GET", "/v1/projects/{project_id}/jobs", "listJobs", "Jobs", "List a project's jobs, newest first", 200).paged(),
        op::<BackupCreated>("POST", "/v1/projects/{project_id}/backups", "createBackup", "Backups", "Take a backup", 202)
            .optional_body::<BackupCreateRequest>()
            .describe("Dumps the database with `pg_dump`, stores it compressed with its SHA-256, and verifies it by restoring the stored object in an isolated instance. Follow `job`."),
        op::<BackupList>("GET", "/v1/projects/{project_id}/backups", "listBackups", "Backups", "List backups, newest first", 200).paged(),
        op::<BackupResponse>("GET", "/v1/projects/{project_id}/backups/{backup_id}", "getBackup", "Backups", "Get a backup", 200),
        op::<BackupDeleted>("DELETE", "/v1/projects/{project_id}/backups/{backup_id}", "deleteBackup", "Backups", "Delete a backup (refused while a restore point pins it)", 200),
        op::<DownloadUrl>(
            "POST",
            "/v1/projects/{project_id}/backups/{backup_id}/download-url",
            "createBackupDownloadUrl",
            "Backups",
            "A URL to download the archive",
            200,
        )
        .optional_body::<DownloadUrlRequest>()
        .describe("Needs `backups:read` and `credentials:read` (and the admin role for a session); every URL handed out is recorded as a `backup.downloaded` event."),
        op::<RestoreCreated>("POST", "/v1/projects/{project_id}/restores", "createRestore", "Restores", "Restore a backup, a restore point or a moment", 202)
            .body::<RestoreCreateRequest>()
            .rate_limited()
            .describe("Into a new preview (default), an existing preview, or over the project (`confirm_project_overwrite`, admin role for sessions; production is touched only once the restored data is complete, and a verified safety backup of the old data is kept). Deliberate difference from CapyDB's published API: no approval tokens."),
        op::<RestoreList>("GET", "/v1/projects/{project_id}/restores", "listRestores", "Restores", "List restores, newest first", 200).paged(),
        op::<RestoreResponse>("GET", "/v1/projects/{project_id}/restores/{restore_id}", "getRestore", "Restores", "Get a restore", 200),
        op::<PreviewList>("GET", "/v1/projects/{project_id}/preview-databases", "listPreviewDatabases", "Preview databases", "List preview databases", 200).paged(),
        op::<PreviewResponse>("GET", "/v1/preview-databases/{preview_id}", "getPreviewDatabase", "Preview databases", "Get a preview database", 200),
        op::<Connections>(
            "GET",
            "/v1/preview-databases/{preview_id}/connections",
            "getPreviewDatabaseConnections",
            "Preview databases",
            "Connection URLs of a preview (scope `credentials:read`)",
            200,
        ),
        op::<PreviewExtended>("POST", "/v1/preview-databases/{preview_id}/extend", "extendPreviewDatabase", "Preview databases", "Set a preview's lifetime from now", 200)
            .body::<PreviewExtendRequest>(),
        op::<PreviewDeleted>("DELETE", "/v1/preview-databases/{preview_id}", "deletePreviewDatabase", "Preview databases", "Drop a preview database", 200),
        op::<RestorePointResponse>("POST", "/v1/projects/{project_id}/restore-points", "createRestorePoint", "Restore points", "Name a backup or a moment", 201)
            .body::<RestorePointCreateRequest>()
            .rate_limited(),
        op::<RestorePointList>("GET", "/v1/projects/{project_id}/restore-points", "listRestorePoints", "Restore points", "List restore points", 200).paged(),
        op::<RestorePointDeleted>(
            "DELETE",
            "/v1/projects/{project_id}/restore-points/{restore_point_id}",
            "deleteRestorePoint",
            "Restore points",
            "Delete a restore point (its backup is no longer pinned)",
            200,
        ),
        op::<ScheduleList>("GET", "/v1/projects/{project_id}/scheduled-backups", "listScheduledBackups", "Scheduled backups", "The project's backup schedule", 200),
        op::<ScheduleResponse>(
            "PUT",
            "/v1/projects/{project_id}/scheduled-backups/{schedule_id}",
            "putScheduledBackup",
            "Scheduled backups",
            "Set the daily backup schedule (`schedule_id` is `default`)",
            200,
        )
        .body::<ScheduleRequest>(),
        op::<ScheduleDeleted>(
            "DELETE",
            "/v1/projects/{project_id}/scheduled-backups/{schedule_id}",
            "deleteScheduledBackup",
            "Scheduled backups",
            "Remove the schedule",
            200,
        ),
        op::<WebhookEndpointList>("GET", "/v1/organizations/{org_id}/webhook-endpoints", "listWebhookEndpoints", "Webhooks", "List webhook endpoints", 200).paged(),
        op::<WebhookEndpointWithSecret>("POST", "/v1/organizations/{org_id}/webhook-endpoints", "createWebhookEndpoint", "Webhooks", "Add a webhook endpoint", 201)
            .body::<WebhookEndpointCreateRequest>(),
        op::<WebhookEndpointResponse>(
            "PATCH",
            "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}",
            "updateWebhookEndpoint",
            "Webhooks",
            "Change a webhook endpoint",
            200,
        )
        .body::<WebhookEndpointUpdateRequest>(),
        op::<WebhookEndpointDeleted>(
            "DELETE",
            "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}",
            "deleteWebhookEndpoint",
            "Webhooks",
            "Remove a webhook endpoint",
            200,
        ),
        op::<WebhookEndpointWithSecret>(
            "POST",
            "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/rotate-secret",
            "rotateWebhookSecret",
            "Webhooks",
            "Replace the signing secret",
            200,
        )
        .optional_body::<Empty>(),
        op::<DeliveryList>(
            "GET",
            "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries",
            "listWebhookDeliveries",
            "Webhooks",
            "Deliveries with every attempt, newest first",
            200,
        )
        .paged(),
        op::<DeliveryResponse>(
            "POST",
            "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/test",
            "sendTestWebhook",
            "Webhooks",
            "Send a `webhook.test` event now",
            200,
        )
        .optional_body::<Empty>(),
        op::<DeliveryResponse>(
            "POST",
            "/v1/organizations/{org_id}/webhook-endpoints/{webhook_id}/deliveries/{delivery_id}/redeliver",
            "redeliverWebhook",
            "Webhooks",
            "Send a delivery's event again, as a new delivery",
            200,
        )
        .optional_body::<Empty>(),
        op::<IntegrationList>("GET", "/v1/projects/{project_id}/integrations", "listIntegrations", "Integrations", "List deployment integrations", 200),
        op::<IntegrationResponse>(
            "PUT",
            "/v1/projects/{project_id}/integrations/{provider}",
            "putIntegration",
            "Integrations",
            "Connect Vercel or Netlify (201 when new)",
            200,
        )
        .also(201)
        .body::<IntegrationRequest>(),
        op::<IntegrationDeleted>(
            "DELETE",
            "/v1/projects/{project_id}/integrations/{provider}",
            "deleteIntegration",
            "Integrations",
            "Disconnect an integration",
            200,
        ),
        op::<IntegrationResponse>(
            "POST",
            "/v1/projects/{project_id}/integrations/{provider}/sync",
            "syncIntegration",
            "Integrations",
            "Push the connection URLs again now",
            200,
        )
        .optional_body::<Empty>(),
    ]
}

#[derive(OpenApi)]
#[openapi(components(schemas(
    ErrorBody,
    ErrorCode,
    Empty,
    ProjectCreateRequest,
    ProjectCreated,
    ProjectList,
    ProjectDetail,
    ProjectConnections,
    Connections,
    RegionList,
    Me,
    ApiKeyCreateRequest,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyResponse,
    JobResponse,
    JobList,
    BackupCreateRequest,
    BackupCreated,
    BackupList,
    BackupResponse,
    BackupDeleted,
    DownloadUrlRequest,
    DownloadUrl,
    DownloadFile,
    RestoreCreateRequest,
    RestoreCreated,
    RestoreList,
    RestoreResponse,
    PreviewList,
    PreviewResponse,
    PreviewDeleted,
    PreviewExtendRequest,
    PreviewExtended,
    RestorePointCreateRequest,
    RestorePointResponse,
    RestorePointList,
    RestorePointDeleted,
    ScheduleRequest,
    ScheduleList,
    ScheduleResponse,
    ScheduleDeleted,
    WebhookEndpointCreateRequest,
    WebhookEndpointUpdateRequest,
    WebhookEndpointWithSecret,
    WebhookEndpointList,
    WebhookEndpointResponse,
    WebhookEndpointDeleted,
    DeliveryList,
    DeliveryResponse,
    IntegrationRequest,
    IntegrationList,
    IntegrationResponse,
    IntegrationDeleted,
    EventEnvelope,
    BackupCompletedData,
    BackupFailedData,
    BackupMissedData,
    BackupDownloadedData,
    RestoreEventData,
    PreviewReadyData,
    PreviewDeletedData,
    JobEventData,
    WebhookTestData,
)))]
struct Schemas;

const DESCRIPTION: &str = "\
Backups, restores and point-in-time recovery of CapyDB's managed PostgreSQL.

**Authentication.** Send an API key (`capy_live_…`) as `Authorization: Bearer <key>` or \
`X-API-Key: <key>`, or a session token (JWT) from CapyDB's identity provider as a bearer token. \
`GET /v1/me` tells a client its organization.

**Requests.** Bodies are JSON objects (`Content-Type: application/json`, at most 64 KiB); an \
unknown field is refused, naming the field. Every POST accepts `Idempotency-Key`: a retry with \
the same key and body gets the first answer, the same key with another body gets 422.

**Responses.** Timestamps are RFC 3339 in UTC with millisecond precision. A field without a \
value is `null`, except the error body's `field`, `request_id` and `job_id` and an integration \
target's ids, which are left out when they do not apply. Lifecycle calls answer 202 with the `job` to follow. Lists are newest first, \
`limit` (1–100, default 25) items a page; pass `next_cursor` back as `cursor` until it is `null`.

**Errors** are `{error, code, field?, request_id, job_id?}`; `request_id` is also the \
`X-Request-Id` header. Codes:

";

/// The document as a JSON value.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(Schemas::openapi()).expect("the document serializes");
    let codes: String = ErrorCode::ALL
        .iter()
        .map(|(code, status, meaning)| format!("| `{}` | {status} | {meaning} |\n", code.as_str()))
        .collect();
    doc["info"] = json!({
        "title": "CapyDB Backups API",
        "version": "1.0.0",
        "description": format!("{DESCRIPTION}| code | status | meaning |\n|---|---|---|\n{codes}"),
        "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
    });
    doc["servers"] = json!([{ "url": "/", "description": "This deployment" }]);
    doc["security"] = json!([{ "api_key": [] }, { "api_key_header": [] }, { "session": [] }]);
    let components = doc["components"].as_object_mut().expect("components");
    components.insert(
        "securitySchemes".into(),
        json!({
            "api_key": { "type": "http", "scheme": "bearer", "description": "An API key, `capy_live_…`." },
            "api_key_header": { "type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key, `capy_live_…`." },
            "session": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                         "description": "A session token from CapyDB's identity provider: claims `sub`, `org_id`, `org_role` (`admin` or `member`), `exp`." },
        }),
    );
    components.insert(
        "headers".into(),
        json!({
            "X-Request-Id": { "description": "The id this request is logged under.", "schema": { "type": "string" } },
            "Retry-After": { "description": "Seconds to wait before retrying (429).", "schema": { "type": "integer" } },
        }),
    );
    components.insert(
        "parameters".into(),
        json!({
            "limit": { "name": "limit", "in": "query", "required": false,
                       "description": format!("Items per page: 1–{LIMIT_MAX}, default {LIMIT_DEFAULT}."),
                       "schema": { "type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT } },
            "cursor": { "name": "cursor", "in": "query", "required": false,
                        "description": "`next_cursor` of the previous page.", "schema": { "type": "string" } },
            "Idempotency-Key": { "name": "Idempotency-Key", "in": "header", "required": false,
                                 "description": "Makes a retry safe: the same key and body within a day get the first answer; another body gets 422.",
                                 "schema": { "type": "string", "minLength": 1, "maxLength": 255 } },
        }),
    );
    let mut responses = Map::new();
    for status in [400u16, 401, 403, 404, 409, 413, 415, 422, 429, 500, 502, 503] {
        let codes: Vec<String> = ErrorCode::ALL
            .iter()
            .filter(|(_, s, _)| *s == status)
            .map(|(c, _, _)| format!("`{}`", c.as_str()))
            .collect();
        let mut headers = json!({ "X-Request-Id": { "$ref": "#/components/headers/X-Request-Id" } });
        if status == 429 {
            headers["Retry-After"] = json!({ "$ref": "#/components/headers/Retry-After" });
        }
        responses.insert(
            status.to_string(),
            json!({
                "description": format!("Error: {}", codes.join(", ")),
                "headers": headers,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
            }),
        );
    }
    components.insert("responses".into(), Value::Object(responses));

    let mut paths = Map::new();
    let mut tags: Vec<&str> = vec![];
    for o in operations() {
        if !tags.contains(&o.tag) {
            tags.push(o.tag);
        }
        let item = paths.entry(o.path).or_insert_with(|| json!({}));
        item[o.method.to_ascii_lowercase()] = operation(&o);
    }
    doc["paths"] = Value::Object(paths);
    doc["tags"] = Value::Array(tags.into_iter().map(|t| json!({ "name": t })).collect());
    doc["webhooks"] = webhooks();
    doc
}

/// Links from an answer to the operations its ids lead to: how a client (and the fuzzer's
/// stateful runs) goes from "created" to "get it by its id".
/// (from operation, to operation, [(path parameter, runtime expression)]).
type Link = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

const LINKS: &[Link] = &[
    ("createProject", "getProject", &[("project_id", "$response.body#/project/id")]),
    ("createProject", "createBackup", &[("project_id", "$response.body#/project/id")]),
    ("createProject", "listJobs", &[("project_id", "$response.body#/project/id")]),
    ("createProject", "getJob", &[("job_id", "$response.body#/job/id")]),
    (
        "createBackup",
        "getBackup",
        &[("project_id", "$request.path.project_id"), ("backup_id", "$response.body#/backup/id")],
    ),
    ("createBackup", "getJob", &[("job_id", "$response.body#/job/id")]),
    (
        "createRestorePoint",
        "deleteRestorePoint",
        &[("project_id", "$request.path.project_id"), ("restore_point_id", "$response.body#/restore_point/id")],
    ),
    ("createApiKey", "revokeApiKey", &[("org_id", "$request.path.org_id"), ("key_id", "$response.body#/api_key/id")]),
    (
        "createWebhookEndpoint",
        "updateWebhookEndpoint",
        &[("org_id", "$request.path.org_id"), ("webhook_id", "$response.body#/webhook_endpoint/id")],
    ),
    (
        "createWebhookEndpoint",
        "listWebhookDeliveries",
        &[("org_id", "$request.path.org_id"), ("webhook_id", "$response.body#/webhook_endpoint/id")],
    ),
];

fn links(operation_id: &str) -> Option<Value> {
    let found: Map<String, Value> = LINKS
        .iter()
        .filter(|(from, _, _)| *from == operation_id)
        .map(|(_, to, params)| {
            let parameters: Map<String, Value> = params.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            (to.to_string(), json!({ "operationId": to, "parameters": parameters }))
        })
        .collect();
    (!found.is_empty()).then_some(Value::Object(found))
}

fn operation(o: &Operation) -> Value {
    let mut params: Vec<Value> = o
        .path_params()
        .into_iter()
        .map(|name| {
            let schema = match name {
                "provider" => json!({ "type": "string", "enum": ["vercel", "netlify"] }),
                "schedule_id" => json!({ "type": "string", "enum": ["default"] }),
                _ => json!({ "type": "string", "minLength": 1 }),
            };
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect();
    if o.paged {
        params.push(json!({ "$ref": "#/components/parameters/limit" }));
        params.push(json!({ "$ref": "#/components/parameters/cursor" }));
    }
    if o.method == "POST" {
        params.push(json!({ "$ref": "#/components/parameters/Idempotency-Key" }));
    }
    let mut responses = Map::new();
    for status in &o.success {
        let content = match &o.response {
            Some(name) => {
                json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } })
            }
            None => json!({ "application/json": { "schema": { "type": "object" } } }),
        };
        let mut response = json!({
            "description": if *status == 202 { "Accepted: follow `job`" } else { "OK" },
            "headers": { "X-Request-Id": { "$ref": "#/components/headers/X-Request-Id" } },
            "content": content,
        });
        if let Some(links) = links(o.operation_id) {
            response["links"] = links;
        }
        responses.insert(status.to_string(), response);
    }
    for status in o.error_statuses() {
        responses.insert(status.to_string(), json!({ "$ref": format!("#/components/responses/{status}") }));
    }
    let mut out = json!({
        "operationId": o.operation_id,
        "tags": [o.tag],
        "summary": o.summary,
        "parameters": params,
        "responses": responses,
    });
    if let Some(d) = o.description {
        out["description"] = json!(d);
    }
    if let Some((name, required)) = &o.body {
        out["requestBody"] = json!({
            "required": required,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } },
        });
    }
    if o.public {
        out["security"] = json!([]);
    }
    out
}

fn webhooks() -> Value {
    let mut out = Map::new();
    for (event, data, when) in EVENT_TYPES {
        out.insert(
            event.to_string(),
            json!({ "post": {
                "operationId": format!("event_{}", event.replace('.', "_")),
                "summary": when,
                "description": "Signed with the endpoint's secret: `X-CapyDB-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`, the scheme Stripe uses. Reject a timestamp more than five minutes old. Any 2xx acknowledges; anything else (or no answer within 10 s) is retried with back-off for at least a day.",
                "parameters": [
                    { "name": "X-CapyDB-Event", "in": "header", "required": true, "schema": { "type": "string", "const": event } },
                    { "name": "X-CapyDB-Delivery", "in": "header", "required": true, "description": "Unique per delivery: ignore one already handled.", "schema": { "type": "string" } },
                    { "name": "X-CapyDB-Signature", "in": "header", "required": true, "schema": { "type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$" } },
                    { "name": "User-Agent", "in": "header", "required": true, "schema": { "type": "string", "const": "capydb-webhooks/1.0" } },
                ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "allOf": [
                    { "$ref": "#/components/schemas/EventEnvelope" },
                    { "type": "object", "properties": {
                        "type": { "const": event },
                        "data": { "$ref": format!("#/components/schemas/{data}") },
                    } },
                ] } } } },
                "responses": { "2XX": { "description": "Received." } },
            } }),
        );
    }
    Value::Object(out)
}

/// The document as the API serves it and `api/openapi.json` holds it.
pub fn document_json() -> String {
    let mut s = serde_json::to_string_pretty(&document()).expect("the document serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_document_is_the_generated_one() {
        let committed = include_str!("../openapi.json");
        assert!(
            committed == document_json(),
            "api/openapi.json is out of date: run `make openapi` and commit the result"
        );
    }

    #[test]
    fn every_reference_resolves_and_every_operation_is_unique() {
        let doc = document();
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut found = vec![];
        refs(&doc, &mut found);
        for r in found {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "dangling reference {r}");
        }
        let ids: std::collections::HashSet<_> = operations().iter().map(|o| o.operation_id).collect();
        assert_eq!(ids.len(), operations().len());
        for (from, to, params) in LINKS {
            assert!(ids.contains(from) && ids.contains(to), "link {from} -> {to} names no operation");
            let target = operations().into_iter().find(|o| o.operation_id == *to).unwrap();
            for (name, _) in *params {
                assert!(target.path_params().contains(name), "{to} has no path parameter {name}");
            }
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn every_error_code_is_documented_with_its_status() {
        let doc = document_json();
        for (code, status, _) in ErrorCode::ALL {
            assert!(doc.contains(&format!("| `{}` | {status} |", code.as_str())), "{code} missing");
        }
    }
}
