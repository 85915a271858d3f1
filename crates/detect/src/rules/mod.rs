//! One file per detector; each detector's documentation is the `.md` file beside it.

pub mod azure_managed_identity_token_misuse;
pub mod gcp_vm_service_account_token_misuse;
pub mod imds_access_failures;
pub mod imds_access_from_container;
pub mod imds_access_volume_anomaly;
pub mod imds_credential_read_unexpected_process;
pub mod imds_hardening_downgrade;
pub mod imdsv1_credential_delivery;
pub mod instance_credential_access_denied_burst;
pub mod instance_credential_exfiltration;
pub mod instance_credential_recon;
pub mod metadata_proxy_abuse;
pub mod ssrf_metadata_request;

use crate::alert::Entities;
use crate::footprint::Usage;

/// Entities of an alert about one workload's usage at one place.
pub(crate) fn usage_entities(usage: &Usage, source_ip: Option<String>) -> Entities {
    let workload = usage.workload.as_ref();
    Entities {
        cloud: Some("aws".into()),
        account: usage.account.clone(),
        principal: usage.principal.clone(),
        role: workload.map(|w| w.role.clone()),
        access_key: usage.keys.first().cloned(),
        instance: workload.map(|w| w.id.clone()),
        source_ip,
        user_agent: usage.main_user_agent().map(str::to_string),
        ..Default::default()
    }
}

/// Entities of an alert about one process on one host.
pub(crate) fn host_entities(host: &str, process: &credtrail_event::Process, container: Option<String>) -> Entities {
    let instance = credtrail_event::workload::is_instance_id(host).then(|| host.to_string());
    let user = process.uid.map(|uid| match process.login_uid {
        Some(auid) => format!("uid {uid} (login uid {auid})"),
        None => format!("uid {uid}"),
    });
    Entities {
        cloud: instance.as_ref().map(|_| "aws".to_string()),
        instance,
        host: (!host.is_empty()).then(|| host.to_string()),
        process: process
            .exe
            .as_ref()
            .or(process.comm.as_ref())
            .map(|exe| match process.pid {
                Some(pid) => format!("{exe} (pid {pid})"),
                None => exe.clone(),
            }),
        container: container.or_else(|| process.container.clone()),
        user,
        ..Default::default()
    }
}

/// Low findings about the same program on the same host become one alert: every cron run or CI
/// job is a new pid, and routine reads must not flood the analyst. Higher findings stay one per
/// process.
pub(crate) fn fold_low_by_program(alerts: Vec<crate::alert::Alert>) -> Vec<crate::alert::Alert> {
    use std::collections::BTreeMap;

    use crate::alert::Severity;
    let mut kept = Vec::new();
    // (host, variant, program) → its low alerts.
    type ProgramKey = (Option<String>, Option<&'static str>, String);
    let mut groups: BTreeMap<ProgramKey, Vec<crate::alert::Alert>> = BTreeMap::new();
    for alert in alerts {
        if alert.severity > Severity::Low {
            kept.push(alert);
            continue;
        }
        let program = alert.entities.process.as_deref().unwrap_or("");
        let program = program.split(" (pid ").next().unwrap_or(program).to_string();
        groups
            .entry((alert.entities.host.clone(), alert.variant, program))
            .or_default()
            .push(alert);
    }
    for ((_, _, program), mut group) in groups {
        group.sort_by_cached_key(|a| (a.first_seen, a.evidence.clone()));
        let n = group.len();
        let mut iter = group.into_iter();
        let Some(mut first) = iter.next() else { continue };
        for other in iter {
            first.first_seen = first.first_seen.min(other.first_seen);
            first.last_seen = first.last_seen.max(other.last_seen);
            first.evidence.extend(other.evidence);
            first.evidence_total += other.evidence_total;
        }
        if n > 1 {
            first.evidence.sort_unstable();
            first.evidence.dedup();
            first.evidence.truncate(crate::evidence::EVIDENCE_CAP);
            let what = if program.is_empty() {
                format!("{n} sources on this host")
            } else {
                format!("{n} processes of {program}")
            };
            first.reasons.insert(0, format!("{what}; the first is described below"));
            if !program.is_empty() {
                first.entities.process = Some(program);
            }
        }
        kept.push(first);
    }
    kept
}
