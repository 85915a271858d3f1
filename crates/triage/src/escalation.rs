//! The escalation rubric (runbook "Decision for escalation"), explicit and in order. The first
//! rules that hold decide; every rule that fired is named in the reasons.
//!
//! `escalate_t2` when any of: a workload credential used away from its workload
//! (`instance-credential-exfiltration`); credentials likely returned to an outsider (an SSRF or
//! proxy request that likely succeeded for a credential or token path, a web or proxy worker
//! reading the service); enumeration, IAM or secrets APIs called with a workload credential
//! (`instance-credential-recon`); a shell, interactive session, dropped tool or container
//! reading the service; alerts on several instances; any `high` or `critical` alert.
//! `monitor` when the strongest alert is `medium`, or the incident is posture only (IMDSv1
//! delivery, hardening downgrade). `close_benign` when every alert is `low` or `info` and comes
//! from host telemetry about routine readers (a service or SDK not yet allow-listed): the
//! analyst's action is to allow-list it with a reason.
//!
//! From the T2 facts: data read or privilege changes tried with the stolen credential escalate,
//! and so does a role that is an administrator or holds a known privilege-escalation path
//! (IAM authorization details given) when its credential was used away from its workload
//! (`instance-credential-exfiltration`): whoever holds the credential can make themselves
//! more than the workload was.
//! Write calls (CloudTrail `readOnly: false`) made with the stolen credential from the
//! attacker's places (the sources its alerts name, away from the workload) escalate, each action
//! counted. So does an attacker's network seen for the first time: for each outside address an
//! attacker alert of `medium` or above names (not one of the organisation's own, per inventory),
//! its network (IPv4 /24, IPv6 /48) had no activity in the logs earlier than the incident's first
//! evidence, less fifteen minutes of slack for the attacker's own uncited first requests. Behind
//! low alerts only (a WAF count match on a legitimate callback) a new network is listed in the
//! facts but escalates nothing. "First seen" is
//! relative to the logs scanned (CloudTrail sources, web clients, flow clients), not to the
//! organisation's history: a short scan makes every network new, so the reason says so; a
//! network past the kept cap of [`credtrail_detect::activity::NETWORK_CAP`] is unknown and says
//! nothing.
//! From the L1 checks: when nothing escalates, alerts wholly inside a declared deployment window
//! (config `[[deployment]]`) close as benign, and host-only findings within an hour of the
//! instance's launch (`RunInstances` in the trail) close as bootstrap software.

use std::collections::BTreeSet;

use credtrail_detect::{Alert, Severity};

use crate::checks::Window;
use crate::facts::Facts;
use crate::ROUTINE_HOST_RULES;

/// What the L1 analyst should do with the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    CloseBenign,
    Monitor,
    EscalateT2,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::CloseBenign => "close_benign",
            Decision::Monitor => "monitor",
            Decision::EscalateT2 => "escalate_t2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub decision: Decision,
    /// The rubric rules that fired, in words.
    pub reasons: Vec<String>,
}

/// Write actions named per source in a reason; the facts list them all.
const WRITES_NAMED: usize = 5;

pub fn decide(group: &[&Alert], facts: &Facts, window: &Window) -> Escalation {
    let mut reasons = Vec::new();
    let has = |rule: &str| group.iter().any(|a| a.rule == rule);
    let has_at = |rule: &str, min: Severity| group.iter().any(|a| a.rule == rule && a.severity >= min);
    if crate::STOLEN_CREDENTIAL_RULES.iter().any(|r| has(r)) {
        reasons.push("a workload credential was used away from its workload".to_string());
        for role in facts.roles.iter().flatten() {
            let Some(permissions) = role.found.as_ref().filter(|p| p.can_escalate()) else {
                continue;
            };
            reasons.push(if permissions.analysis.admin {
                format!(
                    "the credential's role {} is an administrator (Action * on Resource *) and was used away from its workload",
                    role.role
                )
            } else {
                format!(
                    "the credential's role {} holds privilege-escalation paths and was used away from its workload: {}",
                    role.role,
                    permissions.analysis.describe_paths()
                )
            });
        }
    }
    if has_at("ssrf-metadata-request", Severity::Critical) || has_at("metadata-proxy-abuse", Severity::Critical) {
        reasons.push(
            "credentials or a token were likely returned to the requester (SSRF or proxy, 2xx of credential size)"
                .into(),
        );
    }
    if has("instance-credential-recon") {
        reasons.push("enumeration, IAM or secrets APIs were called with a workload credential".into());
    }
    for a in group {
        if a.severity >= Severity::High
            && matches!(
                (a.rule, a.variant),
                ("imds-credential-read-unexpected-process", _) | ("imds-access-from-container", _)
            )
        {
            reasons.push(format!(
                "{} ({}): the metadata service was read by a process that has no business there",
                a.rule,
                a.variant.unwrap_or("-")
            ));
            break;
        }
    }
    if !facts.data.is_empty() {
        reasons.push(format!("the stolen credential read data: {}", facts.data.describe()));
    }
    let changes: Vec<String> = facts
        .privilege_changes()
        .map(|c| {
            format!(
                "{}{} ({})",
                c.action,
                c.target.as_deref().map(|t| format!(" {t}")).unwrap_or_default(),
                c.error.as_deref().unwrap_or("succeeded")
            )
        })
        .collect();
    if !changes.is_empty() {
        reasons.push(format!(
            "privilege changes were tried with the stolen credential: {}",
            changes.join(", ")
        ));
    }
    let writes: Vec<String> = facts
        .attacker_writes()
        .into_iter()
        .map(|(source, actions)| {
            let more = actions.len().saturating_sub(WRITES_NAMED);
            let mut named = actions.into_iter().take(WRITES_NAMED).collect::<Vec<_>>().join(", ");
            if more > 0 {
                named.push_str(&format!(", … {more} more"));
            }
            format!("{named} (from {source})")
        })
        .collect();
    if !writes.is_empty() {
        reasons.push(format!("the stolen credential made write calls: {}", writes.join("; ")));
    }
    // A new network behind a low finding alone (a WAF count match) is a fact, not a reason.
    for network in facts
        .networks
        .iter()
        .filter(|n| n.new && n.severity >= Severity::Medium)
    {
        reasons.push(format!(
            "attacker network {} first seen at {}: no earlier activity from it in the logs given",
            network.network, network.first_seen
        ));
    }
    let instances: BTreeSet<&str> = group.iter().filter_map(|a| a.entities.instance.as_deref()).collect();
    if instances.len() > 1 {
        reasons.push(format!("{} instances are involved", instances.len()));
    }
    let top = group.iter().map(|a| a.severity).max().unwrap_or(Severity::Info);
    if top >= Severity::High && reasons.is_empty() {
        reasons.push(format!("the strongest alert is {}", top.as_str()));
    }
    if !reasons.is_empty() {
        return Escalation {
            decision: Decision::EscalateT2,
            reasons,
        };
    }
    // Only when nothing above fired: a declared change explains findings, never a credential
    // used elsewhere.
    match window {
        Window::Declared(w) => {
            return Escalation {
                decision: Decision::CloseBenign,
                reasons: vec![format!("every alert is inside the declared deployment window {w}")],
            }
        }
        Window::Launch(l) if group.iter().all(|a| ROUTINE_HOST_RULES.contains(&a.rule)) => {
            return Escalation {
                decision: Decision::CloseBenign,
                reasons: vec![format!(
                    "host findings only, within an hour of the instance's launch ({l}): bootstrap software; allow-list it with a reason"
                )],
            }
        }
        _ => {}
    }
    if top == Severity::Medium {
        return Escalation {
            decision: Decision::Monitor,
            reasons: vec!["the strongest alert is medium: watch for the credential's use elsewhere".into()],
        };
    }
    if group.iter().all(|a| ROUTINE_HOST_RULES.contains(&a.rule)) {
        return Escalation {
            decision: Decision::CloseBenign,
            reasons: vec![
                "only low host findings about routine readers (services or SDKs not on the allow-list): allow-list them with a reason".into(),
            ],
        };
    }
    Escalation {
        decision: Decision::Monitor,
        reasons: vec!["posture or low-severity findings only: fix the posture, no sign of use elsewhere".into()],
    }
}
