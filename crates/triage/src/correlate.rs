//! Which alerts belong together: shared access key (or GCP/Azure VM identity) or outside address within
//! [`crate::GAP_SECONDS`] of each other in event time, shared instance or process within
//! [`crate::INSTANCE_GAP_SECONDS`]; a GCP or Azure VM identity's alert and host findings on the
//! machine of that VM's name within the same gap; a container seen on the wire only by its bridge
//! address joins the container process that host telemetry saw reading the metadata service at
//! the same moment.

use std::collections::BTreeMap;
use std::net::IpAddr;

use credtrail_detect::Alert;
use credtrail_event::Inventory;

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

/// The keys an alert joins on. An address inventory gives to one of the organisation's own
/// instances (its public address, its NAT gateway's) is no key: it is shared by everything that
/// runs there or egresses through it, a bastion by every administrator. A stolen credential used
/// from it says where the attacker stands, not who they are; three thefts used from one bastion
/// are three credentials, three victims and three containment plans, each incident naming the
/// bastion.
fn keys(alert: &Alert, inventory: Option<&Inventory>) -> Vec<String> {
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
    let own = |ip: &IpAddr| {
        inventory
            .and_then(|inv| inv.owners_of(ip))
            .is_some_and(|o| !o.is_empty())
    };
    if let Some(ip) = e.source_ip.as_deref().and_then(outside_address).filter(|ip| !own(ip)) {
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

/// How close (in event time) a container's first or last metadata request on the wire and a
/// container process's first or last record on an instance must be to be the same reads: the
/// same second, with a second of slack for clocks and for a process start logged before its
/// first connection.
const SAME_MOMENT_MILLIS: i64 = 1000;

/// A container seen only by its bridge address: a network-wide sensor (Zeek `http.log` on a
/// span port) does not say which instance's bridge it watched, and 172.17.0.0/16 repeats on
/// every Docker host.
fn unplaced_wire_container(alert: &Alert) -> bool {
    wire_or_host_finding(alert)
        && alert.entities.instance.is_none()
        && alert.entities.host.is_none()
        && alert
            .entities
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .is_some_and(credtrail_detect::host::is_container_bridge)
}

const CONTAINER_RULE: &str = "imds-access-from-container";

/// A container finding above low. Low ones are SDKs and CLIs using the instance role, folded
/// per program over many addresses and processes: their first moment would place all of them
/// on one instance, and they are incidents of their own, to be allow-listed.
fn wire_or_host_finding(alert: &Alert) -> bool {
    alert.rule == CONTAINER_RULE && alert.severity > credtrail_detect::Severity::Low
}

/// Pairs (wire alert, host alert) to join: a container address seen on the wire reaching the
/// metadata service, and a container process on an instance that host telemetry (auditd) saw
/// reaching it at the same moments (the wire's first request with the process's first record,
/// or the last with the last). Only when every such process is on one instance: a match on two
/// instances names neither.
fn wire_to_host(alerts: &[Alert]) -> Vec<(usize, usize)> {
    let near = |a: credtrail_detect::Timestamp, b: credtrail_detect::Timestamp| {
        (a.millis() - b.millis()).abs() <= SAME_MOMENT_MILLIS
    };
    let hosts: Vec<usize> = (0..alerts.len())
        .filter(|&i| wire_or_host_finding(&alerts[i]) && alerts[i].entities.instance.is_some())
        .collect();
    let mut pairs = Vec::new();
    for (w, wire) in alerts.iter().enumerate().filter(|(_, a)| unplaced_wire_container(a)) {
        let matched: Vec<usize> = hosts
            .iter()
            .copied()
            .filter(|&h| near(wire.first_seen, alerts[h].first_seen) || near(wire.last_seen, alerts[h].last_seen))
            .collect();
        let instances: std::collections::BTreeSet<&String> = matched
            .iter()
            .filter_map(|&h| alerts[h].entities.instance.as_ref())
            .collect();
        if instances.len() == 1 {
            pairs.extend(matched.into_iter().map(|h| (w, h)));
        }
    }
    pairs
}

/// Groups of alert indexes, each sorted, the groups ordered by their first member.
pub fn groups(alerts: &[Alert], inventory: Option<&Inventory>) -> Vec<Vec<usize>> {
    let mut sets = Sets((0..alerts.len()).collect());
    for (w, h) in wire_to_host(alerts) {
        sets.union(w, h);
    }
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, alert) in alerts.iter().enumerate() {
        for key in keys(alert, inventory) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_detect::{Entities, Severity, Timestamp};
    use credtrail_event::Fact;

    const T0: i64 = 1_789_385_317_000;

    fn alert(rule: &'static str, severity: Severity, from_ms: i64, to_ms: i64, entities: Entities) -> Alert {
        Alert {
            rule,
            variant: Some("container"),
            severity,
            first_seen: Timestamp::from_millis(T0 + from_ms),
            last_seen: Timestamp::from_millis(T0 + to_ms),
            title: rule.into(),
            entities,
            reasons: vec!["test".into()],
            evidence: Vec::new(),
            evidence_total: 0,
        }
    }

    fn wire(from_ms: i64, to_ms: i64) -> Alert {
        let entities = Entities {
            source_ip: Some("172.17.0.37".into()),
            container: Some("address 172.17.0.37".into()),
            ..Default::default()
        };
        alert(CONTAINER_RULE, Severity::High, from_ms, to_ms, entities)
    }

    fn host(instance: &str, from_ms: i64, to_ms: i64) -> Alert {
        let entities = Entities {
            instance: Some(instance.into()),
            host: Some(instance.into()),
            process: Some("/usr/bin/curl (pid 31035)".into()),
            ..Default::default()
        };
        alert(CONTAINER_RULE, Severity::High, from_ms, to_ms, entities)
    }

    #[test]
    fn a_wire_container_joins_the_host_process_read_at_the_same_moment() {
        // The wire's first request 2 ms after the curl's start record (S3-01's shape).
        let alerts = [host("i-0dac7f053e9f1e3ef", -2, 0), wire(0, 11_685)];
        assert_eq!(groups(&alerts, None), vec![vec![0, 1]]);
        // The wire's last request with the last curl.
        let alerts = [wire(0, 11_685), host("i-0dac7f053e9f1e3ef", 11_683, 11_685)];
        assert_eq!(groups(&alerts, None), vec![vec![0, 1]]);
    }

    #[test]
    fn a_wire_container_stays_apart_from_a_read_at_another_moment_or_on_two_instances() {
        let alerts = [wire(0, 5_000), host("i-0dac7f053e9f1e3ef", 60_000, 60_002)];
        assert_eq!(groups(&alerts, None), vec![vec![0], vec![1]]);
        // Two instances' containers read at that moment: the bridge address names neither.
        let alerts = [
            wire(0, 5_000),
            host("i-0dac7f053e9f1e3ef", 0, 2),
            host("i-09dbfb158b480c0fb", 1, 3),
        ];
        assert_eq!(groups(&alerts, None), vec![vec![0], vec![1], vec![2]]);
        // Low findings (SDKs folded over many containers) are not placed by a moment.
        let mut low = [wire(0, 5_000), host("i-0dac7f053e9f1e3ef", 0, 2)];
        low[0].severity = Severity::Low;
        assert_eq!(groups(&low, None), vec![vec![0], vec![1]]);
    }

    #[test]
    fn bug_three_thefts_used_from_one_bastion_were_one_incident() {
        // S3-01, -03, -04 on 1G: three credentials stolen from three instances, each used from
        // bastion-1's public address within a day.
        let bastion: IpAddr = "18.211.255.52".parse().expect("address");
        let theft = |key: &str, victim: &str, hour: i64| {
            let entities = Entities {
                access_key: Some(key.into()),
                instance: Some(victim.into()),
                source_ip: Some(bastion.to_string()),
                ..Default::default()
            };
            alert(
                "instance-credential-exfiltration",
                Severity::High,
                hour * 3_600_000,
                hour * 3_600_000 + 60_000,
                entities,
            )
        };
        let alerts = [
            theft("ASIAOI4DRIYR2LVT63O4", "i-0dac7f053e9f1e3ef", 0),
            theft("ASIAIODWKTDMJXO2X5NU", "i-09dbfb158b480c0fb", 21),
            theft("ASIAEMMQ7M65NMFMI4JI", "i-0d4c34ad7bfd4bc30", 27),
        ];
        // Without inventory the address is an outsider's, and joins them.
        assert_eq!(groups(&alerts, None), vec![vec![0, 1, 2]]);
        let inventory = Inventory::from_facts(&[Fact::Instance {
            id: "i-0b6de1eee5746165b".into(),
            account: Some("318456712093".into()),
            vpc: None,
            subnet: None,
            private_ips: vec!["10.20.2.128".parse().expect("address")],
            public_ips: vec![bastion],
            http_tokens: None,
            hop_limit: None,
        }]);
        assert_eq!(groups(&alerts, Some(&inventory)), vec![vec![0], vec![1], vec![2]]);
    }
}
