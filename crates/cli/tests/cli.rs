//! The `credtrail` command as a user and a pipeline meet it: exit codes, stdin, the quarantine
//! file, the `jsonl` contract (PRODUCT.md §6), config errors, suppressions, colour, the
//! `rules`/`explain`/`formats` commands, time windows and hostile log strings.
//!
//! Every run gets a fresh temporary working directory, so nothing (not even a default
//! quarantine file) is ever written into the repository.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use support::repo;
use tempfile::TempDir;

/// Rule ids are a public contract (PRODUCT.md §4): users suppress and route by them.
const RULES: [&str; 13] = [
    "instance-credential-exfiltration",
    "imdsv1-credential-delivery",
    "imds-hardening-downgrade",
    "instance-credential-recon",
    "instance-credential-access-denied-burst",
    "ssrf-metadata-request",
    "metadata-proxy-abuse",
    "imds-credential-read-unexpected-process",
    "imds-access-from-container",
    "imds-access-volume-anomaly",
    "imds-access-failures",
    "gcp-vm-service-account-token-misuse",
    "azure-managed-identity-token-misuse",
];

const ALERT_KEYS: [&str; 11] = [
    "type",
    "id",
    "rule",
    "variant",
    "severity",
    "first_seen",
    "last_seen",
    "title",
    "entities",
    "reasons",
    "evidence",
];

const ENTITY_KEYS: [&str; 12] = [
    "cloud",
    "account",
    "principal",
    "role",
    "access_key",
    "instance",
    "source_ip",
    "user_agent",
    "host",
    "process",
    "container",
    "user",
];

fn cli_fixture(name: &str) -> String {
    repo().join("testdata/cli").join(name).display().to_string()
}

fn sample() -> String {
    repo().join("testdata/sample").display().to_string()
}

/// The sample's CloudTrail file (gzip).
fn sample_cloudtrail_gz() -> PathBuf {
    let mut found = Vec::new();
    let mut stack = vec![repo().join("testdata/sample/AWSLogs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                found.push(path);
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// `credtrail` run in a fresh temporary directory, colour environment cleared.
fn credtrail(cwd: &TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credtrail"));
    cmd.current_dir(cwd.path()).env_remove("NO_COLOR");
    cmd
}

fn tmp() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// Parses `jsonl` output, asserting that every line is a JSON object.
fn jsonl(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).unwrap();
    assert!(text.ends_with('\n'), "output ends with a newline");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    lines: Vec<Value>,
}

impl Run {
    fn alerts(&self) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["type"] == "alert").collect()
    }

    fn summary(&self) -> &Value {
        let last = self.lines.last().expect("a summary line");
        assert_eq!(last["type"], "summary");
        last
    }

    fn rules(&self) -> BTreeSet<String> {
        self.alerts()
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect()
    }
}

/// `credtrail scan --format jsonl --no-progress ARGS…` in `cwd`.
fn scan_jsonl(cwd: &TempDir, args: &[&str]) -> Run {
    let out = credtrail(cwd)
        .args(["scan", "--format", "jsonl", "--no-progress"])
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        lines: jsonl(&out.stdout),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// What `cmd` prints, once it has exited with `code`.
fn stdout(cmd: &mut Command, code: i32) -> String {
    String::from_utf8(cmd.assert().code(code).get_output().stdout.clone()).unwrap()
}

/// `credtrail ARGS…` in `cwd`, asserted to be a usage error (exit 2).
fn usage_error(cwd: &TempDir, args: &[&str]) -> assert_cmd::assert::Assert {
    credtrail(cwd).args(args).assert().code(2)
}

/// `credtrail scan --format jsonl --no-progress -` in `cwd`, reading `input`.
fn scan_stdin(cwd: &TempDir, input: Vec<u8>) -> Command {
    let mut cmd = credtrail(cwd);
    cmd.args(["scan", "--format", "jsonl", "--no-progress", "-"])
        .write_stdin(input);
    cmd
}

/// The report `credtrail scan --no-progress --format FORMAT INPUT` prints, alerts found (exit 1).
fn scan_report(cwd: &TempDir, format: &str, input: &str) -> String {
    stdout(
        credtrail(cwd).args(["scan", "--no-progress", "--format", format, input]),
        1,
    )
}

/// Parses each line of `text` as JSON, with none of the `jsonl` contract's checks.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// exit codes

#[test]
fn exit_0_when_nothing_is_found() {
    let cwd = tmp();
    let run = scan_jsonl(&cwd, &[&cli_fixture("benign.jsonl")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.alerts().is_empty());
    assert_eq!(run.lines.len(), 1, "only the summary");
    assert_eq!(run.summary()["records"]["events"], 4);
    assert_eq!(run.summary()["records"]["rejected_total"], 0);
    // Nothing was rejected, so no quarantine file was written anywhere.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

#[test]
fn exit_1_when_alerts_are_found() {
    let cwd = tmp();
    let run = scan_jsonl(&cwd, &[&sample()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // The sample holds the SSRF (nginx and auditd) and the credential's use (CloudTrail), not a
    // proxy.
    let mut expected: BTreeSet<String> = RULES[..6].iter().map(|r| r.to_string()).collect();
    expected.insert("imds-credential-read-unexpected-process".into());
    assert_eq!(run.rules(), expected);
    // The table, the default format, agrees.
    credtrail(&cwd)
        .args(["scan", "--no-progress", &sample()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("instance-credential-exfiltration"));
}

#[test]
fn exit_2_when_the_only_path_is_missing() {
    let cwd = tmp();
    let missing = cwd.path().join("no-such-dir/AWSLogs");
    let run = scan_jsonl(&cwd, &[missing.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nothing could be read"), "{}", run.stderr);
    assert_eq!(run.summary()["inputs"]["unreadable"], 1);
    assert_eq!(run.summary()["records"]["rejected"]["unreadable"], 1);
}

#[test]
fn exit_2_when_the_only_input_is_garbage() {
    let cwd = tmp();
    let run = scan_jsonl(&cwd, &[&cli_fixture("garbage.txt")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nothing could be read"), "{}", run.stderr);
    assert_eq!(run.summary()["records"]["rejected"]["unrecognised_format"], 1);
}

#[test]
fn a_missing_path_beside_a_readable_one_is_reported_but_does_not_fail_the_scan() {
    let cwd = tmp();
    let run = scan_jsonl(&cwd, &[&cli_fixture("benign.jsonl"), "/nonexistent/credtrail-input"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary()["records"]["rejected"]["unreadable"], 1);
}

#[test]
fn an_unknown_format_value_is_a_usage_error() {
    let cwd = tmp();
    usage_error(&cwd, &["scan", "--format", "yaml", &sample()])
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("'yaml'").and(predicate::str::contains("--format")))
        .stderr(predicate::str::contains("table").and(predicate::str::contains("jsonl")));
    usage_error(&cwd, &["scan", "--input-format", "syslog", &sample()])
        .stderr(predicate::str::contains("syslog").and(predicate::str::contains("cloudtrail")));
}

// ---------------------------------------------------------------------------------------------
// stdin

#[test]
fn dash_reads_standard_input() {
    let cwd = tmp();
    let input = std::fs::read(cli_fixture("benign.jsonl")).unwrap();
    let lines = jsonl(stdout(&mut scan_stdin(&cwd, input), 0).as_bytes());
    assert_eq!(lines.last().unwrap()["records"]["events"], 4);
    assert_eq!(lines.last().unwrap()["inputs"]["formats"]["cloudtrail"], 1);
}

#[test]
fn dash_reads_gzip_from_standard_input_and_cites_it_as_dash() {
    let cwd = tmp();
    let mut cmd = scan_stdin(&cwd, std::fs::read(sample_cloudtrail_gz()).unwrap());
    let lines = jsonl(stdout(&mut cmd, 1).as_bytes());
    let alerts: Vec<&Value> = lines.iter().filter(|l| l["type"] == "alert").collect();
    assert!(!alerts.is_empty());
    for a in alerts {
        for e in a["evidence"].as_array().unwrap() {
            assert_eq!(e["source"], "-", "{e}");
        }
    }
    // A gzip of JSON lines read the same way.
    let benign = gzip(&std::fs::read(cli_fixture("benign.jsonl")).unwrap());
    scan_stdin(&cwd, benign)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(r#""events":4"#));
}

// ---------------------------------------------------------------------------------------------
// quarantine

fn quarantine_lines(path: &Path) -> Vec<Value> {
    jsonl(&std::fs::read(path).unwrap())
}

#[test]
fn quarantine_gets_one_json_line_per_rejected_record() {
    let cwd = tmp();
    let given = cli_fixture("mixed.jsonl");
    let q = cwd.path().join("rejected.jsonl");
    let run = scan_jsonl(&cwd, &["--quarantine", q.to_str().unwrap(), &given]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary()["records"]["events"], 3);
    assert_eq!(
        run.summary()["records"]["rejected"],
        serde_json::json!({"invalid_json": 1, "missing_field": 1})
    );
    assert_eq!(run.summary()["quarantine"], q.display().to_string());
    let lines = quarantine_lines(&q);
    let got: Vec<(String, u64, u64, String)> = lines
        .iter()
        .map(|l| {
            (
                l["source"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
                l["index"].as_u64().unwrap(),
                l["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (given.clone(), 2, 2, "invalid_json".to_string()),
            (given.clone(), 4, 4, "missing_field".to_string()),
        ]
    );
    for l in &lines {
        assert!(l["detail"].as_str().is_some_and(|d| !d.is_empty()), "{l}");
        assert!(l["record"].as_str().is_some_and(|r| r.starts_with('{')), "{l}");
    }
    // Only the named quarantine file was written.
    let names: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["rejected.jsonl"]);
}

#[test]
fn the_default_quarantine_sits_beside_the_output() {
    let cwd = tmp();
    let report = cwd.path().join("report.jsonl");
    credtrail(&cwd)
        .args(["scan", "--format", "jsonl", "--no-progress", "--output"])
        .arg(&report)
        .arg(cli_fixture("mixed.jsonl"))
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty());
    let q = cwd.path().join("report.jsonl.quarantine.jsonl");
    assert_eq!(quarantine_lines(&q).len(), 2);
    let report = jsonl(&std::fs::read(&report).unwrap());
    assert_eq!(report.last().unwrap()["quarantine"], q.display().to_string());
    assert!(!cwd.path().join("credtrail-quarantine.jsonl").exists());
}

#[test]
fn without_output_the_default_quarantine_is_in_the_working_directory() {
    let cwd = tmp();
    let run = scan_jsonl(&cwd, &[&cli_fixture("mixed.jsonl")]);
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("credtrail-quarantine.jsonl"), "{}", run.stderr);
    assert_eq!(
        quarantine_lines(&cwd.path().join("credtrail-quarantine.jsonl")).len(),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// the jsonl contract

fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    text.len() >= 20
        && text.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
}

#[test]
fn jsonl_lines_follow_the_contract() {
    let cwd = tmp();
    let q = cwd.path().join("q.jsonl");
    let sample = sample();
    let mixed = cli_fixture("mixed.jsonl");
    let run = scan_jsonl(&cwd, &["--quarantine", q.to_str().unwrap(), &sample, &mixed]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (summary, records) = run.lines.split_last().unwrap();
    // Alert lines, then incident lines, then the summary.
    let split = records
        .iter()
        .position(|l| l["type"] != "alert")
        .unwrap_or(records.len());
    let (alerts, incidents) = records.split_at(split);
    assert!(!alerts.is_empty());
    assert!(!incidents.is_empty());
    let alert_ids: BTreeSet<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let mut covered = BTreeSet::new();
    for i in incidents {
        assert_eq!(i["type"], "incident", "only incident lines after the alerts: {i}");
        let keys: BTreeSet<&str> = i.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "type",
                "id",
                "alerts",
                "severity",
                "escalation",
                "answers",
                "containment",
                "first_evidence",
                "last_evidence",
                "duration_seconds",
                "checks",
                "facts"
            ]),
            "{i}"
        );
        let facts: BTreeSet<&str> = i["facts"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            facts,
            BTreeSet::from([
                "timeline",
                "credentials",
                "instances",
                "data_access",
                "roles",
                "networks"
            ]),
            "{i}"
        );
        let checks: Vec<&str> = i["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        assert_eq!(
            checks,
            [
                "allow-list",
                "baseline",
                "deployment window",
                "metadata posture",
                "role permissions"
            ]
        );
        // The sample has no authorization details: the check says so, and cites nothing.
        let role = &i["checks"][4];
        assert!(
            role["outcome"] == "no role named by the alerts"
                || role["outcome"]
                    .as_str()
                    .unwrap()
                    .starts_with("not checked: no authorization details given"),
            "{role}"
        );
        assert_eq!(role["evidence"], serde_json::json!([]));
        assert!(i["facts"]["roles"].is_null(), "{i}");
        for moment in i["facts"]["timeline"].as_array().unwrap() {
            assert!(is_rfc3339_utc(moment["time"].as_str().unwrap()), "{moment}");
            assert!(moment["alert"].is_string() || moment["evidence"]["line"].is_u64() || moment["evidence"].is_null());
        }
        assert!(i["id"].as_str().unwrap().starts_with("inc-"));
        for id in i["alerts"].as_array().unwrap() {
            let id = id.as_str().unwrap();
            assert!(alert_ids.contains(id), "incident cites an unknown alert {id}");
            assert!(covered.insert(id), "alert {id} is in two incidents");
        }
        assert!(["escalate_t2", "monitor", "close_benign"].contains(&i["escalation"]["decision"].as_str().unwrap()));
        assert_eq!(i["answers"].as_array().unwrap().len(), 4, "{i}");
        assert!(is_rfc3339_utc(i["first_evidence"].as_str().unwrap()));
    }
    assert_eq!(covered, alert_ids, "every alert belongs to one incident");
    let by_severity: u64 = summary["incidents"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_severity, incidents.len() as u64);
    for a in alerts {
        assert_eq!(a["type"], "alert", "only alert lines before the incidents: {a}");
        let keys: BTreeSet<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ALERT_KEYS.into_iter().collect(), "{a}");
        assert!(RULES.contains(&a["rule"].as_str().unwrap()), "{a}");
        assert!(a["variant"].is_null() || a["variant"].is_string(), "{a}");
        assert!(
            ["info", "low", "medium", "high", "critical"].contains(&a["severity"].as_str().unwrap()),
            "{a}"
        );
        let (first, last) = (a["first_seen"].as_str().unwrap(), a["last_seen"].as_str().unwrap());
        assert!(is_rfc3339_utc(first) && is_rfc3339_utc(last), "{a}");
        assert!(first <= last, "{a}");
        assert!(a["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(a["title"].as_str().is_some_and(|t| !t.is_empty()));
        let entities = a["entities"].as_object().unwrap();
        assert!(entities.keys().all(|k| ENTITY_KEYS.contains(&k.as_str())), "{a}");
        assert!(entities.values().all(Value::is_string), "{a}");
        let reasons = a["reasons"].as_array().unwrap();
        assert!(!reasons.is_empty() && reasons.iter().all(Value::is_string), "{a}");
        let evidence = a["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty(), "{a}");
        for e in evidence {
            let keys: BTreeSet<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, BTreeSet::from(["source", "line", "index"]), "{e}");
            assert!(e["source"].as_str().unwrap().starts_with(&sample), "{e}");
            assert!(e["line"].as_u64().unwrap() >= 1, "{e}");
            assert!(e["index"].as_u64().unwrap() >= 1, "{e}");
        }
    }
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        summary["records"]["rejected"],
        serde_json::json!({"invalid_json": 1, "missing_field": 1})
    );
    assert_eq!(summary["records"]["rejected_total"], 2);
    assert_eq!(summary["inputs"]["files"], 8);
    let by_severity: u64 = summary["alerts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_severity, alerts.len() as u64);

    // Alert ids are stable across runs.
    let again = scan_jsonl(&cwd, &["--quarantine", q.to_str().unwrap(), &sample, &mixed]);
    assert_eq!(again.stdout, run.stdout);
}

// ---------------------------------------------------------------------------------------------
// configuration and suppressions

#[test]
fn a_config_with_an_unknown_key_fails_naming_the_key_and_the_file() {
    let cwd = tmp();
    usage_error(
        &cwd,
        &[
            "scan",
            "--no-progress",
            "--config",
            &cli_fixture("unknown-key.toml"),
            &sample(),
        ],
    )
    .stdout(predicate::str::is_empty())
    .stderr(predicate::str::contains("rolez").and(predicate::str::contains("unknown-key.toml")));
}

#[test]
fn a_suppressed_alert_is_listed_in_the_summary_with_its_reason() {
    let cwd = tmp();
    let plain = scan_jsonl(&cwd, &[&sample()]);
    let imdsv1: Vec<&Value> = plain
        .alerts()
        .into_iter()
        .filter(|a| a["rule"] == "imdsv1-credential-delivery")
        .collect();
    assert_eq!(imdsv1.len(), 1);

    let run = scan_jsonl(&cwd, &["--config", &cli_fixture("suppress-sample.toml"), &sample()]);
    assert_eq!(run.code, 1, "the other alerts remain: {}", run.stderr);
    assert!(!run.rules().contains("imdsv1-credential-delivery"));
    assert_eq!(run.alerts().len(), plain.alerts().len() - 1);
    let suppressed = run.summary()["suppressed"].as_array().unwrap();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["id"], imdsv1[0]["id"]);
    assert_eq!(suppressed[0]["rule"], "imdsv1-credential-delivery");
    let reason = suppressed[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("legacy batch job, IMDSv2 migration tracked in OPS-1234"),
        "{reason}"
    );
    assert_eq!(run.summary()["alerts"]["low"], 0);
}

#[test]
fn suppressing_the_only_alert_exits_0() {
    let cwd = tmp();
    let plain = scan_jsonl(&cwd, &[&cli_fixture("imdsv1-only.jsonl")]);
    assert_eq!(plain.code, 1);
    assert_eq!(
        plain.rules(),
        BTreeSet::from(["imdsv1-credential-delivery".to_string()])
    );
    let run = scan_jsonl(
        &cwd,
        &[
            "--config",
            &cli_fixture("suppress-imdsv1-only.toml"),
            &cli_fixture("imdsv1-only.jsonl"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.alerts().is_empty());
    let suppressed = run.summary()["suppressed"].as_array().unwrap();
    assert_eq!(suppressed.len(), 1);
    assert!(suppressed[0]["reason"].as_str().unwrap().contains("OPS-2041"));
}

// ---------------------------------------------------------------------------------------------
// terminal output

#[test]
fn output_that_is_not_a_terminal_has_no_escape_bytes() {
    let cwd = tmp();
    for no_color in [None, Some("1")] {
        let mut cmd = credtrail(&cwd);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.args(["scan", &sample()]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(!out.stdout.is_empty());
        assert!(!out.stdout.contains(&0x1b), "NO_COLOR={no_color:?}: ESC in stdout");
        assert!(!out.stderr.contains(&0x1b), "NO_COLOR={no_color:?}: ESC in stderr");
    }
}

#[test]
fn hostile_log_strings_never_reach_the_table_raw() {
    let cwd = tmp();
    let out = credtrail(&cwd)
        .args(["scan", "--no-progress", &cli_fixture("hostile.jsonl")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    // The alert about the stolen credential is there, with the hostile strings made visible...
    assert!(table.contains("instance-credential-exfiltration"), "{table}");
    assert!(table.contains("\\u{1b}[2J"), "{table}");
    assert!(table.contains("\\u{202e}txt.exe"), "{table}");
    // ...and none of them raw.
    for (what, c) in [("ESC", '\u{1b}'), ("BEL", '\u{7}'), ("CR", '\r'), ("RLO", '\u{202e}')] {
        assert!(!table.contains(c), "raw {what} in the table:\n{table}");
    }
    assert!(table.chars().all(|c| c == '\n' || !c.is_control()), "{table:?}");
    // JSON output escapes control characters by construction.
    let run = scan_jsonl(&cwd, &[&cli_fixture("hostile.jsonl")]);
    assert!(!run.stdout.contains(&0x1b) && !run.stdout.contains(&b'\r'));
    let agent = run.alerts()[0]["entities"]["user_agent"].as_str().unwrap().to_string();
    assert!(
        agent.contains('\u{1b}') && agent.contains('\u{202e}'),
        "the data itself is kept: {agent:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// rules, explain, formats

#[test]
fn rules_lists_every_public_rule_id() {
    let cwd = tmp();
    let text = stdout(credtrail(&cwd).arg("rules"), 0);
    let ids: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(ids, RULES);
}

#[test]
fn show_prints_one_incident_found_by_its_id_or_by_one_of_its_alerts() {
    let cwd = tmp();
    let out = credtrail(&cwd)
        .args(["scan", "--no-progress", "--format", "jsonl", &sample()])
        .output()
        .unwrap();
    let lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    let incident = lines.iter().find(|l| l["type"] == "incident").expect("an incident");
    let id = incident["id"].as_str().unwrap();
    let alert_id = incident["alerts"][0].as_str().unwrap();
    for wanted in [id, alert_id] {
        let shown = json_lines(&stdout(
            credtrail(&cwd).args(["show", wanted, "--no-progress", "--format", "jsonl", &sample()]),
            1,
        ));
        let incidents: Vec<&Value> = shown.iter().filter(|l| l["type"] == "incident").collect();
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0]["id"], id);
        assert_eq!(incidents[0]["alerts"], incident["alerts"]);
        let alerts = shown.iter().filter(|l| l["type"] == "alert").count();
        assert_eq!(alerts, incident["alerts"].as_array().unwrap().len());
    }
    usage_error(&cwd, &["show", "inc-0000000000000000", "--no-progress", &sample()])
        .stderr(predicates::str::contains("no incident or alert with id"));
}

/// Formula, HTML, script and Markdown-link payloads in role names, user agents, URIs, S3 keys and
/// IAM user names (`testdata/cli/hostile-report.jsonl` and `testdata/hostile/`): the CSV never
/// hands a spreadsheet a formula, the Markdown never hands a renderer markup.
#[test]
fn hostile_log_strings_are_inert_in_csv_and_markdown() {
    let cwd = tmp();
    let hostile_dir = repo().join("testdata/hostile").display().to_string();
    for fixture in [cli_fixture("hostile-report.jsonl"), hostile_dir] {
        let csv_out = scan_report(&cwd, "csv", &fixture);
        let mut reader = csv::Reader::from_reader(csv_out.as_bytes());
        let mut rows = 0;
        let mut saw_payload = false;
        let mut formulas = 0;
        for record in reader.records() {
            let record = record.unwrap();
            rows += 1;
            for cell in record.iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "a cell a spreadsheet would run: {cell:?}"
                );
                saw_payload |= cell.contains("HYPERLINK");
                formulas += usize::from(cell.starts_with('\''));
            }
        }
        assert!(rows >= 2 && saw_payload, "{fixture}: the payload is kept, as text");
        assert!(formulas > 0, "{fixture}: formula cells were there, neutralised");

        let md = scan_report(&cwd, "markdown", &fixture);
        assert!(md.contains("escalate_t2"), "{md}");
        for line in md.lines() {
            // Indented code blocks (the containment commands) render as literal text.
            if line.starts_with("        ") {
                continue;
            }
            for raw in ["<script", "<img", "<svg", "](javascript", "**bold**", "`tick`"] {
                assert!(!line.contains(raw), "raw {raw:?} in Markdown: {line}");
            }
        }
    }
}

/// What `credtrail explain NAME` prints; it must succeed.
fn explain(cwd: &TempDir, name: &str) -> String {
    stdout(credtrail(cwd).args(["explain", name]), 0)
}

#[test]
fn explain_of_authorization_details_says_what_the_analysis_simplifies() {
    let text = explain(&tmp(), "aws-iam-authorization-details");
    assert!(text.contains("get-account-authorization-details"), "{text}");
    assert!(text.contains("URL-encoded"), "{text}");
    assert!(
        text.contains("permissions boundaries, service control policies"),
        "{text}"
    );
    assert!(text.contains("more than the role can do, never less"), "{text}");
}

#[test]
fn explain_of_vpc_flow_logs_says_plainly_they_cannot_show_metadata_access() {
    let cwd = tmp();
    let text = explain(&cwd, "vpc-flow-logs");
    assert!(text.contains("CANNOT show metadata access"), "{text}");
    assert!(text.contains("169.254.169.254"), "{text}");
    // Every format explains itself, and an unknown name is a usage error naming both lists.
    for line in String::from_utf8(credtrail(&cwd).arg("formats").output().unwrap().stdout)
        .unwrap()
        .lines()
    {
        let name = line.split_whitespace().next().unwrap();
        credtrail(&cwd).args(["explain", name]).assert().code(0);
    }
    usage_error(&cwd, &["explain", "no-such-thing"]).stderr(predicates::str::contains("unknown rule or format"));
}

#[test]
fn explain_prints_the_five_headings() {
    let cwd = tmp();
    let text = explain(&cwd, "instance-credential-exfiltration");
    let mut at = 0;
    for heading in [
        "What it detects",
        "Why it matters",
        "Data required",
        "Known false positives",
        "Example",
    ] {
        let pos = text[at..]
            .find(heading)
            .unwrap_or_else(|| panic!("{heading:?} missing or out of order:\n{text}"));
        at += pos + heading.len();
    }
    for rule in RULES {
        credtrail(&cwd).args(["explain", rule]).assert().code(0);
    }
}

#[test]
fn explain_of_an_unknown_rule_exits_2_and_lists_the_known_ones() {
    let cwd = tmp();
    usage_error(&cwd, &["explain", "nope"])
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("nope").and(predicate::str::contains("instance-credential-exfiltration")));
}

#[test]
fn formats_lists_cloudtrail_and_aws_inventory() {
    let cwd = tmp();
    let text = stdout(credtrail(&cwd).arg("formats"), 0);
    let names: BTreeSet<&str> = text.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(
        names.contains("cloudtrail") && names.contains("aws-inventory"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// time window

#[test]
fn since_and_until_filter_by_event_time_inclusively() {
    let cwd = tmp();
    let all = scan_jsonl(&cwd, &[&sample()]);
    assert_eq!(all.summary()["records"]["events"], 23);

    // Up to the IMDS downgrade (09:45:00, included): the theft at 10:02 is outside the window.
    let before = scan_jsonl(&cwd, &["--until", "2026-03-01T09:45:00Z", &sample()]);
    assert_eq!(before.code, 1, "{}", before.stderr);
    assert_eq!(before.summary()["records"]["events"], 5);
    assert_eq!(before.rules(), BTreeSet::from(["imds-hardening-downgrade".to_string()]));

    // From the credential's issue on: the downgrade is outside, the theft inside.
    let after = scan_jsonl(&cwd, &["--since", "2026-03-01T10:00:00Z", &sample()]);
    assert_eq!(after.summary()["records"]["events"], 16);
    assert!(!after.rules().contains("imds-hardening-downgrade"));
    assert!(after.rules().contains("instance-credential-exfiltration"));
    for a in after.alerts() {
        assert!(a["first_seen"].as_str().unwrap() >= "2026-03-01T10:00:00Z", "{a}");
    }

    // A window holding only two of the stolen credential's calls.
    let narrow = scan_jsonl(
        &cwd,
        &[
            "--since",
            "2026-03-01T10:02:30Z",
            "--until",
            "2026-03-01T10:02:45+00:00",
            &sample(),
        ],
    );
    assert_eq!(narrow.summary()["records"]["events"], 2);
    for a in narrow.alerts() {
        assert!(a["first_seen"].as_str().unwrap() >= "2026-03-01T10:02:30Z", "{a}");
        assert!(a["last_seen"].as_str().unwrap() <= "2026-03-01T10:02:45Z", "{a}");
    }

    usage_error(&cwd, &["scan", "--since", "yesterday", &sample()])
        .stderr(predicate::str::contains("--since").and(predicate::str::contains("yesterday")));
}

/// The role-permissions check in the table and Markdown: it cites the details file and line, and
/// names from the details file (instance profiles, policy names, trust principals) are as hostile
/// as any log value.
#[test]
fn role_permissions_cite_their_source_and_hostile_names_in_the_details_are_inert() {
    let cwd = tmp();
    let scenario =
        repo().join("testdata/scenarios/instance-credential-exfiltration/tp/role-can-pass-role-to-new-instance/input");
    let input = cwd.path().join("input");
    std::fs::create_dir(&input).unwrap();
    for entry in std::fs::read_dir(&scenario).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, input.join(path.file_name().unwrap())).unwrap();
    }
    let details = input.join("authorization-details.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&details).unwrap()).unwrap();
    let role = &mut doc["RoleDetailList"][0];
    role["InstanceProfileList"][0]["InstanceProfileName"] = "\u{1b}[2J<script>alert(1)</script>".into();
    role["RolePolicyList"][0]["PolicyName"] = "**bold** `tick` \u{202e}txt.exe [x](javascript:alert(1))".into();
    std::fs::write(&details, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let scan = |format: &str| scan_report(&cwd, format, input.to_str().unwrap());
    let table = scan("table");
    let check = table
        .lines()
        .find(|l| l.contains("check     role permissions:"))
        .unwrap_or_else(|| panic!("no role permissions check:\n{table}"));
    assert!(check.contains("iam:PassRole + ec2:RunInstances"), "{check}");
    assert!(check.contains("authorization-details.json line "), "{check}");
    assert!(
        check.contains("\\u{1b}[2J") && check.contains("\\u{202e}txt.exe"),
        "{check}"
    );
    assert!(table.chars().all(|c| c == '\n' || !c.is_control()), "{table:?}");
    assert!(!table.contains('\u{202e}'));

    let md = scan("markdown");
    let check = md
        .lines()
        .find(|l| l.starts_with("- role permissions:"))
        .unwrap_or_else(|| panic!("no role permissions check:\n{md}"));
    assert!(check.contains(r"authorization\-details\.json line "), "{check}");
    for raw in ["<script", "](javascript", "**bold**", "`tick`"] {
        assert!(!check.contains(raw), "raw {raw:?} in Markdown: {check}");
    }
}

/// Regression: alert ids ignored host, process, container and user, so two curls reading the
/// metadata service on one host in the same second shared an id (and so did their incidents,
/// whose HTML anchors collided); and one log shipped under two paths made the same finding twice.
#[test]
fn alert_ids_are_unique_and_a_log_under_two_paths_is_one_finding() {
    let cwd = tmp();
    let trace = repo().join("testdata/formats/imds-packet-analyzer/imds-trace-logging-conf.log");
    let audit = repo().join("testdata/formats/kubernetes-audit/event-list.json");
    let copy = cwd.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(&audit, copy.join("event-list.json")).unwrap();
    let run = scan_jsonl(
        &cwd,
        &[trace.to_str().unwrap(), audit.to_str().unwrap(), copy.to_str().unwrap()],
    );
    for kind in ["alert", "incident"] {
        let ids: Vec<&str> = run
            .lines
            .iter()
            .filter(|l| l["type"] == kind)
            .map(|l| l["id"].as_str().unwrap())
            .collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "duplicate {kind} ids: {ids:?}");
    }
    let curls: Vec<&Value> = run
        .alerts()
        .into_iter()
        .filter(|a| a["entities"]["process"].as_str().is_some_and(|p| p.starts_with("curl")))
        .collect();
    assert!(curls.len() >= 2, "two curl processes, two alerts: {curls:#?}");
    let exec: Vec<&Value> = run
        .alerts()
        .into_iter()
        .filter(|a| a["rule"] == "imds-access-from-container" && a["variant"] == "kubectl_exec")
        .collect();
    assert_eq!(exec.len(), 1, "{exec:#?}");
    let sources: BTreeSet<String> = support::evidence(exec[0]).into_iter().map(|(s, _)| s).collect();
    assert_eq!(sources.len(), 2, "the one alert cites both copies: {sources:?}");
}
