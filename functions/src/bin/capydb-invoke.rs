//! `capydb-invoke FUNCTION EVENT.json`: runs one function's handler on one event against the
//! running `make dev` stack (`make invoke FN=… EVENT=…`) and prints what it answered.

use capydb_functions::{invoke, targets};
use capydb_shared::config::Config;
use capydb_shared::services::Context;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    capydb_functions::lambda::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [function, event] = args.as_slice() else {
        eprintln!(
            "usage: capydb-invoke FUNCTION EVENT.json (FUNCTION is a logical id in template.yaml: {})",
            targets::names().join(", ")
        );
        return std::process::ExitCode::from(2);
    };
    let Some(target) = targets::target(function) else {
        eprintln!("no function `{function}`; one of: {}", targets::names().join(", "));
        return std::process::ExitCode::from(2);
    };
    let run = async {
        let raw = std::fs::read_to_string(event).map_err(|e| format!("cannot read {event}: {e}"))?;
        let demo = demo_values();
        let event = invoke::expand(&raw, |name| std::env::var(name).ok().or_else(|| demo.get(name).cloned()))?;
        let config =
            Config::from_env().map_err(|e| format!("{e} (is `make dev` running? `make invoke` reads its settings)"))?;
        let ctx = Context::from_config(config).await;
        invoke::invoke(&ctx, target, &event).await
    };
    match run.await {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `CAPYDB_API_KEY`, `CAPYDB_PROJECT` and `CAPYDB_ORG` of the demo org `make dev` keeps, for
/// event placeholders the environment does not set.
fn demo_values() -> std::collections::HashMap<String, String> {
    let state = std::env::var("CAPYDB_STATE_DIR").unwrap_or_else(|_| ".capydb".into());
    let Ok(bytes) = std::fs::read(std::path::Path::new(&state).join("demo.json")) else { return Default::default() };
    let Ok(demo) = serde_json::from_slice::<capydb_functions::local::demo::Demo>(&bytes) else {
        return Default::default();
    };
    [
        ("CAPYDB_API_KEY", demo.api_key),
        ("CAPYDB_PROJECT", demo.project_id.to_string()),
        ("CAPYDB_ORG", demo.org_id.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
