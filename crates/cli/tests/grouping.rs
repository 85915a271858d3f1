//! How alerts group into incidents (issue #5, grouping precision): each generated attack scenario
//! instance is exactly one incident. Fixtures under `testdata/grouping/` are records cut from
//! `gen_logs.py --size 1G` output, where each bug was found.

mod support;

use serde_json::Value;
use support::{repo, scan};

fn fixture(name: &str) -> String {
    repo()
        .join("testdata/grouping")
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// The incident holding each alert, by alert index.
fn incident_of<'a>(result: &'a support::Scan, alert: &Value) -> &'a Value {
    let id = &alert["id"];
    result
        .incidents
        .iter()
        .find(|i| i["alerts"].as_array().is_some_and(|a| a.contains(id)))
        .unwrap_or_else(|| panic!("alert {id} is in no incident"))
}

/// S3-01: a network-wide Zeek `http.log` sees a container read the metadata service from its
/// Docker bridge address (172.17.0.37); auditd on ci-runner-1 sees the container's curl connect
/// to it in the same milliseconds. The wire alert named no instance and was an incident of its
/// own beside the host's.
#[test]
fn bug_a_container_seen_only_by_its_bridge_address_on_the_wire_was_an_incident_of_its_own() {
    let result = scan(&[&fixture("container-seen-on-the-wire-and-on-its-host")]);
    let container = result.of_rule("imds-access-from-container");
    let wire: Vec<&&Value> = container
        .iter()
        .filter(|a| a["entities"]["source_ip"] == "172.17.0.37")
        .collect();
    let host: Vec<&&Value> = container
        .iter()
        .filter(|a| a["entities"]["instance"] == "i-0dac7f053e9f1e3ef")
        .collect();
    assert_eq!((wire.len(), host.len()), (1, 3), "{container:#?}");
    assert_eq!(result.incidents.len(), 1, "{:#?}", result.incidents);
    assert_eq!(result.incidents[0]["alerts"].as_array().map(Vec::len), Some(4));
    assert_eq!(result.incidents[0]["escalation"]["decision"], "escalate_t2");
}

/// S2-01 and S2-03: the same nginx worker (pid 3545) on edge-proxy-1 relays the metadata service
/// to two attackers a day apart. The host alert was one per process for the whole period and
/// bridged the two attacks into one incident.
#[test]
fn bug_two_attacks_a_day_apart_through_one_worker_were_one_incident() {
    let result = scan(&[&fixture("two-attacks-a-day-apart-through-one-worker")]);
    let reads = result.of_rule("imds-credential-read-unexpected-process");
    assert_eq!(reads.len(), 2, "one alert per episode: {reads:#?}");
    let evidence: Vec<usize> = reads
        .iter()
        .map(|a| a["evidence"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(evidence, [4, 4], "each episode cites its own four connections");
    for read in &reads {
        assert_eq!(read["variant"], "proxy_process");
        assert_eq!(read["severity"], "high");
    }
    let first = incident_of(&result, reads[0]);
    let second = incident_of(&result, reads[1]);
    assert_ne!(first["id"], second["id"], "two attacks a day apart are two incidents");
}
