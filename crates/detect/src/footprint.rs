//! Where a workload's credentials are normally used from, and whether a given place is one of
//! them. Shared by the detectors that must tell "the instance itself" from "somewhere else".
//!
//! A place is the workload's own when the evidence says so, never because an address looks
//! public or private:
//! - inventory (`describe-instances`, NAT gateways through the subnet's route table);
//! - a VPC endpoint of the workload's own account (the call came from inside its VPC);
//! - the addresses the instance identity role (`aws:ec2-instance/i-…`) uses: AWS agents on the
//!   instance itself hold that credential;
//! - egress ranges the user declared;
//! - without inventory for the instance, an AWS address that several different credentials of the
//!   workload used over time (an attacker holds one stolen credential; the workload rotates them).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use credtrail_event::ip_ranges::is_non_routable;
use credtrail_event::{Body, CloudApiCall, Event, Provider, SourceAddress, Timestamp, Workload, WorkloadKind};
use hashbrown::hash_map::EntryRef;
use hashbrown::Equivalent;

use crate::engine::{EntityMap, Knowledge, Merge};
use crate::evidence::Evidence;

const KEY_CAP: usize = 64;
const LABEL_CAP: usize = 32;

/// Where a call came from, as far as "own network" is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    pub address: IpAddr,
    pub endpoint: Option<String>,
    pub endpoint_account: Option<String>,
}

/// A [`Place`] borrowed from a call, to look a place up without copying its strings.
#[derive(Debug, Clone, Copy)]
struct PlaceRef<'a> {
    address: IpAddr,
    endpoint: Option<&'a str>,
    endpoint_account: Option<&'a str>,
}

impl PlaceRef<'_> {
    fn to_place(self) -> Place {
        Place {
            address: self.address,
            endpoint: self.endpoint.map(str::to_string),
            endpoint_account: self.endpoint_account.map(str::to_string),
        }
    }
}

/// A key of [`Footprint::uses`] borrowed from a call. Hashes exactly as the owned
/// `(String, Place)` does (a tuple hashes its fields in order, and `str`, `String`, `Option<&str>`
/// and `Option<String>` hash alike), so that it can look the owned key up.
struct UseKey<'a> {
    scope: &'a str,
    place: PlaceRef<'a>,
}

impl Hash for UseKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.scope.hash(state);
        self.place.address.hash(state);
        self.place.endpoint.hash(state);
        self.place.endpoint_account.hash(state);
    }
}

impl Equivalent<(String, Place)> for UseKey<'_> {
    fn equivalent(&self, key: &(String, Place)) -> bool {
        let (scope, place) = key;
        self.scope == scope
            && self.place.address == place.address
            && self.place.endpoint == place.endpoint.as_deref()
            && self.place.endpoint_account == place.endpoint_account.as_deref()
    }
}

/// [`Workload::network_scope`], borrowed when it is the instance id (a test checks they agree).
fn network_scope(workload: &Workload) -> Cow<'_, str> {
    match workload.kind {
        WorkloadKind::Ec2Instance | WorkloadKind::Ec2InstanceIdentity | WorkloadKind::AzureVm => {
            Cow::Borrowed(&workload.id)
        }
        WorkloadKind::EcsTask | WorkloadKind::EksPod => Cow::Owned(workload.network_scope()),
    }
}

impl Place {
    pub fn describe(&self) -> String {
        match &self.endpoint {
            Some(vpce) => format!("{} via {vpce}", self.address),
            None => self.address.to_string(),
        }
    }
}

/// What one workload's credentials did from one place.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub keys: BTreeSet<String>,
    pub evidence: Evidence,
    pub user_agents: BTreeMap<String, u64>,
    pub actions: BTreeMap<String, u64>,
    pub denied: u64,
    pub imdsv1: bool,
    pub principal: Option<String>,
    pub account: Option<String>,
    pub workload: Option<Workload>,
}

fn insert_capped<T: Ord>(set: &mut BTreeSet<T>, v: T, cap: usize) {
    if set.len() < cap || set.contains(&v) {
        set.insert(v);
    } else if let Some(last) = set.last() {
        // Keep the smallest `cap` values: deterministic whatever the arrival order.
        if &v < last {
            set.pop_last();
            set.insert(v);
        }
    }
}

/// [`insert_capped`] for a borrowed string: copied only when it is kept.
pub(crate) fn insert_capped_str(set: &mut BTreeSet<String>, v: &str, cap: usize) {
    if set.contains(v) {
        return;
    }
    if set.len() < cap {
        set.insert(v.to_string());
    } else if set.last().is_some_and(|last| v < last.as_str()) {
        set.pop_last();
        set.insert(v.to_string());
    }
}

/// Counts `key`, keeping the [`LABEL_CAP`] smallest keys: a key is dropped only once that many
/// smaller ones were seen, and then never comes back, so the kept keys and their counts are the
/// same whatever order calls and merges arrive in. (Keeping the first keys seen, as this did,
/// depended on the order once a workload had more distinct user agents or actions than the cap.)
pub(crate) fn count_capped(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    if let Some(c) = map.get_mut(key) {
        *c += n;
    } else if map.len() < LABEL_CAP {
        map.insert(key.to_string(), n);
    } else if map.last_key_value().is_some_and(|(last, _)| key < last.as_str()) {
        map.pop_last();
        map.insert(key.to_string(), n);
    }
}

pub(crate) fn min_opt(a: &mut Option<String>, b: Option<String>) {
    if let Some(b) = b {
        if a.as_ref().is_none_or(|a| &b < a) {
            *a = Some(b);
        }
    }
}

/// [`min_opt`] for a borrowed string: copied only when it is kept.
fn min_opt_str(a: &mut Option<String>, b: Option<&str>) {
    if let Some(b) = b {
        if a.as_deref().is_none_or(|a| b < a) {
            *a = Some(b.to_string());
        }
    }
}

impl Usage {
    fn add(&mut self, event: &Event, call: &CloudApiCall, workload: &Workload, scratch: &mut String) {
        if let Some(key) = &call.identity.access_key {
            insert_capped_str(&mut self.keys, key, KEY_CAP);
        }
        self.evidence.push(event.time, event.origin);
        if let Some(ua) = &call.user_agent {
            count_capped(&mut self.user_agents, ua, 1);
        }
        count_capped(&mut self.actions, call.qualified_action_in(scratch), 1);
        if call.is_access_denied() {
            self.denied += 1;
        }
        self.imdsv1 |= call.identity.role_delivery.as_deref() == Some("1.0");
        min_opt_str(&mut self.principal, call.identity.arn.as_deref());
        min_opt_str(
            &mut self.account,
            call.identity.account.as_deref().or(call.recipient_account.as_deref()),
        );
        if self.workload.as_ref().is_none_or(|w| workload < w) {
            self.workload = Some(workload.clone());
        }
    }

    fn merge(&mut self, other: Usage) {
        for k in other.keys {
            insert_capped(&mut self.keys, k, KEY_CAP);
        }
        self.evidence.merge(other.evidence);
        for (k, n) in other.user_agents {
            count_capped(&mut self.user_agents, &k, n);
        }
        for (k, n) in other.actions {
            count_capped(&mut self.actions, &k, n);
        }
        self.denied += other.denied;
        self.imdsv1 |= other.imdsv1;
        min_opt(&mut self.principal, other.principal);
        min_opt(&mut self.account, other.account);
        if let Some(w) = other.workload {
            if self.workload.as_ref().is_none_or(|mine| &w < mine) {
                self.workload = Some(w);
            }
        }
    }

    /// The user agent seen most often (ties broken by text, for determinism).
    pub fn main_user_agent(&self) -> Option<&str> {
        self.user_agents
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, _)| k.as_str())
    }
}

/// Calls that cannot show a stolen credential, whatever their source: AWS acting for the
/// principal, and the SSM agent's own channels. Returns why, for documentation and tests.
pub fn benign_channel(call: &CloudApiCall) -> Option<&'static str> {
    if call.identity.invoked_by.is_some() {
        return Some("made by an AWS service on the principal's behalf (invokedBy)");
    }
    match call.source {
        Some(SourceAddress::AwsInternal) => return Some("source is AWS Internal"),
        Some(SourceAddress::ServiceHost(_)) => return Some("source is an AWS service host name"),
        _ => {}
    }
    let service = call.service.as_str();
    if matches!(service, "ec2messages.amazonaws.com" | "ssmmessages.amazonaws.com") {
        return Some("SSM agent message channel (ec2messages / ssmmessages)");
    }
    if service == "ssm.amazonaws.com"
        && matches!(
            call.action.as_str(),
            "UpdateInstanceInformation"
                | "ListInstanceAssociations"
                | "UpdateInstanceAssociationStatus"
                | "DescribeInstanceProperties"
                | "PutInventory"
                | "PutComplianceItems"
                | "RequestManagedInstanceRoleToken"
                | "GetManifest"
                | "DescribeAssociation"
                | "GetDeployablePatchSnapshotForInstance"
        )
    {
        return Some("SSM agent heartbeat or inventory call");
    }
    if call.action == "RegisterManagedInstance" {
        return Some("SSM managed-instance registration");
    }
    None
}

/// Observations about where workload credentials were used.
#[derive(Debug, Default)]
pub struct Footprint {
    pub uses: EntityMap<(String, Place), Usage>,
    /// Instance → addresses its instance identity role (`aws:ec2-instance`) used.
    pub identity_sources: EntityMap<String, BTreeSet<IpAddr>>,
    /// Address → human principals (IAM users, SSO sessions) that used it.
    pub humans: EntityMap<IpAddr, BTreeSet<String>>,
    /// Reused for the qualified action of each call; not part of the state.
    scratch: String,
}

impl Merge for Footprint {
    fn merge(&mut self, other: Footprint) {
        for (k, u) in other.uses {
            match self.uses.get_mut(&k) {
                Some(mine) => mine.merge(u),
                None => {
                    self.uses.insert(k, u);
                }
            }
        }
        for (k, v) in other.identity_sources {
            let set = self.identity_sources.entry(k).or_default();
            for ip in v {
                insert_capped(set, ip, KEY_CAP);
            }
        }
        for (k, v) in other.humans {
            let set = self.humans.entry(k).or_default();
            for p in v {
                insert_capped(set, p, 8);
            }
        }
    }
}

/// The call's workload and place when it is a workload credential used from an address.
pub fn workload_use(call: &CloudApiCall) -> Option<(&Workload, Place)> {
    let (workload, place) = workload_place(call)?;
    Some((workload, place.to_place()))
}

fn workload_place(call: &CloudApiCall) -> Option<(&Workload, PlaceRef<'_>)> {
    let workload = call.workload.as_ref()?;
    let address = call.source.as_ref()?.ip()?;
    Some((
        workload,
        PlaceRef {
            address,
            endpoint: call.vpc_endpoint.as_deref(),
            endpoint_account: call.vpc_endpoint_account.as_deref(),
        },
    ))
}

impl Footprint {
    pub fn observe(&mut self, event: &Event) {
        let Body::CloudApiCall(call) = &event.body else {
            return;
        };
        // AWS places and keys: GCP and Azure calls have their own detectors.
        if call.provider != Provider::Aws {
            return;
        }
        if call.identity.is_human() {
            if let (Some(ip), Some(arn)) = (call.source.as_ref().and_then(SourceAddress::ip), &call.identity.arn) {
                insert_capped_str(self.humans.entry(ip).or_default(), arn, 8);
            }
            return;
        }
        let Some((workload, place)) = workload_place(call) else {
            return;
        };
        if workload.kind == WorkloadKind::Ec2InstanceIdentity {
            // Only AWS agents on the instance hold this credential, mostly for SSM channel calls:
            // wherever it is used from is the instance itself.
            let set = self.identity_sources.entry_ref(workload.id.as_str()).or_default();
            insert_capped(set, place.address, KEY_CAP);
            return;
        }
        if benign_channel(call).is_some() {
            return;
        }
        let scope = network_scope(workload);
        let key = UseKey { scope: &scope, place };
        let usage = match self.uses.entry_ref(&key) {
            EntryRef::Occupied(usage) => usage.into_mut(),
            EntryRef::Vacant(new) => new.insert_with_key((scope.to_string(), place.to_place()), Usage::default()),
        };
        usage.add(event, call, workload, &mut self.scratch);
    }
}

/// How strongly a place's kind alone suggests theft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Base {
    Weak,
    Moderate,
    Strong,
}

/// The decision about one place for one workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Own(String),
    /// Not the workload's own network: `variant` is `outside_cloud`, `other_account` or
    /// `other_instance`.
    Foreign {
        variant: &'static str,
        reason: String,
        base: Base,
    },
    /// A private address with nothing to attribute it to: not evidence either way.
    Unattributable(String),
}

/// Resolves places against inventory, policy and what the logs taught.
pub struct Resolver<'a> {
    knowledge: &'a Knowledge,
    footprint: &'a Footprint,
    /// Scope → AWS addresses used by several credentials of the scope.
    learned: HashMap<&'a str, BTreeSet<IpAddr>>,
    /// (account, address) → scopes that learned it.
    learned_owners: HashMap<(Option<&'a str>, IpAddr), BTreeSet<&'a str>>,
}

impl<'a> Resolver<'a> {
    pub fn new(footprint: &'a Footprint, knowledge: &'a Knowledge) -> Self {
        let mut learned: HashMap<&str, BTreeSet<IpAddr>> = HashMap::new();
        let mut learned_owners: HashMap<(Option<&str>, IpAddr), BTreeSet<&str>> = HashMap::new();
        for ((scope, place), usage) in &footprint.uses {
            let routable_aws = knowledge.ranges.aws(place.address).is_some();
            if place.endpoint.is_none() && routable_aws && usage.keys.len() >= 2 {
                learned.entry(scope.as_str()).or_default().insert(place.address);
                learned_owners
                    .entry((usage.account.as_deref(), place.address))
                    .or_default()
                    .insert(scope.as_str());
            }
        }
        Resolver {
            knowledge,
            footprint,
            learned,
            learned_owners,
        }
    }

    pub fn verdict(&self, scope: &str, place: &Place, usage: &Usage) -> Verdict {
        let k = self.knowledge;
        let account = usage.account.as_deref();
        let workload = usage.workload.as_ref();
        let instance = workload.and_then(Workload::instance_id);
        let inventory_knows = instance.is_some_and(|i| k.inventory.knows_instance(i));
        let ip = place.address;

        if let Some(vpce) = &place.endpoint {
            let owner = place
                .endpoint_account
                .clone()
                .or_else(|| k.inventory.endpoint(vpce).and_then(|e| e.owner_account.clone()));
            if let (Some(owner), Some(account)) = (owner.as_deref(), account) {
                if owner != account {
                    return Verdict::Foreign {
                        variant: "other_account",
                        reason: format!("reached AWS through VPC endpoint {vpce}, which belongs to account {owner}, not to the credential's account {account}"),
                        base: Base::Strong,
                    };
                }
            }
            if let Some(other) = self.other_inventory_owner(instance, ip) {
                return Verdict::Foreign {
                    variant: "other_instance",
                    reason: format!(
                        "private address {ip} belongs to {other} (inventory), not to the credential's instance"
                    ),
                    base: Base::Moderate,
                };
            }
            return Verdict::Own(format!("called through the account's own VPC endpoint {vpce}"));
        }
        if k.policy.is_declared_egress(ip) {
            return Verdict::Own(format!(
                "{ip} is a declared egress address (config network.egress_cidrs)"
            ));
        }
        match workload.map(|w| w.kind) {
            Some(WorkloadKind::Ec2Instance) | Some(WorkloadKind::Ec2InstanceIdentity) => {
                if let Some(inst) = instance {
                    if k.inventory.instance_addresses(inst).is_some_and(|a| a.contains(&ip)) {
                        return Verdict::Own(format!("{ip} is {inst}'s own address or NAT gateway (inventory)"));
                    }
                    if self
                        .footprint
                        .identity_sources
                        .get(inst)
                        .is_some_and(|s| s.contains(&ip))
                    {
                        return Verdict::Own(format!(
                            "{ip} is used by {inst}'s instance identity role (AWS agents on the instance)"
                        ));
                    }
                }
                if !inventory_knows && self.learned.get(scope).is_some_and(|s| s.contains(&ip)) {
                    return Verdict::Own(format!(
                        "{ip} is used by several credentials of this instance over time"
                    ));
                }
            }
            _ => {
                // Tasks and pods run on the account's instances and leave through its NATs.
                if k.inventory.owners_of(&ip).is_some_and(|owners| {
                    owners.iter().any(|o| {
                        account.is_none() || k.inventory.instance_account(o).is_none_or(|a| Some(a) == account)
                    })
                }) {
                    return Verdict::Own(format!(
                        "{ip} is an address of the account's instances or NAT gateways (inventory)"
                    ));
                }
                if self.learned.get(scope).is_some_and(|s| s.contains(&ip)) {
                    return Verdict::Own(format!("{ip} is used by many sessions of this role over time"));
                }
            }
        }
        if let Some(other) = self.other_inventory_owner(instance, ip) {
            return Verdict::Foreign {
                variant: "other_instance",
                reason: format!(
                    "{ip} belongs to {other} of the same estate (inventory), not to the credential's instance"
                ),
                base: Base::Moderate,
            };
        }
        if let Some(others) = self.learned_owners.get(&(account, ip)) {
            let others: Vec<&str> = others.iter().copied().filter(|s| *s != scope).collect();
            if !others.is_empty() {
                // One other owner: that instance's own address. Several: a shared NAT gateway,
                // which this workload may sit behind too; without inventory it is only a hint.
                let shared = others.len() > 1;
                let shown = others.iter().take(3).copied().collect::<Vec<_>>().join(", ");
                let reason = if shared {
                    format!("{ip} is the usual address of {shown} (a shared NAT gateway?) in the same account, never seen for this workload; inventory would settle it")
                } else {
                    format!("{ip} is the usual address of {shown} in the same account, not of this workload")
                };
                return Verdict::Foreign {
                    variant: "other_instance",
                    reason,
                    base: if shared { Base::Weak } else { Base::Moderate },
                };
            }
        }
        if is_non_routable(ip) {
            return Verdict::Unattributable(format!("{ip} is a private address with no VPC endpoint recorded"));
        }
        if let Some(m) = k.ranges.aws(ip) {
            return Verdict::Foreign {
                variant: "other_account",
                reason: format!(
                    "{ip} is an AWS address ({} {}, {}) not known to belong to account {}",
                    m.service,
                    m.region,
                    m.prefix,
                    account.unwrap_or("?")
                ),
                base: Base::Weak,
            };
        }
        let stamp = k
            .ranges
            .snapshots
            .get(&credtrail_event::Provider::Aws)
            .map(String::as_str)
            .unwrap_or("none loaded");
        let elsewhere: Vec<String> = k
            .ranges
            .lookup(ip)
            .into_iter()
            .map(|m| format!("{} ({})", m.provider.name(), m.prefix))
            .collect();
        let reason = if elsewhere.is_empty() {
            format!("{ip} is outside AWS's published ranges (snapshot {stamp}) and every other cloud's")
        } else {
            format!(
                "{ip} is outside AWS (snapshot {stamp}); it is published by {}",
                elsewhere.join(", ")
            )
        };
        Verdict::Foreign {
            variant: "outside_cloud",
            reason,
            base: Base::Strong,
        }
    }

    fn other_inventory_owner(&self, instance: Option<&str>, ip: IpAddr) -> Option<String> {
        let owners = self.knowledge.inventory.owners_of(&ip)?;
        let others: Vec<&str> = owners
            .iter()
            .map(String::as_str)
            .filter(|o| Some(*o) != instance)
            .collect();
        if others.is_empty() || instance.is_some_and(|i| owners.contains(i)) {
            return None;
        }
        let mut text = others.iter().take(3).copied().collect::<Vec<_>>().join(", ");
        if others.len() > 3 {
            text.push_str(&format!(" and {} more", others.len() - 3));
        }
        Some(text)
    }

    /// Places of `scope` the verdict calls own, with the keys used there.
    pub fn own_keys(&self, scope: &str) -> BTreeSet<&'a str> {
        let mut keys = BTreeSet::new();
        for ((s, place), usage) in &self.footprint.uses {
            if s == scope && matches!(self.verdict(s, place, usage), Verdict::Own(_)) {
                keys.extend(usage.keys.iter().map(String::as_str));
            }
        }
        keys
    }
}

/// A user agent that does not belong on a server: attack and audit tools, desktop systems.
pub fn user_agent_concern(ua: &str) -> Option<(&'static str, bool)> {
    let lower = ua.to_ascii_lowercase();
    const TOOLS: &[&str] = &[
        "stratus-red-team",
        "pacu",
        "scoutsuite",
        "prowler",
        "cloudsploit",
        "weirdaal",
        "cloudfox",
        "trufflehog",
        "cloudmapper",
        "kali",
        "parrot",
        "nmap",
        "sqlmap",
        "curl/",
        "python-requests",
    ];
    if let Some(t) = TOOLS.iter().find(|t| lower.contains(*t)) {
        return Some((t, true));
    }
    const DESKTOP: &[&str] = &[
        "darwin",
        "macintosh",
        "mac os",
        "windows nt",
        "windows/",
        "win64",
        "iphone",
        "android",
    ];
    DESKTOP.iter().find(|t| lower.contains(*t)).map(|t| (*t, false))
}

/// The earliest time in a usage, for deterministic ordering.
pub fn first_time(usage: &Usage) -> Timestamp {
    usage.evidence.time_span().map(|(a, _)| a).unwrap_or_default()
}

#[cfg(test)]
mod tests {

    #[test]
    fn bug_capped_counts_kept_the_first_labels_seen_so_the_set_depended_on_order() {
        let labels: Vec<String> = (0..LABEL_CAP * 2).map(|i| format!("agent-{i:03}")).collect();
        let fill = |order: &mut dyn Iterator<Item = &String>| {
            let mut map = BTreeMap::new();
            for label in order {
                count_capped(&mut map, label, 1);
            }
            map
        };
        let forward = fill(&mut labels.iter());
        let backward = fill(&mut labels.iter().rev());
        assert_eq!(forward, backward);
        assert_eq!(forward.len(), LABEL_CAP);
        assert_eq!(forward.keys().next_back(), Some(&format!("agent-{:03}", LABEL_CAP - 1)));
    }
    use super::*;
    use std::hash::BuildHasher;

    fn workloads() -> Vec<Workload> {
        [
            WorkloadKind::Ec2Instance,
            WorkloadKind::Ec2InstanceIdentity,
            WorkloadKind::EcsTask,
            WorkloadKind::EksPod,
        ]
        .into_iter()
        .map(|kind| Workload {
            kind,
            id: "i-0123456789abcdef0".into(),
            role: "web".into(),
        })
        .collect()
    }

    #[test]
    fn the_borrowed_scope_is_the_network_scope() {
        for w in workloads() {
            assert_eq!(network_scope(&w), w.network_scope(), "{w:?}");
        }
    }

    /// A borrowed key finds its owned twin only if both hash alike.
    #[test]
    fn borrowed_use_keys_hash_and_compare_as_owned_ones() {
        let hasher = rustc_hash::FxBuildHasher;
        let endpoints = [None, Some(""), Some("vpce-1"), Some("vpce-2")];
        for endpoint in endpoints {
            for endpoint_account in endpoints {
                for scope in ["i-1", "role/web", ""] {
                    let place = PlaceRef {
                        address: "10.0.0.1".parse().unwrap(),
                        endpoint,
                        endpoint_account,
                    };
                    let key = UseKey { scope, place };
                    let owned = (scope.to_string(), place.to_place());
                    assert_eq!(hasher.hash_one(&key), hasher.hash_one(&owned));
                    assert!(key.equivalent(&owned));
                    let other = (
                        scope.to_string(),
                        PlaceRef {
                            endpoint: Some("x"),
                            ..place
                        }
                        .to_place(),
                    );
                    assert_eq!(key.equivalent(&other), endpoint == Some("x"));
                }
            }
        }
    }

    #[test]
    fn capped_string_sets_keep_what_owned_inserts_keep() {
        let mut a = BTreeSet::new();
        let mut b = BTreeSet::new();
        for v in ["m", "c", "x", "a", "c", "z", "b", "a", "d"] {
            insert_capped(&mut a, v.to_string(), 3);
            insert_capped_str(&mut b, v, 3);
            assert_eq!(a, b);
        }
    }
}
