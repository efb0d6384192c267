//! `capydb webhooks …`: the organisation's webhook endpoints.

use crate::client::Api;
use crate::output::{self, field};
use crate::{Cli, CliError, Format, ListArgs};
use clap::Subcommand;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum WebhooksCmd {
    /// The organisation's endpoints and their health.
    List(ListArgs),
    /// Add an endpoint; prints its signing secret, which is shown only this once.
    Create {
        /// The receiver: a public https:// URL.
        #[arg(long)]
        url: String,
        /// Event types to send (comma-separated); all events when omitted.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Change an endpoint's URL, events, description, or pause / resume it.
    Update {
        webhook_id: String,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long)]
        description: Option<String>,
        /// Stop (false) or resume (true) deliveries.
        #[arg(long)]
        active: Option<bool>,
    },
    Delete {
        webhook_id: String,
    },
    /// Replace the signing secret; prints the new one, shown only this once.
    RotateSecret {
        webhook_id: String,
    },
    /// Recent deliveries to an endpoint, newest first, with their attempts.
    Deliveries {
        webhook_id: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Send a `webhook.test` event now (one attempt) and show how the receiver answered.
    Test {
        webhook_id: String,
    },
    /// Send a delivery's event again, as a new delivery.
    Redeliver {
        webhook_id: String,
        delivery_id: String,
    },
}

/// The organisation: `--org` / `CAPYDB_ORG`, else the project's.
pub(crate) async fn org(cli: &Cli, api: &Api) -> Result<String, CliError> {
    if let Some(org) = &cli.org {
        return Ok(org.clone());
    }
    let project =
        cli.project().map_err(|_| CliError::Usage("no organization: set CAPYDB_ORG or CAPYDB_PROJECT".into()))?;
    let v = api.get(&format!("/v1/projects/{project}")).await?;
    Ok(field(&v["project"], "org_id"))
}

pub async fn run(cli: &Cli, api: &Api, cmd: &WebhooksCmd, out: Format) -> Result<(), CliError> {
    let base = format!("/v1/organizations/{}/webhook-endpoints", org(cli, api).await?);
    let v = match cmd {
        WebhooksCmd::List(list) => {
            let v = list.fetch(api, &base, "webhook_endpoints").await?;
            if out == Format::Table {
                output::listing(
                    &v,
                    "webhook_endpoints",
                    &[
                        ("ID", &|e| field(e, "id")),
                        ("URL", &|e| field(e, "url")),
                        ("EVENTS", &|e| events(e)),
                        ("ACTIVE", &|e| field(e, "is_active")),
                        ("HEALTH", &|e| field(e, "health")),
                    ],
                );
                return Ok(());
            }
            v
        }
        WebhooksCmd::Create { url, events, description } => {
            let mut body = json!({ "url": url, "event_types": events });
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            let v = api.post(&base, body, None).await?;
            if out == Format::Table {
                print_secret("created", &v);
                return Ok(());
            }
            v
        }
        WebhooksCmd::Update { webhook_id, url, events, description, active } => {
            let mut body = json!({});
            if let Some(u) = url {
                body["url"] = json!(u);
            }
            if let Some(e) = events {
                body["event_types"] = json!(e);
            }
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            if let Some(a) = active {
                body["is_active"] = json!(a);
            }
            let v = api.patch(&format!("{base}/{webhook_id}"), body).await?;
            if out == Format::Table {
                println!("Webhook endpoint {webhook_id} updated.");
                return Ok(());
            }
            v
        }
        WebhooksCmd::Delete { webhook_id } => {
            let v = api.delete(&format!("{base}/{webhook_id}")).await?;
            if out == Format::Table {
                println!("Webhook endpoint {webhook_id} deleted.");
                return Ok(());
            }
            v
        }
        WebhooksCmd::RotateSecret { webhook_id } => {
            let v = api.post(&format!("{base}/{webhook_id}/rotate-secret"), json!({}), None).await?;
            if out == Format::Table {
                print_secret("has a new signing secret", &v);
                return Ok(());
            }
            v
        }
        WebhooksCmd::Deliveries { webhook_id, list } => {
            let v = list.fetch(api, &format!("{base}/{webhook_id}/deliveries"), "deliveries").await?;
            if out == Format::Table {
                output::listing(
                    &v,
                    "deliveries",
                    &[
                        ("ID", &|d| field(d, "id")),
                        ("EVENT", &|d| field(d, "event_type")),
                        ("STATE", &|d| field(d, "state")),
                        ("ATTEMPTS", &|d| field(d, "attempt_count")),
                        ("LAST RESULT", &last_result),
                        ("NEXT ATTEMPT", &|d| field(d, "next_attempt_at")),
                        ("CREATED", &|d| field(d, "created_at")),
                    ],
                );
                return Ok(());
            }
            v
        }
        WebhooksCmd::Test { webhook_id } => {
            let v = api.post(&format!("{base}/{webhook_id}/test"), json!({}), None).await?;
            finish_delivery(&v, out, "Test delivery")?;
            return Ok(());
        }
        WebhooksCmd::Redeliver { webhook_id, delivery_id } => {
            let v =
                api.post(&format!("{base}/{webhook_id}/deliveries/{delivery_id}/redeliver"), json!({}), None).await?;
            finish_delivery(&v, out, "Redelivery")?;
            return Ok(());
        }
    };
    output::json(&v);
    Ok(())
}

/// Prints a delivery that was just attempted; a delivery that did not go through exits
/// non-zero, so scripts can tell.
fn finish_delivery(v: &Value, out: Format, what: &str) -> Result<(), CliError> {
    let d = &v["delivery"];
    if out == Format::Table {
        println!("{what} {}: {} ({})", field(d, "id"), field(d, "state"), last_result(d));
    } else {
        output::json(v);
    }
    match d["state"].as_str() {
        Some("delivered") => Ok(()),
        _ => Err(CliError::Other(format!("{what} {} was not delivered: {}", field(d, "id"), last_result(d)))),
    }
}

/// "HTTP 200 in 12 ms", or the error of the last attempt.
fn last_result(d: &Value) -> String {
    let Some(a) = d["attempts"].as_array().and_then(|l| l.last()) else { return "not attempted yet".into() };
    let latency = a["latency_ms"].as_u64().unwrap_or(0);
    match (a["status_code"].as_u64(), a["error"].as_str()) {
        (Some(code), None) => format!("HTTP {code} in {latency} ms"),
        (_, Some(err)) => format!("{err} after {latency} ms"),
        (None, None) => "no answer".into(),
    }
}

fn events(e: &Value) -> String {
    match e["event_types"].as_array() {
        Some(list) if !list.is_empty() => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        _ => "all".into(),
    }
}

fn print_secret(what: &str, v: &Value) {
    let e = &v["webhook_endpoint"];
    println!("Webhook endpoint {} ({}) {what}.", field(e, "id"), field(e, "url"));
    println!("Signing secret (shown only now): {}", field(v, "plaintext_secret"));
}
