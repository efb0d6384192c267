//! Lambda event filtering, as event source mappings apply it: every key of the pattern must be
//! present; an array lists the accepted values, an object matches recursively.

use serde_json::Value;

pub fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(fields) => {
            fields.iter().all(|(key, sub)| event.get(key).is_some_and(|value| matches(sub, value)))
        }
        Value::Array(accepted) => accepted.iter().any(|a| a == event),
        other => other == event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::WORKERS;
    use serde_json::json;

    fn record(job_type: &str, state: &str, event_name: &str) -> Value {
        json!({
            "eventName": event_name,
            "dynamodb": { "NewImage": {
                "type": {"S": "job"}, "job_type": {"S": job_type}, "state": {"S": state}, "pk": {"S": "JOB#job_x"}
            }}
        })
    }

    #[test]
    fn backup_worker_filter_takes_only_pending_backup_jobs() {
        let pattern: Value = serde_json::from_str(WORKERS[0].filter).unwrap();
        assert!(matches(&pattern, &record("backup", "pending", "INSERT")));
        assert!(matches(&pattern, &record("backup", "pending", "MODIFY")));
        assert!(!matches(&pattern, &record("backup", "running", "MODIFY")));
        assert!(!matches(&pattern, &record("provision_project", "pending", "INSERT")));
        assert!(!matches(&pattern, &record("backup", "pending", "REMOVE")));
        assert!(!matches(&pattern, &json!({"eventName": "INSERT"})));
    }

    #[test]
    fn completion_filter_takes_only_new_outbox_events() {
        let worker = WORKERS.iter().find(|w| w.function == "CompletionFunction").unwrap();
        let pattern: Value = serde_json::from_str(worker.filter).unwrap();
        let event = |name: &str, kind: &str| json!({ "eventName": name, "dynamodb": { "NewImage": { "type": {"S": kind}, "pk": {"S": "EVENT#evt_x"} } } });
        assert!(matches(&pattern, &event("INSERT", "event")));
        assert!(!matches(&pattern, &event("MODIFY", "event")), "an event is completed once, when written");
        assert!(!matches(&pattern, &event("INSERT", "delivery")));
        assert!(!matches(&pattern, &record("backup", "pending", "INSERT")));
    }
}
