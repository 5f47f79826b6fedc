//! The official endpoint test cases of the service, run against
//! `personalize_events_core::endpoint::resolve`.
//!
//! Data: `spec/botocore/` in the repository (botocore's
//! `endpoint-tests-1.json`, `endpoint-rule-set-1.json` and `partitions.json`).
//! The tests fail if a file is missing or unreadable.

use personalize_events_core::endpoint::{resolve, EndpointParams};
use personalize_events_core::Error;
use serde_json::Value;
use std::path::PathBuf;

fn spec_path(file: &str) -> PathBuf {
    personalize_events_tests::spec_dir()
        .join("botocore")
        .join(file)
}

fn load(file: &str) -> Value {
    let path = spec_path(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
}

/// The case's params as `EndpointParams`, with the rule set's defaults.
fn to_params(params: Option<&Value>) -> EndpointParams {
    let mut p = EndpointParams::default();
    let Some(params) = params else {
        return p;
    };
    let obj = params.as_object().expect("params is an object");
    for (name, value) in obj {
        match name.as_str() {
            "Region" => p.region = Some(value.as_str().expect("Region is a string").to_owned()),
            "Endpoint" => {
                p.endpoint = Some(value.as_str().expect("Endpoint is a string").to_owned())
            }
            "UseFIPS" => p.use_fips = value.as_bool().expect("UseFIPS is a boolean"),
            "UseDualStack" => {
                p.use_dual_stack = value.as_bool().expect("UseDualStack is a boolean")
            }
            other => panic!("unknown endpoint parameter {other:?}: the rule set has changed"),
        }
    }
    p
}

/// The signing region the expected endpoint's properties give, if any
/// (`authSchemes[*].signingRegion`, or a bare `signingRegion`).
fn expected_signing_region(endpoint: &Value) -> Option<String> {
    let props = endpoint.get("properties")?;
    if let Some(r) = props.get("signingRegion").and_then(Value::as_str) {
        return Some(r.to_owned());
    }
    props
        .get("authSchemes")?
        .as_array()?
        .iter()
        .find_map(|s| s.get("signingRegion").and_then(Value::as_str))
        .map(str::to_owned)
}

#[test]
fn official_endpoint_test_cases() {
    let doc = load("endpoint-tests-1.json");
    let cases = doc["testCases"]
        .as_array()
        .expect("endpoint-tests-1.json has a testCases array");
    assert!(
        cases.len() >= 21,
        "expected at least 21 test cases, found {}",
        cases.len()
    );

    let mut failures = Vec::new();
    let mut endpoints = 0;
    let mut errors = 0;
    for (i, case) in cases.iter().enumerate() {
        let doc = case["documentation"].as_str().unwrap_or("(undocumented)");
        let params = to_params(case.get("params"));
        let got = resolve(&params);
        let expect = &case["expect"];
        if let Some(endpoint) = expect.get("endpoint") {
            endpoints += 1;
            let want_url = endpoint["url"].as_str().expect("expect.endpoint.url");
            if let Some(h) = endpoint.get("headers").and_then(Value::as_object) {
                assert!(h.is_empty(), "case {i} expects headers, not supported");
            }
            match got {
                Ok(r) => {
                    if r.url() != want_url {
                        failures.push(format!("case {i} ({doc}): url {} != {want_url}", r.url()));
                    }
                    let want_region = expected_signing_region(endpoint);
                    if r.signing_region() != want_region.as_deref() {
                        failures.push(format!(
                            "case {i} ({doc}): signing region {:?} != {want_region:?}",
                            r.signing_region()
                        ));
                    }
                    // The parts agree with the URL (all official URLs are
                    // https, default port, no path).
                    let (scheme, rest) = want_url.split_once("://").expect("url has a scheme");
                    if r.scheme() != scheme || r.authority() != rest || !r.base_path().is_empty() {
                        failures.push(format!(
                            "case {i} ({doc}): parts {}|{}|{} do not match {want_url}",
                            r.scheme(),
                            r.authority(),
                            r.base_path()
                        ));
                    }
                }
                Err(e) => failures.push(format!("case {i} ({doc}): expected {want_url}, got {e}")),
            }
        } else if let Some(want_err) = expect.get("error") {
            errors += 1;
            let want_err = want_err.as_str().expect("expect.error is a string");
            match got {
                Err(Error::Endpoint(m)) if m == want_err => {}
                other => failures.push(format!(
                    "case {i} ({doc}): expected error {want_err:?}, got {other:?}"
                )),
            }
        } else {
            panic!("case {i} ({doc}) expects neither an endpoint nor an error");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(endpoints + errors, cases.len());
    assert!(endpoints > 0 && errors > 0);
}

#[test]
fn rule_set_parameters_are_the_four_we_map() {
    let rules = load("endpoint-rule-set-1.json");
    let mut names: Vec<&str> = rules["parameters"]
        .as_object()
        .expect("parameters")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Endpoint", "Region", "UseDualStack", "UseFIPS"]);
    for flag in ["UseDualStack", "UseFIPS"] {
        assert_eq!(rules["parameters"][flag]["default"], Value::Bool(false));
    }
}

/// The partition table embedded in the core agrees with `partitions.json`:
/// every listed region resolves, with each flag combination, to the URL the
/// rule set builds from that partition's outputs.
#[test]
fn embedded_partitions_agree_with_partitions_json() {
    let data = load("partitions.json");
    let partitions = data["partitions"].as_array().expect("partitions");
    assert!(!partitions.is_empty());
    let mut checked = 0;
    for partition in partitions {
        let id = partition["id"].as_str().expect("id");
        let out = &partition["outputs"];
        let dns = out["dnsSuffix"].as_str().expect("dnsSuffix");
        let dual_dns = out["dualStackDnsSuffix"]
            .as_str()
            .expect("dualStackDnsSuffix");
        let fips_ok = out["supportsFIPS"].as_bool().expect("supportsFIPS");
        let dual_ok = out["supportsDualStack"]
            .as_bool()
            .expect("supportsDualStack");
        let regions = partition["regions"].as_object().expect("regions");
        for (region, entry) in regions {
            // The core keeps listed regions by name only: no overrides.
            let keys: Vec<&String> = entry.as_object().expect("region entry").keys().collect();
            assert!(
                keys.iter().all(|k| k.as_str() == "description"),
                "{id}/{region} has overrides {keys:?}: the embedded table must carry them"
            );
            for (fips, dual) in [(false, false), (true, false), (false, true), (true, true)] {
                let want: Result<String, &str> = match (fips, dual) {
                    (true, true) if fips_ok && dual_ok => Ok(format!(
                        "https://personalize-events-fips.{region}.{dual_dns}"
                    )),
                    (true, true) => Err(
                        "FIPS and DualStack are enabled, but this partition does not support one or both",
                    ),
                    (true, false) if fips_ok => {
                        Ok(format!("https://personalize-events-fips.{region}.{dns}"))
                    }
                    (true, false) => Err("FIPS is enabled but this partition does not support FIPS"),
                    (false, true) if dual_ok => {
                        Ok(format!("https://personalize-events.{region}.{dual_dns}"))
                    }
                    (false, true) => {
                        Err("DualStack is enabled but this partition does not support DualStack")
                    }
                    (false, false) => Ok(format!("https://personalize-events.{region}.{dns}")),
                };
                let got = resolve(&EndpointParams {
                    region: Some(region.clone()),
                    use_fips: fips,
                    use_dual_stack: dual,
                    endpoint: None,
                });
                match (&want, &got) {
                    (Ok(u), Ok(r)) => {
                        assert_eq!(r.url(), u, "{id}/{region} fips={fips} dual={dual}")
                    }
                    (Err(m), Err(Error::Endpoint(g))) => assert_eq!(g, m),
                    _ => {
                        panic!("{id}/{region} fips={fips} dual={dual}: want {want:?}, got {got:?}")
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 50, "only {checked} combinations checked");
}
