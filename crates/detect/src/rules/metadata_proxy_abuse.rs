#![doc = include_str!("metadata_proxy_abuse.md")]

use std::collections::BTreeMap;

use credtrail_event::metadata::{canonical_target, metadata_path_host};
use credtrail_event::{Body, Event, HttpRequest, HttpSensor, MetadataTarget};

use crate::alert::{Alert, Severity};
use crate::engine::{Detector, Knowledge, Merge, RuleMeta};
use crate::footprint::Footprint;
use crate::web::{is_internal_client, session_severity, summarise, Observation, Sessions};

pub struct MetadataProxyAbuse;

pub static META: RuleMeta = RuleMeta {
    id: "metadata-proxy-abuse",
    title: "Proxy abused to reach the cloud metadata service",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1090"],
    data: "nginx/Apache, ALB/ELB, AWS WAF, Zeek http, Suricata eve",
    explain: include_str!("metadata_proxy_abuse.md"),
};

#[derive(Default)]
pub struct State(Sessions);

impl Merge for State {
    fn merge(&mut self, other: State) {
        self.0.merge(other.0);
    }
}

fn is_absolute(target: &str) -> bool {
    // The scheme is what precedes the first `://`: a non-empty run of scheme characters from the
    // start (a `:` ends the run).
    let scheme_len = target
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.'))
        .unwrap_or(target.len());
    scheme_len > 0 && target[scheme_len..].starts_with("://")
}

/// How this request reached for the metadata service through a proxy, if it did.
fn proxied_target(request: &HttpRequest) -> Option<(MetadataTarget, &'static str, String)> {
    let target = request.target.as_str();
    let host = request.host.as_deref().or_else(|| request.header("host"));
    if is_absolute(target) {
        let found = canonical_target(target, None);
        if let Some(t) = found {
            return Some(if request.sensor == HttpSensor::LoadBalancer {
                // Load balancers log the Host header as the URL's authority.
                (t, "host_header", "Host header (as the load balancer logs it)".into())
            } else {
                (t, "absolute_uri", "absolute-URI request line".into())
            });
        }
        let t = canonical_target(target, host)?;
        return Some((t, "host_header", "Host header".into()));
    }
    if let Some(host) = host {
        if let Some(t) = canonical_target(target, Some(host)) {
            return Some((t, "host_header", "Host header".into()));
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    if host.is_none() && matches!(request.sensor, HttpSensor::WebServer | HttpSensor::Cdn) {
        let assumed = metadata_path_host(path)?;
        let t = canonical_target(path, Some(assumed))?;
        return Some((
            t,
            "metadata_path",
            "a metadata-service path (this log omits the Host header)".into(),
        ));
    }
    None
}

impl Detector for MetadataProxyAbuse {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        let Body::HttpRequest(request) = &event.body else {
            return;
        };
        let relay_leg = || {
            // The proxy's own request to the metadata address, as a sensor on the host sees it.
            let ip = request.server.filter(|_| request.sensor == HttpSensor::NetworkSensor)?;
            let t = canonical_target(&request.target, Some(&ip.to_string()))?;
            Some((t, "relayed", format!("a request to {ip} on the wire")))
        };
        let Some((target, how, location)) = proxied_target(request).or_else(relay_leg) else {
            return;
        };
        let mut obs = Observation::new(event.time, event.origin, request, target, location);
        if request.sensor == HttpSensor::NetworkSensor && is_internal_client(&obs) && !obs.forwarded {
            // A process on the instance asking for itself: host telemetry's business, not a proxy.
            return;
        }
        let how = if request.sensor == HttpSensor::NetworkSensor && obs.forwarded {
            "relayed"
        } else {
            how
        };
        obs.location = format!("{how}: {}", obs.location);
        state.0.push(obs);
    }

    fn finish(&self, state: State, _footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        for session in state.0.into_sessions() {
            let s = summarise(&session, knowledge);
            let client = session[0].client;
            let mut hows: BTreeMap<&str, usize> = BTreeMap::new();
            for o in &session {
                *hows.entry(o.location.split(':').next().unwrap_or("")).or_default() += 1;
            }
            let variant = hows
                .iter()
                .max_by_key(|(k, n)| (**n, std::cmp::Reverse(**k)))
                .and_then(|(k, _)| {
                    ["absolute_uri", "host_header", "metadata_path", "relayed"]
                        .into_iter()
                        .find(|v| v == k)
                });
            let who = client
                .map(|c| c.to_string())
                .unwrap_or_else(|| "an unknown client".into());
            let via = if s.victims.is_empty() {
                String::new()
            } else {
                format!(" via {}", s.victims.join(", "))
            };
            out.push(Alert {
                rule: META.id,
                variant,
                severity: session_severity(s.best, s.grade, s.internal),
                first_seen: s.first,
                last_seen: s.last,
                title: format!(
                    "Proxy abused to reach the metadata service from {who}{via}: {}",
                    s.best.as_str()
                ),
                entities: s.entities(&session),
                reasons: s.reasons,
                evidence_total: s.origins.len() as u64,
                evidence: s.origins,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_paths_are_recognised_without_a_host() {
        assert_eq!(
            metadata_path_host("/latest/meta-data/iam/security-credentials/"),
            Some("169.254.169.254")
        );
        assert_eq!(metadata_path_host("/2009-04-04/meta-data/"), Some("169.254.169.254"));
        assert_eq!(
            metadata_path_host("/computeMetadata/v1/instance/"),
            Some("metadata.google.internal")
        );
        assert_eq!(metadata_path_host("/api/v1/latest"), None);
        assert_eq!(metadata_path_host("/metadata.json"), None);
    }

    #[test]
    fn bug_a_path_with_a_multibyte_character_at_byte_11_panicked() {
        // The dated-version test sliced the path at byte 11, inside the `é`.
        assert_eq!(metadata_path_host("/aaaaaaaaa\u{e9}/x"), None);
        assert_eq!(metadata_path_host("/2009-04-0\u{e9}/meta-data/"), None);
    }
}
