//! The T2 facts of an incident (issue #5 item 5): a timeline from how the credential was taken to
//! its last use, every API the stolen credential called and from where, what it read, which
//! privileges it tried to change, each instance's metadata posture, and what the credential's role
//! may do (its blast radius and privilege-escalation paths, from IAM authorization details).
//! Gathered from the scan's [`Activity`] (every call, not only those an alert cites) and
//! inventory.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use credtrail_detect::activity::{network_label, network_of, FollowedCall};
use credtrail_detect::{Activity, Alert, Severity};
use credtrail_event::iam::{analyse, Analysis};
use credtrail_event::{Inventory, Origin, SourceAddress, Timestamp};

use crate::{ATTACKER_RULES, VM_IDENTITY_RULES};

/// How long before the first alert a command sent to the instance is part of the story: the SSM
/// command that read the credential comes minutes before the credential's first use elsewhere.
const LEAD_SECONDS: i64 = 24 * 3600;

/// Most entries in a timeline; the lists behind it have the rest.
const TIMELINE_CAP: usize = 200;

/// Data reads named one by one in a timeline; the summary counts the rest.
const TIMELINE_READS: usize = 10;

/// One moment of an incident.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment {
    pub time: Timestamp,
    pub what: String,
    /// The record behind it, when it is a log record rather than an alert.
    pub origin: Option<Origin>,
    /// The alert behind it.
    pub alert: Option<String>,
}

/// Calls of one action from one place with the stolen credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    pub source: String,
    /// The source is one the alerts name as the attacker's.
    pub attacker: bool,
    pub action: String,
    pub count: u64,
    pub denied: u64,
    /// Calls CloudTrail marks `readOnly: false`: they change something.
    pub writes: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// Whether an outside attacker address's network was seen before the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSighting {
    /// The address an alert names.
    pub address: String,
    /// `198.51.100.0/24` or `2001:db8:1::/48`.
    pub network: String,
    /// The network's earliest event in the logs scanned.
    pub first_seen: Timestamp,
    /// No activity from the network in the logs earlier than the incident's first evidence
    /// (less [`NEW_NETWORK_SLACK_SECONDS`]).
    pub new: bool,
    /// The strongest attacker alert naming the address: the rubric escalates a new network only
    /// from `medium` up (a low WAF count match from a new client is a look-alike's shape).
    pub severity: Severity,
}

/// How much earlier than the incident's first evidence a network may be first seen and still be
/// new: the attacker's own first requests that no alert cites (a probe a minute before the
/// SSRF, the `GetCallerIdentity` before the recon) are part of the attack, not earlier history.
pub const NEW_NETWORK_SLACK_SECONDS: i64 = 15 * 60;

/// What one stolen credential did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialFacts {
    pub access_key: String,
    /// When EC2 or ECS issued it, if the trail holds the `AssumeRole`.
    pub issued: Option<Timestamp>,
    /// `IMDSv1` or `IMDSv2`, from `ec2RoleDelivery`.
    pub delivery: Option<&'static str>,
    pub first_use: Timestamp,
    pub last_use: Timestamp,
    /// Every action from every place, attacker's places first.
    pub calls: Vec<CallSummary>,
    /// Data the attacker read (reads from the attacker's places), earliest first, capped.
    pub reads: Vec<FollowedCall>,
    /// All reads from the attacker's places, kept or not.
    pub reads_total: u64,
    pub bytes_read: u64,
    /// Privilege changes tried from the attacker's places, with their outcome.
    pub privilege_changes: Vec<FollowedCall>,
    /// Commands sent to instances and deployments made from the attacker's places.
    pub commands: Vec<FollowedCall>,
}

/// What the incident's instance looked like and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFacts {
    pub instance: String,
    /// `required` or `optional`, from inventory.
    pub http_tokens: Option<String>,
    pub hop_limit: Option<i64>,
    /// Metadata options set on it, as the trail shows.
    pub metadata_changes: Vec<FollowedCall>,
    /// Commands sent to it (SSM, Instance Connect) from a day before the first alert on.
    pub commands: Vec<FollowedCall>,
}

/// What the attacker read, summed over the incident's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataAccess {
    pub s3_objects: u64,
    pub s3_bytes: u64,
    pub secrets: Vec<String>,
    pub parameters: Vec<String>,
    pub other: Vec<String>,
}

impl DataAccess {
    pub fn is_empty(&self) -> bool {
        self.s3_objects == 0 && self.secrets.is_empty() && self.parameters.is_empty() && self.other.is_empty()
    }

    /// One line: "3 S3 objects (1.2 MB), secrets prod/db, parameters /app/key".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.s3_objects > 0 {
            // No `bytesTransferredOut` in any read is "not logged", not "0 B": an analyst reads
            // "0 B" as "nothing came back".
            let size = match self.s3_bytes {
                0 => "size not logged".to_string(),
                bytes => human_bytes(bytes),
            };
            parts.push(format!("{} S3 object(s) ({size})", self.s3_objects));
        }
        if !self.secrets.is_empty() {
            parts.push(format!("secrets {}", self.secrets.join(", ")));
        }
        if !self.parameters.is_empty() {
            parts.push(format!("parameters {}", self.parameters.join(", ")));
        }
        if !self.other.is_empty() {
            parts.push(self.other.join(", "));
        }
        parts.join("; ")
    }
}

/// "2 h 05 min", "3 min 20 s", "45 s".
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What a role named by the incident's alerts may do, from IAM authorization details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    pub role: String,
    pub account: Option<String>,
    /// `None` when the role is not in the authorization details given.
    pub found: Option<RolePermissions>,
}

/// A role as the authorization details describe it, and what its policies allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePermissions {
    pub arn: String,
    pub instance_profiles: Vec<String>,
    /// Inline and managed policy names.
    pub policies: Vec<String>,
    /// Policies whose permissions are unknown (document not given or unreadable).
    pub unresolved: Vec<String>,
    /// Who its trust policy lets assume it.
    pub trust: Vec<String>,
    pub analysis: Analysis,
    /// The role's record in the details file.
    pub origin: Origin,
}

impl RolePermissions {
    /// Admin or a known privilege-escalation path: a stolen credential can take more.
    pub fn can_escalate(&self) -> bool {
        self.analysis.admin || !self.analysis.paths.is_empty()
    }
}

/// The roles the alerts name, joined with the authorization details on name and account.
/// `None` when no authorization details were given at all.
pub fn roles(group: &[&Alert], inventory: Option<&Inventory>) -> Option<Vec<RoleFacts>> {
    let inventory = inventory.filter(|i| i.has_authorization_details())?;
    let mut named: BTreeSet<(String, Option<String>)> = group
        .iter()
        .filter_map(|a| Some((a.entities.role.clone()?, a.entities.account.clone())))
        .collect();
    // An alert that knows the account says more than one that does not.
    let with_account: BTreeSet<String> = named
        .iter()
        .filter(|(_, account)| account.is_some())
        .map(|(role, _)| role.clone())
        .collect();
    named.retain(|(role, account)| account.is_some() || !with_account.contains(role));
    Some(
        named
            .into_iter()
            .map(|(role, account)| {
                let found = inventory.role(account.as_deref(), &role).map(|r| RolePermissions {
                    arn: r.role.arn.clone(),
                    instance_profiles: r.role.instance_profiles.clone(),
                    policies: r.policies.iter().map(|p| p.to_string()).collect(),
                    unresolved: r.unresolved.iter().map(|p| p.to_string()).collect(),
                    trust: r.role.trust_principals.clone(),
                    analysis: analyse(&r.statements),
                    origin: r.role.origin,
                });
                RoleFacts { role, account, found }
            })
            .collect(),
    )
}

/// The T2 facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// From the first sign (a command sent to the instance, the credential's issue, the first
    /// alert) to the last use, earliest first.
    pub timeline: Vec<Moment>,
    pub credentials: Vec<CredentialFacts>,
    pub instances: Vec<InstanceFacts>,
    pub data: DataAccess,
    /// The alerts' roles and what they may do; `None` when no IAM authorization details were
    /// given.
    pub roles: Option<Vec<RoleFacts>>,
    /// The networks of the incident's outside attacker addresses and when the logs first show
    /// them; addresses whose network the scan did not keep are left out.
    pub networks: Vec<NetworkSighting>,
}

impl Facts {
    /// Seconds from the timeline's first entry to its last.
    pub fn duration_seconds(&self) -> i64 {
        match (self.timeline.first(), self.timeline.last()) {
            (Some(a), Some(b)) => (b.time.millis() - a.time.millis()) / 1000,
            _ => 0,
        }
    }

    /// Write calls (`readOnly: false`) from the attacker's places, per source: "ec2:RunInstances
    /// ×2", busiest first.
    pub fn attacker_writes(&self) -> Vec<(&str, Vec<String>)> {
        let mut by_source: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
        for call in self.credentials.iter().flat_map(|c| &c.calls) {
            if call.attacker && call.writes > 0 {
                by_source
                    .entry(call.source.as_str())
                    .or_default()
                    .push((call.writes, call.action.as_str()));
            }
        }
        by_source
            .into_iter()
            .map(|(source, mut actions)| {
                actions.sort_by(|a, b| (std::cmp::Reverse(a.0), a.1).cmp(&(std::cmp::Reverse(b.0), b.1)));
                let actions = actions
                    .into_iter()
                    .map(|(n, action)| format!("{action} ×{n}"))
                    .collect();
                (source, actions)
            })
            .collect()
    }

    /// Privilege changes attempted from the attacker's places, over all credentials.
    pub fn privilege_changes(&self) -> impl Iterator<Item = &FollowedCall> {
        self.credentials.iter().flat_map(|c| c.privilege_changes.iter())
    }
}

fn by_whom(call: &FollowedCall) -> String {
    let actor = call.actor.as_deref().unwrap_or("an unknown principal");
    format!("by {actor} from {}", call.source)
}

fn outcome(call: &FollowedCall) -> String {
    match &call.error {
        Some(code) => format!(" ({code})"),
        None => String::new(),
    }
}

fn target(call: &FollowedCall) -> String {
    call.target.as_deref().map(|t| format!(" {t}")).unwrap_or_default()
}

fn moment(call: &FollowedCall, what: String) -> Moment {
    Moment {
        time: call.time,
        what,
        origin: Some(call.origin),
        alert: None,
    }
}

pub fn gather(group: &[&Alert], activity: Option<&Activity>, inventory: Option<&Inventory>) -> Facts {
    let first_alert = group.iter().map(|a| a.first_seen).min().unwrap_or_default();
    let last_alert = group.iter().map(|a| a.last_seen).max().unwrap_or_default();
    let mut timeline: Vec<Moment> = group
        .iter()
        .map(|a| Moment {
            time: a.first_seen,
            what: format!("{}: {}", a.rule, a.title),
            origin: None,
            alert: Some(a.id()),
        })
        .collect();

    let attacker_sources: BTreeSet<String> = group
        .iter()
        .filter(|a| ATTACKER_RULES.contains(&a.rule))
        .filter_map(|a| a.entities.source_ip.clone())
        .collect();
    // AWS credentials by access key; a GCP or Azure VM identity's tokens by the identity (the
    // alert's principal), as the activity tally keeps them.
    let keys: BTreeSet<&str> = group
        .iter()
        .filter_map(|a| match VM_IDENTITY_RULES.contains(&a.rule) {
            true => a.entities.principal.as_deref(),
            false => a.entities.access_key.as_deref(),
        })
        .collect();
    let instances: BTreeSet<String> = group
        .iter()
        .filter_map(|a| a.entities.instance.as_deref())
        .filter(|i| i.starts_with("i-") || i.starts_with("I-"))
        .map(str::to_string)
        .collect();

    let mut credentials = Vec::new();
    let mut data = DataAccess::default();
    let mut secrets = BTreeSet::new();
    let mut parameters = BTreeSet::new();
    let mut other = BTreeSet::new();
    let mut last_use = None;
    for key in &keys {
        let Some(record) = activity.and_then(|a| a.credential(key)) else {
            continue;
        };
        let is_attacker = |source: &SourceAddress| attacker_sources.contains(&source.to_string());
        let issued = activity.and_then(|a| a.issued(key));
        if let Some(time) = issued.filter(|t| t.millis() >= first_alert.millis() - LEAD_SECONDS * 1000) {
            timeline.push(Moment {
                time,
                what: format!("credential {key} issued to the workload"),
                origin: None,
                alert: None,
            });
        }
        let mut calls: Vec<CallSummary> = Vec::new();
        for (source, actions) in &record.calls {
            let attacker = is_attacker(source);
            for (action, tally) in actions {
                calls.push(CallSummary {
                    source: source.to_string(),
                    attacker,
                    action: action.clone(),
                    count: tally.count,
                    denied: tally.denied,
                    writes: tally.writes,
                    first: tally.first,
                    last: tally.last,
                });
            }
            if attacker {
                let first = actions.iter().min_by_key(|(name, t)| (t.first, name.as_str()));
                let last = actions
                    .iter()
                    .max_by_key(|(name, t)| (t.last, std::cmp::Reverse(name.as_str())));
                if let Some((name, tally)) = first {
                    timeline.push(Moment {
                        time: tally.first,
                        what: format!("first call with {key} from {source}: {name}"),
                        origin: None,
                        alert: None,
                    });
                }
                if let Some((name, tally)) = last {
                    last_use = last_use.max(Some(tally.last));
                    timeline.push(Moment {
                        time: tally.last,
                        what: format!("last call with {key} from {source}: {name}"),
                        origin: None,
                        alert: None,
                    });
                }
            }
        }
        // The attacker's places first, then the busiest actions.
        calls.sort_by(|a, b| {
            (b.attacker, &a.source, std::cmp::Reverse(a.count), &a.action).cmp(&(
                a.attacker,
                &b.source,
                std::cmp::Reverse(b.count),
                &b.action,
            ))
        });

        let mut reads = Vec::new();
        let mut reads_total = 0;
        let mut bytes_read = 0;
        for (source, source_reads) in &record.reads {
            if !is_attacker(source) {
                continue;
            }
            reads_total += source_reads.calls.total();
            bytes_read += source_reads.bytes;
            reads.extend(source_reads.calls.items().iter().cloned());
        }
        reads.sort();
        for read in &reads {
            let name = read.target.clone().unwrap_or_else(|| read.action.clone());
            match read.action.as_str() {
                "s3:GetObject" => {}
                a if a.starts_with("secretsmanager:") || a.ends_with(".AccessSecretVersion") => {
                    secrets.insert(name);
                }
                a if a.starts_with("ssm:") => {
                    parameters.insert(name);
                }
                _ => {
                    other.insert(format!("{} {name}", read.action));
                }
            }
        }
        // Counted from the tallies, which see every call; the read list is capped.
        data.s3_objects += record
            .calls
            .iter()
            .filter(|(source, _)| is_attacker(source))
            .filter_map(|(_, actions)| actions.get("s3:GetObject"))
            .map(|t| t.count - t.denied)
            .sum::<u64>();
        data.s3_bytes += bytes_read;
        for read in reads.iter().take(TIMELINE_READS) {
            let bytes = read.bytes.map(|b| format!(", {}", human_bytes(b))).unwrap_or_default();
            timeline.push(moment(
                read,
                format!("data read: {}{}{bytes}{}", read.action, target(read), outcome(read)),
            ));
        }
        let attacker_calls = |list: &[FollowedCall]| -> Vec<FollowedCall> {
            list.iter().filter(|c| is_attacker(&c.source)).cloned().collect()
        };
        let privilege_changes = attacker_calls(record.privilege_changes.items());
        for change in &privilege_changes {
            timeline.push(moment(
                change,
                format!(
                    "privilege change tried: {}{}{}",
                    change.action,
                    target(change),
                    outcome(change)
                ),
            ));
        }
        let commands = attacker_calls(record.commands.items());
        for command in &commands {
            timeline.push(moment(
                command,
                format!(
                    "{}{} with the stolen credential{}",
                    command.action,
                    target(command),
                    outcome(command)
                ),
            ));
        }
        credentials.push(CredentialFacts {
            access_key: key.to_string(),
            issued,
            delivery: record.delivery.as_deref().map(|d| match d {
                "1.0" => "IMDSv1",
                "2.0" => "IMDSv2",
                _ => "unknown",
            }),
            first_use: record.first,
            last_use: record.last,
            calls,
            reads,
            reads_total,
            bytes_read,
            privilege_changes,
            commands,
        });
    }
    data.secrets = secrets.into_iter().collect();
    data.parameters = parameters.into_iter().collect();
    data.other = other.into_iter().collect();

    let window_start = first_alert.millis() - LEAD_SECONDS * 1000;
    let window_end = last_alert.max(last_use.unwrap_or(last_alert)).millis();
    let in_window = |c: &&FollowedCall| c.time.millis() >= window_start && c.time.millis() <= window_end;
    let mut instance_facts = Vec::new();
    let mut seen = BTreeSet::new();
    for instance in &instances {
        if !seen.insert(instance.to_ascii_lowercase()) {
            continue;
        }
        let record = activity.and_then(|a| a.instance_activity(instance));
        let commands: Vec<FollowedCall> = record
            .map(|r| r.commands.items().iter().filter(in_window).cloned().collect())
            .unwrap_or_default();
        for command in &commands {
            timeline.push(moment(
                command,
                format!(
                    "{} to {instance} {}{}",
                    command.action,
                    by_whom(command),
                    outcome(command)
                ),
            ));
        }
        let metadata_changes: Vec<FollowedCall> =
            record.map(|r| r.metadata_changes.items().to_vec()).unwrap_or_default();
        for change in metadata_changes.iter().filter(in_window) {
            timeline.push(moment(
                change,
                format!("{} on {instance} {}{}", change.action, by_whom(change), outcome(change)),
            ));
        }
        let posture = inventory.and_then(|inv| inv.metadata_posture(instance));
        instance_facts.push(InstanceFacts {
            instance: instance.clone(),
            http_tokens: posture.as_ref().and_then(|p| p.http_tokens.clone()),
            hop_limit: posture.as_ref().and_then(|p| p.hop_limit),
            metadata_changes,
            commands,
        });
    }

    timeline.sort();
    timeline.dedup();
    if timeline.len() > TIMELINE_CAP {
        // The end of the story matters as much as its start: keep the last entry.
        let last = timeline.pop();
        timeline.truncate(TIMELINE_CAP - 1);
        timeline.extend(last);
    }
    let first_evidence = timeline.first().map_or(first_alert, |m| m.time.min(first_alert));
    Facts {
        timeline,
        credentials,
        instances: instance_facts,
        data,
        roles: roles(group, inventory),
        networks: networks(group, activity, inventory, first_evidence),
    }
}

/// The first sighting of each outside attacker address's network. "First seen" is relative to
/// the logs scanned: a network new to them may be old to the organisation.
fn networks(
    group: &[&Alert],
    activity: Option<&Activity>,
    inventory: Option<&Inventory>,
    first_evidence: Timestamp,
) -> Vec<NetworkSighting> {
    let Some(activity) = activity else {
        return Vec::new();
    };
    let mut addresses: BTreeMap<IpAddr, Severity> = BTreeMap::new();
    for alert in group.iter().filter(|a| ATTACKER_RULES.contains(&a.rule)) {
        let Some(ip) = alert
            .entities
            .source_ip
            .as_deref()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            continue;
        };
        // One of the organisation's own addresses (a bastion, a NAT) is where the attacker
        // stands, and its network is the organisation's: never new.
        let own = inventory
            .and_then(|inv| inv.owners_of(&ip))
            .is_some_and(|o| !o.is_empty());
        if credtrail_event::ip_ranges::is_non_routable(ip) || ip.is_loopback() || own {
            continue;
        }
        let strongest = addresses.entry(ip).or_insert(alert.severity);
        *strongest = (*strongest).max(alert.severity);
    }
    let since = first_evidence.millis() - NEW_NETWORK_SLACK_SECONDS * 1000;
    addresses
        .into_iter()
        .filter_map(|(ip, severity)| {
            let first_seen = activity.network_first_seen(ip)?;
            Some(NetworkSighting {
                address: ip.to_string(),
                network: network_label(network_of(ip)),
                first_seen,
                new: first_seen.millis() >= since,
                severity,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: reads whose records carry no `bytesTransferredOut` were described as "(0 B)",
    /// which reads as "nothing came back".
    #[test]
    fn s3_reads_without_a_logged_size_say_so() {
        let unsized_reads = DataAccess {
            s3_objects: 1,
            ..Default::default()
        };
        assert_eq!(unsized_reads.describe(), "1 S3 object(s) (size not logged)");
        let sized = DataAccess {
            s3_objects: 2,
            s3_bytes: 2_000_000,
            ..Default::default()
        };
        assert_eq!(sized.describe(), "2 S3 object(s) (2.0 MB)");
    }
}
