#![doc = include_str!("imds_access_volume_anomaly.md")]

use std::collections::BTreeMap;

use credtrail_event::{Body, Event, Origin, Process, Timestamp};

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, EntityMap, Knowledge, Merge, RuleMeta};
use crate::evidence::Evidence;
use crate::footprint::Footprint;
use crate::host::{metadata_service, program_key, shipped_allow_list, AllowedSoftware};
use crate::rules::host_entities;

pub struct ImdsAccessVolumeAnomaly;

pub static META: RuleMeta = RuleMeta {
    id: "imds-access-volume-anomaly",
    title: "Unusual volume of metadata service access",
    default_severity: Severity::Medium,
    attack: &["T1552.005"],
    data: "Host telemetry: Linux auditd connect records",
    explain: include_str!("imds_access_volume_anomaly.md"),
};

/// Accesses closer than this belong to one episode.
const EPISODE_GAP_SECONDS: i64 = 300;
/// An episode smaller than this is never an anomaly, whatever the baseline.
const MIN_EPISODE: usize = 20;
/// How many scaled MADs above the median an episode must be.
const MAD_FACTOR: f64 = 6.0;
/// Most accesses kept per program (the earliest); beyond it the baseline is built from those.
const ACCESSES_PER_PROGRAM: usize = 1 << 16;

#[derive(Debug, Default)]
pub struct Program {
    times: Vec<(Timestamp, Origin)>,
    /// Representative process (earliest access).
    process: Option<(Timestamp, Origin, Process)>,
}

/// (host, program) → its accesses.
#[derive(Default)]
pub struct State(EntityMap<(String, String), Program>);

impl Merge for State {
    fn merge(&mut self, other: State) {
        for (k, theirs) in other.0 {
            let mine = self.0.entry(k).or_default();
            mine.times.extend(theirs.times);
            if mine.times.len() > 2 * ACCESSES_PER_PROGRAM {
                mine.times.sort_unstable();
                mine.times.truncate(ACCESSES_PER_PROGRAM);
            }
            if let Some(t) = theirs.process {
                if mine.process.as_ref().is_none_or(|m| (t.0, t.1) < (m.0, m.1)) {
                    mine.process = Some(t);
                }
            }
        }
    }
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn episodes(times: &[(Timestamp, Origin)]) -> Vec<&[(Timestamp, Origin)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=times.len() {
        let split = i == times.len() || times[i].0.millis() - times[i - 1].0.millis() > EPISODE_GAP_SECONDS * 1000;
        if split {
            out.push(&times[start..i]);
            start = i;
        }
    }
    out
}

fn allowed<'a>(allow: &'a [AllowedSoftware], p: &Process) -> Option<&'a AllowedSoftware> {
    let exe = p.exe.as_deref()?;
    allow
        .iter()
        .filter(|e| e.ancestor_contains.is_none())
        .find(|e| match e.exe.strip_suffix('*') {
            Some(prefix) => exe.starts_with(prefix),
            None if e.exe.ends_with('/') => exe.starts_with(&e.exe),
            None => exe == e.exe,
        })
}

impl Detector for ImdsAccessVolumeAnomaly {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        let Body::ProcessConnect(connect) = &event.body else {
            return;
        };
        if metadata_service(connect.destination).is_none() {
            return;
        }
        let host = connect.host.clone().unwrap_or_default();
        let entry = state.0.entry((host, program_key(&connect.process))).or_default();
        entry.times.push((event.time, event.origin));
        if entry.times.len() > 2 * ACCESSES_PER_PROGRAM {
            entry.times.sort_unstable();
            entry.times.truncate(ACCESSES_PER_PROGRAM);
        }
        if entry
            .process
            .as_ref()
            .is_none_or(|(t, o, _)| (event.time, event.origin) < (*t, *o))
        {
            entry.process = Some((event.time, event.origin, connect.process.clone()));
        }
    }

    fn finish(&self, state: State, _footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        let mut allow = shipped_allow_list();
        allow.extend(knowledge.policy.allow_software.iter().cloned());
        // Per host: every program's episodes, the host's baseline built from all of them.
        let mut hosts: BTreeMap<String, Vec<(String, Program)>> = BTreeMap::new();
        for ((host, program), mut p) in state.0 {
            p.times.sort_unstable();
            p.times.dedup();
            p.times.truncate(ACCESSES_PER_PROGRAM);
            hosts.entry(host).or_default().push((program, p));
        }
        for (host, mut programs) in hosts {
            programs.sort_by(|a, b| a.0.cmp(&b.0));
            let mut sizes: Vec<f64> = programs
                .iter()
                .flat_map(|(_, p)| episodes(&p.times).into_iter().map(|e| e.len() as f64))
                .collect();
            sizes.sort_by(f64::total_cmp);
            let med = median(&sizes);
            let mut deviations: Vec<f64> = sizes.iter().map(|s| (s - med).abs()).collect();
            deviations.sort_by(f64::total_cmp);
            let mad = median(&deviations);
            // 1.4826 scales the MAD to a standard deviation for normal data; at least 1 so that
            // a host whose agents all read exactly alike still has a spread.
            let spread = (1.4826 * mad).max(1.0);
            let threshold = (med + MAD_FACTOR * spread).max(MIN_EPISODE as f64);
            let host_start = programs
                .iter()
                .filter_map(|(_, p)| p.times.first())
                .map(|(t, _)| *t)
                .min();
            for (program, p) in &programs {
                let Some((_, _, process)) = &p.process else { continue };
                let first_of_program = p.times.first().map(|(t, _)| *t);
                for episode in episodes(&p.times) {
                    if (episode.len() as f64) < threshold {
                        continue;
                    }
                    let (first, last) = (episode[0].0, episode[episode.len() - 1].0);
                    let secs = (last.millis() - first.millis()) / 1000;
                    let mut reasons = vec![
                        format!("{} metadata connections by {program} in {secs} s", episode.len()),
                        format!(
                            "baseline of {host}: {} episodes of metadata access (accesses less than {EPISODE_GAP_SECONDS} s apart) by {} program(s), median {med:.0} per episode, MAD {mad:.1}; threshold {threshold:.0}",
                            sizes.len(),
                            programs.len()
                        ),
                    ];
                    let first_seen_program = first_of_program == Some(first)
                        && host_start.is_some_and(|h| first.millis() - h.millis() > 24 * 3600 * 1000);
                    if first_seen_program {
                        reasons.push(format!(
                            "{program} had never reached the metadata service before: first seen at {first}, more than a day after this host's telemetry begins"
                        ));
                    }
                    let severity = match allowed(&allow, process) {
                        Some(entry) => {
                            reasons.push(format!("low: {program} is allow-listed ({})", entry.reason));
                            Severity::Low
                        }
                        None => Severity::Medium,
                    };
                    let mut evidence = Evidence::default();
                    for (t, o) in episode {
                        evidence.push(*t, *o);
                    }
                    out.push(Alert {
                        rule: META.id,
                        variant: Some(if first_seen_program {
                            "first_seen_burst"
                        } else {
                            "burst"
                        }),
                        severity,
                        first_seen: first,
                        last_seen: last,
                        title: format!(
                            "{} metadata connections in {secs} s by {program} on {host}",
                            episode.len()
                        ),
                        entities: host_entities(&host, process, None),
                        reasons,
                        evidence: evidence.origins(),
                        evidence_total: evidence.total(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd_lists() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert_eq!(median(&[]), 0.0);
    }
}
