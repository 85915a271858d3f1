//! What the GCP and Azure detectors share: the calls a VM-attached identity (a Compute Engine
//! service account, an Azure managed identity) made, by address, and where each address stands:
//! one of the identity's VMs, another VM of the estate, somewhere inside the provider, or outside
//! it. AWS has its own, richer [`crate::footprint`]; these clouds log less (no key per token, no
//! VPC endpoint), so the decision rests on inventory, the provider's published ranges and declared
//! egress.
//!
//! State is keyed by (identity, address) in ordered maps, capped like the footprint's, so partial
//! states merge to the same result in any order.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use credtrail_event::ip_ranges::is_non_routable;
use credtrail_event::{Body, CloudApiCall, Event, Provider, SourceAddress, WorkloadKind};

use crate::alert::{Alert, Entities, Severity};
use crate::engine::{Detector, Knowledge, Merge, RuleMeta};
use crate::evidence::Evidence;
use crate::footprint::{count_capped, insert_capped_str, min_opt, user_agent_concern, Footprint};

const PEOPLE_CAP: usize = 8;

/// What makes one cloud's detector: which calls are uses of a VM identity's token, and which
/// actions say more than routine work.
pub struct Spec {
    pub provider: Provider,
    pub meta: &'static RuleMeta,
    /// The identity a call used, when it is a token a VM's metadata service could have handed
    /// out; `None` for keys, impersonation, services acting for the identity, people.
    pub token_use: fn(&CloudApiCall) -> Option<String>,
    /// A person (or any principal that is not a workload) whose address says who sits there.
    pub person: fn(&CloudApiCall) -> Option<String>,
    /// Whether the identity may be a VM's at all without inventory saying so (GCP's Compute
    /// Engine default service account; an Azure system-assigned identity names its VM).
    pub vm_by_name: fn(&str) -> bool,
    /// Token issuances (Azure managed-identity sign-ins): the principal (object) id of the
    /// identity they were for, which the tokens' `oid` claim repeats.
    pub issuance: fn(&CloudApiCall) -> Option<String>,
    /// Actions that read secrets or change privileges: what a thief does first.
    pub sensitive: fn(&str) -> bool,
    /// What the VM identity is called in titles ("service account", "managed identity").
    pub noun: &'static str,
}

/// Every cloud's spec, for what reads VM-identity token uses outside the detectors (the
/// activity tally that incidents' T2 facts come from).
static SPECS: [&Spec; 2] = [
    &crate::rules::gcp_vm_service_account_token_misuse::SPEC,
    &crate::rules::azure_managed_identity_token_misuse::SPEC,
];

/// The VM identity whose metadata-service token `call` used (a GCP service account's email, an
/// Azure managed identity), by its cloud's [`Spec::token_use`]; `None` for AWS calls and for
/// calls that were not such a token's.
pub fn token_identity(call: &CloudApiCall) -> Option<String> {
    SPECS
        .iter()
        .find(|spec| spec.provider == call.provider)
        .and_then(|spec| (spec.token_use)(call))
}

/// A detector made of a [`Spec`]: each cloud's rule file holds its spec and one
/// `pub const DETECTOR`, registered in `DETECTORS` like any other.
pub struct VmIdentityRule(pub &'static Spec);

impl Detector for VmIdentityRule {
    type State = Uses;

    fn meta(&self) -> &'static RuleMeta {
        self.0.meta
    }

    fn observe(&self, state: &mut Uses, event: &Event) {
        state.observe(self.0, event);
    }

    fn finish(&self, state: Uses, _footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        state.finish(self.0, knowledge, out);
    }
}

/// What one identity did from one address.
#[derive(Debug, Clone, Default)]
pub struct Use {
    pub evidence: Evidence,
    pub user_agents: BTreeMap<String, u64>,
    pub actions: BTreeMap<String, u64>,
    pub denied: u64,
    pub account: Option<String>,
    /// The VM the call itself names (an Azure system-assigned identity's `xms_mirid`).
    pub vm: Option<String>,
    /// The identity's principal (object) id, lower case, where the token names it (Azure `oid`).
    pub principal_id: Option<String>,
    /// What the calls acted on (GCP `resourceName`, Azure `resourceId`): the smallest few, for
    /// the analyst's "what did it touch".
    pub targets: BTreeSet<String>,
}

const TARGET_CAP: usize = 8;

impl Use {
    fn merge(&mut self, other: Use) {
        self.evidence.merge(other.evidence);
        for (k, n) in other.user_agents {
            count_capped(&mut self.user_agents, &k, n);
        }
        for (k, n) in other.actions {
            count_capped(&mut self.actions, &k, n);
        }
        self.denied += other.denied;
        min_opt(&mut self.account, other.account);
        min_opt(&mut self.vm, other.vm);
        min_opt(&mut self.principal_id, other.principal_id);
        for target in other.targets {
            insert_capped_str(&mut self.targets, &target, TARGET_CAP);
        }
    }

    fn main_user_agent(&self) -> Option<&str> {
        self.user_agents
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(ua, _)| ua.as_str())
    }
}

/// Every VM identity's uses by address, the people seen at each address, and token issuances.
#[derive(Debug, Default)]
pub struct Uses {
    pub uses: BTreeMap<(String, IpAddr), Use>,
    pub people: BTreeMap<IpAddr, BTreeSet<String>>,
    pub issued: BTreeMap<String, Evidence>,
}

impl Merge for Uses {
    fn merge(&mut self, other: Uses) {
        for (key, theirs) in other.uses {
            self.uses.entry(key).or_default().merge(theirs);
        }
        for (ip, people) in other.people {
            let mine = self.people.entry(ip).or_default();
            mine.extend(people);
            while mine.len() > PEOPLE_CAP {
                mine.pop_last();
            }
        }
        for (identity, evidence) in other.issued {
            self.issued.entry(identity).or_default().merge(evidence);
        }
    }
}

impl Uses {
    pub fn observe(&mut self, spec: &Spec, event: &Event) {
        let Body::CloudApiCall(call) = &event.body else {
            return;
        };
        if call.provider != spec.provider {
            return;
        }
        if let Some(identity) = (spec.issuance)(call) {
            self.issued.entry(identity).or_default().push(event.time, event.origin);
            return;
        }
        let ip = call.source.as_ref().and_then(SourceAddress::ip);
        if let (Some(person), Some(ip)) = ((spec.person)(call), ip) {
            let people = self.people.entry(ip).or_default();
            people.insert(person);
            while people.len() > PEOPLE_CAP {
                people.pop_last();
            }
            return;
        }
        // Calls without an address (`private`, `gce-internal-ip`, missing) are Google's or
        // Azure's own plumbing, or cannot be placed: nothing to decide on.
        let (Some(identity), Some(ip)) = ((spec.token_use)(call), ip) else {
            return;
        };
        let usage = self.uses.entry((identity, ip)).or_default();
        usage.evidence.push(event.time, event.origin);
        if let Some(ua) = &call.user_agent {
            count_capped(&mut usage.user_agents, ua, 1);
        }
        count_capped(&mut usage.actions, &call.action, 1);
        if call.is_access_denied() {
            usage.denied += 1;
        }
        min_opt(
            &mut usage.account,
            call.identity.account.clone().or_else(|| call.recipient_account.clone()),
        );
        let vm = call
            .workload
            .as_ref()
            .filter(|w| w.kind == WorkloadKind::AzureVm)
            .map(|w| w.id.clone());
        min_opt(&mut usage.vm, vm);
        min_opt(
            &mut usage.principal_id,
            call.identity.principal_id.as_deref().map(str::to_ascii_lowercase),
        );
        if let Some(target) = &call.target {
            insert_capped_str(&mut usage.targets, target, TARGET_CAP);
        }
    }

    /// Decides every (identity, address) and writes the alerts.
    pub fn finish(self, spec: &Spec, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        for ((identity, ip), usage) in &self.uses {
            let mut vms: BTreeSet<String> = knowledge
                .inventory
                .vms_with_identity(identity)
                .cloned()
                .unwrap_or_default();
            vms.extend(usage.vm.clone());
            if vms.is_empty() && !(spec.vm_by_name)(identity) {
                // Not known to be any VM's: a workload elsewhere (a CI system, a serverless
                // function) may hold it legitimately. Inventory settles it.
                continue;
            }
            let Some((variant, base, reason)) = place(spec.provider, identity, *ip, &vms, knowledge) else {
                continue;
            };
            out.push(alert(spec, identity, *ip, usage, &vms, variant, base, reason, &self));
        }
    }
}

/// Where an address stands for an identity: `None` when it is the identity's own or cannot be
/// told; otherwise the variant, the base severity and why.
fn place(
    provider: Provider,
    identity: &str,
    ip: IpAddr,
    vms: &BTreeSet<String>,
    knowledge: &Knowledge,
) -> Option<(&'static str, Severity, String)> {
    let inventory = &knowledge.inventory;
    if vms
        .iter()
        .any(|vm| inventory.vm_addresses(vm).is_some_and(|a| a.contains(&ip)))
    {
        return None;
    }
    let owners: Vec<&str> = inventory
        .vm_owners_of(&ip, provider)
        .into_iter()
        .filter(|vm| {
            !vms.contains(*vm)
                && !inventory
                    .vm_identities(vm)
                    .is_some_and(|ids| ids.contains(&identity.to_ascii_lowercase()))
        })
        .collect();
    if !owners.is_empty() {
        return Some((
            "other_vm",
            Severity::High,
            format!(
                "{ip} belongs to {} (inventory), which does not hold this identity",
                owners.iter().take(3).copied().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if is_non_routable(ip) || ip.is_loopback() {
        // A VM's internal address inside its own network: the provider writes it only for
        // callers inside the organisation.
        return None;
    }
    if knowledge.policy.is_declared_egress(ip) {
        return None;
    }
    let matches = knowledge.ranges.lookup(ip);
    if let Some(m) = matches.iter().find(|m| m.provider == provider) {
        let known: Vec<&str> = vms
            .iter()
            .filter(|vm| inventory.vm_addresses(vm).is_some())
            .map(String::as_str)
            .collect();
        if known.is_empty() {
            // Without inventory of its VMs, a provider address may be the VM's own.
            return None;
        }
        return Some((
            "other_cloud_address",
            Severity::Medium,
            format!(
                "{ip} is a {} address ({} {} {}) but none of the identity's VMs' ({})",
                provider.name(),
                m.prefix,
                m.service,
                m.region,
                known.iter().take(3).copied().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let elsewhere = matches
        .first()
        .map(|m| format!(" (it is a {} address, {})", m.provider.name(), m.prefix))
        .unwrap_or_default();
    Some((
        "outside_cloud",
        Severity::High,
        format!(
            "{ip} is in no published {} range{elsewhere}: the token left the provider",
            provider.name()
        ),
    ))
}

#[allow(clippy::too_many_arguments)] // one alert's parts, named rather than bundled
fn alert(
    spec: &Spec,
    identity: &str,
    ip: IpAddr,
    usage: &Use,
    vms: &BTreeSet<String>,
    variant: &'static str,
    base: Severity,
    reason: String,
    uses: &Uses,
) -> Alert {
    let mut reasons = vec![reason];
    let outside = variant == "outside_cloud";
    let mut strong = 0;
    let mut support = 0;
    if let Some(people) = uses.people.get(&ip) {
        let list: Vec<&str> = people.iter().map(String::as_str).take(3).collect();
        if outside {
            strong += 1;
            reasons.push(format!(
                "the same address was used by {} (a person, not a workload)",
                list.join(", ")
            ));
        } else {
            reasons.push(format!("the same address was also used by {}", list.join(", ")));
        }
    }
    if let Some((ua, (marker, tool))) = usage
        .user_agents
        .keys()
        .find_map(|ua| user_agent_concern(ua).map(|c| (ua, c)))
    {
        if tool {
            strong += 1;
            reasons.push(format!("user agent {ua:?} is an attack or audit tool ({marker})"));
        } else {
            support += 1;
            reasons.push(format!("user agent {ua:?} is a desktop system ({marker}), not a VM"));
        }
    }
    let sensitive: Vec<&str> = usage
        .actions
        .keys()
        .map(String::as_str)
        .filter(|a| (spec.sensitive)(a))
        .take(5)
        .collect();
    if !sensitive.is_empty() {
        support += 1;
        reasons.push(format!("read secrets or changed privileges: {}", sensitive.join(", ")));
    }
    if usage.denied > 0 {
        support += 1;
        reasons.push(format!(
            "{} of {} calls were denied",
            usage.denied,
            usage.evidence.total()
        ));
    }
    let calls: Vec<String> = usage
        .actions
        .iter()
        .take(8)
        .map(|(action, n)| format!("{action} ({n})"))
        .collect();
    reasons.push(format!("calls from {ip}: {}", calls.join(", ")));
    if !usage.targets.is_empty() {
        reasons.push(format!(
            "acted on: {}",
            usage.targets.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(issued) = usage.principal_id.as_ref().and_then(|p| uses.issued.get(p)) {
        if let Some((_, last)) = issued.time_span() {
            reasons.push(format!(
                "Entra logged {} token issuance(s) to this identity, the last at {last}: tokens are issued to the VM, so use elsewhere is a copy",
                issued.total()
            ));
        }
    }
    let corroborated = strong > 0 || support >= 2;
    let severity = match base {
        Severity::High if corroborated => Severity::Critical,
        Severity::Medium if corroborated => Severity::High,
        other => other,
    };
    let vm = vms.iter().next().cloned();
    let (first_seen, last_seen) = usage.evidence.time_span().unwrap_or_default();
    let account = usage.account.clone().or_else(|| vm.as_deref().and_then(account_of_vm));
    Alert {
        rule: spec.meta.id,
        variant: Some(variant),
        severity,
        first_seen,
        last_seen,
        title: format!("{} {identity} used from {ip}", spec.noun),
        entities: Entities {
            cloud: Some(spec.provider.key().to_string()),
            account,
            principal: Some(identity.to_string()),
            instance: vm,
            source_ip: Some(ip.to_string()),
            user_agent: usage.main_user_agent().map(str::to_string),
            ..Default::default()
        },
        reasons,
        evidence: usage.evidence.origins(),
        evidence_total: usage.evidence.total(),
    }
}

/// The project or subscription a VM id names (`projects/P/…`, `/subscriptions/S/…`).
fn account_of_vm(vm: &str) -> Option<String> {
    let mut parts = vm.split('/').filter(|p| !p.is_empty());
    match parts.next()? {
        "projects" | "subscriptions" => parts.next().map(str::to_string),
        _ => None,
    }
}
