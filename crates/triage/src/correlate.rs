//! Which alerts belong together: shared access key (or GCP/Azure VM identity) or outside address within
//! [`crate::GAP_SECONDS`] of each other in event time, shared instance or process within
//! [`crate::INSTANCE_GAP_SECONDS`]; a GCP or Azure VM identity's alert and host findings on the
//! machine of that VM's name within the same gap.

use std::collections::BTreeMap;
use std::net::IpAddr;

use credtrail_detect::Alert;

use crate::{HOST_RULES, ROUTINE_HOST_RULES, VM_IDENTITY_RULES};

/// Union-find over alert indexes.
struct Sets(Vec<usize>);

impl Sets {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        // The smaller index is the root: the result does not depend on the order of unions.
        let (root, child) = if a < b { (a, b) } else { (b, a) };
        self.0[child] = root;
    }
}

/// An address an attacker could be known by: public, so that it names one party. Private and
/// shared addresses (a NAT, a proxy inside the network) would join unrelated alerts.
fn outside_address(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.parse().ok()?;
    (!credtrail_event::ip_ranges::is_non_routable(ip) && !ip.is_loopback()).then_some(ip)
}

/// The keys an alert joins on.
fn keys(alert: &Alert) -> Vec<String> {
    let e = &alert.entities;
    let mut keys = Vec::new();
    if let Some(k) = &e.access_key {
        keys.push(format!("key:{k}"));
    }
    // A GCP or Azure VM identity has no key per token: the identity itself is the credential.
    if let Some(p) = e.principal.as_ref().filter(|_| VM_IDENTITY_RULES.contains(&alert.rule)) {
        keys.push(format!("key:{}", p.to_ascii_lowercase()));
    }
    // A routine reader (a low host finding: an SDK or service not yet allow-listed) reads the
    // service all day; joined by its instance it would stretch the attack's incident over days
    // and bury it in noise. It stays an incident of its own, to be allow-listed.
    let routine = alert.severity <= credtrail_detect::Severity::Low && ROUTINE_HOST_RULES.contains(&alert.rule);
    if let Some(i) = e.instance.as_ref().filter(|_| !routine) {
        keys.push(format!("instance:{}", i.to_ascii_lowercase()));
    }
    // A routine reader's own volume and failures belong with it (a legacy tool's reads, its 401s
    // and its burst are one story). An attack through the same process (an SSRF through the
    // application whose SDK also reads its role) is another: the routine reads are its baseline.
    let behaviour = matches!(alert.rule, "imds-access-volume-anomaly" | "imds-access-failures");
    if routine || behaviour {
        if let (Some(host), Some(process)) = (e.host.as_ref().or(e.instance.as_ref()), &e.process) {
            keys.push(format!("process:{}:{process}", host.to_ascii_lowercase()));
        }
    }
    if let Some(ip) = e.source_ip.as_deref().and_then(outside_address) {
        keys.push(format!("ip:{ip}"));
    }
    if let Some(name) = vm_name(alert).filter(|_| !routine) {
        keys.push(format!("{VM_KEY}{name}"));
    }
    keys
}

/// Joins a GCP or Azure VM identity's alert to host findings on a machine of the same name only:
/// two host findings never join through it (host names repeat across estates, and the instance
/// key already joins EC2 hosts).
const VM_KEY: &str = "vm:";

/// The VM a GCP or Azure token alert names (`projects/P/zones/Z/instances/NAME`, an Azure VM
/// resource id: its last segment), or the short host name of a host finding not on EC2 (GCP and
/// Azure name a VM's host after the VM: `web-1.europe-west1-b.c.shop-prod.internal`).
fn vm_name(alert: &Alert) -> Option<String> {
    let e = &alert.entities;
    let name = if VM_IDENTITY_RULES.contains(&alert.rule) {
        e.instance.as_deref()?.rsplit('/').next()?
    } else if HOST_RULES.contains(&alert.rule) && e.instance.is_none() {
        e.host.as_deref()?.split('.').next()?
    } else {
        return None;
    };
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

/// Each host finding joins every VM identity alert of the same VM name within
/// [`crate::INSTANCE_GAP_SECONDS`] (the token was read on the host, then used).
fn join_vm_to_hosts(alerts: &[Alert], members: &[usize], sets: &mut Sets) {
    let (tokens, hosts): (Vec<usize>, Vec<usize>) = members
        .iter()
        .partition(|&&i| VM_IDENTITY_RULES.contains(&alerts[i].rule));
    for &t in &tokens {
        for &h in &hosts {
            let (a, b) = (&alerts[t], &alerts[h]);
            let apart =
                (a.first_seen.millis() - b.last_seen.millis()).max(b.first_seen.millis() - a.last_seen.millis());
            if apart <= crate::INSTANCE_GAP_SECONDS * 1000 {
                sets.union(t, h);
            }
        }
    }
}

fn gap_of(key: &str) -> i64 {
    if key.starts_with("instance:") || key.starts_with("process:") {
        crate::INSTANCE_GAP_SECONDS
    } else {
        crate::GAP_SECONDS
    }
}

/// Groups of alert indexes, each sorted, the groups ordered by their first member.
pub fn groups(alerts: &[Alert]) -> Vec<Vec<usize>> {
    let mut sets = Sets((0..alerts.len()).collect());
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, alert) in alerts.iter().enumerate() {
        for key in keys(alert) {
            by_key.entry(key).or_default().push(i);
        }
    }
    for (key, members) in by_key.iter_mut() {
        if key.starts_with(VM_KEY) {
            join_vm_to_hosts(alerts, members, &mut sets);
            continue;
        }
        members.sort_by_key(|&i| (alerts[i].first_seen, i));
        // Consecutive alerts of a key join when the later starts within the gap of the
        // latest end seen so far: a chain of events, not everything that ever shared the key.
        let mut latest_end = None;
        let mut previous = None;
        for &i in members.iter() {
            if let (Some(end), Some(p)) = (latest_end, previous) {
                if alerts[i].first_seen.millis() - end <= gap_of(key) * 1000 {
                    sets.union(p, i);
                }
            }
            latest_end = Some(latest_end.map_or(alerts[i].last_seen.millis(), |e: i64| {
                e.max(alerts[i].last_seen.millis())
            }));
            previous = Some(i);
        }
    }
    let mut grouped: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..alerts.len() {
        let root = sets.find(i);
        grouped.entry(root).or_default().push(i);
    }
    grouped.into_values().collect()
}
