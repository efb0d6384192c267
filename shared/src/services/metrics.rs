//! Operational metrics as CloudWatch Embedded Metric Format: each measurement is one JSON line
//! on stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics, with no
//! API call on the request path and no agent. The local runtime writes the same lines to its
//! log. Dimensions are few (the region, a job's kind); ids ride along as plain properties, so
//! one line can be found from an alarm without multiplying metrics.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

pub const NAMESPACE: &str = "CapyDB/Backups";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Seconds,
    Bytes,
    BytesPerSecond,
    Count,
    /// Seconds of restore per gigabyte restored: the measured recovery time objective.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
            Unit::BytesPerSecond => "Bytes/Second",
            Unit::Count => "Count",
            Unit::None => "None",
        }
    }
}

/// One EMF line: `values` under `dimensions`, with `properties` beside them.
pub fn line(
    at: DateTime<Utc>,
    dimensions: &[(&str, &str)],
    values: &[(&str, f64, Unit)],
    properties: &[(&str, &str)],
) -> String {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": values.iter().map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() })).collect::<Vec<_>>(),
            }],
        }),
    );
    for (k, v) in dimensions.iter().chain(properties) {
        root.insert(k.to_string(), json!(v));
    }
    for (name, value, _) in values {
        root.insert(name.to_string(), json!(value));
    }
    Value::Object(root).to_string()
}

/// Where the lines go: stdout in service and in `capydb-local`, a buffer in tests.
#[derive(Clone)]
pub struct Metrics {
    captured: Option<Arc<Mutex<Vec<String>>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::stdout()
    }
}

impl Metrics {
    pub fn stdout() -> Self {
        Metrics { captured: None }
    }

    /// Keeps every line (and still prints it), for tests to read back.
    pub fn capturing() -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (Metrics { captured: Some(lines.clone()) }, lines)
    }

    pub fn emit(
        &self,
        at: DateTime<Utc>,
        dimensions: &[(&str, &str)],
        values: &[(&str, f64, Unit)],
        properties: &[(&str, &str)],
    ) {
        let line = line(at, dimensions, values, properties);
        println!("{line}");
        if let Some(lines) = &self.captured {
            lines.lock().expect("metrics buffer").push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_its_metrics_and_carries_their_values() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z").unwrap().with_timezone(&Utc);
        let l = line(
            at,
            &[("Region", "local-1")],
            &[("BackupDuration", 1500.0, Unit::Milliseconds), ("BackupBytes", 4096.0, Unit::Bytes)],
            &[("BackupId", "bkp_1")],
        );
        let v: Value = serde_json::from_str(&l).unwrap();
        let declared = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], at.timestamp_millis());
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["Region"]]));
        assert_eq!(declared["Metrics"][0], json!({ "Name": "BackupDuration", "Unit": "Milliseconds" }));
        assert_eq!((v["Region"].as_str(), v["BackupDuration"].as_f64()), (Some("local-1"), Some(1500.0)));
        assert_eq!((v["BackupBytes"].as_f64(), v["BackupId"].as_str()), (Some(4096.0), Some("bkp_1")));
        assert!(!l.contains('\n'), "one line");
    }
}
