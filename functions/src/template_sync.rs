//! `template.yaml` must describe exactly what the code declares: the same routes served by the
//! same functions, the same stream filters, schedules and table keys, and every function running
//! the one binary with its own name in `CAPYDB_FUNCTION`.

use crate::routes::ROUTES;
use crate::targets::{self, FUNCTION_VAR};
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

fn events<'a>(f: &'a Value, kind: &str) -> Vec<&'a Value> {
    f["Properties"]["Events"]
        .as_mapping()
        .map(|m| m.values().filter(|e| e["Type"] == kind).map(|e| &e["Properties"]).collect())
        .unwrap_or_default()
}

#[test]
fn http_routes_equal_the_route_table() {
    let t = template();
    let in_template: BTreeSet<(String, String, String)> = functions(&t)
        .iter()
        .flat_map(|(name, f)| {
            events(f, "HttpApi").into_iter().map(move |e| {
                (e["Method"].as_str().unwrap().to_string(), e["Path"].as_str().unwrap().to_string(), name.clone())
            })
        })
        .collect();
    let in_code: BTreeSet<(String, String, String)> =
        ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string(), r.function.to_string())).collect();
    assert_eq!(in_template, in_code);
}

#[test]
fn workers_have_the_same_stream_filter() {
    let t = template();
    let fns = functions(&t);
    for w in WORKERS {
        let (_, f) = fns.iter().find(|(n, _)| n == w.function).unwrap_or_else(|| panic!("{} missing", w.function));
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
        let sched = events(f, "ScheduleV2");
        assert_eq!(sched.len(), 1);
        assert_eq!(sched[0]["ScheduleExpression"].as_str(), Some(s.expression));
    }
}

#[test]
fn every_template_function_runs_the_one_binary_as_a_function_the_code_declares() {
    let t = template();
    let mut in_template = BTreeSet::new();
    for (name, f) in functions(&t) {
        assert_eq!(f["Metadata"]["BuildProperties"]["Binary"].as_str(), Some("capydb-lambda"), "{name}'s binary");
        let said = f["Properties"]["Environment"]["Variables"][FUNCTION_VAR].as_str();
        assert_eq!(said, Some(name.as_str()), "{name} names itself in {FUNCTION_VAR}");
        assert!(targets::target(&name).is_some(), "{name} is in template.yaml but not in the code");
        in_template.insert(name);
    }
    let in_code: BTreeSet<String> = targets::names().into_iter().map(String::from).collect();
    assert_eq!(in_template, in_code, "the template's functions and the code's");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/capydb-lambda.rs");
    assert!(bin.exists(), "{} is the functions' binary", bin.display());
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
