#![doc = include_str!("imds_credential_read_unexpected_process.md")]

use std::collections::BTreeSet;

use credtrail_event::metadata::canonical_target;
use credtrail_event::{Body, Event, MetadataGrade, Origin, Process, Timestamp};

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::evidence::Evidence;
use crate::footprint::Footprint;
use crate::host::{judge, metadata_service, shipped_allow_list, Judgement, Lineage, Verdict, EPISODE_GAP_SECONDS};
use crate::rules::host_entities;

pub struct ImdsCredentialReadUnexpectedProcess;

pub static META: RuleMeta = RuleMeta {
    id: "imds-credential-read-unexpected-process",
    title: "Metadata service reached by a process that has no business there",
    default_severity: Severity::High,
    attack: &["T1552.005"],
    data: "Host telemetry: Linux auditd (connect and execve records)",
    explain: include_str!("imds_credential_read_unexpected_process.md"),
};

/// One process (by host, pid, executable and thread name) and its accesses.
#[derive(Debug, Default)]
pub struct Accesses {
    /// The earliest access's process record: the one judged.
    pub first: Option<(Timestamp, Origin, Process, &'static str)>,
    pub evidence: Evidence,
    /// Requests a sensor decoded on these connections: (IMDS version, method and path).
    pub requests: BTreeSet<(Option<u8>, String)>,
}

/// (host, pid, exe, comm) of the accessing process.
pub type ProcessKey = (String, Option<u32>, Option<String>, Option<String>);

#[derive(Default)]
pub struct State {
    pub lineage: Lineage,
    pub accesses: EntityMap<ProcessKey, Accesses>,
}

impl Merge for State {
    fn merge(&mut self, other: State) {
        self.lineage.merge(other.lineage);
        for (key, theirs) in other.accesses {
            let mine = self.accesses.entry(key).or_default();
            mine.evidence.merge(theirs.evidence);
            mine.requests.extend(theirs.requests);
            while mine.requests.len() > 16 {
                mine.requests.pop_last();
            }
            if let Some(t) = theirs.first {
                if mine.first.as_ref().is_none_or(|m| (t.0, t.1) < (m.0, m.1)) {
                    mine.first = Some(t);
                }
            }
        }
    }
}

/// Feeds the host-telemetry part of an event into a lineage and an access map; shared by the
/// host rules that judge processes.
pub(crate) fn observe_host(state: &mut State, event: &Event) {
    match &event.body {
        Body::ProcessStart(start) => {
            let host = start.host.as_deref().unwrap_or("");
            state.lineage.add(host, event.time, event.origin, &start.process);
        }
        Body::ProcessConnect(connect) => {
            let Some((endpoint, _)) = metadata_service(connect.destination) else {
                return;
            };
            let host = connect.host.clone().unwrap_or_default();
            let p = &connect.process;
            let key = (host, p.pid, p.exe.clone(), p.comm.clone());
            let entry = state.accesses.entry(key).or_default();
            entry.evidence.push(event.time, event.origin);
            if let Some(http) = connect.http.as_ref().filter(|_| entry.requests.len() < 16) {
                let request = format!(
                    "{} {}",
                    http.method.as_deref().unwrap_or("?"),
                    http.path.as_deref().unwrap_or("?")
                );
                entry
                    .requests
                    .insert((http.imds_version, request.chars().take(200).collect()));
            }
            if entry
                .first
                .as_ref()
                .is_none_or(|(t, o, _, _)| (event.time, event.origin) < (*t, *o))
            {
                entry.first = Some((event.time, event.origin, p.clone(), endpoint));
            }
        }
        _ => {}
    }
}

/// One accessing process with its judgement, its evidence (its connections and its own start
/// record) and its ancestors' command lines.
pub(crate) struct JudgedAccess {
    pub host: String,
    pub process: Process,
    pub endpoint: &'static str,
    pub verdict: Verdict,
    pub ancestor_commands: Vec<String>,
    /// What the decoded requests asked for, as reasons (empty when no sensor decoded them).
    pub request_reasons: Vec<String>,
    /// The most a decoded request asked for (`None` when no sensor decoded one).
    pub grade: Option<MetadataGrade>,
    pub connections: u64,
    pub evidence: Evidence,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// Judges every accessing process against the shipped and configured allow-lists, with the
/// lineage rebuilt from the host's process starts. A process's reads are cut into episodes
/// ([`EPISODE_GAP_SECONDS`] apart), one judged access each: the process is judged once, by its
/// first read; its own start record goes with the first episode.
pub(crate) fn judge_accesses(state: State, knowledge: &Knowledge) -> Vec<JudgedAccess> {
    let mut allow = shipped_allow_list();
    allow.extend(knowledge.policy.allow_software.iter().cloned());
    let mut out = Vec::new();
    for ((host, _, _, _), accesses) in state.accesses {
        let Some((time, _, process, endpoint)) = accesses.first else {
            continue;
        };
        let (own, ancestors) = state.lineage.chain(&host, &process, time);
        let verdict = judge(&process, own.as_ref(), &ancestors, &allow);
        let ancestor_commands: Vec<String> = ancestors
            .iter()
            .filter_map(|a| a.process.command_line.clone())
            .collect();
        let request_reasons: Vec<String> = accesses
            .requests
            .iter()
            .map(|(version, request)| match version {
                Some(2) => format!("{request} with an IMDSv2 token: a token is no proof of a legitimate caller"),
                Some(1) => format!("{request} without a token (IMDSv1)"),
                _ => request.clone(),
            })
            .collect();
        let grade = accesses
            .requests
            .iter()
            .filter_map(|(_, request)| {
                let path = request.split(' ').nth(1)?;
                canonical_target(path, Some(endpoint)).map(|t| t.grade)
            })
            .max();
        let mut start = own.map(|o| (o.time, o.origin));
        for mut evidence in accesses.evidence.episodes(EPISODE_GAP_SECONDS * 1000) {
            let connections = evidence.total();
            if let Some((time, origin)) = start.take() {
                evidence.push(time, origin);
            }
            let (first_seen, last_seen) = evidence.time_span().unwrap_or((time, time));
            out.push(JudgedAccess {
                host: host.clone(),
                process: process.clone(),
                endpoint,
                verdict: verdict.clone(),
                ancestor_commands: ancestor_commands.clone(),
                request_reasons: request_reasons.clone(),
                grade,
                connections,
                evidence,
                first_seen,
                last_seen,
            });
        }
    }
    out
}

impl Detector for ImdsCredentialReadUnexpectedProcess {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        observe_host(state, event);
    }

    fn finish(&self, state: State, _footprint: &Footprint, knowledge: &Knowledge, all: &mut Vec<Alert>) {
        let mut found = Vec::new();
        let mut in_containers = Vec::new();
        let out = &mut found;
        for judged in judge_accesses(state, knowledge) {
            if judged.verdict.container.is_some() {
                in_containers.extend(crate::rules::imds_access_from_container::container_process_alert(
                    judged,
                ));
                continue;
            }
            let JudgedAccess {
                host,
                process,
                endpoint,
                verdict,
                request_reasons,
                grade,
                connections,
                evidence,
                first_seen,
                last_seen,
                ..
            } = judged;
            let judged_severity = match verdict.judgement {
                Judgement::Allowed(_) => continue,
                Judgement::WebProcess
                | Judgement::ProxyProcess
                | Judgement::Webshell
                | Judgement::Interactive
                | Judgement::UnusualExecutable => Severity::High,
                Judgement::RunCommand | Judgement::NetworkTool => Severity::Medium,
                Judgement::Unlisted => Severity::Low,
            };
            // What was asked for, when a sensor decoded the requests: instance facts only lower
            // the finding a step, credentials or a token raise an unlisted process to medium.
            let (severity, grade_reason) = match grade {
                Some(MetadataGrade::Recon) if judged_severity > Severity::Low => (
                    lower(judged_severity),
                    Some("only instance facts were asked for (recon), no credentials or token: one step lower"),
                ),
                Some(MetadataGrade::Credential | MetadataGrade::Token) if judged_severity == Severity::Low => (
                    Severity::Medium,
                    Some("credentials or a session token were asked for: raised to medium"),
                ),
                _ => (judged_severity, None),
            };
            let mut reasons = vec![format!(
                "{connections} connection(s) to the metadata service at {endpoint} from {}",
                process.exe.as_deref().unwrap_or("an unknown executable"),
            )];
            reasons.extend(verdict.reasons);
            reasons.extend(request_reasons);
            reasons.extend(grade_reason.map(str::to_string));
            if verdict.judgement == Judgement::Unlisted && severity == Severity::Low {
                reasons.push(
                    "low: a service or scheduled job may read its role by design; add it to the allow-list with a reason if so"
                        .into(),
                );
            }
            out.push(Alert {
                rule: META.id,
                variant: Some(verdict.judgement.variant()),
                severity,
                first_seen,
                last_seen,
                title: format!(
                    "{} on {} reached the metadata service",
                    process
                        .exe
                        .as_deref()
                        .or(process.comm.as_deref())
                        .unwrap_or("a process"),
                    if host.is_empty() { "an unknown host" } else { &host }
                ),
                entities: host_entities(&host, &process, None),
                reasons,
                evidence: evidence.origins(),
                evidence_total: evidence.total(),
            });
        }
        all.extend(crate::rules::fold_low_by_program(found));
        all.extend(crate::rules::fold_low_by_program(in_containers));
    }
}

fn lower(severity: Severity) -> Severity {
    match severity {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium | Severity::Low => Severity::Low,
        Severity::Info => Severity::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_event::{ConnectHttp, FileId, HostSensor, ProcessConnect};

    fn call(n: u64, exe: &str, path: &str) -> Event {
        Event {
            time: Timestamp::from_millis(1_789_300_000_000 + n as i64 * 1000),
            origin: Origin {
                file: FileId(0),
                line: n,
                index: n,
            },
            body: Body::ProcessConnect(Box::new(ProcessConnect {
                sensor: HostSensor::ImdsPacketAnalyzer,
                host: Some("i-0a1b2c3d4e5f60718".into()),
                process: Process {
                    pid: Some(4000 + n as u32),
                    ppid: Some(1),
                    exe: Some(exe.into()),
                    ..Default::default()
                },
                destination: "169.254.169.254".parse().expect("address"),
                port: Some(80),
                failed: false,
                result: None,
                http: Some(ConnectHttp {
                    method: Some("GET".into()),
                    path: Some(path.into()),
                    imds_version: Some(1),
                }),
            })),
        }
    }

    fn severity_of(event: Event) -> Severity {
        let mut state = State::default();
        ImdsCredentialReadUnexpectedProcess.observe(&mut state, &event);
        let mut out = Vec::new();
        ImdsCredentialReadUnexpectedProcess.finish(state, &Footprint::default(), &Knowledge::default(), &mut out);
        assert_eq!(out.len(), 1, "{out:#?}");
        out[0].severity
    }

    #[test]
    fn what_was_asked_for_moves_the_finding() {
        // curl is a network tool (medium): asking only for the local address lowers it.
        assert_eq!(
            severity_of(call(1, "/usr/bin/curl", "/latest/meta-data/local-ipv4")),
            Severity::Low
        );
        assert_eq!(
            severity_of(call(
                2,
                "/usr/bin/curl",
                "/latest/meta-data/iam/security-credentials/web"
            )),
            Severity::Medium
        );
        // An unlisted service (low) asking for the role's credentials is raised.
        assert_eq!(
            severity_of(call(
                3,
                "/opt/billing/bin/billing",
                "/latest/meta-data/iam/security-credentials/web"
            )),
            Severity::Medium
        );
        assert_eq!(
            severity_of(call(4, "/opt/billing/bin/billing", "/latest/meta-data/instance-id")),
            Severity::Low
        );
    }
}
