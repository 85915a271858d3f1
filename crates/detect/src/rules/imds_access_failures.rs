#![doc = include_str!("imds_access_failures.md")]

use std::collections::BTreeSet;
use std::net::IpAddr;

use credtrail_event::ip_ranges::is_non_routable;
use credtrail_event::metadata::canonical_target;
use credtrail_event::{Body, Event, FlowSensor, HttpSensor, Origin, Process, Timestamp};

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::evidence::Evidence;
use crate::footprint::Footprint;
use crate::host::metadata_service;
use crate::rules::host_entities;

pub struct ImdsAccessFailures;

pub static META: RuleMeta = RuleMeta {
    id: "imds-access-failures",
    title: "Rejected or failed metadata service access",
    default_severity: Severity::Medium,
    attack: &["T1552.005"],
    data: "Network sensor on the instance (Zeek http.log), proxy and web server access logs, Linux auditd",
    explain: include_str!("imds_access_failures.md"),
};

/// Failures closer than this belong to one burst.
const BURST_GAP_SECONDS: i64 = 600;
/// Failures from an inside client (or one program) that make a burst.
const INTERNAL_BURST: usize = 5;
/// Most failures kept per source.
const FAILURES_PER_SOURCE: usize = 1 << 14;

/// Who failed: an HTTP client address, or a program on a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Client(IpAddr),
    Program { host: String, exe: String },
}

#[derive(Debug, Default)]
pub struct Failures {
    items: Vec<(Timestamp, Origin, u16)>,
    observers: BTreeSet<String>,
    process: Option<Process>,
}

#[derive(Default)]
pub struct State(EntityMap<Source, Failures>);

impl Merge for State {
    fn merge(&mut self, other: State) {
        for (k, theirs) in other.0 {
            let mine = self.0.entry(k).or_default();
            mine.items.extend(theirs.items);
            bound(&mut mine.items);
            mine.observers.extend(theirs.observers);
            if mine.process.is_none() {
                mine.process = theirs.process;
            }
        }
    }
}

fn bound(items: &mut Vec<(Timestamp, Origin, u16)>) {
    if items.len() > 2 * FAILURES_PER_SOURCE {
        items.sort_unstable();
        items.truncate(FAILURES_PER_SOURCE);
    }
}

/// What a status from (or on the way to) the metadata service means, when it is a rejection.
fn rejection(status: u16, relayed_by_proxy: bool) -> Option<&'static str> {
    match status {
        400 => Some("400: malformed request (Azure and GCP reject requests without their metadata header)"),
        401 => Some("401: IMDSv1 request on a token-required instance, or a missing or expired token"),
        403 => Some("403: forbidden (IMDS refuses a token PUT that carries X-Forwarded-For)"),
        405 => Some("405: method not allowed"),
        502 | 504 if relayed_by_proxy => {
            Some("502/504 from the proxy: the metadata service did not answer (hop limit or disabled endpoint)")
        }
        _ => None,
    }
}

impl Detector for ImdsAccessFailures {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        match &event.body {
            Body::HttpRequest(request) => {
                let Some(status) = request.status else { return };
                let on_wire =
                    request.sensor == HttpSensor::NetworkSensor && request.server.and_then(metadata_service).is_some();
                let proxied = !on_wire && canonical_target(&request.target, request.host.as_deref()).is_some();
                if !on_wire && !proxied {
                    return;
                }
                if rejection(status, proxied).is_none() {
                    return;
                }
                let Some(client) = request.original_client() else {
                    return;
                };
                let entry = state.0.entry(Source::Client(client)).or_default();
                entry.items.push((event.time, event.origin, status));
                bound(&mut entry.items);
                if let Some(o) = &request.observer {
                    if entry.observers.len() < 8 {
                        entry.observers.insert(o.clone());
                    }
                }
            }
            Body::NetFlow(flow) => {
                // A sensor on the instance saw the metadata service refuse or ignore a connection.
                if !flow.rejected || flow.sensor == FlowSensor::VpcFlowLogs || metadata_service(flow.server).is_none() {
                    return;
                }
                let entry = state.0.entry(Source::Client(flow.client)).or_default();
                entry.items.push((event.time, event.origin, 0));
                bound(&mut entry.items);
                if let Some(o) = &flow.observer {
                    if entry.observers.len() < 8 {
                        entry.observers.insert(o.clone());
                    }
                }
            }
            Body::ProcessConnect(connect) => {
                if !connect.failed || metadata_service(connect.destination).is_none() {
                    return;
                }
                let source = Source::Program {
                    host: connect.host.clone().unwrap_or_default(),
                    exe: connect.process.exe.clone().unwrap_or_default(),
                };
                let entry = state.0.entry(source).or_default();
                entry.items.push((event.time, event.origin, 0));
                bound(&mut entry.items);
                if entry.process.is_none() {
                    entry.process = Some(connect.process.clone());
                }
            }
            _ => {}
        }
    }

    fn finish(&self, state: State, _footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        let mut sources: Vec<(Source, Failures)> = state.0.into_iter().collect();
        sources.sort_by(|a, b| a.0.cmp(&b.0));
        for (source, mut failures) in sources {
            failures.items.sort_unstable();
            failures.items.dedup();
            failures.items.truncate(FAILURES_PER_SOURCE);
            let external = matches!(source, Source::Client(ip) if !is_non_routable(ip) && !ip.is_loopback());
            let needed = if external { 1 } else { INTERNAL_BURST };
            let mut start = 0;
            let items = &failures.items;
            for i in 1..=items.len() {
                let split =
                    i == items.len() || items[i].0.millis() - items[i - 1].0.millis() > BURST_GAP_SECONDS * 1000;
                if !split {
                    continue;
                }
                let burst = &items[start..i];
                start = i;
                if burst.len() < needed {
                    continue;
                }
                let (first, last) = (burst[0].0, burst[burst.len() - 1].0);
                let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
                for (_, _, s) in burst {
                    *statuses.entry(*s).or_default() += 1;
                }
                let mut reasons = Vec::new();
                let mut evidence = Evidence::default();
                for (t, o, _) in burst {
                    evidence.push(*t, *o);
                }
                for (status, n) in &statuses {
                    let what = if *status == 0 {
                        "connection refused or timed out (metadata endpoint disabled, or the hop limit drops the reply)"
                    } else {
                        rejection(*status, true).unwrap_or("rejected")
                    };
                    reasons.push(format!("{n} × {what}"));
                }
                let (entities, who) = match &source {
                    Source::Client(ip) => {
                        // A sensor that watches many hosts (a network-wide Zeek) names no
                        // observer: an inside client that inventory knows as one instance's
                        // address is that instance.
                        let owner = || {
                            knowledge
                                .inventory
                                .owners_of(ip)
                                .filter(|owners| owners.len() == 1 && is_non_routable(*ip))
                                .and_then(|owners| owners.iter().next().cloned())
                        };
                        let observer = failures
                            .observers
                            .iter()
                            .next()
                            .cloned()
                            .or_else(owner)
                            .unwrap_or_default();
                        let mut e = host_entities(&observer, &Process::default(), None);
                        e.source_ip = Some(ip.to_string());
                        (e, ip.to_string())
                    }
                    Source::Program { host, exe } => (
                        host_entities(host, failures.process.as_ref().unwrap_or(&Process::default()), None),
                        format!("{exe} on {host}"),
                    ),
                };
                if external {
                    reasons.push(format!(
                        "{who} is outside the network: a rejected metadata request from it is an attempt to reach the service through a proxy or an SSRF"
                    ));
                } else {
                    reasons.push(format!(
                        "{} rejections within {} s from {who} (burst threshold {INTERNAL_BURST}, gaps under {BURST_GAP_SECONDS} s)",
                        burst.len(),
                        (last.millis() - first.millis()) / 1000
                    ));
                }
                if !failures.observers.is_empty() {
                    reasons.push(format!(
                        "seen by {}",
                        failures.observers.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                out.push(Alert {
                    rule: META.id,
                    variant: Some(if external { "external_client" } else { "burst" }),
                    severity: Severity::Medium,
                    first_seen: first,
                    last_seen: last,
                    title: format!("{} rejected metadata request(s) from {who}", burst.len()),
                    entities,
                    reasons,
                    evidence: evidence.origins(),
                    evidence_total: evidence.total(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_event::{FileId, NetFlow};

    fn flow(n: u64, client: &str, rejected: bool, sensor: FlowSensor) -> Event {
        Event {
            time: Timestamp::from_millis(1_789_300_000_000 + n as i64 * 2000),
            origin: Origin {
                file: FileId(0),
                line: n,
                index: n,
            },
            body: Body::NetFlow(Box::new(NetFlow {
                sensor,
                observer: None,
                client: client.parse().expect("address"),
                client_port: Some(40000),
                server: "169.254.169.254".parse().expect("address"),
                server_port: Some(80),
                protocol: Some("tcp".into()),
                bytes_to_server: None,
                bytes_to_client: None,
                packets: Some(1),
                state: Some(if rejected { "REJ" } else { "SF" }.into()),
                rejected,
                end: None,
                account: None,
                interface: None,
                instance: None,
                packet_client: None,
                packet_server: None,
            })),
        }
    }

    fn run(events: &[Event]) -> Vec<Alert> {
        let mut state = State::default();
        for e in events {
            ImdsAccessFailures.observe(&mut state, e);
        }
        let mut out = Vec::new();
        ImdsAccessFailures.finish(state, &Footprint::default(), &Knowledge::default(), &mut out);
        out
    }

    #[test]
    fn refused_connections_on_the_wire_make_a_burst() {
        let events: Vec<Event> = (1..=6)
            .map(|n| flow(n, "10.20.51.77", true, FlowSensor::ZeekConn))
            .collect();
        let out = run(&events);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].evidence.len(), 6);
        assert_eq!(out[0].variant, Some("burst"));
    }

    #[test]
    fn answered_connections_few_refusals_and_vpc_flows_are_not_failures() {
        let mut events: Vec<Event> = (1..=6)
            .map(|n| flow(n, "10.20.51.77", false, FlowSensor::ZeekConn))
            .collect();
        events.extend((7..=9).map(|n| flow(n, "10.20.51.78", true, FlowSensor::SuricataFlow)));
        events.extend((10..=20).map(|n| flow(n, "10.20.51.79", true, FlowSensor::VpcFlowLogs)));
        assert!(run(&events).is_empty());
    }
}
