//! `capydb webhooks …`: the organisation's webhook endpoints.

use crate::client::Api;
use crate::output::{self, opt};
use crate::{Cli, CliError, Format, ListArgs};
use capydb_api::identity::Me;
use capydb_api::webhooks::{
    Delivery, DeliveryList, DeliveryResponse, DeliveryState, WebhookEndpoint, WebhookEndpointCreateRequest,
    WebhookEndpointDeleted, WebhookEndpointList, WebhookEndpointResponse, WebhookEndpointUpdateRequest,
    WebhookEndpointWithSecret,
};
use capydb_api::Empty;
use clap::Subcommand;

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

/// The organisation: `--org` / `CAPYDB_ORG`, else the caller's own.
pub(crate) async fn org(cli: &Cli, api: &Api) -> Result<String, CliError> {
    if let Some(org) = &cli.org {
        return Ok(org.clone());
    }
    Ok(api.get::<Me>("/v1/me").await?.organization_id)
}

pub async fn run(cli: &Cli, api: &Api, cmd: &WebhooksCmd, out: Format) -> Result<(), CliError> {
    let base = format!("/v1/organizations/{}/webhook-endpoints", org(cli, api).await?);
    match cmd {
        WebhooksCmd::List(list) => {
            let v: WebhookEndpointList = list.fetch(api, &base).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "webhook endpoints",
                    &[
                        ("ID", &|e| e.id.clone()),
                        ("URL", &|e| e.url.clone()),
                        ("EVENTS", &events),
                        ("ACTIVE", &|e| e.is_active.to_string()),
                        ("HEALTH", &|e| output::name(&e.health)),
                    ],
                ),
            }
        }
        WebhooksCmd::Create { url, events, description } => {
            let request = WebhookEndpointCreateRequest {
                url: url.clone(),
                description: description.clone(),
                event_types: Some(events.clone()),
                is_active: None,
            };
            let v: WebhookEndpointWithSecret = api.post(&base, &request, None).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => print_secret("created", &v),
            }
        }
        WebhooksCmd::Update { webhook_id, url, events, description, active } => {
            let request = WebhookEndpointUpdateRequest {
                url: url.clone(),
                description: description.clone().map(Some),
                event_types: events.clone(),
                is_active: *active,
            };
            let v: WebhookEndpointResponse = api.patch(&format!("{base}/{webhook_id}"), &request).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("Webhook endpoint {webhook_id} updated."),
            }
        }
        WebhooksCmd::Delete { webhook_id } => {
            let v: WebhookEndpointDeleted = api.delete(&format!("{base}/{webhook_id}")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => println!("Webhook endpoint {webhook_id} deleted."),
            }
        }
        WebhooksCmd::RotateSecret { webhook_id } => {
            let v: WebhookEndpointWithSecret =
                api.post(&format!("{base}/{webhook_id}/rotate-secret"), &Empty {}, None).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => print_secret("has a new signing secret", &v),
            }
        }
        WebhooksCmd::Deliveries { webhook_id, list } => {
            let v: DeliveryList = list.fetch(api, &format!("{base}/{webhook_id}/deliveries")).await?;
            match out {
                Format::Json => output::json(&v),
                Format::Table => output::listing(
                    v,
                    "deliveries",
                    &[
                        ("ID", &|d| d.id.clone()),
                        ("EVENT", &|d| d.event_type.clone()),
                        ("STATE", &|d| output::name(&d.state)),
                        ("ATTEMPTS", &|d| d.attempts.to_string()),
                        ("LAST RESULT", &last_result),
                        ("NEXT ATTEMPT", &|d| opt(&d.next_attempt_at)),
                        ("CREATED", &|d| d.created_at.to_string()),
                    ],
                ),
            }
        }
        WebhooksCmd::Test { webhook_id } => {
            let v: DeliveryResponse = api.post(&format!("{base}/{webhook_id}/test"), &Empty {}, None).await?;
            finish_delivery(&v, out, "Test delivery")?;
        }
        WebhooksCmd::Redeliver { webhook_id, delivery_id } => {
            let path = format!("{base}/{webhook_id}/deliveries/{delivery_id}/redeliver");
            let v: DeliveryResponse = api.post(&path, &Empty {}, None).await?;
            finish_delivery(&v, out, "Redelivery")?;
        }
    }
    Ok(())
}

/// Prints a delivery that was just attempted; a delivery that did not go through exits
/// non-zero, so scripts can tell.
fn finish_delivery(v: &DeliveryResponse, out: Format, what: &str) -> Result<(), CliError> {
    let d = &v.delivery;
    match out {
        Format::Table => println!("{what} {}: {} ({})", d.id, output::name(&d.state), last_result(d)),
        Format::Json => output::json(v),
    }
    match d.state {
        DeliveryState::Delivered => Ok(()),
        _ => Err(CliError::Other(format!("{what} {} was not delivered: {}", d.id, last_result(d)))),
    }
}

/// "HTTP 200 in 12 ms", or the error of the last attempt.
fn last_result(d: &Delivery) -> String {
    let Some(a) = d.attempt_details.last() else { return "not attempted yet".into() };
    match (a.status_code, &a.error) {
        (Some(code), None) => format!("HTTP {code} in {} ms", a.latency_ms),
        (_, Some(err)) => format!("{err} after {} ms", a.latency_ms),
        (None, None) => "no answer".into(),
    }
}

fn events(e: &WebhookEndpoint) -> String {
    if e.event_types.is_empty() {
        "all".into()
    } else {
        e.event_types.join(",")
    }
}

fn print_secret(what: &str, v: &WebhookEndpointWithSecret) {
    let e = &v.webhook_endpoint;
    println!("Webhook endpoint {} ({}) {what}.", e.id, e.url);
    println!("Signing secret (shown only now): {}", v.plaintext_secret);
}
