//! The `jsonl` machine contract (PRODUCT.md §6): one JSON object per line with a `type`.

use std::io::{self, Write};

use credtrail_detect::{Alert, Severity};
use serde_json::{json, Map, Value};

use crate::Report;

pub fn alert_json(report: &Report<'_>, alert: &Alert) -> Value {
    let e = &alert.entities;
    let mut entities = Map::new();
    for (k, v) in [
        ("cloud", &e.cloud),
        ("account", &e.account),
        ("principal", &e.principal),
        ("role", &e.role),
        ("access_key", &e.access_key),
        ("instance", &e.instance),
        ("source_ip", &e.source_ip),
        ("user_agent", &e.user_agent),
        ("host", &e.host),
        ("process", &e.process),
        ("container", &e.container),
        ("user", &e.user),
    ] {
        if let Some(v) = v {
            entities.insert(k.into(), Value::String(v.clone()));
        }
    }
    let mut reasons = alert.reasons.clone();
    if alert.evidence_total > alert.evidence.len() as u64 {
        reasons.push(format!(
            "evidence lists the earliest {} of {} records",
            alert.evidence.len(),
            alert.evidence_total
        ));
    }
    json!({
        "type": "alert",
        "id": alert.id(),
        "rule": alert.rule,
        "variant": alert.variant,
        "severity": alert.severity.as_str(),
        "first_seen": alert.first_seen.to_string(),
        "last_seen": alert.last_seen.to_string(),
        "title": alert.title,
        "entities": entities,
        "reasons": reasons,
        "evidence": alert.evidence.iter().map(|o| json!({
            "source": report.source(o.file),
            "line": o.line,
            "index": o.index,
        })).collect::<Vec<_>>(),
    })
}

pub fn summary_json(report: &Report<'_>) -> Value {
    let s = report.summary;
    let by_severity = |counts: &dyn Fn(Severity) -> u64| {
        let mut m = Map::new();
        for sev in Severity::ALL {
            m.insert(sev.as_str().into(), json!(counts(sev)));
        }
        Value::Object(m)
    };
    json!({
        "type": "summary",
        "inputs": {
            "files": s.files,
            "unreadable": s.files_unreadable,
            "bytes": s.bytes,
            "formats": s.formats,
        },
        "records": {
            "read": s.records,
            "events": s.events,
            "facts": s.facts,
            "rejected": s.rejected,
            "rejected_total": s.rejected_total(),
        },
        "quarantine": s.quarantine,
        "alerts": by_severity(&|sev| s.alerts.get(&sev).copied().unwrap_or(0)),
        "incidents": by_severity(&|sev| report.incidents.iter().filter(|i| i.severity == sev).count() as u64),
        "suppressed": report.suppressed.iter().map(|x| json!({
            "id": x.alert.id(),
            "rule": x.alert.rule,
            "severity": x.alert.severity.as_str(),
            "title": x.alert.title,
            "reason": x.reason,
        })).collect::<Vec<_>>(),
        "ip_ranges": s.ip_ranges,
    })
}

/// An `incident` line (PRODUCT.md §6): the member alerts by id, the escalation decision with
/// the rubric rules that fired, the runbook's answers with the alerts behind each, the ordered
/// containment plan.
pub fn incident_json(report: &Report<'_>, incident: &credtrail_triage::Incident) -> Value {
    let alert_ids: Vec<String> = incident
        .alerts
        .iter()
        .filter_map(|&i| report.alerts.get(i))
        .map(|a| a.id())
        .collect();
    json!({
        "type": "incident",
        "id": incident.id,
        "alerts": alert_ids,
        "severity": incident.severity.as_str(),
        "escalation": {
            "decision": incident.escalation.decision.as_str(),
            "reasons": incident.escalation.reasons,
        },
        "answers": incident.answers.iter().map(|a| json!({
            "question": a.question,
            "answer": a.answer,
            "alerts": a.alerts,
        })).collect::<Vec<_>>(),
        "containment": incident.containment.iter().enumerate().map(|(n, s)| json!({
            "step": n + 1,
            "action": s.action,
            "command": s.command,
            "breaks": s.breaks,
        })).collect::<Vec<_>>(),
        "first_evidence": incident.first_evidence.to_string(),
        "last_evidence": incident.last_evidence.to_string(),
        "duration_seconds": (incident.last_evidence.millis() - incident.first_evidence.millis()) / 1000,
        "checks": incident.checks.iter().map(|c| json!({
            "check": c.name,
            "outcome": c.outcome,
            "evidence": c.evidence.iter().map(|o| origin_json(report, o)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "facts": facts_json(report, &incident.facts),
    })
}

fn origin_json(report: &Report<'_>, origin: &credtrail_event::Origin) -> Value {
    json!({
        "source": report.source(origin.file),
        "line": origin.line,
        "index": origin.index,
    })
}

fn call_json(report: &Report<'_>, call: &credtrail_detect::activity::FollowedCall) -> Value {
    json!({
        "time": call.time.to_string(),
        "action": call.action,
        "target": call.target,
        "source": call.source.to_string(),
        "actor": call.actor,
        "access_key": call.access_key,
        "error": call.error,
        "bytes": call.bytes,
        "evidence": origin_json(report, &call.origin),
    })
}

/// The T2 facts: timeline, the stolen credentials' calls, data read, privilege changes, posture.
fn facts_json(report: &Report<'_>, facts: &credtrail_triage::Facts) -> Value {
    let calls = |list: &[credtrail_detect::activity::FollowedCall]| -> Vec<Value> {
        list.iter().map(|c| call_json(report, c)).collect()
    };
    json!({
        "timeline": facts.timeline.iter().map(|m| json!({
            "time": m.time.to_string(),
            "what": m.what,
            "alert": m.alert,
            "evidence": m.origin.as_ref().map(|o| origin_json(report, o)),
        })).collect::<Vec<_>>(),
        "credentials": facts.credentials.iter().map(|c| json!({
            "access_key": c.access_key,
            "issued": c.issued.map(|t| t.to_string()),
            "delivery": c.delivery,
            "first_use": c.first_use.to_string(),
            "last_use": c.last_use.to_string(),
            "calls": c.calls.iter().map(|k| json!({
                "source": k.source,
                "attacker": k.attacker,
                "action": k.action,
                "count": k.count,
                "denied": k.denied,
                "writes": k.writes,
                "first": k.first.to_string(),
                "last": k.last.to_string(),
            })).collect::<Vec<_>>(),
            "reads": calls(&c.reads),
            "reads_total": c.reads_total,
            "bytes_read": c.bytes_read,
            "privilege_changes": calls(&c.privilege_changes),
            "commands": calls(&c.commands),
        })).collect::<Vec<_>>(),
        "instances": facts.instances.iter().map(|i| json!({
            "instance": i.instance,
            "http_tokens": i.http_tokens,
            "hop_limit": i.hop_limit,
            "metadata_changes": calls(&i.metadata_changes),
            "commands": calls(&i.commands),
        })).collect::<Vec<_>>(),
        "roles": facts.roles.as_ref().map(|roles| roles.iter().map(|r| role_json(report, r)).collect::<Vec<_>>()),
        "data_access": {
            "s3_objects": facts.data.s3_objects,
            "s3_bytes": facts.data.s3_bytes,
            "secrets": facts.data.secrets,
            "parameters": facts.data.parameters,
            "other": facts.data.other,
        },
        "networks": facts.networks.iter().map(|n| json!({
            "address": n.address,
            "network": n.network,
            "first_seen": n.first_seen.to_string(),
            "new": n.new,
            "severity": n.severity.as_str(),
        })).collect::<Vec<_>>(),
    })
}

/// A role named by the incident and what the authorization details say it may do (`found` is
/// null when the role is not in them).
fn role_json(report: &Report<'_>, role: &credtrail_triage::facts::RoleFacts) -> Value {
    json!({
        "role": role.role,
        "account": role.account,
        "found": role.found.as_ref().map(|p| json!({
            "arn": p.arn,
            "instance_profiles": p.instance_profiles,
            "policies": p.policies,
            "unresolved_policies": p.unresolved,
            "trusted_by": p.trust,
            "admin": p.analysis.admin,
            "blast_radius": p.analysis.blast.iter().map(|b| json!({
                "category": b.category.as_str(),
                "actions": b.actions,
            })).collect::<Vec<_>>(),
            "escalation_paths": p.analysis.paths.iter().map(|path| json!({
                "path": path.name,
                "actions": path.actions,
            })).collect::<Vec<_>>(),
            "evidence": origin_json(report, &p.origin),
        })),
    })
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    for alert in report.alerts {
        serde_json::to_writer(&mut *out, &alert_json(report, alert))?;
        out.write_all(b"\n")?;
    }
    for incident in report.incidents {
        serde_json::to_writer(&mut *out, &incident_json(report, incident))?;
        out.write_all(b"\n")?;
    }
    serde_json::to_writer(&mut *out, &summary_json(report))?;
    out.write_all(b"\n")
}
