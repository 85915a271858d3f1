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
