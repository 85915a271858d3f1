#![doc = include_str!("instance_credential_recon.md")]

use std::collections::{BTreeMap, BTreeSet};

use credtrail_event::{Body, Event, Timestamp};

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::evidence::Evidence;
use crate::footprint::{benign_channel, workload_use, Footprint, Place, Resolver, Usage, Verdict};
use crate::rules::usage_entities;

pub struct InstanceCredentialRecon;

pub static META: RuleMeta = RuleMeta {
    id: "instance-credential-recon",
    title: "Instance credential enumerating or changing privileges",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1087.004", "T1069.003", "T1098.001"],
    data: "AWS CloudTrail; optional AWS inventory JSON",
    explain: include_str!("instance_credential_recon.md"),
};

/// APIs that change who can do what: a thief making access last.
const PRIVILEGE: &[&str] = &[
    "iam:CreateAccessKey",
    "iam:CreateUser",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AttachUserPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachGroupPolicy",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:PutGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AddUserToGroup",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateRole",
];

/// APIs that map the account: identity, principals, data stores, compute.
const ENUMERATION: &[&str] = &[
    "sts:GetCallerIdentity",
    "sts:GetAccessKeyInfo",
    "iam:GetAccountAuthorizationDetails",
    "iam:GetAccountSummary",
    "iam:SimulatePrincipalPolicy",
    "s3:ListBuckets",
    "ec2:DescribeInstances",
    "ec2:DescribeSnapshots",
    "ec2:DescribeImages",
    "ec2:DescribeVpcs",
    "ec2:DescribeRegions",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstanceAttribute",
    "secretsmanager:ListSecrets",
    "ssm:DescribeParameters",
    "kms:ListKeys",
    "kms:ListAliases",
    "lambda:ListFunctions",
    "lambda:ListFunctions20150331",
    "dynamodb:ListTables",
    "rds:DescribeDBInstances",
    "cloudtrail:DescribeTrails",
    "guardduty:ListDetectors",
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
    "eks:ListClusters",
    "ecr:DescribeRepositories",
];

pub fn is_privilege_action(qualified: &str) -> bool {
    PRIVILEGE.contains(&qualified)
}

/// Enumeration or privilege API (`iam:List*` and `iam:Get*` included).
pub fn is_recon_action(qualified: &str) -> bool {
    is_privilege_action(qualified)
        || ENUMERATION.contains(&qualified)
        || qualified
            .strip_prefix("iam:")
            .is_some_and(|a| a.starts_with("List") || a.starts_with("Get"))
}

/// The recon calls of one access key.
#[derive(Debug, Default)]
pub struct KeyRecon {
    /// Action → (first call, calls, calls that succeeded).
    actions: BTreeMap<String, (Timestamp, u64, u64)>,
    evidence: BTreeMap<String, Evidence>,
    places: BTreeSet<Place>,
}

#[derive(Default)]
pub struct State {
    /// (network scope, access key) → its recon calls.
    keys: EntityMap<(String, String), KeyRecon>,
    /// (role, action) → the two earliest (first call, key) of distinct keys: enough to know whether
    /// another key of the role called it first, and mergeable.
    history: EntityMap<(String, String), Vec<(Timestamp, String)>>,
    /// Reused for the qualified action of each call; not part of the state.
    scratch: String,
}

fn keep_two_earliest(list: &mut Vec<(Timestamp, String)>) {
    list.sort();
    let mut seen = BTreeSet::new();
    list.retain(|(_, k)| seen.insert(k.clone()));
    list.truncate(2);
}

impl Merge for State {
    fn merge(&mut self, other: State) {
        for (k, theirs) in other.keys {
            let mine = self.keys.entry(k).or_default();
            for (action, (t, n, ok)) in theirs.actions {
                let e = mine.actions.entry(action).or_insert((t, 0, 0));
                e.0 = e.0.min(t);
                e.1 += n;
                e.2 += ok;
            }
            for (action, ev) in theirs.evidence {
                mine.evidence.entry(action).or_default().merge(ev);
            }
            mine.places.extend(theirs.places);
        }
        for (k, list) in other.history {
            let mine = self.history.entry(k).or_default();
            mine.extend(list);
            keep_two_earliest(mine);
        }
    }
}

impl Detector for InstanceCredentialRecon {
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
        // The cheapest test first: most calls are not recon.
        if !is_recon_action(call.qualified_action_in(&mut state.scratch)) {
            return;
        }
        if benign_channel(call).is_some() {
            return;
        }
        let Some((workload, place)) = workload_use(call) else {
            return;
        };
        let Some(key) = call.identity.access_key.clone() else {
            return;
        };
        let action = state.scratch.clone();
        let history = state
            .history
            .entry((workload.role.clone(), action.clone()))
            .or_default();
        history.push((event.time, key.clone()));
        keep_two_earliest(history);
        let rec = state.keys.entry((workload.network_scope(), key)).or_default();
        let e = rec.actions.entry(action.clone()).or_insert((event.time, 0, 0));
        e.0 = e.0.min(event.time);
        e.1 += 1;
        if call.error_code.is_none() {
            e.2 += 1;
        }
        rec.evidence.entry(action).or_default().push(event.time, event.origin);
        rec.places.insert(place);
    }

    fn finish(&self, state: State, footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        let resolver = Resolver::new(footprint, knowledge);
        let mut keys: Vec<_> = state.keys.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        for ((scope, key), rec) in keys {
            // Usage records carry the workload identity; any of this key's places has one.
            let Some((place, usage)) = rec
                .places
                .iter()
                .find_map(|p| footprint.uses.get(&(scope.clone(), p.clone())).map(|u| (p, u)))
            else {
                continue;
            };
            let role = usage.workload.as_ref().map(|w| w.role.clone()).unwrap_or_default();
            let new_actions: Vec<&String> = rec
                .actions
                .iter()
                .filter(|(action, (first, _, _))| {
                    let earlier_other = state
                        .history
                        .get(&(role.clone(), (*action).clone()))
                        .is_some_and(|h| h.iter().any(|(t, k)| k != key && t < first));
                    !earlier_other
                })
                .map(|(a, _)| a)
                .collect();
            let foreign: Vec<(&Place, String)> = rec
                .places
                .iter()
                .filter_map(|p| {
                    let u: &Usage = footprint.uses.get(&(scope.clone(), p.clone()))?;
                    match resolver.verdict(scope, p, u) {
                        Verdict::Foreign { reason, .. } => Some((p, reason)),
                        _ => None,
                    }
                })
                .collect();
            let privilege_new: Vec<&String> = new_actions.iter().copied().filter(|a| is_privilege_action(a)).collect();
            let privilege_succeeded: Vec<&String> = privilege_new
                .iter()
                .copied()
                .filter(|a| rec.actions.get(*a).is_some_and(|(_, _, ok)| *ok > 0))
                .collect();
            if new_actions.is_empty() && foreign.is_empty() {
                continue;
            }
            let (severity, cited): (Severity, Vec<&String>) = if !foreign.is_empty() {
                let sev = if privilege_succeeded.is_empty() {
                    Severity::High
                } else {
                    Severity::Critical
                };
                (sev, rec.actions.keys().collect())
            } else if !privilege_new.is_empty() {
                (Severity::Medium, new_actions.clone())
            } else if new_actions.len() >= 3 {
                (Severity::Low, new_actions.clone())
            } else {
                continue;
            };
            let mut reasons = Vec::new();
            if !new_actions.is_empty() {
                reasons.push(format!(
                    "new for role {role}: {}",
                    new_actions.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            if !foreign.is_empty() {
                reasons.push(format!(
                    "recon APIs called away from the workload: {}",
                    cited.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            if !privilege_succeeded.is_empty() {
                reasons.push(format!(
                    "privilege change succeeded: {}",
                    privilege_succeeded
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            match foreign.first() {
                Some((p, why)) => reasons.push(format!(
                    "called from {} — not the workload's own network: {why}",
                    p.describe()
                )),
                None => reasons.push("called from the workload's own network".into()),
            }
            let mut evidence = Evidence::default();
            for action in &cited {
                if let Some(ev) = rec.evidence.get(*action) {
                    evidence.merge(ev.clone());
                }
            }
            let (first_seen, last_seen) = evidence.time_span().unwrap_or_default();
            let mut entities = usage_entities(
                usage,
                foreign
                    .first()
                    .map(|(p, _)| p.address.to_string())
                    .or(Some(place.address.to_string())),
            );
            entities.access_key = Some(key.clone());
            let who = usage.workload.as_ref().map(|w| w.id.clone()).unwrap_or_default();
            out.push(Alert {
                rule: META.id,
                variant: None,
                severity,
                first_seen,
                last_seen,
                title: format!("{who} ({role}) credential {key} enumerating or changing privileges"),
                entities,
                reasons,
                evidence: evidence.origins(),
                evidence_total: evidence.total(),
            });
        }
    }
}
