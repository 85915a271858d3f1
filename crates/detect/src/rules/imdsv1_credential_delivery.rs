#![doc = include_str!("imdsv1_credential_delivery.md")]

use std::collections::HashMap;

use credtrail_event::{Body, Event, Origin, Timestamp, Workload, WorkloadKind};

use crate::alert::{Alert, Entities, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::footprint::Footprint;
use crate::host::EPISODE_GAP_SECONDS;

pub struct Imdsv1CredentialDelivery;

pub static META: RuleMeta = RuleMeta {
    id: "imdsv1-credential-delivery",
    title: "Instance credential delivered through IMDSv1",
    default_severity: Severity::Low,
    attack: &["T1552.005"],
    data: "AWS CloudTrail; optional AWS inventory JSON",
    explain: include_str!("imdsv1_credential_delivery.md"),
};

#[derive(Debug, Clone)]
struct FirstUse {
    first: (Timestamp, Origin),
    last: Timestamp,
    calls: u64,
    workload: Workload,
    account: Option<String>,
    principal: Option<String>,
    source: Option<String>,
}

#[derive(Default)]
pub struct State {
    /// Access key → its first IMDSv1-marked call.
    keys: EntityMap<String, FirstUse>,
}

impl Merge for State {
    fn merge(&mut self, other: State) {
        for (k, theirs) in other.keys {
            match self.keys.get_mut(&k) {
                None => {
                    self.keys.insert(k, theirs);
                }
                Some(mine) => {
                    mine.calls += theirs.calls;
                    mine.last = mine.last.max(theirs.last);
                    if theirs.first < mine.first {
                        let calls = mine.calls;
                        let last = mine.last;
                        *mine = FirstUse { calls, last, ..theirs };
                    }
                }
            }
        }
    }
}

impl Detector for Imdsv1CredentialDelivery {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        let Body::CloudApiCall(call) = &event.body else {
            return;
        };
        if call.provider != credtrail_event::Provider::Aws {
            return;
        }
        let Some(workload) = &call.workload else { return };
        if workload.kind != WorkloadKind::Ec2Instance || call.identity.role_delivery.as_deref() != Some("1.0") {
            return;
        }
        let Some(key) = &call.identity.access_key else { return };
        let this = FirstUse {
            first: (event.time, event.origin),
            last: event.time,
            calls: 1,
            workload: workload.clone(),
            account: call.identity.account.clone(),
            principal: call.identity.arn.clone(),
            source: call.source.as_ref().map(|s| s.to_string()),
        };
        let mut single = State::default();
        single.keys.insert(key.clone(), this);
        state.merge(single);
    }

    fn finish(&self, state: State, _footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        let mut by_instance: HashMap<String, Vec<(String, FirstUse)>> = HashMap::new();
        for (key, use_) in state.keys {
            by_instance
                .entry(use_.workload.id.clone())
                .or_default()
                .push((key, use_));
        }
        let mut instances: Vec<_> = by_instance.into_iter().collect();
        instances.sort_by(|a, b| a.0.cmp(&b.0));
        // An instance's IMDSv1 credentials are cut into episodes: a credential first used more
        // than EPISODE_GAP_SECONDS (the longest life of such a credential) after every earlier
        // one stopped being used starts a new alert. Two thefts through one open proxy a day
        // apart are two stories; a job's hourly refreshes stay one.
        let mut episodes: Vec<(String, Vec<(String, FirstUse)>)> = Vec::new();
        for (instance, mut keys) in instances {
            keys.sort_by(|a, b| a.1.first.cmp(&b.1.first).then(a.0.cmp(&b.0)));
            let mut end: Option<Timestamp> = None;
            for (key, use_) in keys {
                let apart = end.is_some_and(|e| use_.first.0.millis() - e.millis() > EPISODE_GAP_SECONDS * 1000);
                end = Some(end.map_or(use_.last, |e| e.max(use_.last)));
                match episodes.last_mut() {
                    Some((last, members)) if *last == instance && !apart => members.push((key, use_)),
                    _ => episodes.push((instance.clone(), vec![(key, use_)])),
                }
            }
        }
        for (instance, keys) in episodes {
            let first = keys[0].1.first.0;
            let last = keys.iter().map(|(_, u)| u.last).max().unwrap_or(first);
            let calls: u64 = keys.iter().map(|(_, u)| u.calls).sum();
            let mut reasons = vec![format!(
                "{} credential(s) delivered by IMDSv1 (ec2RoleDelivery 1.0), used in {calls} call(s) between {first} and {last}",
                keys.len()
            )];
            match knowledge.inventory.metadata_posture(&instance) {
                Some(p) if p.http_tokens.as_deref() == Some("optional") => {
                    reasons.push("inventory: the instance still allows IMDSv1 (HttpTokens optional)".into())
                }
                Some(p) if p.http_tokens.as_deref() == Some("required") => reasons.push(
                    "inventory: the instance now requires IMDSv2 (HttpTokens required); these deliveries predate that"
                        .into(),
                ),
                _ => {}
            }
            reasons.push("any SSRF on this instance can read its role credential with a plain GET".into());
            let head = &keys[0].1;
            let mut evidence: Vec<Origin> = keys.iter().map(|(_, u)| u.first.1).collect();
            evidence.sort();
            out.push(Alert {
                rule: META.id,
                variant: None,
                severity: Severity::Low,
                first_seen: first,
                last_seen: last,
                title: format!(
                    "{instance} ({}) receives credentials through IMDSv1",
                    head.workload.role
                ),
                entities: Entities {
                    cloud: Some("aws".into()),
                    account: head.account.clone(),
                    principal: head.principal.clone(),
                    role: Some(head.workload.role.clone()),
                    access_key: (keys.len() == 1).then(|| keys[0].0.clone()),
                    instance: Some(instance.clone()),
                    source_ip: if keys.len() == 1 {
                        keys[0].1.source.clone()
                    } else {
                        None
                    },
                    user_agent: None,
                    ..Default::default()
                },
                reasons,
                evidence_total: evidence.len() as u64,
                evidence,
            });
        }
    }
}
