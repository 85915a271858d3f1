//! The runbook's four questions (seed `000_…txt`, "Questions for Analysis"), answered from the
//! incident's alerts, each answer naming the alerts behind it.

use credtrail_detect::Alert;

use crate::HOST_RULES;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub question: &'static str,
    pub answer: String,
    /// Ids of the alerts behind the answer.
    pub alerts: Vec<String>,
}

fn ids(alerts: &[&&Alert]) -> Vec<String> {
    let mut ids: Vec<String> = alerts.iter().map(|a| a.id()).collect();
    ids.sort();
    ids.dedup();
    ids
}

pub fn answer(group: &[&Alert]) -> Vec<Answer> {
    let of = |rules: &[&str]| -> Vec<&&Alert> { group.iter().filter(|a| rules.contains(&a.rule)).collect() };
    let host_seen = !of(HOST_RULES).is_empty();

    let readers = of(&["imds-credential-read-unexpected-process", "imds-access-from-container"]);
    let authorised = if readers.is_empty() {
        if host_seen {
            "no unexpected reader in the host telemetry given".to_string()
        } else {
            "unknown: no host telemetry for these instances (auditd, laurel, Sysmon, Falco or imds-packet-analyzer would tell)".to_string()
        }
    } else {
        let mut who: Vec<String> = readers
            .iter()
            .map(|a| {
                format!(
                    "{} ({}, {})",
                    a.entities
                        .process
                        .as_deref()
                        .or(a.entities.container.as_deref())
                        .unwrap_or("?"),
                    a.variant.unwrap_or("-"),
                    a.severity.as_str()
                )
            })
            .collect();
        who.sort();
        who.dedup();
        format!("no: read by {}", who.join("; "))
    };

    let volume = of(&["imds-access-volume-anomaly"]);
    let unusual = if !volume.is_empty() {
        format!(
            "yes: {}",
            volume.iter().map(|a| a.title.clone()).collect::<Vec<_>>().join("; ")
        )
    } else if host_seen {
        "no volume anomaly against the hosts' baselines".to_string()
    } else {
        "unknown: no host telemetry to build a baseline from".to_string()
    };

    let failures = of(&["imds-access-failures", "instance-credential-access-denied-burst"]);
    let failed = if failures.is_empty() {
        "none found".to_string()
    } else {
        format!(
            "yes: {}",
            failures.iter().map(|a| a.title.clone()).collect::<Vec<_>>().join("; ")
        )
    };

    let ssrf = of(&["ssrf-metadata-request", "metadata-proxy-abuse"]);
    let outside: Vec<&&Alert> = ssrf
        .iter()
        .copied()
        .filter(|a| a.entities.source_ip.as_deref().is_some_and(is_outside))
        .collect();
    let external = if outside.is_empty() {
        if ssrf.is_empty() {
            "none found in the web, proxy and WAF logs given".to_string()
        } else {
            "SSRF or proxy requests were seen, from inside the network only".to_string()
        }
    } else {
        let mut addresses: Vec<&str> = outside.iter().filter_map(|a| a.entities.source_ip.as_deref()).collect();
        addresses.sort();
        addresses.dedup();
        format!("yes: {}", addresses.join(", "))
    };

    // Where the stolen credential was used from: the attacker's address even when no web log
    // shows how the credential was taken.
    let used_from: Vec<&&Alert> = of(crate::STOLEN_CREDENTIAL_RULES)
        .into_iter()
        .filter(|a| a.entities.source_ip.as_deref().is_some_and(is_outside))
        .collect();
    let mut external = external;
    let mut external_alerts = outside.clone();
    if !used_from.is_empty() {
        let mut addresses: Vec<&str> = used_from
            .iter()
            .filter_map(|a| a.entities.source_ip.as_deref())
            .collect();
        addresses.sort();
        addresses.dedup();
        let mut rules: Vec<&str> = used_from.iter().map(|a| a.rule).collect();
        rules.sort();
        rules.dedup();
        external = format!(
            "{external}; the instance credential was used from {} ({})",
            addresses.join(", "),
            rules.join(", ")
        );
        external_alerts.extend(used_from.iter().copied());
    }

    vec![
        Answer {
            question: "Are access attempts to the metadata API coming from authorized applications or systems?",
            answer: authorised,
            alerts: ids(&readers),
        },
        Answer {
            question: "Is the frequency or volume of requests to the instance metadata API unusual?",
            answer: unusual,
            alerts: ids(&volume),
        },
        Answer {
            question:
                "Are there any error logs indicating failed, potentially unauthorized, access to the metadata service?",
            answer: failed,
            alerts: ids(&failures),
        },
        Answer {
            question: "Are there any external IP addresses making requests indicative of SSRF?",
            answer: external,
            alerts: ids(&external_alerts),
        },
    ]
}

fn is_outside(text: &str) -> bool {
    text.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| !credtrail_event::ip_ranges::is_non_routable(ip) && !ip.is_loopback())
}
