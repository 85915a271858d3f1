#![doc = include_str!("imds_access_from_container.md")]

use std::net::IpAddr;

use credtrail_event::{Body, Event, HttpSensor};

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::evidence::Evidence;
use crate::host::{
    is_container_bridge, is_interactive_shell_command, is_workload_endpoint, metadata_service, Judgement,
};
use crate::rules::host_entities;
use crate::rules::imds_credential_read_unexpected_process::{
    self as host_reads, judge_accesses, observe_host, JudgedAccess,
};

pub struct ImdsAccessFromContainer;

pub static META: RuleMeta = RuleMeta {
    id: "imds-access-from-container",
    title: "Container reached the instance metadata service",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1611"],
    data: "Host telemetry: Linux auditd; a network sensor on the instance (Zeek http.log)",
    explain: include_str!("imds_access_from_container.md"),
};

/// Requests a network sensor saw from a container address to the metadata service, by
/// (observer, container address, user agent).
#[derive(Debug, Default)]
pub struct WireAccess {
    pub evidence: Evidence,
    pub paths: std::collections::BTreeSet<String>,
}

#[derive(Default)]
pub struct State {
    host: host_reads::State,
    wire: EntityMap<(Option<String>, IpAddr, Option<String>), WireAccess>,
}

impl Merge for State {
    fn merge(&mut self, other: State) {
        self.host.merge(other.host);
        for (k, theirs) in other.wire {
            let mine = self.wire.entry(k).or_default();
            mine.evidence.merge(theirs.evidence);
            mine.paths.extend(theirs.paths);
            while mine.paths.len() > 16 {
                mine.paths.pop_last();
            }
        }
    }
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

impl Detector for ImdsAccessFromContainer {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        if let Body::HttpRequest(request) = &event.body {
            if request.sensor != HttpSensor::NetworkSensor {
                return;
            }
            let (Some(server), Some(client)) = (request.server, request.client) else {
                return;
            };
            let Some((endpoint, _)) = metadata_service(server) else {
                return;
            };
            if is_workload_endpoint(endpoint) || !is_container_bridge(client) {
                return;
            }
            let key = (request.observer.clone(), client, request.user_agent.clone());
            let entry = state.wire.entry(key).or_default();
            entry.evidence.push(event.time, event.origin);
            if entry.paths.len() < 16 {
                entry.paths.insert(request.target.chars().take(200).collect());
            }
            return;
        }
        observe_host(&mut state.host, event);
    }

    fn finish(&self, state: State, knowledge: &Knowledge, all: &mut Vec<Alert>) {
        let mut found = Vec::new();
        let out = &mut found;
        for judged in judge_accesses(state.host, knowledge) {
            let JudgedAccess {
                host,
                process,
                endpoint,
                verdict,
                ancestor_commands,
                connections,
                evidence,
                first_seen,
                last_seen,
            } = judged;
            if verdict.container.is_none() || is_workload_endpoint(endpoint) {
                continue; // not in a container, or a task or pod asking for its own credential
            }
            let shell_lineage = ancestor_commands
                .iter()
                .any(|c| is_interactive_shell_command(c) || c.contains("/dev/tcp/"));
            let exe = process.exe.as_deref().unwrap_or("");
            let tool =
                ["curl", "wget", "nc", "ncat", "socat", "busybox"].contains(&exe.rsplit('/').next().unwrap_or(""));
            let severity = if shell_lineage || tool || verdict.judgement == Judgement::UnusualExecutable {
                Severity::High
            } else {
                Severity::Low
            };
            let mut reasons = vec![format!(
                "{connections} connection(s) from a container to the instance metadata service at {endpoint}: the container can take the instance role (hop limit above 1)"
            )];
            reasons.extend(verdict.reasons);
            if shell_lineage {
                reasons.push("an ancestor is an interactive or reverse shell".into());
            }
            if tool {
                reasons.push(format!("{exe} is a general-purpose network tool, not an SDK"));
            }
            if severity == Severity::Low {
                reasons.push("low: an SDK or CLI in a container using the instance role (CI jobs do this when the hop limit is 2); give the workload its own task or pod role and set the hop limit to 1".into());
            }
            out.push(Alert {
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
            });
        }
        for ((observer, client, ua), access) in state.wire {
            let Some((first_seen, last_seen)) = access.evidence.time_span() else {
                continue;
            };
            let tool = tool_user_agent(ua.as_deref());
            let credential_path = access
                .paths
                .iter()
                .any(|p| p.contains("security-credentials") || p.contains("/token"));
            let severity = match (tool, credential_path) {
                (true, true) => Severity::High,
                (true, false) => Severity::Medium,
                (false, _) => Severity::Low,
            };
            let mut reasons = vec![
                format!(
                    "{} request(s) from {client}, a container bridge address, to the instance metadata service",
                    access.evidence.total()
                ),
                format!("paths: {}", access.paths.iter().cloned().collect::<Vec<_>>().join(", ")),
            ];
            match ua.as_deref() {
                Some(ua) if tool => reasons.push(format!("user agent {ua} is a general-purpose HTTP tool, not an SDK")),
                None => reasons.push("no user agent: not an SDK".into()),
                Some(ua) => reasons.push(format!(
                    "low: user agent {ua} is an SDK or CLI (a containerised job using the instance role); give it its own role and set the hop limit to 1"
                )),
            }
            let host = observer.clone().unwrap_or_default();
            let mut entities = host_entities(&host, &Default::default(), None);
            entities.source_ip = Some(client.to_string());
            entities.user_agent = ua.clone();
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
        all.extend(crate::rules::fold_low_by_program(found));
    }
}
