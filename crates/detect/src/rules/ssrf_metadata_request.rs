#![doc = include_str!("ssrf_metadata_request.md")]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use credtrail_event::metadata::{find_targets, required_header};
use credtrail_event::{Body, Event, HttpRequest, Origin, Timestamp};

use crate::alert::{Alert, Entities, Severity};
use crate::engine::{Detector, Knowledge, Merge, RuleMeta};
use crate::footprint::Footprint;
use crate::web::{session_severity, summarise, Observation, Sessions};

pub struct SsrfMetadataRequest;

pub static META: RuleMeta = RuleMeta {
    id: "ssrf-metadata-request",
    title: "Web request aimed at the cloud metadata service (SSRF)",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1190"],
    data: "AWS WAF, ALB/ELB, nginx/Apache, CloudFront, Zeek http, Suricata eve",
    explain: include_str!("ssrf_metadata_request.md"),
};

/// A WAF SSRF rule matched a request in which no metadata target is visible.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct WafOnly {
    time: Timestamp,
    origin: Origin,
    rules: Vec<String>,
}

#[derive(Default)]
pub struct State {
    sessions: Sessions,
    waf_only: BTreeMap<Option<IpAddr>, BTreeSet<WafOnly>>,
}

impl Merge for State {
    fn merge(&mut self, other: State) {
        self.sessions.merge(other.sessions);
        for (client, list) in other.waf_only {
            self.waf_only.entry(client).or_default().extend(list);
        }
    }
}

/// The request target without a `scheme://authority` prefix (absolute form, as load balancers
/// and proxies log it): the authority is the proxy-abuse rule's business.
fn origin_form(target: &str) -> &str {
    // The first `://` follows a run of scheme characters from the start, or there is none that
    // does (a `:` ends the run).
    let b = target.as_bytes();
    let scheme_len = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.'))
        .unwrap_or(b.len());
    match target[scheme_len..].strip_prefix("://") {
        Some(rest) => rest.find(['/', '?']).map_or("", |j| &rest[j..]),
        None => target,
    }
}

/// Where in a request a metadata target hid, as an analyst reads it.
#[derive(Clone, Copy)]
enum Place<'a> {
    Query,
    Path,
    Body,
    Cookie,
    Header(&'a str),
}

impl Place<'_> {
    fn label(self) -> String {
        match self {
            Place::Query => "query".into(),
            Place::Path => "path".into(),
            Place::Body => "body".into(),
            Place::Cookie => "cookie".into(),
            Place::Header(name) => format!("header {name}"),
        }
    }
}

/// Where in a request metadata targets can hide, in the order they are searched.
fn places(request: &HttpRequest) -> impl Iterator<Item = (Place<'_>, &str)> {
    let target = origin_form(&request.target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = request.headers.iter().filter_map(|(name, value)| {
        if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case(":authority") {
            return None;
        }
        let place = if name.eq_ignore_ascii_case("cookie") {
            Place::Cookie
        } else {
            Place::Header(name)
        };
        Some((place, value.as_str()))
    });
    [(Place::Query, query), (Place::Path, path)]
        .into_iter()
        .chain(request.body.as_deref().map(|body| (Place::Body, body)))
        .chain(headers)
}

fn is_ssrf_rule(rule: &str) -> bool {
    let contains = |word: &[u8]| {
        rule.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    contains(b"ssrf") || contains(b"metadata")
}

impl Detector for SsrfMetadataRequest {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        let Body::HttpRequest(request) = &event.body else {
            return;
        };
        // The header the metadata service demands (`Metadata-Flavor: Google`, `Metadata: true`):
        // a request written for it, said beside where the target sat.
        let header = request
            .headers
            .iter()
            .find_map(|(name, value)| required_header(name, value))
            .map(|(_, header)| header);
        let mut seen = BTreeSet::new();
        for (place, text) in places(request) {
            for target in find_targets(text) {
                let key = (target.endpoint.clone(), target.path.clone());
                if seen.insert(key) {
                    let location = match header {
                        Some(header) => format!("{} (the request carries {header})", place.label()),
                        None => place.label(),
                    };
                    state
                        .sessions
                        .push(Observation::new(event.time, event.origin, request, target, location));
                }
            }
        }
        if seen.is_empty() {
            let rules: Vec<String> = request
                .waf
                .iter()
                .flat_map(|w| &w.matches)
                .filter(|m| is_ssrf_rule(&m.rule))
                .map(|m| format!("{} ({})", m.rule, m.action))
                .collect();
            if !rules.is_empty() {
                state
                    .waf_only
                    .entry(request.original_client())
                    .or_default()
                    .insert(WafOnly {
                        time: event.time,
                        origin: event.origin,
                        rules,
                    });
            }
        }
    }

    fn finish(&self, state: State, _footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        for session in state.sessions.into_sessions() {
            let s = summarise(&session, knowledge);
            let client = session[0].client;
            let who = client
                .map(|c| c.to_string())
                .unwrap_or_else(|| "an unknown client".into());
            out.push(Alert {
                rule: META.id,
                variant: Some(s.grade.as_str()),
                severity: session_severity(s.best, s.grade, s.internal),
                first_seen: s.first,
                last_seen: s.last,
                title: format!(
                    "SSRF toward the metadata service from {who}: {} request(s), {}",
                    session.len(),
                    s.best.as_str()
                ),
                entities: s.entities(&session),
                reasons: s.reasons,
                evidence_total: s.origins.len() as u64,
                evidence: s.origins,
            });
        }
        for (client, list) in state.waf_only {
            let rules: BTreeSet<&str> = list.iter().flat_map(|w| w.rules.iter().map(String::as_str)).collect();
            let origins: Vec<Origin> = list.iter().map(|w| w.origin).collect();
            let who = client
                .map(|c| c.to_string())
                .unwrap_or_else(|| "an unknown client".into());
            out.push(Alert {
                rule: META.id,
                variant: None,
                severity: Severity::Low,
                first_seen: list.first().map(|w| w.time).unwrap_or_default(),
                last_seen: list.last().map(|w| w.time).unwrap_or_default(),
                title: format!("WAF SSRF rule matched {} request(s) from {who}", list.len()),
                entities: Entities { source_ip: client.map(|c| c.to_string()), ..Entities::default() },
                reasons: vec![
                    format!("WAF rules matched: {}", rules.into_iter().collect::<Vec<_>>().join(", ")),
                    "no metadata endpoint is visible in the logged request (WAF logs omit bodies; a callback such as http://127.0.0.1:8081/hook is not one): check the application's request log".into(),
                ],
                evidence_total: origins.len() as u64,
                evidence: origins,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use credtrail_event::{FileId, HttpSensor};

    use super::*;

    fn scan(request: HttpRequest) -> Vec<Alert> {
        let mut state = State::default();
        let event = Event {
            time: Timestamp::parse_rfc3339("2026-09-14T10:00:00Z").unwrap_or_default(),
            origin: Origin {
                file: FileId(0),
                line: 1,
                index: 1,
            },
            body: Body::HttpRequest(Box::new(request)),
        };
        SsrfMetadataRequest.observe(&mut state, &event);
        let mut out = Vec::new();
        SsrfMetadataRequest.finish(state, &Footprint::default(), &Knowledge::default(), &mut out);
        out
    }

    #[test]
    fn the_gcp_and_azure_metadata_headers_are_said_beside_the_target() {
        let mut gcp = HttpRequest::new(
            HttpSensor::WebServer,
            "/fetch?url=http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
        );
        gcp.headers.push(("Metadata-Flavor".into(), "Google".into()));
        let alerts = scan(gcp);
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0]
                .reasons
                .iter()
                .any(|r| r.contains("the request carries Metadata-Flavor: Google")),
            "{:?}",
            alerts[0].reasons
        );
        let mut azure = HttpRequest::new(
            HttpSensor::WebServer,
            "/fetch?url=http://169.254.169.254/metadata/identity/oauth2/token%3Fresource%3Dhttps://management.azure.com/",
        );
        azure.headers.push(("metadata".into(), "true".into()));
        let alerts = scan(azure);
        assert!(alerts[0].reasons.iter().any(|r| r.contains("Metadata: true")));
        // Without the header nothing is claimed.
        let plain = HttpRequest::new(
            HttpSensor::WebServer,
            "/fetch?url=http://169.254.169.254/metadata/instance",
        );
        assert!(!scan(plain)[0].reasons.iter().any(|r| r.contains("carries")));
    }
}
