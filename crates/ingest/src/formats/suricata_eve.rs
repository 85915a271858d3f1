//! Suricata EVE JSON (`eve.json`), one event per line
//! (<https://docs.suricata.io/en/latest/output/eve/eve-json-format.html>).
//!
//! credtrail reads the HTTP transactions in it:
//!
//! - `event_type: "http"`: one HTTP transaction (`http.hostname`, `http.url` as sent, so in
//!   absolute form for a request to a proxy, `http.http_method`, `http.http_user_agent`,
//!   `http.status`, `http.length` = response body size, `http.http_refer`, `http.xff` or a
//!   top-level `xff` when X-Forwarded-For logging is on, `http.request_headers` when
//!   `dump-all-headers` is on);
//! - `event_type: "alert"` with an `http` object (`alert.signature`, `signature_id`, `category`,
//!   `action`): the same transaction plus the rule that matched, carried as `waf` (Suricata is
//!   the sensor's IDS/IPS: `action: "blocked"` → `BLOCK`, otherwise `ALLOW` with the rule as a
//!   non-terminating `ALERT` match).
//!
//! An alert and the `http` event of the same transaction (same `flow_id` and `tx_id`) in one file
//! are one request: the later record's rule and missing fields are merged into the first one's
//! event rather than counted twice. Alerts raised on a server-to-client packet
//! (`direction: "to_client"`) have their addresses swapped back so that `client` is the one that
//! sent the request; Suricata 7's `flow.src_ip`/`flow.dest_ip` are preferred when present.
//!
//! Every other event type (`flow`, `dns`, `tls`, `fileinfo`, `stats`, `anomaly`, …) and alerts
//! without an `http` object are valid records that credtrail does not need: they are counted as
//! read and produce neither an event nor a diagnostic. A line that is not JSON, has no
//! `event_type`, or is an `http` event without a readable `http` object, time or address is a
//! diagnostic. `timestamp` is ISO 8601 with Suricata's colon-less offset
//! (`2024-01-15T10:30:00.123456+0000`); a zone-less one is taken as UTC. The top-level `host`
//! (the configured sensor name) becomes `observer`.

use std::collections::HashMap;
use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, HttpRequest, HttpSensor, Origin, Timestamp, WafDecision, WafRuleMatch};
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::web_access::{host_of_target, is_blank, lines};
use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};

pub struct SuricataEve;

const NAME: &str = "suricata-eve";

/// How many lines sniffing tries.
const SNIFF_LINES: usize = 8;

impl Format for SuricataEve {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Suricata eve.json: http events and alerts carrying an http object (merged per transaction); other event types are counted as read and skipped"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
        if head.get(start) != Some(&b'{') {
            return false;
        }
        lines(&head[start..])
            .filter(|(_, l)| !is_blank(l))
            .take(SNIFF_LINES)
            .filter_map(|(_, l)| sonic_rs::from_slice::<Envelope>(l).ok())
            .any(|e| {
                e.event_type.is_some()
                    && e.timestamp.is_some()
                    && (e.flow_id.is_some() || e.src_ip.is_some() || e.stats.is_some() || e.in_iface.is_some())
            })
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        // (flow_id, tx_id) → index in `out.events` of the transaction's event.
        let mut transactions: HashMap<(u64, u64), usize> = HashMap::new();
        let mut index = 0u64;
        for (line, raw) in lines(buf) {
            if is_blank(raw) {
                continue;
            }
            index += 1;
            out.records += 1;
            let origin = Origin { file, line, index };
            match record(raw) {
                Ok(None) => {}
                Ok(Some(tx)) => {
                    let existing = tx.key.and_then(|k| transactions.get(&k).copied());
                    match existing.and_then(|i| out.events.get_mut(i)) {
                        Some(Event {
                            body: Body::HttpRequest(first),
                            ..
                        }) => merge(first, tx.request, tx.complete),
                        _ => {
                            if let Some(key) = tx.key {
                                transactions.insert(key, out.events.len());
                            }
                            out.events.push(Event {
                                time: tx.time,
                                origin,
                                body: Body::HttpRequest(Box::new(tx.request)),
                            });
                        }
                    }
                }
                Err((reason, detail)) => {
                    out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(raw)))
                }
            }
        }
    }
}

type Failure = (Reason, String);

fn malformed(detail: impl Into<String>) -> Failure {
    (Reason::MissingField, detail.into())
}

/// The fields every EVE record has; enough to decide what a line is.
#[derive(Deserialize)]
struct Envelope {
    event_type: Option<String>,
    timestamp: Option<IgnoredAny>,
    flow_id: Option<IgnoredAny>,
    src_ip: Option<IgnoredAny>,
    stats: Option<IgnoredAny>,
    in_iface: Option<IgnoredAny>,
    http: Option<IgnoredAny>,
}

/// A number, or a number written as text (older Suricata wrote `status` as a string).
#[derive(Debug)]
struct Number(Option<u64>, String);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(Some(v), v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(u64::try_from(v).ok(), v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(None, v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Number, E> {
                Ok(Number(v.trim().parse().ok(), v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
struct RawFlow {
    src_ip: Option<String>,
    dest_ip: Option<String>,
    dest_port: Option<Number>,
}

#[derive(Deserialize)]
struct RawHeader {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawHttp {
    hostname: Option<String>,
    url: Option<String>,
    http_method: Option<String>,
    http_user_agent: Option<String>,
    http_refer: Option<String>,
    status: Option<Number>,
    length: Option<Number>,
    xff: Option<String>,
    request_headers: Option<Vec<RawHeader>>,
}

#[derive(Deserialize)]
struct RawAlert {
    action: Option<String>,
    signature_id: Option<Number>,
    signature: Option<String>,
}

#[derive(Deserialize)]
struct RawRecord {
    timestamp: Option<String>,
    flow_id: Option<Number>,
    tx_id: Option<Number>,
    src_ip: Option<String>,
    src_port: Option<Number>,
    dest_ip: Option<String>,
    dest_port: Option<Number>,
    direction: Option<String>,
    flow: Option<RawFlow>,
    xff: Option<String>,
    /// The sensor name (`sensor-name` in suricata.yaml).
    host: Option<String>,
    http: Option<RawHttp>,
    alert: Option<RawAlert>,
}

/// One HTTP transaction read from a line.
struct Transaction {
    time: Timestamp,
    key: Option<(u64, u64)>,
    request: HttpRequest,
    /// Read from an `http` event, written once the transaction is complete; an alert's `http`
    /// object is what was known when the rule fired (often before the response).
    complete: bool,
}

fn json_failure(raw: &[u8], e: &sonic_rs::Error) -> Failure {
    let first = e.to_string().lines().next().unwrap_or_default().to_string();
    if std::str::from_utf8(raw).is_err() {
        (
            Reason::InvalidUtf8,
            format!("record holds bytes that are not UTF-8: {first}"),
        )
    } else if e.is_syntax() || e.is_eof() {
        (Reason::InvalidJson, format!("invalid JSON: {first}"))
    } else {
        malformed(format!("not an EVE record: {first}"))
    }
}

/// A line → its HTTP transaction, `None` for the event types credtrail does not read.
fn record(raw: &[u8]) -> Result<Option<Transaction>, Failure> {
    let envelope: Envelope = sonic_rs::from_slice(raw).map_err(|e| json_failure(raw, &e))?;
    let wanted = match envelope.event_type.as_deref() {
        None => return Err(malformed("record has no event_type")),
        Some("http") => {
            if envelope.http.is_none() {
                return Err(malformed("http event without an `http` object"));
            }
            true
        }
        Some("alert") => envelope.http.is_some(),
        Some(_) => false,
    };
    if !wanted {
        return Ok(None);
    }
    let rec: RawRecord = sonic_rs::from_slice(raw).map_err(|e| json_failure(raw, &e))?;
    let time_text = rec
        .timestamp
        .as_deref()
        .ok_or_else(|| malformed("record has no timestamp"))?;
    let time =
        parse_time(time_text).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;
    let http = rec.http.unwrap_or_default();
    let flow = rec.flow.unwrap_or_default();

    // Client and server of the transaction.
    let to_client = rec.direction.as_deref() == Some("to_client");
    let (mut client, mut server, mut server_port) = (rec.src_ip, rec.dest_ip, rec.dest_port);
    if to_client {
        (client, server, server_port) = (server, client, rec.src_port);
    }
    if flow.src_ip.is_some() && flow.dest_ip.is_some() {
        (client, server) = (flow.src_ip, flow.dest_ip);
        server_port = flow.dest_port.or(server_port);
    }

    let mut request = HttpRequest::new(HttpSensor::NetworkSensor, http.url.unwrap_or_default());
    request.method = http.http_method.filter(|m| !m.is_empty());
    request.host = http
        .hostname
        .filter(|h| !h.is_empty())
        .or_else(|| host_of_target(request.method.as_deref(), &request.target));
    request.client = ip(client, "src_ip")?;
    request.server = ip(server, "dest_ip")?;
    request.server_port = port(server_port)?;
    request.status = match http.status {
        None => None,
        Some(Number(Some(n), _)) if n <= u64::from(u16::MAX) => Some(n as u16),
        Some(Number(_, text)) => return Err(malformed(format!("http.status {text:?} is not a status code"))),
    };
    request.response_bytes = match http.length {
        None => None,
        Some(Number(Some(n), _)) => Some(n),
        Some(Number(None, text)) => return Err(malformed(format!("http.length {text:?} is not a size"))),
    };
    request.user_agent = http.http_user_agent.filter(|u| !u.is_empty());
    request.observer = rec.host.filter(|h| !h.is_empty());
    for h in http.request_headers.unwrap_or_default() {
        if let (Some(name), Some(value)) = (h.name, h.value) {
            request.headers.push((name, value));
        }
    }
    if let Some(referer) = http.http_refer.filter(|r| !r.is_empty()) {
        if request.header("Referer").is_none() {
            request.headers.push(("Referer".to_string(), referer));
        }
    }
    request.forwarded_for = http
        .xff
        .or(rec.xff)
        .or_else(|| request.header("X-Forwarded-For").map(str::to_string))
        .filter(|x| !x.is_empty());
    if let Some(alert) = rec.alert {
        request.waf = Some(decision(alert));
    }
    let key = match (rec.flow_id, rec.tx_id) {
        (Some(Number(Some(flow), _)), Some(Number(Some(tx), _))) => Some((flow, tx)),
        _ => None,
    };
    let complete = envelope.event_type.as_deref() == Some("http");
    Ok(Some(Transaction {
        time,
        key,
        request,
        complete,
    }))
}

fn ip(value: Option<String>, field: &str) -> Result<Option<IpAddr>, Failure> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| malformed(format!("{field} {v:?} is not an IP address")))
        })
        .transpose()
}

fn port(value: Option<Number>) -> Result<Option<u16>, Failure> {
    match value {
        None => Ok(None),
        Some(Number(Some(n), _)) if n <= u64::from(u16::MAX) => Ok(Some(n as u16)),
        Some(Number(_, text)) => Err(malformed(format!("server port {text:?} is not a port number"))),
    }
}

/// An alert as the decision of the sensor's rule engine.
fn decision(alert: RawAlert) -> WafDecision {
    let blocked = alert.action.as_deref() == Some("blocked");
    let sid = alert.signature_id.map(|n| n.1);
    let rule = match (sid, alert.signature) {
        (Some(sid), Some(sig)) => format!("sid:{sid} {sig}"),
        (Some(sid), None) => format!("sid:{sid}"),
        (None, Some(sig)) => sig,
        (None, None) => "unnamed rule".to_string(),
    };
    WafDecision {
        action: if blocked { "BLOCK" } else { "ALLOW" }.to_string(),
        terminating_rule: blocked.then(|| rule.clone()),
        matches: vec![WafRuleMatch {
            rule,
            action: if blocked { "BLOCK" } else { "ALERT" }.to_string(),
            location: None,
            data: None,
        }],
        web_acl: None,
    }
}

/// The later record of a transaction into the first one's request, and the alert's rule. The
/// fields of a complete `http` event replace an alert's snapshot; an alert only fills in what is
/// missing.
fn merge(first: &mut HttpRequest, later: HttpRequest, later_complete: bool) {
    fn fill<T>(slot: &mut Option<T>, value: Option<T>, replace: bool) {
        if slot.is_none() || (replace && value.is_some()) {
            *slot = value;
        }
    }
    if first.target.is_empty() || (later_complete && !later.target.is_empty()) {
        first.target = later.target;
    }
    fill(&mut first.method, later.method, later_complete);
    fill(&mut first.host, later.host, later_complete);
    fill(&mut first.client, later.client, later_complete);
    fill(&mut first.forwarded_for, later.forwarded_for, later_complete);
    fill(&mut first.server, later.server, later_complete);
    fill(&mut first.server_port, later.server_port, later_complete);
    fill(&mut first.status, later.status, later_complete);
    fill(&mut first.response_bytes, later.response_bytes, later_complete);
    fill(&mut first.user_agent, later.user_agent, later_complete);
    fill(&mut first.observer, later.observer, later_complete);
    if first.headers.is_empty() || (later_complete && !later.headers.is_empty()) {
        first.headers = later.headers;
    }
    match (&mut first.waf, later.waf) {
        (Some(waf), Some(more)) => {
            if more.action == "BLOCK" && waf.action != "BLOCK" {
                waf.action = more.action;
                waf.terminating_rule = more.terminating_rule;
            }
            for m in more.matches {
                if !waf.matches.contains(&m) {
                    waf.matches.push(m);
                }
            }
        }
        (slot @ None, more) => *slot = more,
        (Some(_), None) => {}
    }
}

/// `2024-01-15T10:30:00.123456+0000` (Suricata writes the offset without a colon).
fn parse_time(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text).or_else(|| {
        let b = text.as_bytes();
        let n = b.len();
        let colonless = n > 5 && matches!(b[n - 5], b'+' | b'-') && b[n - 4..].iter().all(u8::is_ascii_digit);
        colonless
            .then(|| format!("{}:{}", &text[..n - 2], &text[n - 2..]))
            .and_then(|t| Timestamp::parse_rfc3339(&t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suricata_times() {
        let t = |s: &str| parse_time(s).map(|t| t.to_string());
        assert_eq!(
            t("2024-01-15T10:30:00.123456+0000").as_deref(),
            Some("2024-01-15T10:30:00.123Z")
        );
        assert_eq!(
            t("2017-04-07T22:24:37.251547+0100").as_deref(),
            Some("2017-04-07T21:24:37.251Z")
        );
        assert_eq!(
            t("2024-01-15T10:30:00.5-0230").as_deref(),
            Some("2024-01-15T13:00:00.500Z")
        );
        assert_eq!(
            t("2009-11-24T21:27:09.534255").as_deref(),
            Some("2009-11-24T21:27:09.534Z")
        );
        assert_eq!(t("2024-01-15T10:30:00Z").as_deref(), Some("2024-01-15T10:30:00Z"));
        assert_eq!(t("2024-13-15T10:30:00+0000"), None);
        assert_eq!(t("+0000"), None);
        assert_eq!(t("yesterday"), None);
    }
}
