#![doc = include_str!("imds_access_from_container.md")]

use std::collections::BTreeSet;
use std::net::IpAddr;

use credtrail_event::metadata::find_targets;
use credtrail_event::{
    Body, Event, FlowSensor, HostSensor, HttpSensor, MetadataGrade, MetadataTarget, Origin, Process, Timestamp,
};

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::evidence::Evidence;
use crate::footprint::Footprint;
use crate::host::{
    is_container_bridge, is_interactive_shell_command, is_workload_endpoint, metadata_service, Judgement,
};
use crate::rules::host_entities;
use crate::rules::imds_credential_read_unexpected_process::JudgedAccess;

pub struct ImdsAccessFromContainer;

pub static META: RuleMeta = RuleMeta {
    id: "imds-access-from-container",
    title: "Container reached the instance metadata service",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1611"],
    data: "Host telemetry: Linux auditd; a network sensor on the instance (Zeek http.log)",
    explain: include_str!("imds_access_from_container.md"),
};

/// What a network sensor on the instance saw from one container address to the metadata
/// service: HTTP requests (with their paths and user agents) and bare connections.
#[derive(Debug, Default)]
pub struct WireAccess {
    pub evidence: Evidence,
    pub paths: BTreeSet<String>,
    pub user_agents: BTreeSet<String>,
    /// HTTP requests without a user agent.
    pub no_user_agent: bool,
    pub http_requests: u64,
    pub flows: u64,
}

/// A command run in a container through the Kubernetes API (`kubectl exec`) that names a
/// metadata endpoint.
#[derive(Debug, Clone)]
pub struct ExecAccess {
    pub time: Timestamp,
    pub origin: Origin,
    pub process: Process,
    pub target: MetadataTarget,
}

#[derive(Default)]
pub struct State {
    /// (observer, container address) → what the wire showed.
    wire: EntityMap<(Option<String>, IpAddr), WireAccess>,
    execs: Vec<ExecAccess>,
}

impl Merge for State {
    fn merge(&mut self, other: State) {
        for (k, theirs) in other.wire {
            let mine = self.wire.entry(k).or_default();
            mine.evidence.merge(theirs.evidence);
            mine.paths.extend(theirs.paths);
            mine.user_agents.extend(theirs.user_agents);
            mine.no_user_agent |= theirs.no_user_agent;
            mine.http_requests += theirs.http_requests;
            mine.flows += theirs.flows;
            cap(&mut mine.paths);
            cap(&mut mine.user_agents);
        }
        self.execs.extend(other.execs);
    }
}

fn cap(set: &mut BTreeSet<String>) {
    while set.len() > 16 {
        set.pop_last();
    }
}

/// The wire entry of a metadata request from a container address, if it is one.
fn wire_entry<'s>(
    state: &'s mut State,
    observer: &Option<String>,
    client: IpAddr,
    server: IpAddr,
) -> Option<&'s mut WireAccess> {
    let (endpoint, _) = metadata_service(server)?;
    if is_workload_endpoint(endpoint) || !is_container_bridge(client) {
        return None;
    }
    Some(state.wire.entry((observer.clone(), client)).or_default())
}

/// User agents of general-purpose HTTP tools, as opposed to cloud SDKs and CLIs.
fn tool_user_agent(ua: Option<&str>) -> bool {
    let ua = ua.unwrap_or("").to_ascii_lowercase();
    ua.is_empty()
        || ua == "-"
        || [
            "curl/",
            "wget/",
            "python-requests/",
            "python-urllib/",
            "go-http-client/",
            "powershell",
            "libwww-perl",
            "httpie/",
            "okhttp/",
        ]
        .iter()
        .any(|t| ua.starts_with(t))
}

/// The finding about a process that reached the metadata service from a container, if it did.
/// Called by `imds-credential-read-unexpected-process`, which keeps the hosts' lineage once for
/// both rules (it is the largest state of a scan of host logs).
pub(crate) fn container_process_alert(judged: JudgedAccess) -> Option<Alert> {
    let JudgedAccess {
        host,
        process,
        endpoint,
        verdict,
        ancestor_commands,
        request_reasons,
        grade: _,
        connections,
        evidence,
        first_seen,
        last_seen,
    } = judged;
    if verdict.container.is_none() || is_workload_endpoint(endpoint) {
        return None; // not in a container, or a task or pod asking for its own credential
    }
    let shell_lineage = ancestor_commands
        .iter()
        .any(|c| is_interactive_shell_command(c) || c.contains("/dev/tcp/"));
    let exe = process.exe.as_deref().unwrap_or("");
    let tool = ["curl", "wget", "nc", "ncat", "socat", "busybox"].contains(&exe.rsplit('/').next().unwrap_or(""));
    let severity = if shell_lineage || tool || verdict.judgement == Judgement::UnusualExecutable {
        Severity::High
    } else {
        Severity::Low
    };
    let mut reasons = vec![format!(
            "{connections} connection(s) from a container to the instance metadata service at {endpoint}: the container can take the instance role (hop limit above 1)"
        )];
    reasons.extend(verdict.reasons);
    reasons.extend(request_reasons);
    if shell_lineage {
        reasons.push("an ancestor is an interactive or reverse shell".into());
    }
    if tool {
        reasons.push(format!("{exe} is a general-purpose network tool, not an SDK"));
    }
    if severity == Severity::Low {
        reasons.push("low: an SDK or CLI in a container using the instance role (CI jobs do this when the hop limit is 2); give the workload its own task or pod role and set the hop limit to 1".into());
    }
    Some(Alert {
        rule: META.id,
        variant: Some("container"),
        severity,
        first_seen,
        last_seen,
        title: format!(
            "container process {} on {} reached the metadata service",
            if exe.is_empty() { "?" } else { exe },
            if host.is_empty() { "an unknown host" } else { &host }
        ),
        entities: host_entities(&host, &process, None),
        reasons,
        evidence: evidence.origins(),
        evidence_total: evidence.total(),
    })
}

impl Detector for ImdsAccessFromContainer {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        match &event.body {
            Body::HttpRequest(request) => {
                if request.sensor != HttpSensor::NetworkSensor {
                    return;
                }
                let (Some(server), Some(client)) = (request.server, request.client) else {
                    return;
                };
                let Some(entry) = wire_entry(state, &request.observer, client, server) else {
                    return;
                };
                entry.evidence.push(event.time, event.origin);
                entry.http_requests += 1;
                entry.paths.insert(request.target.chars().take(200).collect());
                match &request.user_agent {
                    Some(ua) if !ua.is_empty() && ua != "-" => {
                        entry.user_agents.insert(ua.chars().take(200).collect());
                    }
                    _ => entry.no_user_agent = true,
                }
                cap(&mut entry.paths);
                cap(&mut entry.user_agents);
            }
            Body::NetFlow(flow) => {
                if flow.sensor == FlowSensor::VpcFlowLogs {
                    return; // never carries metadata traffic
                }
                let Some(entry) = wire_entry(state, &flow.observer, flow.client, flow.server) else {
                    return;
                };
                entry.evidence.push(event.time, event.origin);
                entry.flows += 1;
            }
            Body::ProcessStart(start) if start.sensor == HostSensor::KubernetesAudit => {
                let Some(command) = start.process.command_line.as_deref() else {
                    return;
                };
                let Some(target) = find_targets(command).into_iter().max_by_key(|t| t.grade) else {
                    return;
                };
                state.execs.push(ExecAccess {
                    time: event.time,
                    origin: event.origin,
                    process: start.process.clone(),
                    target,
                });
            }
            _ => {}
        }
    }

    fn finish(&self, state: State, _footprint: &Footprint, _knowledge: &Knowledge, all: &mut Vec<Alert>) {
        let mut found = Vec::new();
        let out = &mut found;
        for ((observer, client), access) in state.wire {
            let Some((first_seen, last_seen)) = access.evidence.time_span() else {
                continue;
            };
            let tools: Vec<&String> = access
                .user_agents
                .iter()
                .filter(|ua| tool_user_agent(Some(ua)))
                .collect();
            let tool = !tools.is_empty() || access.no_user_agent;
            let credential_path = access
                .paths
                .iter()
                .any(|p| p.contains("security-credentials") || p.contains("/token"));
            let severity = match (tool, credential_path) {
                (true, true) => Severity::High,
                (true, false) => Severity::Medium,
                (false, _) => Severity::Low,
            };
            let mut reasons = vec![format!(
                "{client}, a container bridge address, reached the instance metadata service: {} HTTP request(s), {} connection(s) in flow logs",
                access.http_requests, access.flows
            )];
            if !access.paths.is_empty() {
                reasons.push(format!(
                    "paths: {}",
                    access.paths.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            if !tools.is_empty() {
                let list: Vec<&str> = tools.iter().map(|s| s.as_str()).collect();
                reasons.push(format!(
                    "user agent {} is a general-purpose HTTP tool, not an SDK",
                    list.join(", ")
                ));
            }
            if access.no_user_agent {
                reasons.push("requests without a user agent: not an SDK".into());
            }
            if severity == Severity::Low {
                reasons.push(if access.http_requests == 0 {
                    "low: connections only; http.log or host telemetry would tell which program made them".to_string()
                } else {
                    format!(
                        "low: user agent {} is an SDK or CLI (a containerised job using the instance role); give it its own role and set the hop limit to 1",
                        access.user_agents.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                });
            }
            let host = observer.clone().unwrap_or_default();
            let mut entities = host_entities(&host, &Default::default(), None);
            entities.source_ip = Some(client.to_string());
            entities.user_agent = access.user_agents.iter().next().cloned();
            entities.container = Some(format!("address {client}"));
            out.push(Alert {
                rule: META.id,
                variant: Some("container"),
                severity,
                first_seen,
                last_seen,
                title: format!("container {client} reached the instance metadata service"),
                entities,
                reasons,
                evidence: access.evidence.origins(),
                evidence_total: access.evidence.total(),
            });
        }
        let mut execs = state.execs;
        execs.sort_by_key(|e| (e.time, e.origin));
        for exec in execs {
            let severity = match exec.target.grade {
                MetadataGrade::Credential | MetadataGrade::Token => Severity::High,
                MetadataGrade::Recon => Severity::Medium,
            };
            let container = exec.process.container.clone().unwrap_or_else(|| "?".into());
            let who = exec
                .process
                .user_name
                .clone()
                .unwrap_or_else(|| "an unknown user".into());
            let reasons = vec![
                format!(
                    "{who} ran a command in container {container} through the Kubernetes API (pods/exec) that names the metadata service: {}",
                    exec.process.command_line.as_deref().unwrap_or("")
                ),
                format!(
                    "target {}{} ({}): {}",
                    exec.target.endpoint,
                    exec.target.path,
                    exec.target.provider.as_str(),
                    exec.target.grade.as_str()
                ),
            ];
            let mut entities = host_entities("", &exec.process, Some(container.clone()));
            entities.principal = exec.process.user_name.clone();
            out.push(Alert {
                rule: META.id,
                variant: Some("kubectl_exec"),
                severity,
                first_seen: exec.time,
                last_seen: exec.time,
                title: format!("kubectl exec in {container} reads the metadata service"),
                entities,
                reasons,
                evidence: vec![exec.origin],
                evidence_total: 1,
            });
        }
        all.extend(crate::rules::fold_low_by_program(found));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_event::{FileId, NetFlow, ProcessStart};

    fn event(n: u64, body: Body) -> Event {
        Event {
            time: Timestamp::from_millis(1_789_300_000_000 + n as i64 * 1000),
            origin: Origin {
                file: FileId(0),
                line: n,
                index: n,
            },
            body,
        }
    }

    fn flow(n: u64, client: &str, server: &str, sensor: FlowSensor) -> Event {
        event(
            n,
            Body::NetFlow(Box::new(NetFlow {
                sensor,
                observer: Some("i-0a1b2c3d4e5f60718".into()),
                client: client.parse().expect("address"),
                client_port: Some(40000),
                server: server.parse().expect("address"),
                server_port: Some(80),
                protocol: Some("tcp".into()),
                bytes_to_server: Some(120),
                bytes_to_client: Some(1400),
                packets: Some(8),
                state: Some("SF".into()),
                rejected: false,
                end: None,
                account: None,
                interface: None,
                instance: None,
                packet_client: None,
                packet_server: None,
            })),
        )
    }

    fn run(events: &[Event]) -> Vec<Alert> {
        let mut state = State::default();
        for e in events {
            ImdsAccessFromContainer.observe(&mut state, e);
        }
        let mut out = Vec::new();
        ImdsAccessFromContainer.finish(state, &Footprint::default(), &Knowledge::default(), &mut out);
        out
    }

    #[test]
    fn a_container_address_in_conn_log_is_a_low_alert_that_says_what_is_missing() {
        let out = run(&[flow(1, "172.17.0.9", "169.254.169.254", FlowSensor::ZeekConn)]);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].severity, Severity::Low);
        assert!(
            out[0].reasons.iter().any(|r| r.contains("connections only")),
            "{:?}",
            out[0].reasons
        );
    }

    #[test]
    fn vpc_flows_host_addresses_and_the_pod_identity_agent_raise_nothing() {
        let out = run(&[
            flow(1, "172.17.0.9", "169.254.169.254", FlowSensor::VpcFlowLogs),
            flow(2, "10.20.1.5", "169.254.169.254", FlowSensor::ZeekConn),
            flow(3, "172.17.0.9", "169.254.170.23", FlowSensor::SuricataFlow),
        ]);
        assert!(out.is_empty(), "{out:#?}");
    }

    fn exec(n: u64, command: &str) -> Event {
        event(
            n,
            Body::ProcessStart(Box::new(ProcessStart {
                sensor: HostSensor::KubernetesAudit,
                host: None,
                process: Process {
                    command_line: Some(command.into()),
                    container: Some("prod/web-7d9f/app".into()),
                    user_name: Some("alice@example.com".into()),
                    ..Default::default()
                },
            })),
        )
    }

    #[test]
    fn kubectl_exec_reading_credentials_is_high_and_an_unrelated_exec_is_nothing() {
        let out = run(&[
            exec(
                1,
                "curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            ),
            exec(2, "ls -la /app"),
        ]);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(
            (out[0].variant, out[0].severity),
            (Some("kubectl_exec"), Severity::High)
        );
        assert_eq!(out[0].entities.principal.as_deref(), Some("alice@example.com"));
        assert_eq!(out[0].evidence.len(), 1);
    }

    #[test]
    fn kubectl_exec_reading_the_instance_id_is_medium() {
        let out = run(&[exec(1, "wget -qO- http://169.254.169.254/latest/meta-data/instance-id")]);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].severity, Severity::Medium);
    }
}
