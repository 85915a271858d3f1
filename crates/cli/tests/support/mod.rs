//! Shared by the integration tests: run the real binary and read its jsonl contract.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The repository root (tests run with the crate directory as working directory).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// `../shared` beside the repository, as CI lays it out.
pub fn shared() -> PathBuf {
    repo().join("../shared")
}

/// What one `credtrail scan --format jsonl` run produced.
pub struct Scan {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub alerts: Vec<Value>,
    pub incidents: Vec<Value>,
    pub summary: Value,
}

impl Scan {
    pub fn of_rule(&self, rule: &str) -> Vec<&Value> {
        self.alerts.iter().filter(|a| a["rule"] == rule).collect()
    }
}

/// Evidence `(source, index)` pairs of an alert.
pub fn evidence(alert: &Value) -> Vec<(String, u64)> {
    alert["evidence"]
        .as_array()
        .expect("evidence list")
        .iter()
        .map(|e| {
            (
                e["source"].as_str().expect("source").to_string(),
                e["index"].as_u64().expect("index"),
            )
        })
        .collect()
}

pub fn scan(args: &[&str]) -> Scan {
    let quarantine = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(env!("CARGO_BIN_EXE_credtrail"))
        .arg("scan")
        .args(["--format", "jsonl", "--no-progress", "--quarantine"])
        .arg(quarantine.path())
        .args(args)
        .output()
        .expect("run credtrail");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "credtrail failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("every jsonl line is JSON"))
        .collect();
    let summary = lines.last().cloned().expect("a summary line");
    assert_eq!(summary["type"], "summary");
    let incidents = lines.iter().filter(|l| l["type"] == "incident").cloned().collect();
    let alerts = lines.into_iter().filter(|l| l["type"] == "alert").collect();
    Scan {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        alerts,
        incidents,
        summary,
    }
}

pub fn severity_rank(s: &str) -> u8 {
    match s {
        "info" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        other => panic!("unknown severity {other}"),
    }
}

/// What an incident says, without ids or paths: decision, severity, the rules of its alerts, the
/// rubric's reasons, the checks' outcomes, the timeline, the plan and the data read. Golden files
/// hold these, so that a change in any of them is reviewed.
pub fn incident_digest(incident: &Value, alerts: &[Value]) -> Value {
    let members: std::collections::BTreeSet<&str> = incident["alerts"]
        .as_array()
        .expect("alert ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let rules: std::collections::BTreeSet<String> = alerts
        .iter()
        .filter(|a| a["id"].as_str().is_some_and(|id| members.contains(id)))
        .map(|a| match a["variant"].as_str() {
            Some(v) => format!("{} ({v})", a["rule"].as_str().unwrap_or("?")),
            None => a["rule"].as_str().unwrap_or("?").to_string(),
        })
        .collect();
    let texts = |list: &Value, key: &str| -> Vec<Value> {
        list.as_array()
            .map(|l| l.iter().map(|x| x[key].clone()).collect())
            .unwrap_or_default()
    };
    serde_json::json!({
        "decision": incident["escalation"]["decision"],
        "severity": incident["severity"],
        "first_evidence": incident["first_evidence"],
        "last_evidence": incident["last_evidence"],
        "rules": rules,
        "reasons": incident["escalation"]["reasons"],
        "answers": texts(&incident["answers"], "answer"),
        "checks": incident["checks"].as_array().map(|l| l.iter().map(|c| format!("{}: {}", c["check"].as_str().unwrap_or("?"), c["outcome"].as_str().unwrap_or("?"))).collect::<Vec<_>>()),
        "timeline": incident["facts"]["timeline"].as_array().map(|l| l.iter().map(|m| format!("{} {}", m["time"].as_str().unwrap_or("?"), m["what"].as_str().unwrap_or("?"))).collect::<Vec<_>>()),
        "data_access": incident["facts"]["data_access"],
        "containment": texts(&incident["containment"], "action"),
    })
}

/// Compares `value` with the golden file at `path`; with `CREDTRAIL_BLESS=1` writes it instead.
pub fn golden(path: &Path, value: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())? + "\n";
    if std::env::var_os("CREDTRAIL_BLESS").is_some_and(|v| v == "1") {
        return std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()));
    }
    let want =
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e} (CREDTRAIL_BLESS=1 writes it)", path.display()))?;
    if want != text {
        let first = want
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(text.lines().count()));
        return Err(format!(
            "{} differs from this run at line {}:\n  golden: {}\n  now:    {}\n(review, then CREDTRAIL_BLESS=1 to accept)",
            path.display(),
            first + 1,
            want.lines().nth(first).unwrap_or("<end>"),
            text.lines().nth(first).unwrap_or("<end>")
        ));
    }
    Ok(())
}

/// What a finished engine decided, one line per alert (id, severity, reasons, evidence) and per
/// incident (with its facts), for comparing decisions made on different inputs or splits.
pub fn decisions(engine: credtrail_detect::Engine) -> Vec<String> {
    let knowledge = credtrail_detect::Knowledge {
        ranges: credtrail_ingest::ip_ranges::bundled(),
        ..Default::default()
    };
    let findings = engine.finish(&knowledge);
    let context = credtrail_triage::Context {
        activity: Some(&findings.activity),
        ..Default::default()
    };
    // Incidents with their facts (every call, read and change of the stolen credentials) are
    // decisions too.
    let incidents = credtrail_triage::incidents(&findings.alerts, &context);
    findings
        .alerts
        .iter()
        .map(|a| format!("{} {:?} {:?} {:?}", a.id(), a.severity, a.reasons, a.evidence))
        .chain(incidents.iter().map(|i| format!("{i:?}")))
        .collect()
}
