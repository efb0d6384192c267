//! `template.yaml` must describe exactly what the code declares: the same routes served by the
//! same binaries, the same stream filters, schedules and table keys.

use crate::routes::ROUTES;
use crate::workers::{SCHEDULES, WORKERS};
use capydb_shared::adapters::dynamo::schema::INDEXES;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).expect("template.yaml is readable"))
        .expect("template.yaml parses")
}

fn functions(t: &Value) -> Vec<(String, &Value)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect()
}

fn binary(f: &Value) -> &str {
    f["Metadata"]["BuildProperties"]["Binary"].as_str().expect("every function names its binary")
}

fn events<'a>(f: &'a Value, kind: &str) -> Vec<&'a Value> {
    f["Properties"]["Events"]
        .as_mapping()
        .map(|m| m.values().filter(|e| e["Type"] == kind).map(|e| &e["Properties"]).collect())
        .unwrap_or_default()
}

#[test]
fn http_routes_equal_the_route_table() {
    let t = template();
    let in_template: BTreeSet<(String, String, String, String)> = functions(&t)
        .iter()
        .flat_map(|(name, f)| {
            events(f, "HttpApi").into_iter().map(move |e| {
                (
                    e["Method"].as_str().unwrap().to_string(),
                    e["Path"].as_str().unwrap().to_string(),
                    name.clone(),
                    binary(f).to_string(),
                )
            })
        })
        .collect();
    let in_code: BTreeSet<(String, String, String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string(), r.function.to_string(), r.binary.to_string()))
        .collect();
    assert_eq!(in_template, in_code);
}

#[test]
fn workers_have_the_same_binary_and_stream_filter() {
    let t = template();
    let fns = functions(&t);
    for w in WORKERS {
        let (_, f) = fns.iter().find(|(n, _)| n == w.function).unwrap_or_else(|| panic!("{} missing", w.function));
        assert_eq!(binary(f), w.binary);
        let streams = events(f, "DynamoDB");
        assert_eq!(streams.len(), 1, "{} has one stream event", w.function);
        let filters = streams[0]["FilterCriteria"]["Filters"].as_sequence().expect("filters");
        let patterns: Vec<serde_json::Value> =
            filters.iter().map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap()).collect();
        let expected: serde_json::Value = serde_json::from_str(w.filter).unwrap();
        assert_eq!(patterns, vec![expected], "{} filter", w.function);
    }
}

#[test]
fn schedules_match() {
    let t = template();
    let fns = functions(&t);
    for s in SCHEDULES {
        let (_, f) = fns.iter().find(|(n, _)| n == s.function).unwrap_or_else(|| panic!("{} missing", s.function));
        assert_eq!(binary(f), s.binary);
        let sched = events(f, "ScheduleV2");
        assert_eq!(sched.len(), 1);
        assert_eq!(sched[0]["ScheduleExpression"].as_str(), Some(s.expression));
    }
}

#[test]
fn every_template_function_is_declared_in_code_and_has_a_binary() {
    let t = template();
    let declared: BTreeSet<&str> = ROUTES
        .iter()
        .map(|r| r.function)
        .chain(WORKERS.iter().map(|w| w.function))
        .chain(SCHEDULES.iter().map(|s| s.function))
        .chain([crate::workers::SCHEDULED_BACKUP_FUNCTION])
        .collect();
    for (name, f) in functions(&t) {
        assert!(declared.contains(name.as_str()), "{name} is in template.yaml but not in the code");
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin").join(format!("{}.rs", binary(f)));
        assert!(bin.exists(), "{} has no binary source {}", name, bin.display());
    }
}

#[test]
fn table_keys_and_indexes_match_the_schema() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    let gsis: BTreeSet<(String, String, String)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| {
            let ks = g["KeySchema"].as_sequence().unwrap();
            (
                g["IndexName"].as_str().unwrap().to_string(),
                ks[0]["AttributeName"].as_str().unwrap().to_string(),
                ks[1]["AttributeName"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let code: BTreeSet<(String, String, String)> =
        INDEXES.iter().map(|(n, h, r)| (n.to_string(), h.to_string(), r.to_string())).collect();
    assert_eq!(gsis, code);
    assert_eq!(table["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
}

#[test]
fn the_openapi_document_describes_exactly_the_routes() {
    let in_code: BTreeSet<(String, String)> =
        crate::routes::ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    let in_document: BTreeSet<(String, String)> =
        capydb_api::openapi::operations().iter().map(|o| (o.method.to_string(), o.path.to_string())).collect();
    assert_eq!(in_document, in_code, "the route table and the OpenAPI operations differ");
    let doc = capydb_api::openapi::document();
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().expect("path item").keys().map(move |m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    assert_eq!(documented, in_code, "the generated document and the route table differ");
}

#[test]
fn the_dashboard_is_served_with_the_api_and_the_local_headers() {
    let t = template();
    let r = &t["Resources"];
    let csp = &r["DashboardHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        ["ContentSecurityPolicy"]["ContentSecurityPolicy"];
    assert_eq!(csp.as_str(), Some(crate::local::dashboard::CONTENT_SECURITY_POLICY));
    let config = &r["DashboardDistribution"]["Properties"]["DistributionConfig"];
    let behaviors = config["CacheBehaviors"].as_sequence().expect("cache behaviors");
    let api = behaviors.iter().find(|b| b["PathPattern"] == "/v1/*").expect("/v1/* goes to the API");
    assert_eq!(api["TargetOriginId"], "api");
    assert!(ROUTES.iter().all(|route| route.path.starts_with("/v1/")), "every route is under /v1/");
    assert_eq!(config["DefaultCacheBehavior"]["TargetOriginId"], "dashboard");
}
