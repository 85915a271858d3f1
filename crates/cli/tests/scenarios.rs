//! Detector scenarios: `testdata/scenarios/<rule>/{tp,tn}/<name>/` each hold an `input/` directory
//! (CloudTrail and optional inventory), an optional `config.toml`, and `expect.json` saying how many
//! alerts of the rule the input must raise, with which variant, severity bounds and evidence
//! (1-based record indexes in `input/cloudtrail.json`, or in the file `evidence_file` names). `tp` scenarios must raise the rule, `tn`
//! scenarios must not. `incidents.golden.json` is what the scenario's incidents say (see
//! `support::incident_digest`); `CREDTRAIL_BLESS=1 cargo test` rewrites it after a review.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{evidence, golden, incident_digest, repo, scan, severity_rank};

fn check(dir: &Path, kind: &str) -> Result<(), String> {
    let expect: Value = serde_json::from_slice(&std::fs::read(dir.join("expect.json")).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let rule = expect["rule"].as_str().ok_or("expect.rule")?;
    let input = dir.join("input");
    let config = dir.join("config.toml");
    let mut args = vec![input.to_str().ok_or("path")?.to_string()];
    if config.exists() {
        args.push("--config".into());
        args.push(config.to_str().ok_or("path")?.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = scan(&args);
    let rejected = result.summary["records"]["rejected_total"].as_u64();
    if rejected != Some(0) {
        return Err(format!("fixture has rejected records: {}", result.summary));
    }
    let alerts = result.of_rule(rule);
    let want = expect["alerts"].as_u64().ok_or("expect.alerts")? as usize;
    if kind == "tp" && want == 0 || kind == "tn" && want != 0 {
        return Err(format!(
            "a {kind} scenario must expect {} alerts",
            if kind == "tp" { "some" } else { "no" }
        ));
    }
    if alerts.len() != want {
        return Err(format!(
            "expected {want} {rule} alert(s), got {}: {alerts:#?}",
            alerts.len()
        ));
    }
    for alert in alerts {
        if let Some(v) = expect.get("variant") {
            if &alert["variant"] != v {
                return Err(format!("variant {} != {v}", alert["variant"]));
            }
        }
        if let Some(cloud) = expect.get("cloud") {
            if &alert["entities"]["cloud"] != cloud {
                return Err(format!("entities.cloud {} != {cloud}", alert["entities"]["cloud"]));
            }
        }
        let sev = severity_rank(alert["severity"].as_str().ok_or("severity")?);
        if let Some(min) = expect["min_severity"].as_str() {
            if sev < severity_rank(min) {
                return Err(format!("severity {} below {min}", alert["severity"]));
            }
        }
        if let Some(max) = expect["max_severity"].as_str() {
            if sev > severity_rank(max) {
                return Err(format!("severity {} above {max}", alert["severity"]));
            }
        }
        if let Some(want) = expect["evidence_indexes"].as_array() {
            let want: Vec<u64> = want.iter().filter_map(Value::as_u64).collect();
            let got: Vec<u64> = evidence(alert)
                .into_iter()
                .filter(|(src, _)| src.ends_with(expect["evidence_file"].as_str().unwrap_or("cloudtrail.json")))
                .map(|(_, i)| i)
                .collect();
            if got != want {
                return Err(format!("evidence indexes {got:?} != {want:?}"));
            }
        }
        if alert["reasons"].as_array().is_none_or(|r| r.is_empty()) {
            return Err("an alert without reasons".into());
        }
    }
    // The incidents the scenario makes, reviewed as a golden file beside it.
    let digests: Vec<Value> = result
        .incidents
        .iter()
        .map(|i| incident_digest(i, &result.alerts))
        .collect();
    golden(&dir.join("incidents.golden.json"), &Value::Array(digests))
}

#[test]
fn every_detector_has_true_positive_and_true_negative_scenarios_that_hold() {
    let root = repo().join("testdata/scenarios");
    let mut failures = Vec::new();
    let mut ran = 0;
    for detector in credtrail_rules() {
        for kind in ["tp", "tn"] {
            let dir = root.join(&detector).join(kind);
            let mut names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}: every detector needs {kind}/ scenarios", dir.display()))
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            names.sort();
            assert!(!names.is_empty(), "{detector} has no {kind} scenario");
            for scenario in names {
                ran += 1;
                if let Err(why) = check(&scenario, kind) {
                    failures.push(format!(
                        "{}: {why}",
                        scenario.strip_prefix(&root).unwrap_or(&scenario).display()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} scenarios failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Rule ids as the binary lists them, so a new detector without scenarios fails this test.
fn credtrail_rules() -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_credtrail"))
        .arg("rules")
        .output()
        .expect("credtrail rules");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Issue #5 item 4: with `get-account-authorization-details` beside the trail, a stolen
/// credential whose role can pass a role to a new instance escalates with that path cited; the
/// same theft with a read-only role is described by the check and the rule does not fire.
#[test]
fn authorization_details_decide_the_escalation_path_rule() {
    let root = repo().join("testdata/scenarios/instance-credential-exfiltration/tp");
    let reasons_and_check = |name: &str| -> (Vec<String>, String, Value) {
        let input = root.join(name).join("input");
        let result = scan(&[input.to_str().expect("path")]);
        assert_eq!(result.incidents.len(), 1, "{name}");
        let incident = &result.incidents[0];
        let reasons = incident["escalation"]["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        let check = incident["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["check"] == "role permissions")
            .expect("a role permissions check")
            .clone();
        (
            reasons,
            check["outcome"].as_str().unwrap_or("").to_string(),
            check["evidence"].clone(),
        )
    };
    let (reasons, outcome, evidence) = reasons_and_check("role-can-pass-role-to-new-instance");
    assert!(
        reasons.iter().any(|r| r
            == "the credential's role app-role holds privilege-escalation paths and was used away from its workload: iam:PassRole + ec2:RunInstances (new EC2 instance with an existing role)"),
        "{reasons:?}"
    );
    assert!(outcome.contains("iam:PassRole + ec2:RunInstances"), "{outcome}");
    // The check cites the role's entry in the details file.
    assert!(
        evidence[0]["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("authorization-details.json")),
        "{evidence}"
    );
    let (reasons, outcome, _) = reasons_and_check("read-only-role");
    assert!(!reasons.iter().any(|r| r.contains("credential's role")), "{reasons:?}");
    assert!(
        outcome.contains("privilege-escalation paths: none of the known paths"),
        "{outcome}"
    );
}
