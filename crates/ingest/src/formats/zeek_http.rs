//! Zeek `http.log`, in both of Zeek's log encodings:
//!
//! - the ASCII writer's TSV: `#separator`, `#set_separator`, `#empty_field`, `#unset_field`,
//!   `#path`, `#open`, `#fields`, `#types` header lines, then one tab-separated record per line,
//!   then `#close` (<https://docs.zeek.org/en/master/log-formats.html>). Field order is read from
//!   `#fields`; a file may hold several header blocks (rotated logs concatenated), each with its
//!   own order. Values are unescaped (`\xHH`, `\\`); the unset marker (`-`) is an absent value
//!   and the empty marker (`(empty)`) an empty one;
//! - JSON (`LogAscii::use_json`, or the JSON writer), one object per line with dotted keys
//!   (`"id.orig_h"`) or, as some shippers rewrite them, a nested `"id"` object; `ts` as epoch
//!   seconds (number or text), ISO 8601, or epoch milliseconds (`JSON::TS_MILLIS`, told apart by
//!   size).
//!
//! Field meanings: <https://docs.zeek.org/en/master/scripts/base/protocols/http/main.zeek.html>.
//! `uri` is the request target as sent (absolute form when the client spoke to a proxy); `host` is
//! the `Host` header, or when there is none the authority an absolute-form or `CONNECT` `uri` names;
//! `proxied` lists the proxy headers Zeek saw (`X-FORWARDED-FOR -> 203.0.113.9`): each becomes a
//! header, and X-Forwarded-For also `forwarded_for`.
//!
//! Zeek writes other logs in the same encodings. Sniffing takes only http.log: a TSV file whose
//! header says `#path http` (or whose `#fields` are http.log's), a JSON file whose first record has
//! http.log's fields. Inside a file read as `zeek-http`, records of another log (a header block
//! with another `#path` and other fields, a JSON record whose `_path` is not `http`) are counted as
//! read and skipped without a diagnostic: they are valid records of logs credtrail reads
//! elsewhere, not damage. A JSON record with neither `_path` nor any http.log field is a
//! diagnostic. A data line before any `#fields` header cannot be read and is a diagnostic.

use std::borrow::Cow;
use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, HttpRequest, HttpSensor, Origin, Timestamp};
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::web_access::{host_of_target, is_blank, lines};
use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};

pub struct ZeekHttp;

const NAME: &str = "zeek-http";

/// How many JSON lines sniffing tries.
const SNIFF_LINES: usize = 8;

impl Format for ZeekHttp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Zeek http.log: TSV with #fields headers (several blocks per file allowed) or JSON lines; records of other Zeek logs in the same file are counted and skipped"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let head = trim_start(head);
        if let Some(header) = first_tsv_header(head) {
            return header.is_http();
        }
        // A Zeek JSON record always carries `ts` (has_zeek_id requires it).
        if head.starts_with(b"{") && super::mentions(head, b"\"ts\"") {
            return lines(head)
                .filter(|(_, l)| !is_blank(l))
                .take(SNIFF_LINES)
                .filter_map(|(_, l)| sonic_rs::from_slice::<RawJson>(l).ok())
                .any(|raw| raw.has_zeek_id() && raw.http_kind() == Kind::Http);
        }
        false
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut header = Header::default();
        let mut index = 0u64;
        for (line, raw) in lines(buf) {
            if is_blank(raw) {
                continue;
            }
            if raw.starts_with(b"#") {
                header.read(raw);
                continue;
            }
            index += 1;
            out.records += 1;
            let origin = Origin { file, line, index };
            let parsed = if raw.starts_with(b"{") {
                json_record(raw)
            } else {
                tsv_record(&header, raw)
            };
            match parsed {
                Ok(Some((time, request))) => out.events.push(Event {
                    time,
                    origin,
                    body: Body::HttpRequest(Box::new(request)),
                }),
                Ok(None) => {}
                Err((reason, detail)) => {
                    out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(raw)))
                }
            }
        }
    }
}

pub(super) type Failure = (Reason, String);
/// A record's time and request; `None` for a record of another Zeek log.
type Parsed = Option<(Timestamp, HttpRequest)>;

pub(super) fn malformed(detail: impl Into<String>) -> Failure {
    (Reason::MissingField, detail.into())
}

// ---------------------------------------------------------------------------------------------
// TSV

/// Where each field http.log needs sits in the current `#fields`.
#[derive(Debug, Default)]
struct Columns {
    count: usize,
    ts: Option<usize>,
    orig_h: Option<usize>,
    resp_h: Option<usize>,
    resp_p: Option<usize>,
    trans_depth: Option<usize>,
    method: Option<usize>,
    host: Option<usize>,
    uri: Option<usize>,
    referrer: Option<usize>,
    user_agent: Option<usize>,
    origin: Option<usize>,
    response_body_len: Option<usize>,
    status_code: Option<usize>,
    proxied: Option<usize>,
}

impl Columns {
    fn new(names: &[&str]) -> Self {
        let at = |name: &str| names.iter().position(|n| *n == name);
        Columns {
            count: names.len(),
            ts: at("ts"),
            orig_h: at("id.orig_h"),
            resp_h: at("id.resp_h"),
            resp_p: at("id.resp_p"),
            trans_depth: at("trans_depth"),
            method: at("method"),
            host: at("host"),
            uri: at("uri"),
            referrer: at("referrer"),
            user_agent: at("user_agent"),
            origin: at("origin"),
            response_body_len: at("response_body_len"),
            status_code: at("status_code"),
            proxied: at("proxied"),
        }
    }

    /// http.log's own fields (conn.log, dns.log, files.log have none of these together).
    fn look_http(&self) -> bool {
        self.trans_depth.is_some() && (self.uri.is_some() || self.method.is_some() || self.status_code.is_some())
    }
}

/// The current header block.
#[derive(Debug)]
pub(super) struct Header {
    pub(super) separator: Vec<u8>,
    set_separator: Vec<u8>,
    empty: Vec<u8>,
    pub(super) unset: Vec<u8>,
    pub(super) path: Option<Vec<u8>>,
    /// The field names of `#fields`, for the other Zeek logs read from the same encoding.
    pub(super) names: Option<Vec<String>>,
    columns: Option<Columns>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            separator: b"\t".to_vec(),
            set_separator: b",".to_vec(),
            empty: b"(empty)".to_vec(),
            unset: b"-".to_vec(),
            path: None,
            names: None,
            columns: None,
        }
    }
}

impl Header {
    /// Reads one `#` line. `#separator` starts a new block.
    pub(super) fn read(&mut self, line: &[u8]) {
        if let Some(value) = line.strip_prefix(b"#separator ") {
            *self = Header::default();
            let sep = unescape_bytes(value);
            if !sep.is_empty() {
                self.separator = sep.into_owned();
            }
            return;
        }
        let parts: Vec<&[u8]> = split(line, &self.separator).collect();
        let (name, value) = (
            parts.first().copied().unwrap_or_default(),
            parts.get(1).copied().unwrap_or_default(),
        );
        match name {
            b"#set_separator" => self.set_separator = unescape_bytes(value).into_owned(),
            b"#empty_field" => self.empty = unescape_bytes(value).into_owned(),
            b"#unset_field" => self.unset = unescape_bytes(value).into_owned(),
            b"#path" => self.path = Some(value.to_vec()),
            b"#fields" => {
                let names: Vec<&str> = parts[1..]
                    .iter()
                    .map(|n| std::str::from_utf8(n).unwrap_or(""))
                    .collect();
                self.columns = Some(Columns::new(&names));
                self.names = Some(names.iter().map(|n| n.to_string()).collect());
            }
            // `#open`, `#close`, `#types` and anything newer: nothing to read.
            _ => {}
        }
    }

    fn is_http(&self) -> bool {
        match (&self.path, &self.columns) {
            (Some(path), _) if path == b"http" => true,
            (_, Some(columns)) => columns.look_http(),
            _ => false,
        }
    }
}

/// Splits on a multi-byte separator.
pub(super) fn split<'a>(line: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memmem::find(r, sep) {
            Some(i) if !sep.is_empty() => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            _ => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Undoes the ASCII writer's escaping: `\xHH` and `\\`.
fn unescape_bytes(value: &[u8]) -> Cow<'_, [u8]> {
    if !value.contains(&b'\\') {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match (value[i], value.get(i + 1)) {
            (b'\\', Some(b'x')) => match (value.get(i + 2).and_then(hex), value.get(i + 3).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 4;
                }
                _ => {
                    out.push(b'\\');
                    i += 1;
                }
            },
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// One TSV field's text: `None` when unset; unescaped; kept as logged when unescaping yields
/// bytes that are not UTF-8.
/// A TSV data line's fields, checked as every Zeek log's are (UTF-8, as many as `#fields`
/// declares), and its `ts` column read as the record's time.
pub(super) fn tsv_fields<'a>(
    header: &'a Header,
    count: usize,
    ts: Option<usize>,
    raw: &'a [u8],
) -> Result<(Vec<&'a [u8]>, Timestamp), Failure> {
    if std::str::from_utf8(raw).is_err() {
        return Err((
            Reason::InvalidUtf8,
            "line holds bytes that are not UTF-8; Zeek escapes such bytes, so the file is damaged".to_string(),
        ));
    }
    let fields: Vec<&[u8]> = split(raw, &header.separator).collect();
    if fields.len() != count {
        return Err(malformed(format!(
            "{} fields where `#fields` declares {count}",
            fields.len()
        )));
    }
    let Some(ts) = ts.and_then(|i| text(header, fields[i])) else {
        return Err(malformed("record has no ts"));
    };
    let time = parse_epoch(&ts).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read ts {ts:?}")))?;
    Ok((fields, time))
}

/// `head` without its leading whitespace.
pub(super) fn trim_start(head: &[u8]) -> &[u8] {
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    &head[start..]
}

/// The first header block of a TSV Zeek log (`head` opens with `#separator`), read up to its
/// `#fields`; `None` for anything else.
pub(super) fn first_tsv_header(head: &[u8]) -> Option<Header> {
    if !head.starts_with(b"#separator ") {
        return None;
    }
    let mut header = Header::default();
    for (_, line) in lines(head) {
        if !line.starts_with(b"#") {
            break;
        }
        header.read(line);
        if header.names.is_some() {
            break;
        }
    }
    Some(header)
}

pub(super) fn text(header: &Header, raw: &[u8]) -> Option<String> {
    if raw == header.unset.as_slice() {
        return None;
    }
    if raw == header.empty.as_slice() {
        return Some(String::new());
    }
    let unescaped = unescape_bytes(raw);
    match std::str::from_utf8(&unescaped) {
        Ok(s) => Some(s.to_string()),
        Err(_) => Some(String::from_utf8_lossy(raw).into_owned()),
    }
}

fn tsv_record(header: &Header, raw: &[u8]) -> Result<Parsed, Failure> {
    let Some(columns) = &header.columns else {
        return Err(malformed(
            "data line before any `#fields` header: its field order is unknown",
        ));
    };
    if !header.is_http() {
        return Ok(None);
    }
    let (fields, time) = tsv_fields(header, columns.count, columns.ts, raw)?;
    let get = |at: Option<usize>| at.and_then(|i| text(header, fields[i]));
    let mut request = HttpRequest::new(HttpSensor::NetworkSensor, get(columns.uri).unwrap_or_default());
    request.client = ip(get(columns.orig_h), "id.orig_h")?;
    request.server = ip(get(columns.resp_h), "id.resp_h")?;
    request.server_port = number(get(columns.resp_p), "id.resp_p")?;
    request.method = get(columns.method).filter(|m| !m.is_empty());
    request.host = get(columns.host).filter(|h| !h.is_empty());
    request.status = number(get(columns.status_code), "status_code")?;
    request.response_bytes = number(get(columns.response_body_len), "response_body_len")?;
    request.user_agent = get(columns.user_agent).filter(|u| !u.is_empty());
    let proxied: Vec<String> = match columns.proxied.map(|i| fields[i]) {
        Some(raw) if raw != header.unset.as_slice() && raw != header.empty.as_slice() => {
            split(raw, &header.set_separator)
                .filter_map(|item| text(header, item))
                .collect()
        }
        _ => Vec::new(),
    };
    finish(&mut request, get(columns.referrer), get(columns.origin), &proxied);
    Ok(Some((time, request)))
}

/// What TSV and JSON records share once their fields are read.
fn finish(request: &mut HttpRequest, referrer: Option<String>, origin: Option<String>, proxied: &[String]) {
    if request.host.is_none() {
        request.host = host_of_target(request.method.as_deref(), &request.target);
    }
    if let Some(referrer) = referrer.filter(|r| !r.is_empty()) {
        request.headers.push(("Referer".to_string(), referrer));
    }
    if let Some(origin) = origin.filter(|o| !o.is_empty()) {
        request.headers.push(("Origin".to_string(), origin));
    }
    // `proxied` items are `NAME -> value` (http/main.zeek: `fmt("%s -> %s", name, value)`).
    for item in proxied {
        let (name, value) = item.split_once(" -> ").unwrap_or((item.as_str(), ""));
        if name.eq_ignore_ascii_case("X-FORWARDED-FOR") && request.forwarded_for.is_none() {
            request.forwarded_for = Some(value.to_string());
        }
        request.headers.push((name.to_string(), value.to_string()));
    }
}

pub(super) fn ip(value: Option<String>, field: &str) -> Result<Option<IpAddr>, Failure> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| malformed(format!("{field} {v:?} is not an IP address")))
        })
        .transpose()
}

pub(super) fn number<T: std::str::FromStr>(value: Option<String>, field: &str) -> Result<Option<T>, Failure> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| malformed(format!("{field} {v:?} is not a number in range")))
        })
        .transpose()
}

/// Epoch seconds with an optional fraction (`1789344411.745940`) → milliseconds, truncated.
pub(super) fn parse_epoch(text: &str) -> Option<Timestamp> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let (negative, int) = match int.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, int),
    };
    if int.is_empty()
        || int.len() > 12
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let seconds: i64 = int.parse().ok()?;
    let millis: i64 = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n, d| n * 10 + i64::from(d - b'0'));
    let total = seconds * 1000 + millis;
    Some(Timestamp::from_millis(if negative { -total } else { total }))
}

// ---------------------------------------------------------------------------------------------
// JSON

/// A number or a text, as JSON writers disagree on which a field is.
#[derive(Debug)]
pub(super) enum Scalar {
    Int(i128),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(i128::from(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(i128::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Text(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Scalar {
    pub(super) fn text(&self) -> String {
        match self {
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Text(t) => t.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
struct RawId {
    orig_h: Option<String>,
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
    #[serde(rename = "id.resp_h")]
    resp_h: Option<String>,
    #[serde(rename = "id.resp_p")]
    resp_p: Option<Scalar>,
    id: Option<RawId>,
    trans_depth: Option<IgnoredAny>,
    method: Option<String>,
    host: Option<String>,
    uri: Option<String>,
    referrer: Option<String>,
    user_agent: Option<String>,
    origin: Option<String>,
    response_body_len: Option<Scalar>,
    status_code: Option<Scalar>,
    proxied: Option<Vec<String>>,
    /// The sensor's name, as Zeek's JSON streaming and Corelight add it.
    #[serde(rename = "_system_name")]
    system_name: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Http,
    /// `_path` names another log.
    OtherLog,
    /// No `_path` and no http.log field.
    Unknown,
}

impl RawJson {
    fn http_kind(&self) -> Kind {
        match self.path.as_deref() {
            Some("http") => Kind::Http,
            Some(_) => Kind::OtherLog,
            None if self.trans_depth.is_some()
                || self.method.is_some()
                || self.uri.is_some()
                || self.status_code.is_some() =>
            {
                Kind::Http
            }
            None => Kind::Unknown,
        }
    }

    fn has_zeek_id(&self) -> bool {
        self.ts.is_some() && (self.uid.is_some() || self.orig_h.is_some() || self.id.is_some())
    }
}

/// Decodes one Zeek JSON record of `log` (`http.log`, `conn.log`), telling non-UTF-8 bytes,
/// broken JSON and a record of the wrong shape apart.
pub(super) fn decode_json<'de, T: serde::Deserialize<'de>>(raw: &'de [u8], log: &str) -> Result<T, Failure> {
    sonic_rs::from_slice(raw).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        if std::str::from_utf8(raw).is_err() {
            (
                Reason::InvalidUtf8,
                format!("record holds bytes that are not UTF-8: {first}"),
            )
        } else if e.is_syntax() || e.is_eof() {
            (Reason::InvalidJson, format!("invalid JSON: {first}"))
        } else {
            malformed(format!("not a Zeek {log} record: {first}"))
        }
    })
}

fn json_record(raw: &[u8]) -> Result<Parsed, Failure> {
    let rec: RawJson = decode_json(raw, "http.log")?;
    match rec.http_kind() {
        Kind::Http => {}
        Kind::OtherLog => return Ok(None),
        Kind::Unknown => {
            return Err(malformed(
                "not a Zeek http.log record: no `_path` and none of trans_depth, method, uri, status_code",
            ))
        }
    }
    let ts = rec.ts.as_ref().ok_or_else(|| malformed("record has no ts"))?;
    let time = json_time(ts).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read ts {:?}", ts.text())))?;
    let id = rec.id.unwrap_or_default();
    let mut request = HttpRequest::new(HttpSensor::NetworkSensor, rec.uri.unwrap_or_default());
    request.client = ip(rec.orig_h.or(id.orig_h), "id.orig_h")?;
    request.server = ip(rec.resp_h.or(id.resp_h), "id.resp_h")?;
    request.server_port = number(rec.resp_p.or(id.resp_p).map(|s| s.text()), "id.resp_p")?;
    request.method = rec.method.filter(|m| !m.is_empty());
    request.host = rec.host.filter(|h| !h.is_empty());
    request.status = number(rec.status_code.map(|s| s.text()), "status_code")?;
    request.response_bytes = number(rec.response_body_len.map(|s| s.text()), "response_body_len")?;
    request.user_agent = rec.user_agent.filter(|u| !u.is_empty());
    request.observer = rec.system_name;
    finish(
        &mut request,
        rec.referrer,
        rec.origin,
        rec.proxied.as_deref().unwrap_or_default(),
    );
    Ok(Some((time, request)))
}

/// Epoch seconds above this are taken for milliseconds (`JSON::TS_MILLIS`): as seconds they
/// would be past the year 5000.
const MILLIS_FROM: f64 = 1e11;

pub(super) fn json_time(ts: &Scalar) -> Option<Timestamp> {
    match ts {
        Scalar::Int(n) if (*n as f64) >= MILLIS_FROM => i64::try_from(*n).ok().map(Timestamp::from_millis),
        Scalar::Int(n) => i64::try_from(*n).ok()?.checked_mul(1000).map(Timestamp::from_millis),
        Scalar::Float(f) if !f.is_finite() || f.abs() >= 1e15 => None,
        Scalar::Float(f) if *f >= MILLIS_FROM => Some(Timestamp::from_millis(f.floor() as i64)),
        // Rounded to microseconds first: 1789344411.745940 is 1789344411.7459399… as a float.
        Scalar::Float(f) => Some(Timestamp::from_millis(((f * 1e6).round() as i64).div_euclid(1000))),
        Scalar::Text(t) => parse_epoch(t).or_else(|| Timestamp::parse_rfc3339(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds() {
        assert_eq!(
            parse_epoch("1789344411.745940").map(Timestamp::millis),
            Some(1_789_344_411_745)
        );
        assert_eq!(
            parse_epoch("1789344411").map(Timestamp::millis),
            Some(1_789_344_411_000)
        );
        assert_eq!(parse_epoch("1.5").map(Timestamp::millis), Some(1_500));
        for bad in ["", "-", "1e9", "17893444x1.0", "1.2.3", "99999999999999999999"] {
            assert!(parse_epoch(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn json_times() {
        let f = |s: Scalar| json_time(&s).map(Timestamp::millis);
        assert_eq!(f(Scalar::Float(1_789_344_411.745_94)), Some(1_789_344_411_745));
        assert_eq!(f(Scalar::Float(1_789_344_411.001)), Some(1_789_344_411_001));
        assert_eq!(f(Scalar::Int(1_789_344_411)), Some(1_789_344_411_000));
        assert_eq!(f(Scalar::Int(1_789_344_411_745)), Some(1_789_344_411_745));
        assert_eq!(
            f(Scalar::Text("2026-09-14T00:00:24.123456Z".into())),
            Some(1_789_344_024_123)
        );
        assert_eq!(f(Scalar::Float(f64::NAN)), None);
        assert_eq!(f(Scalar::Text("soon".into())), None);
    }

    #[test]
    fn headers_and_separators() {
        let mut h = Header::default();
        h.read(b"#separator \\x09");
        assert_eq!(h.separator, b"\t");
        h.read(b"#set_separator\t,");
        h.read(b"#path\thttp");
        h.read(b"#fields\tts\tuid\ttrans_depth\turi");
        assert!(h.is_http());
        assert_eq!(h.columns.as_ref().map(|c| (c.count, c.uri)), Some((4, Some(3))));
        h.read(b"#separator |");
        assert!(h.columns.is_none());
        h.read(b"#path|conn");
        h.read(b"#fields|ts|uid|id.orig_h|proto");
        assert!(!h.is_http());
        assert_eq!(unescape_bytes(b"a\\x09b\\\\c"), &b"a\tb\\c"[..]);
    }
}
