//! Zeek `conn.log`, in the same two encodings as `http.log` (see [`super::zeek_http`], whose
//! header, unescaping and time helpers this format shares):
//!
//! - the ASCII writer's TSV with `#separator`, `#unset_field`, `#path`, `#fields`… header lines
//!   (<https://docs.zeek.org/en/master/log-formats.html>); field order is read from each block's
//!   `#fields`, and a file may hold several blocks (rotated logs concatenated);
//! - JSON lines with dotted keys (`"id.orig_h"`) or a nested `"id"` object; `ts` as epoch seconds
//!   (number or text), ISO 8601, or epoch milliseconds (`JSON::TS_MILLIS`).
//!
//! Field meanings: <https://docs.zeek.org/en/master/scripts/base/protocols/conn/main.zeek.html>
//! (`Conn::Info`). One record is one connection: `id.orig_h`/`id.orig_p` the originator (the
//! client), `id.resp_h`/`id.resp_p` the responder (the server), `proto`, `orig_bytes` and
//! `resp_bytes` the payload bytes each side sent, `orig_pkts` + `resp_pkts` the packets, and
//! `conn_state` the summary of the TCP (or flow) state Zeek saw.
//!
//! A connection counts as `rejected` (refused or never answered) when its `conn_state` says the
//! responder never took part in a handshake the sensor saw, per `Conn::Info$conn_state`:
//!
//! - `REJ`: connection attempt rejected: the responder answered the SYN with a RST;
//! - `S0`: connection attempt seen, no reply at all (for UDP and ICMP too: nothing came back);
//! - `RSTOS0`: the originator sent a SYN then a RST, never having seen a SYN-ACK: it gave up on
//!   an unanswered attempt;
//! - `SH`: the originator sent a SYN then a FIN, never having seen a SYN-ACK ("half" open): again
//!   no answer;
//! - `RSTRH`: the responder sent a SYN-ACK then a RST and no SYN of the (purported) originator was
//!   seen, and `SHR`: the responder sent a SYN-ACK then a FIN, likewise without the originator's
//!   SYN. In both no handshake completed on the wire the sensor watched, so no request could have
//!   been served over the connection (typically backscatter or one-sided capture); the state is
//!   kept for the analyst.
//!
//! Every other state (`SF`, `S1`, `S2`, `S3`, `RSTO`, `RSTR`, `OTH`) saw both sides talk.
//!
//! Sniffing takes only conn.log: a TSV file whose first header block says `#path conn` (or has
//! `conn_state` among its `#fields`), a JSON file whose first Zeek record is a conn.log record.
//! Inside a file read as `zeek-conn`, records of another Zeek log (another `#path`, a JSON
//! `_path` other than `conn`) are counted as read and skipped without a diagnostic, as
//! `zeek-http` does for non-http records. A JSON record with neither `_path` nor any conn.log
//! field, and a data line before any `#fields` header, are diagnostics.

use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, FlowSensor, NetFlow, Origin, Timestamp};
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::web_access::{is_blank, lines};
use super::zeek_http::{
    decode_json, first_tsv_header, ip, json_time, malformed, number, text, trim_start, tsv_fields, Failure, Header,
    Scalar,
};
use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};

pub struct ZeekConn;

const NAME: &str = "zeek-conn";

/// How many JSON lines sniffing tries.
const SNIFF_LINES: usize = 8;

/// The `conn_state` values that mean refused or never answered (see the module comment).
const REJECTED_STATES: [&str; 6] = ["REJ", "S0", "RSTOS0", "RSTRH", "SH", "SHR"];

impl Format for ZeekConn {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Zeek conn.log: TSV with #fields headers (several blocks per file allowed) or JSON lines; connections as flows, records of other Zeek logs in the same file are counted and skipped"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let head = trim_start(head);
        if let Some(header) = first_tsv_header(head) {
            return header.names.is_some() && block_is_conn(&header);
        }
        // A Zeek JSON record always carries `ts` (has_zeek_id requires it).
        if head.starts_with(b"{") && super::mentions(head, b"\"ts\"") {
            // The first Zeek record decides: a file of http.log records that carries a stray
            // conn record stays zeek-http's.
            return lines(head)
                .filter(|(_, l)| !is_blank(l))
                .take(SNIFF_LINES)
                .filter_map(|(_, l)| sonic_rs::from_slice::<RawJson>(l).ok())
                .find(RawJson::has_zeek_id)
                .is_some_and(|raw| raw.kind() == Kind::Conn);
        }
        false
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut header = Header::default();
        let mut columns: Option<Columns> = None;
        let mut index = 0u64;
        for (line, raw) in lines(buf) {
            if is_blank(raw) {
                continue;
            }
            if raw.starts_with(b"#") {
                header.read(raw);
                columns = header.names.as_deref().map(Columns::new);
                continue;
            }
            index += 1;
            out.records += 1;
            let origin = Origin { file, line, index };
            let parsed = if raw.starts_with(b"{") {
                json_record(raw)
            } else {
                tsv_record(&header, columns.as_ref(), raw)
            };
            match parsed {
                Ok(Some((time, flow))) => out.events.push(Event {
                    time,
                    origin,
                    body: Body::NetFlow(Box::new(flow)),
                }),
                Ok(None) => {}
                Err((reason, detail)) => {
                    out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(raw)))
                }
            }
        }
    }
}

/// A record's time and flow; `None` for a record of another Zeek log.
type Parsed = Option<(Timestamp, NetFlow)>;

/// Whether the current header block is conn.log's.
fn block_is_conn(header: &Header) -> bool {
    match (&header.path, &header.names) {
        (Some(path), _) => path == b"conn",
        // conn.log's own field: no other Zeek log has `conn_state`.
        (None, Some(names)) => names.iter().any(|n| n == "conn_state"),
        (None, None) => false,
    }
}

/// The values a conn.log record yields, however it was encoded.
#[derive(Default)]
struct Values {
    orig_h: Option<String>,
    orig_p: Option<String>,
    resp_h: Option<String>,
    resp_p: Option<String>,
    proto: Option<String>,
    orig_bytes: Option<String>,
    resp_bytes: Option<String>,
    orig_pkts: Option<String>,
    resp_pkts: Option<String>,
    conn_state: Option<String>,
    observer: Option<String>,
}

fn required_ip(value: Option<String>, field: &str) -> Result<IpAddr, Failure> {
    ip(value, field)?.ok_or_else(|| malformed(format!("record has no {field}")))
}

fn flow(v: Values) -> Result<NetFlow, Failure> {
    let client = required_ip(v.orig_h, "id.orig_h")?;
    let server = required_ip(v.resp_h, "id.resp_h")?;
    let client_port = number(v.orig_p, "id.orig_p")?;
    let server_port = number(v.resp_p, "id.resp_p")?;
    let orig_pkts: Option<u64> = number(v.orig_pkts, "orig_pkts")?;
    let resp_pkts: Option<u64> = number(v.resp_pkts, "resp_pkts")?;
    // One side's count alone is what is known; both absent is unknown.
    let packets = match (orig_pkts, resp_pkts) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    let state = v.conn_state.filter(|s| !s.is_empty());
    let rejected = state.as_deref().is_some_and(|s| REJECTED_STATES.contains(&s));
    Ok(NetFlow {
        sensor: FlowSensor::ZeekConn,
        observer: v.observer.filter(|o| !o.is_empty()),
        client,
        client_port,
        server,
        server_port,
        protocol: v.proto.filter(|p| !p.is_empty()),
        bytes_to_server: number(v.orig_bytes, "orig_bytes")?,
        bytes_to_client: number(v.resp_bytes, "resp_bytes")?,
        packets,
        state,
        rejected,
        end: None,
        account: None,
        interface: None,
        instance: None,
        packet_client: None,
        packet_server: None,
    })
}

// ---------------------------------------------------------------------------------------------
// TSV

/// Where each field conn.log needs sits in the current `#fields`.
struct Columns {
    count: usize,
    ts: Option<usize>,
    orig_h: Option<usize>,
    orig_p: Option<usize>,
    resp_h: Option<usize>,
    resp_p: Option<usize>,
    proto: Option<usize>,
    orig_bytes: Option<usize>,
    resp_bytes: Option<usize>,
    orig_pkts: Option<usize>,
    resp_pkts: Option<usize>,
    conn_state: Option<usize>,
}

impl Columns {
    fn new(names: &[String]) -> Self {
        let at = |name: &str| names.iter().position(|n| n == name);
        Columns {
            count: names.len(),
            ts: at("ts"),
            orig_h: at("id.orig_h"),
            orig_p: at("id.orig_p"),
            resp_h: at("id.resp_h"),
            resp_p: at("id.resp_p"),
            proto: at("proto"),
            orig_bytes: at("orig_bytes"),
            resp_bytes: at("resp_bytes"),
            orig_pkts: at("orig_pkts"),
            resp_pkts: at("resp_pkts"),
            conn_state: at("conn_state"),
        }
    }
}

fn tsv_record(header: &Header, columns: Option<&Columns>, raw: &[u8]) -> Result<Parsed, Failure> {
    let Some(columns) = columns else {
        return Err(malformed(
            "data line before any `#fields` header: its field order is unknown",
        ));
    };
    if !block_is_conn(header) {
        return Ok(None);
    }
    let (fields, time) = tsv_fields(header, columns.count, columns.ts, raw)?;
    let get = |at: Option<usize>| at.and_then(|i| text(header, fields[i]));
    let flow = flow(Values {
        orig_h: get(columns.orig_h),
        orig_p: get(columns.orig_p),
        resp_h: get(columns.resp_h),
        resp_p: get(columns.resp_p),
        proto: get(columns.proto),
        orig_bytes: get(columns.orig_bytes),
        resp_bytes: get(columns.resp_bytes),
        orig_pkts: get(columns.orig_pkts),
        resp_pkts: get(columns.resp_pkts),
        conn_state: get(columns.conn_state),
        observer: None,
    })?;
    Ok(Some((time, flow)))
}

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Deserialize, Default)]
struct RawId {
    orig_h: Option<String>,
    orig_p: Option<Scalar>,
    resp_h: Option<String>,
    resp_p: Option<Scalar>,
}

#[derive(Deserialize, Default)]
struct RawJson {
    #[serde(rename = "_path")]
    path: Option<String>,
    ts: Option<Scalar>,
    uid: Option<IgnoredAny>,
    #[serde(rename = "id.orig_h")]
    orig_h: Option<String>,
    #[serde(rename = "id.orig_p")]
    orig_p: Option<Scalar>,
    #[serde(rename = "id.resp_h")]
    resp_h: Option<String>,
    #[serde(rename = "id.resp_p")]
    resp_p: Option<Scalar>,
    id: Option<RawId>,
    proto: Option<String>,
    orig_bytes: Option<Scalar>,
    resp_bytes: Option<Scalar>,
    orig_pkts: Option<Scalar>,
    resp_pkts: Option<Scalar>,
    conn_state: Option<String>,
    history: Option<IgnoredAny>,
    missed_bytes: Option<IgnoredAny>,
    /// The sensor's name, as Zeek's JSON streaming and Corelight add it.
    #[serde(rename = "_system_name")]
    system_name: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Conn,
    /// `_path` names another log.
    OtherLog,
    /// No `_path` and no conn.log field.
    Unknown,
}

impl RawJson {
    fn kind(&self) -> Kind {
        match self.path.as_deref() {
            Some("conn") => Kind::Conn,
            Some(_) => Kind::OtherLog,
            None if self.conn_state.is_some()
                || self.orig_bytes.is_some()
                || self.resp_bytes.is_some()
                || self.orig_pkts.is_some()
                || self.resp_pkts.is_some()
                || self.history.is_some()
                || self.missed_bytes.is_some() =>
            {
                Kind::Conn
            }
            None => Kind::Unknown,
        }
    }

    fn has_zeek_id(&self) -> bool {
        self.ts.is_some() && (self.uid.is_some() || self.orig_h.is_some() || self.id.is_some())
    }
}

fn json_record(raw: &[u8]) -> Result<Parsed, Failure> {
    let rec: RawJson = decode_json(raw, "conn.log")?;
    match rec.kind() {
        Kind::Conn => {}
        Kind::OtherLog => return Ok(None),
        Kind::Unknown => {
            return Err(malformed(
                "not a Zeek conn.log record: no `_path` and none of conn_state, orig_bytes, resp_bytes, orig_pkts, resp_pkts, history, missed_bytes",
            ))
        }
    }
    let ts = rec.ts.as_ref().ok_or_else(|| malformed("record has no ts"))?;
    let time = json_time(ts).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read ts {:?}", ts.text())))?;
    let id = rec.id.unwrap_or_default();
    let as_text = |s: Option<Scalar>| s.map(|s| s.text());
    let flow = flow(Values {
        orig_h: rec.orig_h.or(id.orig_h),
        orig_p: as_text(rec.orig_p.or(id.orig_p)),
        resp_h: rec.resp_h.or(id.resp_h),
        resp_p: as_text(rec.resp_p.or(id.resp_p)),
        proto: rec.proto,
        orig_bytes: as_text(rec.orig_bytes),
        resp_bytes: as_text(rec.resp_bytes),
        orig_pkts: as_text(rec.orig_pkts),
        resp_pkts: as_text(rec.resp_pkts),
        conn_state: rec.conn_state,
        observer: rec.system_name,
    })?;
    Ok(Some((time, flow)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_blocks() {
        let mut h = Header::default();
        h.read(b"#separator \\x09");
        h.read(b"#path\tconn");
        h.read(b"#fields\tts\tuid\tid.orig_h\tproto");
        assert!(block_is_conn(&h));
        h.read(b"#separator \\x09");
        h.read(b"#fields\tts\tuid\tid.orig_h\tproto\tconn_state");
        assert!(block_is_conn(&h));
        h.read(b"#separator \\x09");
        h.read(b"#path\thttp");
        h.read(b"#fields\tts\tuid\tconn_state");
        assert!(!block_is_conn(&h));
    }
}
