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
//! It also reads the connection summaries:
//!
//! - `event_type: "flow"`: one flow, logged when it ends or times out, as a
//!   [`NetFlow`] (sensor `suricata-flow`): `src_ip`/`src_port` the client, `dest_ip`/`dest_port`
//!   the server, `proto`, `flow.bytes_toserver`, `flow.bytes_toclient`, `flow.pkts_toserver` +
//!   `flow.pkts_toclient`, `flow.state`; the event's time is `flow.start` (the record's
//!   `timestamp` when there is none) and `flow.end` its end. The EVE documentation
//!   (<https://docs.suricata.io/en/latest/output/eve/eve-json-format.html>, "Event type: Flow")
//!   defines `state` as one of `new`, `established`, `closed`, `bypassed` and `reason` (what
//!   ended the flow) as `timeout`, `forced` or `shutdown`; `pkts_toclient` counts the packets the
//!   server sent. A flow is `rejected` (refused or never answered) when the server sent nothing
//!   (`pkts_toclient` 0, or state `new`, which Suricata keeps until it has seen both directions,
//!   with no count to the client), when TCP never got past the client's SYN (`tcp.state`
//!   `syn_sent`), or when the server's only answer was a reset (`tcp.tcp_flags_tc` with RST and
//!   without SYN, where the client did send a SYN: Zeek's `REJ`). `reason` itself says why
//!   Suricata stopped tracking the flow, not whether anyone answered, so it does not decide.
//!
//! Every other event type (`dns`, `tls`, `fileinfo`, `stats`, `anomaly`, …) and alerts without
//! an `http` object are valid records that credtrail does not need: they are counted as read and
//! produce neither an event nor a diagnostic. A line that is not JSON, has no `event_type`, or is
//! an `http` or `flow` event without a readable `http`/`flow` object, time or address is a
//! diagnostic. `timestamp` is ISO 8601 with Suricata's colon-less offset
//! (`2024-01-15T10:30:00.123456+0000`); a zone-less one is taken as UTC. The top-level `host`
//! (the configured sensor name) becomes `observer`.

use std::collections::HashMap;
use std::net::IpAddr;

use credtrail_event::{
    Body, Event, FileId, FlowSensor, HttpRequest, HttpSensor, NetFlow, Origin, Timestamp, WafDecision, WafRuleMatch,
};
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
        "Suricata eve.json: http events and alerts carrying an http object (merged per transaction), flow events as flows; other event types are counted as read and skipped"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
        // Every eve record names its `event_type` (eve-log output, `JsonBuildFileInfo…`).
        if head.get(start) != Some(&b'{') || !super::mentions(head, b"\"event_type\"") {
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
                Ok(Read::Skipped) => {}
                Ok(Read::Flow(time, flow)) => out.events.push(Event {
                    time,
                    origin,
                    body: Body::NetFlow(flow),
                }),
                Ok(Read::Http(tx)) => {
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

/// What one line yields. HTTP transactions are the common case and are moved into their event
/// as they are: boxing them would cost an allocation per line for nothing.
#[allow(clippy::large_enum_variant)]
enum Read {
    Http(Transaction),
    Flow(Timestamp, Box<NetFlow>),
    /// An event type credtrail does not read.
    Skipped,
}

/// A line → its HTTP transaction or flow.
fn record(raw: &[u8]) -> Result<Read, Failure> {
    let envelope: Envelope = sonic_rs::from_slice(raw).map_err(|e| json_failure(raw, &e))?;
    let wanted = match envelope.event_type.as_deref() {
        None => return Err(malformed("record has no event_type")),
        Some("flow") => {
            let (time, flow) = flow_record(raw)?;
            return Ok(Read::Flow(time, Box::new(flow)));
        }
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
        return Ok(Read::Skipped);
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
    Ok(Read::Http(Transaction {
        time,
        key,
        request,
        complete,
    }))
}

#[derive(Deserialize)]
struct RawFlowStats {
    pkts_toserver: Option<Number>,
    pkts_toclient: Option<Number>,
    bytes_toserver: Option<Number>,
    bytes_toclient: Option<Number>,
    start: Option<String>,
    end: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
struct RawTcp {
    /// Flags seen from the client and from the server, as hex (`"1b"`).
    tcp_flags_ts: Option<String>,
    tcp_flags_tc: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
struct RawFlowRecord {
    timestamp: Option<String>,
    src_ip: Option<String>,
    src_port: Option<Number>,
    dest_ip: Option<String>,
    dest_port: Option<Number>,
    proto: Option<String>,
    host: Option<String>,
    flow: Option<RawFlowStats>,
    tcp: Option<RawTcp>,
}

fn count(value: Option<Number>, field: &str) -> Result<Option<u64>, Failure> {
    match value {
        None => Ok(None),
        Some(Number(Some(n), _)) => Ok(Some(n)),
        Some(Number(None, text)) => Err(malformed(format!("{field} {text:?} is not a count"))),
    }
}

fn flow_port(value: Option<Number>, field: &str) -> Result<Option<u16>, Failure> {
    match value {
        None => Ok(None),
        Some(Number(Some(n), _)) if n <= u64::from(u16::MAX) => Ok(Some(n as u16)),
        Some(Number(_, text)) => Err(malformed(format!("{field} {text:?} is not a port number"))),
    }
}

/// TCP flags as Suricata writes them: hex without a prefix.
fn tcp_flags(hex: Option<&str>) -> Option<u8> {
    u8::from_str_radix(hex?, 16).ok()
}

const SYN: u8 = 0x02;
const RST: u8 = 0x04;

/// An `event_type: "flow"` line → its flow.
fn flow_record(raw: &[u8]) -> Result<(Timestamp, NetFlow), Failure> {
    let rec: RawFlowRecord = sonic_rs::from_slice(raw).map_err(|e| json_failure(raw, &e))?;
    let stats = rec
        .flow
        .ok_or_else(|| malformed("flow event without a `flow` object"))?;
    let read_time = |text: &str, field: &str| {
        parse_time(text).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read {field} {text:?}")))
    };
    let time = match (stats.start.as_deref(), rec.timestamp.as_deref()) {
        (Some(start), _) => read_time(start, "flow.start")?,
        (None, Some(timestamp)) => read_time(timestamp, "time")?,
        (None, None) => return Err(malformed("record has no timestamp")),
    };
    let end = stats.end.as_deref().map(|e| read_time(e, "flow.end")).transpose()?;
    let client = ip(rec.src_ip, "src_ip")?.ok_or_else(|| malformed("flow event has no src_ip"))?;
    let server = ip(rec.dest_ip, "dest_ip")?.ok_or_else(|| malformed("flow event has no dest_ip"))?;
    let to_server = count(stats.pkts_toserver, "flow.pkts_toserver")?;
    let to_client = count(stats.pkts_toclient, "flow.pkts_toclient")?;
    let packets = match (to_server, to_client) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    let state = stats.state.filter(|s| !s.is_empty());
    let tcp = rec.tcp.as_ref();
    let unanswered = to_client == Some(0) || (state.as_deref() == Some("new") && to_client.is_none());
    let syn_only = tcp.and_then(|t| t.state.as_deref()) == Some("syn_sent");
    let reset_instead_of_syn_ack = tcp.is_some_and(|t| {
        let client_flags = tcp_flags(t.tcp_flags_ts.as_deref());
        let server_flags = tcp_flags(t.tcp_flags_tc.as_deref());
        client_flags.is_some_and(|f| f & SYN != 0) && server_flags.is_some_and(|f| f & RST != 0 && f & SYN == 0)
    });
    let flow = NetFlow {
        sensor: FlowSensor::SuricataFlow,
        observer: rec.host.filter(|h| !h.is_empty()),
        client,
        client_port: flow_port(rec.src_port, "src_port")?,
        server,
        server_port: flow_port(rec.dest_port, "dest_port")?,
        protocol: rec.proto.filter(|p| !p.is_empty()).map(|p| p.to_ascii_lowercase()),
        bytes_to_server: count(stats.bytes_toserver, "flow.bytes_toserver")?,
        bytes_to_client: count(stats.bytes_toclient, "flow.bytes_toclient")?,
        packets,
        state,
        rejected: unanswered || syn_only || reset_instead_of_syn_ack,
        end,
        account: None,
        interface: None,
        instance: None,
        packet_client: None,
        packet_server: None,
    };
    Ok((time, flow))
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
