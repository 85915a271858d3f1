//! OCSF Detection Finding (class 2004, OCSF 1.3.0, `cloud` profile), one JSON object per line.
//! <https://schema.ocsf.io/1.3.0/classes/detection_finding>
//!
//! `tests/ocsf_schema.rs` validates this output against the JSON Schema generated from the
//! official 1.3.0 export (`tests/schema/PROVENANCE.md`). OCSF has no `null`: absent values are
//! left out, never written as `null`, outside `unmapped`.

use std::io::{self, Write};

use credtrail_detect::{Alert, Severity};
use serde_json::{json, Map, Value};

use crate::Report;

pub const OCSF_VERSION: &str = "1.3.0";

/// The profiles whose attributes the output uses (`cloud`, and `resources[].cloud_partition`).
pub const PROFILES: &[&str] = &["cloud"];

/// MITRE ATT&CK release the technique and tactic names come from.
const ATTACK_VERSION: &str = "15";

/// `string_t` in OCSF 1.3.0 holds at most this many characters.
const MAX_STRING: usize = 65_535;

/// `severity_id` and its sibling `severity`, which must be the id's caption.
fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// One ATT&CK technique a rule maps to: the parent technique's name, the sub-technique's name
/// when the uid names one, and the tactic reported with it.
struct Technique {
    name: &'static str,
    sub_name: Option<&'static str>,
    tactic: (&'static str, &'static str),
}

fn technique(uid: &str) -> Option<Technique> {
    const CREDENTIAL_ACCESS: (&str, &str) = ("TA0006", "Credential Access");
    const DEFENSE_EVASION: (&str, &str) = ("TA0005", "Defense Evasion");
    const DISCOVERY: (&str, &str) = ("TA0007", "Discovery");
    const PERSISTENCE: (&str, &str) = ("TA0003", "Persistence");
    const INITIAL_ACCESS: (&str, &str) = ("TA0001", "Initial Access");
    const COMMAND_AND_CONTROL: (&str, &str) = ("TA0011", "Command and Control");
    const PRIVILEGE_ESCALATION: (&str, &str) = ("TA0004", "Privilege Escalation");
    let (name, sub_name, tactic) = match uid {
        "T1552.005" => (
            "Unsecured Credentials",
            Some("Cloud Instance Metadata API"),
            CREDENTIAL_ACCESS,
        ),
        "T1078.004" => ("Valid Accounts", Some("Cloud Accounts"), DEFENSE_EVASION),
        "T1087.004" => ("Account Discovery", Some("Cloud Account"), DISCOVERY),
        "T1069.003" => ("Permission Groups Discovery", Some("Cloud Groups"), DISCOVERY),
        "T1098.001" => (
            "Account Manipulation",
            Some("Additional Cloud Credentials"),
            PERSISTENCE,
        ),
        "T1580" => ("Cloud Infrastructure Discovery", None, DISCOVERY),
        "T1562" => ("Impair Defenses", None, DEFENSE_EVASION),
        "T1190" => ("Exploit Public-Facing Application", None, INITIAL_ACCESS),
        "T1090" => ("Proxy", None, COMMAND_AND_CONTROL),
        "T1611" => ("Escape to Host", None, PRIVILEGE_ESCALATION),
        _ => return None,
    };
    Some(Technique { name, sub_name, tactic })
}

/// The `attack` object for one ATT&CK id: a sub-technique (`T1552.005`) is reported as
/// `sub_technique` under its parent `technique` (`T1552`), as OCSF 1.3.0 models it.
fn attack(uid: &str) -> Value {
    let Some(t) = technique(uid) else {
        return json!({ "version": ATTACK_VERSION, "technique": { "uid": clip(uid) } });
    };
    let parent = uid.split_once('.').map_or(uid, |(parent, _)| parent);
    let mut a = Map::new();
    a.insert("version".into(), json!(ATTACK_VERSION));
    a.insert("technique".into(), json!({ "uid": parent, "name": t.name }));
    if let Some(sub_name) = t.sub_name {
        a.insert("sub_technique".into(), json!({ "uid": uid, "name": sub_name }));
    }
    a.insert("tactic".into(), json!({ "uid": t.tactic.0, "name": t.tactic.1 }));
    Value::Object(a)
}

/// A log-derived string cut to what an OCSF `string_t` may hold.
fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_STRING) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

/// `i-` and 8 or 17 hex digits: an EC2 instance id, not an ECS task or EKS pod session.
fn is_ec2_instance_id(id: &str) -> bool {
    id.strip_prefix("i-")
        .is_some_and(|hex| (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn cloud_provider(cloud: Option<&str>) -> String {
    match cloud {
        None => "AWS".into(),
        Some(c) if c.eq_ignore_ascii_case("aws") => "AWS".into(),
        Some(c) if c.eq_ignore_ascii_case("gcp") => "GCP".into(),
        Some(c) if c.eq_ignore_ascii_case("azure") => "Azure".into(),
        Some(c) => clip(c),
    }
}

pub fn finding(report: &Report<'_>, alert: &Alert) -> Value {
    let meta = credtrail_detect::rule(alert.rule);
    let attacks: Vec<Value> = meta
        .map(|m| m.attack)
        .unwrap_or_default()
        .iter()
        .map(|t| attack(t))
        .collect();
    let e = &alert.entities;

    let mut resources = Vec::new();
    if let Some(i) = &e.instance {
        let mut r = Map::new();
        r.insert("uid".into(), json!(clip(i)));
        if is_ec2_instance_id(i) {
            r.insert("type".into(), json!("AWS::EC2::Instance"));
        }
        if e.cloud.as_deref().is_none_or(|c| c.eq_ignore_ascii_case("aws")) {
            r.insert("cloud_partition".into(), json!("aws"));
        }
        resources.push(Value::Object(r));
    }
    if let Some(r) = &e.role {
        resources.push(json!({ "name": clip(r), "type": "AWS::IAM::Role" }));
    }

    // `name` points at the attribute holding the value, inside this event.
    let mut observables = Vec::new();
    let mut observe = |field: &str, type_id: u8, type_name: &str, value: &str| {
        observables.push(json!({
            "name": format!("unmapped.credtrail_entities.{field}"),
            "type_id": type_id,
            "type": type_name,
            "value": clip(value),
        }));
    };
    if let Some(ip) = &e.source_ip {
        if ip.parse::<std::net::IpAddr>().is_ok() {
            observe("source_ip", 2, "IP Address", ip);
        }
    }
    if let Some(key) = &e.access_key {
        observe("access_key", 19, "User Credential ID", key);
    }
    if let Some(i) = &e.instance {
        observe("instance", 10, "Resource UID", i);
    }
    if let Some(p) = &e.principal {
        observe("principal", 99, "Other", p);
    }
    if let Some(h) = &e.host {
        observe("host", 1, "Hostname", h);
    }
    if let Some(p) = &e.process {
        observe("process", 9, "Process Name", p);
    }
    if let Some(c) = &e.container {
        observe("container", 99, "Other", c);
    }
    if let Some(u) = &e.user {
        observe("user", 99, "Other", u);
    }

    let mut cloud = Map::new();
    cloud.insert("provider".into(), json!(cloud_provider(e.cloud.as_deref())));
    if let Some(a) = &e.account {
        // OCSF 1.3.0 has no GCP project or Azure subscription account type (1.4 adds them): Other.
        let account = match e.cloud.as_deref() {
            Some("gcp") => json!({ "uid": clip(a), "type_id": 99, "type": "GCP Project" }),
            Some("azure") => json!({ "uid": clip(a), "type_id": 99, "type": "Azure Subscription" }),
            _ => json!({ "uid": clip(a), "type_id": 10, "type": "AWS Account" }),
        };
        cloud.insert("account".into(), account);
    }

    let contract = crate::jsonl::alert_json(report, alert);
    let reasons: Vec<&str> = contract["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut unmapped = Map::new();
    if let Some(v) = alert.variant {
        unmapped.insert("credtrail_variant".into(), json!(v));
    }
    unmapped.insert("credtrail_entities".into(), contract["entities"].clone());
    unmapped.insert("credtrail_evidence".into(), contract["evidence"].clone());
    unmapped.insert("credtrail_evidence_total".into(), json!(alert.evidence_total));

    let mut finding_info = Map::new();
    finding_info.insert("uid".into(), json!(alert.id()));
    finding_info.insert("title".into(), json!(clip(&alert.title)));
    if !reasons.is_empty() {
        finding_info.insert("desc".into(), json!(clip(&reasons.join("; "))));
    }
    finding_info.insert("types".into(), json!([alert.rule]));
    finding_info.insert("first_seen_time".into(), json!(alert.first_seen.millis()));
    finding_info.insert("last_seen_time".into(), json!(alert.last_seen.millis()));
    finding_info.insert(
        "analytic".into(),
        json!({
            "uid": alert.rule,
            "name": meta.map(|m| m.title).unwrap_or(alert.rule),
            "type_id": 1,
            "type": "Rule",
        }),
    );
    if !attacks.is_empty() {
        finding_info.insert("attacks".into(), json!(attacks));
    }

    let (severity_id, severity_name) = severity(alert.severity);
    let mut f = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": 1,
        "status": "New",
        "time": alert.first_seen.millis(),
        "message": clip(&alert.title),
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": PROFILES,
            "product": { "name": "credtrail", "vendor_name": "credtrail", "version": env!("CARGO_PKG_VERSION") },
            "uid": alert.id(),
        },
        "finding_info": finding_info,
        "cloud": cloud,
        "unmapped": unmapped,
    });
    if !resources.is_empty() {
        f["resources"] = json!(resources);
    }
    if !observables.is_empty() {
        f["observables"] = json!(observables);
    }
    f
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    for alert in report.alerts {
        serde_json::to_writer(&mut *out, &finding(report, alert))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_whole_characters() {
        let long = "é".repeat(MAX_STRING + 3);
        assert_eq!(clip(&long).chars().count(), MAX_STRING);
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn only_ec2_ids_are_typed_as_instances() {
        assert!(is_ec2_instance_id("i-0846f1d1bc19aaaf3"));
        assert!(is_ec2_instance_id("i-0846f1d1"));
        assert!(!is_ec2_instance_id("5f2b6c1e0a9d4e8f9b7c6d5e4f3a2b1c"));
        assert!(!is_ec2_instance_id("i-zzzzzzzz"));
    }
}
