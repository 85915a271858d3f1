//! OCSF Detection Finding (class 2004, OCSF 1.3.0), one JSON object per line.
//! <https://schema.ocsf.io/1.3.0/classes/detection_finding>

use std::io::{self, Write};

use credtrail_detect::{Alert, Severity};
use serde_json::{json, Value};

use crate::Report;

pub const OCSF_VERSION: &str = "1.3.0";

fn severity_id(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn technique_name(uid: &str) -> &'static str {
    match uid {
        "T1552.005" => "Unsecured Credentials: Cloud Instance Metadata API",
        "T1078.004" => "Valid Accounts: Cloud Accounts",
        "T1087.004" => "Account Discovery: Cloud Account",
        "T1069.003" => "Permission Groups Discovery: Cloud Groups",
        "T1098.001" => "Account Manipulation: Additional Cloud Credentials",
        "T1580" => "Cloud Infrastructure Discovery",
        "T1562" => "Impair Defenses",
        _ => "",
    }
}

fn tactic(uid: &str) -> (&'static str, &'static str) {
    match uid {
        "T1552.005" => ("TA0006", "Credential Access"),
        "T1078.004" => ("TA0005", "Defense Evasion"),
        "T1087.004" | "T1069.003" | "T1580" => ("TA0007", "Discovery"),
        "T1098.001" => ("TA0003", "Persistence"),
        "T1562" => ("TA0005", "Defense Evasion"),
        _ => ("", ""),
    }
}

pub fn finding(report: &Report<'_>, alert: &Alert) -> Value {
    let meta = credtrail_detect::rule(alert.rule);
    let attacks: Vec<Value> = meta
        .map(|m| m.attack)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let (tactic_uid, tactic_name) = tactic(t);
            json!({
                "version": "15",
                "technique": { "uid": t, "name": technique_name(t) },
                "tactic": { "uid": tactic_uid, "name": tactic_name },
            })
        })
        .collect();
    let e = &alert.entities;
    let mut resources = Vec::new();
    if let Some(i) = &e.instance {
        resources.push(json!({ "uid": i, "type": "AWS::EC2::Instance", "cloud_partition": "aws" }));
    }
    if let Some(r) = &e.role {
        resources.push(json!({ "name": r, "type": "AWS::IAM::Role" }));
    }
    let mut observables = Vec::new();
    if let Some(ip) = &e.source_ip {
        if ip.parse::<std::net::IpAddr>().is_ok() {
            observables.push(json!({ "name": "entities.source_ip", "type_id": 2, "type": "IP Address", "value": ip }));
        }
    }
    if let Some(p) = &e.principal {
        observables.push(json!({ "name": "entities.principal", "type_id": 99, "type": "Other", "value": p }));
    }
    let sev = severity_id(alert.severity);
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": sev,
        "severity": alert.severity.as_str().to_uppercase()[..1].to_string() + &alert.severity.as_str()[1..],
        "status_id": 1,
        "status": "New",
        "time": alert.first_seen.millis(),
        "message": alert.title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "credtrail", "vendor_name": "credtrail", "version": env!("CARGO_PKG_VERSION") },
            "uid": alert.id(),
        },
        "finding_info": {
            "uid": alert.id(),
            "title": alert.title,
            "desc": alert.reasons.join("; "),
            "types": [alert.rule],
            "first_seen_time": alert.first_seen.millis(),
            "last_seen_time": alert.last_seen.millis(),
            "analytic": { "uid": alert.rule, "name": meta.map(|m| m.title).unwrap_or(alert.rule), "type_id": 1, "type": "Rule" },
            "attacks": attacks,
        },
        "cloud": { "provider": "AWS", "account": e.account.as_ref().map(|a| json!({ "uid": a })) },
        "resources": resources,
        "observables": observables,
        "unmapped": {
            "credtrail_variant": alert.variant,
            "credtrail_entities": crate::jsonl::alert_json(report, alert)["entities"].clone(),
            "credtrail_evidence": crate::jsonl::alert_json(report, alert)["evidence"].clone(),
        },
    })
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    for alert in report.alerts {
        serde_json::to_writer(&mut *out, &finding(report, alert))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
