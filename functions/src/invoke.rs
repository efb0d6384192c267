//! One function, one event: what `make invoke` runs, as `sam local invoke -e` would, but
//! against the running `make dev` stack (its moto, clusters and table) and without Docker or an
//! AWS account. The event goes through the same entry the Lambda runtime hands it to.

use crate::routes::dispatch;
use crate::targets::Target;
use crate::workers;
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use capydb_shared::services::Context;
use serde_json::{json, Value};

/// `${NAME}` in an event file, from `lookup` (the environment: the exports `make dev` prints).
pub fn expand(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or("an unclosed `${` in the event")? + start;
        let name = &rest[start + 2..end];
        out.push_str(&lookup(name).ok_or_else(|| format!("the event needs ${{{name}}}; export it first"))?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Runs `target` on `event` (JSON) and returns what its runtime would answer.
pub async fn invoke(ctx: &Context, target: Target, event: &str) -> Result<Value, String> {
    let bad = |e: serde_json::Error| format!("the event is not this function's event: {e}");
    match target {
        Target::Route(id) => {
            let request = lambda_http::request::from_str(event).map_err(bad)?;
            let response = dispatch(id, ctx, request).await;
            let headers: serde_json::Map<String, Value> = response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
                .collect();
            let body = String::from_utf8_lossy(response.body()).into_owned();
            Ok(json!({
                "statusCode": response.status().as_u16(),
                "headers": headers,
                "body": serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body)),
            }))
        }
        Target::Worker(worker) => {
            let event: StreamEvent = serde_json::from_str(event).map_err(bad)?;
            let response = workers::handle(worker, ctx, event).await;
            serde_json::to_value(response).map_err(|e| e.to_string())
        }
        Target::Sweep(sweep) => workers::handle_sweep(ctx, sweep).await.map_err(|e| e.to_string()),
        Target::ScheduledBackup => {
            let input = serde_json::from_str(event).map_err(bad)?;
            workers::handle_scheduled_backup(ctx, input).await.map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_come_from_the_environment_and_a_missing_one_is_named() {
        let env = |n: &str| (n == "CAPYDB_PROJECT").then(|| "prj_1".to_string());
        assert_eq!(expand(r#"{"p": "${CAPYDB_PROJECT}/x"}"#, env).unwrap(), r#"{"p": "prj_1/x"}"#);
        assert!(expand("${CAPYDB_API_KEY}", env).unwrap_err().contains("CAPYDB_API_KEY"));
        assert!(expand("${oops", env).is_err());
    }
}
