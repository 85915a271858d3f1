//! What the web-facing detectors share: one observation per request that reached for a metadata
//! endpoint, the outcome its status and size suggest, and grouping into attack sessions per
//! client on event time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use credtrail_event::ip_ranges::is_non_routable;
use credtrail_event::metadata::canonical_target;
use credtrail_event::{HttpRequest, HttpSensor, MetadataGrade, MetadataTarget, Origin, Timestamp};

use crate::alert::Severity;
use crate::engine::{Knowledge, Merge};

/// Requests kept per client; a scanner spraying millions is summarised by its earliest ones.
const PER_CLIENT_CAP: usize = 4096;
/// A pause longer than this between two requests of one client starts a new session.
pub const SESSION_GAP_SECONDS: i64 = 3600;

/// What a request's response says about whether the metadata service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// A WAF blocked it, or the front end refused it (403 from a WAF or proxy).
    Blocked,
    /// An error status: nothing useful came back.
    Failed,
    /// No status or a 2xx too small to hold what was asked for.
    Unknown,
    /// 2xx with a body large enough for what the grade asks (credentials, a token, a listing).
    LikelySucceeded,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Blocked => "blocked",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
            Outcome::LikelySucceeded => "likely_succeeded",
        }
    }
}

/// Smallest response that can carry what the grade asks for: an IMDSv2 token is 56 characters,
/// a credential document about 1.3 KB (a load balancer's byte count includes headers, so the
/// bound is low), a metadata listing a few bytes.
fn minimum_body(target: &MetadataTarget) -> u64 {
    match target.grade {
        MetadataGrade::Recon => 1,
        MetadataGrade::Token => 40,
        // A listing (`…/security-credentials/` answers with the role name) is short.
        MetadataGrade::Credential if target.path.ends_with('/') => 1,
        MetadataGrade::Credential => 200,
    }
}

/// The outcome of one request and the words that justify it.
pub fn outcome(request: &HttpRequest, target: &MetadataTarget) -> (Outcome, String) {
    if let Some(waf) = &request.waf {
        if waf.action.eq_ignore_ascii_case("BLOCK") {
            let rule = waf.terminating_rule.as_deref().unwrap_or("a rule");
            return (Outcome::Blocked, format!("blocked by the WAF ({rule})"));
        }
    }
    match (request.status, request.response_bytes) {
        (Some(status), bytes) if (200..300).contains(&status) => match bytes {
            Some(n) if n < minimum_body(target) => (
                Outcome::Unknown,
                format!(
                    "status {status} with {n} bytes: too small for {}",
                    target.grade.as_str()
                ),
            ),
            Some(n) => (
                Outcome::LikelySucceeded,
                format!("status {status} with {n} bytes: the answer came back"),
            ),
            None => (Outcome::LikelySucceeded, format!("status {status}")),
        },
        // A load balancer answers 403 itself when its web ACL blocks.
        (Some(403), _) if matches!(request.sensor, HttpSensor::Waf | HttpSensor::LoadBalancer) => {
            (Outcome::Blocked, "403 from the WAF or load balancer".into())
        }
        (Some(status), _) => (Outcome::Failed, format!("status {status}")),
        (None, _) => (Outcome::Unknown, "no response status in this log".into()),
    }
}

/// One request aimed at a metadata endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub time: Timestamp,
    pub origin: Origin,
    pub sensor: HttpSensor,
    /// The original client (first `X-Forwarded-For` address, else the peer).
    pub client: Option<IpAddr>,
    /// Whether a forwarding header named the client (so the peer was a proxy or load balancer).
    pub forwarded: bool,
    pub server: Option<IpAddr>,
    pub observer: Option<String>,
    pub target: MetadataTarget,
    /// Where in the request the target sat (`query`, `body`, `header User-Agent`, `Host`, …).
    pub location: String,
    pub outcome: Outcome,
    pub outcome_reason: String,
    pub waf_rules: Vec<String>,
    pub user_agent: Option<String>,
}

impl PartialOrd for Observation {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Observation {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.origin, &self.location).cmp(&(other.time, other.origin, &other.location))
    }
}

impl Observation {
    pub fn new(
        time: Timestamp,
        origin: Origin,
        request: &HttpRequest,
        target: MetadataTarget,
        location: String,
    ) -> Self {
        let (outcome, outcome_reason) = outcome(request, &target);
        let waf_rules = request
            .waf
            .iter()
            .flat_map(|w| &w.matches)
            .map(|m| format!("{} ({})", m.rule, m.action))
            .collect();
        Observation {
            time,
            origin,
            sensor: request.sensor,
            client: request.original_client(),
            forwarded: request
                .forwarded_for
                .as_deref()
                .is_some_and(|x| x.parse::<IpAddr>().is_ok() || x.contains(',')),
            server: request.server,
            observer: request.observer.clone(),
            target,
            location,
            outcome,
            outcome_reason,
            waf_rules,
            user_agent: request.user_agent.clone(),
        }
    }
}

/// Observations grouped by client.
#[derive(Debug, Default)]
pub struct Sessions {
    by_client: HashMap<Option<IpAddr>, Vec<Observation>>,
}

impl Sessions {
    pub fn push(&mut self, obs: Observation) {
        let list = self.by_client.entry(obs.client).or_default();
        list.push(obs);
        if list.len() >= 2 * PER_CLIENT_CAP {
            list.sort();
            list.truncate(PER_CLIENT_CAP);
        }
    }

    /// Every client's observations cut into sessions, sorted by client then time.
    pub fn into_sessions(self) -> Vec<Vec<Observation>> {
        let mut clients: Vec<_> = self.by_client.into_iter().collect();
        clients.sort_by_key(|c| c.0);
        let mut sessions = Vec::new();
        for (_, mut list) in clients {
            list.sort();
            list.dedup();
            list.truncate(PER_CLIENT_CAP);
            let mut current: Vec<Observation> = Vec::new();
            for obs in list {
                if current
                    .last()
                    .is_some_and(|last| obs.time.millis() - last.time.millis() > SESSION_GAP_SECONDS * 1000)
                {
                    sessions.push(std::mem::take(&mut current));
                }
                current.push(obs);
            }
            if !current.is_empty() {
                sessions.push(current);
            }
        }
        sessions
    }
}

impl Merge for Sessions {
    fn merge(&mut self, other: Sessions) {
        for (_, list) in other.by_client {
            for obs in list {
                self.push(obs);
            }
        }
    }
}

/// A client inside the network with nobody forwarded in front of it: a health check, an agent
/// or the application itself, not an outside attacker.
pub fn is_internal_client(obs: &Observation) -> bool {
    obs.client.is_some_and(|ip| is_non_routable(ip) || ip.is_loopback())
}

/// Severity of a session from its best outcome and its grade.
pub fn session_severity(best: Outcome, grade: MetadataGrade, internal: bool) -> Severity {
    if internal {
        return Severity::Low;
    }
    match (best, grade) {
        (Outcome::LikelySucceeded, MetadataGrade::Credential | MetadataGrade::Token) => Severity::Critical,
        (Outcome::LikelySucceeded, MetadataGrade::Recon) => Severity::High,
        (Outcome::Unknown, MetadataGrade::Credential | MetadataGrade::Token) => Severity::High,
        _ => Severity::Medium,
    }
}

/// What an alert says about a session: targets, disguises, outcomes, servers.
pub struct SessionSummary {
    pub best: Outcome,
    pub grade: MetadataGrade,
    pub internal: bool,
    pub reasons: Vec<String>,
    pub victims: Vec<String>,
    /// The clouds of the endpoints aimed at (`MetadataProvider::cloud`), sorted: a scanner
    /// that sprays every endpoint names several.
    pub clouds: Vec<&'static str>,
    pub first: Timestamp,
    pub last: Timestamp,
    pub origins: Vec<Origin>,
}

impl SessionSummary {
    /// The alert entities of a session summarised by [`summarise`]: the clouds aimed at, the
    /// instances or load balancers reached, the client and its user agent.
    pub fn entities(&self, session: &[Observation]) -> crate::alert::Entities {
        crate::alert::Entities {
            cloud: (!self.clouds.is_empty()).then(|| self.clouds.join(",")),
            instance: (!self.victims.is_empty()).then(|| self.victims.join(",")),
            source_ip: session.first().and_then(|o| o.client).map(|c| c.to_string()),
            user_agent: session.iter().find_map(|o| o.user_agent.clone()),
            ..Default::default()
        }
    }
}

pub fn summarise(session: &[Observation], knowledge: &Knowledge) -> SessionSummary {
    let best = session.iter().map(|o| o.outcome).max().unwrap_or(Outcome::Unknown);
    let grade = session
        .iter()
        .map(|o| o.target.grade)
        .max()
        .unwrap_or(MetadataGrade::Recon);
    let internal = session.iter().all(is_internal_client);
    let mut targets: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut locations: BTreeSet<&str> = BTreeSet::new();
    let mut outcomes: BTreeMap<Outcome, (usize, &str)> = BTreeMap::new();
    let mut sensors: BTreeSet<&str> = BTreeSet::new();
    let mut waf: BTreeSet<&str> = BTreeSet::new();
    let mut victims: BTreeSet<String> = BTreeSet::new();
    let mut clouds: BTreeSet<&'static str> = BTreeSet::new();
    for o in session {
        let t = &o.target;
        clouds.insert(t.provider.cloud());
        targets
            .entry(format!(
                "{} {}{} ({})",
                t.provider.as_str(),
                t.endpoint,
                t.path,
                t.grade.as_str()
            ))
            .or_default()
            .extend(t.encodings.iter().copied());
        locations.insert(&o.location);
        let entry = outcomes.entry(o.outcome).or_insert((0, &o.outcome_reason));
        entry.0 += 1;
        sensors.insert(o.sensor.as_str());
        waf.extend(o.waf_rules.iter().map(String::as_str));
        if let Some(name) = &o.observer {
            victims.insert(name.clone());
        }
        // The metadata address itself is where the request went, not a victim.
        if let Some(ip) = o.server.filter(|ip| canonical_target(&ip.to_string(), None).is_none()) {
            match knowledge.inventory.owners_of(&ip) {
                Some(owners) => victims.extend(owners.iter().cloned()),
                None => {
                    victims.insert(ip.to_string());
                }
            }
        }
    }
    let mut reasons = Vec::new();
    for (target, encodings) in &targets {
        if encodings.is_empty() {
            reasons.push(format!("target {target}"));
        } else {
            reasons.push(format!(
                "target {target}, disguised as {}",
                encodings.iter().copied().collect::<Vec<_>>().join(" + ")
            ));
        }
    }
    reasons.push(format!(
        "found in: {}",
        locations.iter().copied().collect::<Vec<_>>().join(", ")
    ));
    for (outcome, (n, why)) in outcomes.iter().rev() {
        reasons.push(format!("{n} request(s) {}: {why}", outcome.as_str()));
    }
    if !waf.is_empty() {
        reasons.push(format!(
            "WAF rules matched: {}",
            waf.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    reasons.push(if internal {
        "the client is inside the network with no forwarded address: a health check, an agent or the application itself"
            .into()
    } else {
        "the client is outside the network".into()
    });
    reasons.push(format!(
        "seen by: {}",
        sensors.iter().copied().collect::<Vec<_>>().join(", ")
    ));
    let mut origins: Vec<Origin> = session.iter().map(|o| o.origin).collect();
    origins.sort();
    origins.dedup();
    SessionSummary {
        best,
        grade,
        internal,
        reasons,
        victims: victims.into_iter().collect(),
        clouds: clouds.into_iter().collect(),
        first: session.first().map(|o| o.time).unwrap_or_default(),
        last: session.last().map(|o| o.time).unwrap_or_default(),
        origins,
    }
}
