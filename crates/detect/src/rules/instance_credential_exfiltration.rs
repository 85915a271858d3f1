#![doc = include_str!("instance_credential_exfiltration.md")]

use std::collections::BTreeSet;

use credtrail_event::Event;

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, Knowledge, Merge, RuleMeta};
use crate::footprint::{user_agent_concern, Base, Footprint, Resolver, Verdict};
use crate::rules::instance_credential_recon::is_recon_action;
use crate::rules::usage_entities;

pub struct InstanceCredentialExfiltration;

pub static META: RuleMeta = RuleMeta {
    id: "instance-credential-exfiltration",
    title: "Instance credential used away from its workload",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1078.004"],
    data: "AWS CloudTrail; optional AWS inventory JSON",
    explain: include_str!("instance_credential_exfiltration.md"),
};

/// Everything this rule needs is the scan's [`Footprint`], which the engine keeps.
#[derive(Default)]
pub struct State;

impl Merge for State {
    fn merge(&mut self, _other: State) {}
}

impl Detector for InstanceCredentialExfiltration {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, _state: &mut State, _event: &Event) {}

    fn finish(&self, _state: State, footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        let resolver = Resolver::new(footprint, knowledge);
        let mut groups: Vec<_> = footprint.uses.iter().collect();
        groups.sort_by(|a, b| a.0.cmp(b.0));
        for ((scope, place), usage) in groups {
            let Verdict::Foreign { variant, reason, base } = resolver.verdict(scope, place, usage) else {
                continue;
            };
            let mut reasons = vec![reason];
            let mut strong = 0;
            let mut support = 0;
            if let Some(people) = footprint.humans.get(&place.address) {
                let list: Vec<&str> = people.iter().map(String::as_str).take(3).collect();
                // Outside AWS, a person's address is a workstation or office; inside AWS an IAM
                // user may be a service account on the same NAT, so it is said but not counted.
                if knowledge.ranges.aws(place.address).is_none()
                    || people.iter().any(|p| p.contains(":assumed-role/AWSReservedSSO_"))
                {
                    strong += 1;
                    reasons.push(format!(
                        "the same address was used by {} (a person, not a workload)",
                        list.join(", ")
                    ));
                } else {
                    reasons.push(format!("the same address was also used by {}", list.join(", ")));
                }
            }
            let own_keys = resolver.own_keys(scope);
            let shared: BTreeSet<&str> = usage
                .keys
                .iter()
                .map(String::as_str)
                .filter(|k| own_keys.contains(k))
                .collect();
            if !shared.is_empty() {
                // A workload uses one key through its endpoint and its NAT alike, so this is
                // telling only when the other place is certainly not the workload's.
                if base == Base::Strong {
                    strong += 1;
                }
                reasons.push(format!(
                    "the same access key ({}) was also used from the workload's own network",
                    shared.iter().copied().collect::<Vec<_>>().join(", ")
                ));
            }
            for ua in usage.user_agents.keys() {
                if let Some((marker, tool)) = user_agent_concern(ua) {
                    if tool {
                        strong += 1;
                        reasons.push(format!("user agent {ua:?} is an attack or audit tool ({marker})"));
                    } else {
                        support += 1;
                        reasons.push(format!(
                            "user agent {ua:?} is a desktop system ({marker}), not a server"
                        ));
                    }
                    break;
                }
            }
            if usage.imdsv1 {
                support += 1;
                reasons
                    .push("the credential was delivered by IMDSv1 (ec2RoleDelivery 1.0), which SSRF can read".into());
            }
            let recon: Vec<&str> = usage
                .actions
                .keys()
                .map(String::as_str)
                .filter(|a| is_recon_action(a))
                .collect();
            if !recon.is_empty() {
                support += 1;
                reasons.push(format!("called enumeration or privilege APIs: {}", recon.join(", ")));
            }
            if usage.denied > 0 {
                support += 1;
                reasons.push(format!(
                    "{} of {} calls were denied",
                    usage.denied,
                    usage.evidence.total()
                ));
            }
            let severity = match base {
                Base::Strong if strong > 0 || support >= 2 => Severity::Critical,
                Base::Strong => Severity::High,
                Base::Moderate if strong > 0 || support >= 2 => Severity::High,
                Base::Moderate => Severity::Medium,
                Base::Weak if strong > 0 || support >= 2 => Severity::High,
                Base::Weak if support == 1 => Severity::Medium,
                Base::Weak => Severity::Low,
            };
            if base == Base::Weak && strong == 0 && support == 0 {
                reasons.push("no corroborating sign; add inventory JSON or declare egress ranges to settle it".into());
            }
            let (first_seen, last_seen) = usage.evidence.time_span().unwrap_or_default();
            let who = usage
                .workload
                .as_ref()
                .map(|w| format!("{} {}", w.kind.as_str(), w.id))
                .unwrap_or_default();
            out.push(Alert {
                rule: META.id,
                variant: Some(variant),
                severity,
                first_seen,
                last_seen,
                title: format!("{who} credential used from {}", place.describe()),
                entities: usage_entities(usage, Some(place.address.to_string())),
                reasons,
                evidence: usage.evidence.origins(),
                evidence_total: usage.evidence.total(),
            });
        }
    }
}
