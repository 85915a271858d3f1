#![doc = include_str!("instance_credential_access_denied_burst.md")]

use std::collections::{BTreeMap, BTreeSet};

use credtrail_event::{Body, Event, Origin, Timestamp, Workload};

use crate::alert::{Alert, Entities, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::footprint::{benign_channel, Footprint};

pub struct InstanceCredentialAccessDeniedBurst;

pub static META: RuleMeta = RuleMeta {
    id: "instance-credential-access-denied-burst",
    title: "Burst of denied calls from an instance credential",
    default_severity: Severity::Medium,
    attack: &["T1552.005", "T1580"],
    data: "AWS CloudTrail",
    explain: include_str!("instance_credential_access_denied_burst.md"),
};

/// Denied calls kept per key; a burst is found among the earliest of them.
const DENIED_CAP: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Denial {
    time: Timestamp,
    origin: Origin,
    action: String,
    source: String,
}

#[derive(Debug, Default)]
struct KeyDenials {
    denials: Vec<Denial>,
    workload: Option<Workload>,
    account: Option<String>,
    principal: Option<String>,
    user_agent: Option<String>,
}

#[derive(Default)]
pub struct State {
    keys: EntityMap<String, KeyDenials>,
}

fn trim(list: &mut Vec<Denial>) {
    if list.len() > DENIED_CAP {
        list.sort();
        list.truncate(DENIED_CAP);
    }
}

fn min_into<T: Ord + Clone>(a: &mut Option<T>, b: &Option<T>) {
    if let Some(b) = b {
        if a.as_ref().is_none_or(|a| b < a) {
            *a = Some(b.clone());
        }
    }
}

impl Merge for State {
    fn merge(&mut self, other: State) {
        for (k, theirs) in other.keys {
            let mine = self.keys.entry(k).or_default();
            mine.denials.extend(theirs.denials);
            trim(&mut mine.denials);
            min_into(&mut mine.workload, &theirs.workload);
            min_into(&mut mine.account, &theirs.account);
            min_into(&mut mine.principal, &theirs.principal);
            min_into(&mut mine.user_agent, &theirs.user_agent);
        }
    }
}

impl Detector for InstanceCredentialAccessDeniedBurst {
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
        if !call.is_access_denied() || benign_channel(call).is_some() {
            return;
        }
        let Some(key) = &call.identity.access_key else { return };
        let entry = state.keys.entry_ref(key.as_str()).or_default();
        entry.denials.push(Denial {
            time: event.time,
            origin: event.origin,
            action: call.qualified_action(),
            source: call.source.as_ref().map(|s| s.to_string()).unwrap_or_default(),
        });
        trim(&mut entry.denials);
        min_into(&mut entry.workload, &Some(workload.clone()));
        min_into(
            &mut entry.account,
            &call.identity.account.clone().or_else(|| call.recipient_account.clone()),
        );
        min_into(&mut entry.principal, &call.identity.arn);
        min_into(&mut entry.user_agent, &call.user_agent);
    }

    fn finish(&self, state: State, _footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        let threshold = knowledge.policy.denied_burst_threshold.unwrap_or(3).max(2);
        let window = knowledge.policy.denied_burst_window_seconds.unwrap_or(600).max(1);
        let mut keys: Vec<_> = state.keys.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, mut kd) in keys {
            kd.denials.sort();
            kd.denials.dedup();
            let mut start = 0;
            while start < kd.denials.len() {
                let limit = kd.denials[start].time.plus_seconds(window);
                let end = kd.denials[start..]
                    .iter()
                    .position(|d| d.time > limit)
                    .map_or(kd.denials.len(), |p| start + p);
                let burst = &kd.denials[start..end];
                if burst.len() >= threshold {
                    out.push(burst_alert(&key, &kd, burst));
                }
                start = end;
            }
        }
    }
}

fn burst_alert(key: &str, kd: &KeyDenials, burst: &[Denial]) -> Alert {
    let mut actions: BTreeMap<&str, usize> = BTreeMap::new();
    for d in burst {
        *actions.entry(d.action.as_str()).or_default() += 1;
    }
    let services: BTreeSet<&str> = actions.keys().filter_map(|a| a.split(':').next()).collect();
    let sources: BTreeSet<&str> = burst.iter().map(|d| d.source.as_str()).collect();
    let severity = if actions.len() >= 3 && services.len() >= 2 {
        Severity::High
    } else if actions.len() >= 2 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let first = burst[0].time;
    let last = burst[burst.len() - 1].time;
    let seconds = (last.millis() - first.millis()) / 1000;
    let mut reasons = vec![format!(
        "{} denied calls in {seconds}s: {}",
        burst.len(),
        actions
            .iter()
            .map(|(a, n)| if *n > 1 { format!("{a} ×{n}") } else { a.to_string() })
            .collect::<Vec<_>>()
            .join(", ")
    )];
    reasons.push(match severity {
        Severity::High => format!(
            "{} different APIs across {} services: probing what the credential can do",
            actions.len(),
            services.len()
        ),
        Severity::Medium => "several different APIs denied".to_string(),
        _ => "one API denied repeatedly: more like a missing permission than probing".to_string(),
    });
    reasons.push(format!(
        "from {}",
        sources.iter().copied().collect::<Vec<_>>().join(", ")
    ));
    let workload = kd.workload.as_ref();
    let mut origins: Vec<Origin> = burst.iter().map(|d| d.origin).collect();
    origins.sort();
    Alert {
        rule: META.id,
        variant: None,
        severity,
        first_seen: first,
        last_seen: last,
        title: format!(
            "{} denied calls from {} credential {key}",
            burst.len(),
            workload.map(|w| w.id.as_str()).unwrap_or("workload")
        ),
        entities: Entities {
            cloud: Some("aws".into()),
            account: kd.account.clone(),
            principal: kd.principal.clone(),
            role: workload.map(|w| w.role.clone()),
            access_key: Some(key.to_string()),
            instance: workload.map(|w| w.id.clone()),
            source_ip: (sources.len() == 1).then(|| burst[0].source.clone()),
            user_agent: kd.user_agent.clone(),
            ..Default::default()
        },
        reasons,
        evidence_total: origins.len() as u64,
        evidence: origins,
    }
}
