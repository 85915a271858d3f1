//! Amazon CloudFront standard access logs (legacy, and standard logging v2 in W3C output), one
//! request per tab-separated line, as CloudFront writes them to S3
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html>).
//!
//! A file starts with `#Version: 1.0` and `#Fields: date time x-edge-location sc-bytes c-ip
//! cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie)
//! x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken
//! x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version
//! fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type
//! sc-content-type sc-content-len sc-range-start sc-range-end`. Fields are read by the names of
//! the last `#Fields` line, so files of older generations (fewer fields) and v2 files with chosen
//! fields in a chosen order read alike; a line must have exactly as many fields as its
//! `#Fields` names. Lines with no `#Fields` before them (a header stripped by a pipeline) are read
//! in the legacy order above, and need at least the first 12 fields.
//!
//! `-` is an empty value. CloudFront URL-encodes the header values it logs (a space in the user
//! agent is `%20`): `cs(User-Agent)`, `cs(Referer)` and `cs(Cookie)` are decoded once.
//! `cs-uri-stem` and `cs-uri-query` are kept as logged: they are the request target, already
//! percent-encoded by the client, and decoding them could turn an encoded `?`, `/` or `#` into
//! structure; the metadata canonicaliser undoes percent-encoding itself.
//!
//! Mapping to [`HttpRequest`] (sensor `Cdn`):
//!
//! - time from `date` and `time` (UTC; when CloudFront finished responding), or v2's
//!   `timestamp` (epoch seconds) or `timestamp(ms)`;
//! - `target` is `cs-uri-stem`, plus `?` and `cs-uri-query` when there is a query; `method` is
//!   `cs-method`;
//! - `host` is `x-host-header` (the viewer's `Host` header: an alternate domain name when one is
//!   used), or `cs(Host)` (the distribution's domain) when the log has no `x-host-header`;
//! - `headers` are the request headers the log carries, as `Host`, `User-Agent`, `Referer` and
//!   `Cookie`; `user_agent` is also set;
//! - `client` is `c-ip` (the viewer, or the proxy in front of it), `forwarded_for` is
//!   `x-forwarded-for` (the viewer behind that proxy);
//! - `status` is `sc-status` (`000`, a viewer that closed the connection first, is none);
//!   `response_bytes` is `sc-bytes`;
//! - `observer` is `cs(Host)`, the distribution (`d111111abcdef8.cloudfront.net`).

use std::borrow::Cow;
use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, HttpRequest, HttpSensor, Origin, Timestamp};

use super::alb::{lines, sniff_lines};
use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};

pub struct AwsCloudFront;

const NAME: &str = "aws-cloudfront";

/// The legacy field order, for lines without a `#Fields` header.
const LEGACY_FIELDS: &[&str] = &[
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
];

/// Fields a headerless line needs: through `cs-uri-query`.
const HEADERLESS_MIN_FIELDS: usize = 12;

impl Format for AwsCloudFront {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Amazon CloudFront standard access logs (legacy, and v2 in W3C output): tab-separated with #Version/#Fields headers; plain, .gz, .zst"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        // A `#Fields` header naming CloudFront's own fields (`x-edge-…`, `x-host-header`)…
        let header = sniff_lines(head, 8)
            .take_while(|l| l.first() == Some(&b'#'))
            .filter_map(|l| l.strip_prefix(b"#Fields:"))
            .any(|names| {
                let mut words = names.split(|b| b.is_ascii_whitespace());
                let cloudfront = words
                    .clone()
                    .any(|w| w.starts_with(b"x-edge-") || w == b"x-host-header");
                // RTMP (streaming) distributions logged other fields and no method.
                cloudfront && words.any(|w| w == b"cs-method")
            });
        // …or headerless lines in the legacy order.
        // (Both shapes are tab-separated: a head without a tab is neither.)
        header
            || memchr::memchr(b'\t', head).is_some()
                && sniff_lines(head, 5).any(|line| {
                    let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
                    f.len() >= HEADERLESS_MIN_FIELDS
                        && is_date(f[0])
                        && is_clock(f[1])
                        && f[2].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                        && std::str::from_utf8(f[4]).is_ok_and(|ip| ip.parse::<IpAddr>().is_ok())
                        && !f[5].is_empty()
                        && f[5].iter().all(u8::is_ascii_uppercase)
                })
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut index = 0u64;
        let mut layout: Option<Layout> = None;
        for (line, bytes) in lines(buf) {
            if bytes.first() == Some(&b'#') {
                if let Some(names) = bytes.strip_prefix(b"#Fields:") {
                    let names = String::from_utf8_lossy(names);
                    layout = Some(Layout::new(names.split_whitespace(), true));
                }
                continue;
            }
            index += 1;
            out.records += 1;
            let layout = layout.get_or_insert_with(|| Layout::new(LEGACY_FIELDS.iter().copied(), false));
            let parsed = match std::str::from_utf8(bytes) {
                Ok(text) => layout.parse(text),
                Err(e) => Err((Reason::InvalidUtf8, format!("line holds bytes that are not UTF-8: {e}"))),
            };
            match parsed {
                Ok((time, request)) => out.events.push(Event {
                    time,
                    origin: Origin { file, line, index },
                    body: Body::HttpRequest(Box::new(request)),
                }),
                Err((reason, detail)) => {
                    out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(bytes)))
                }
            }
        }
    }
}

type Failure = (Reason, String);

fn is_date(f: &[u8]) -> bool {
    f.len() == 10
        && f.iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

fn is_clock(f: &[u8]) -> bool {
    f.len() == 8
        && f.iter().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                *b == b':'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// Where each field the mapping reads sits on a line.
struct Layout {
    /// Fields a line must have; with a `#Fields` header, exactly these.
    count: usize,
    exact: bool,
    date: Option<usize>,
    time: Option<usize>,
    timestamp: Option<usize>,
    timestamp_ms: Option<usize>,
    bytes: Option<usize>,
    client: Option<usize>,
    method: Option<usize>,
    distribution: Option<usize>,
    stem: Option<usize>,
    status: Option<usize>,
    referer: Option<usize>,
    user_agent: Option<usize>,
    query: Option<usize>,
    cookie: Option<usize>,
    host_header: Option<usize>,
    forwarded_for: Option<usize>,
}

impl Layout {
    fn new<'a>(names: impl Iterator<Item = &'a str>, exact: bool) -> Layout {
        let names: Vec<&str> = names.collect();
        let at = |name: &str| names.iter().position(|n| n.eq_ignore_ascii_case(name));
        Layout {
            count: if exact { names.len() } else { HEADERLESS_MIN_FIELDS },
            exact,
            date: at("date"),
            time: at("time"),
            timestamp: at("timestamp"),
            timestamp_ms: at("timestamp(ms)"),
            bytes: at("sc-bytes"),
            client: at("c-ip"),
            method: at("cs-method"),
            distribution: at("cs(Host)"),
            stem: at("cs-uri-stem"),
            status: at("sc-status"),
            referer: at("cs(Referer)"),
            user_agent: at("cs(User-Agent)"),
            query: at("cs-uri-query"),
            cookie: at("cs(Cookie)"),
            host_header: at("x-host-header"),
            forwarded_for: at("x-forwarded-for"),
        }
    }

    fn parse(&self, text: &str) -> Result<(Timestamp, HttpRequest), Failure> {
        let f: Vec<&str> = text.split('\t').collect();
        if (self.exact && f.len() != self.count) || f.len() < self.count {
            let expected = if self.exact {
                format!("the {} that #Fields names", self.count)
            } else {
                format!("at least {} (no #Fields header)", self.count)
            };
            return Err((
                Reason::MissingField,
                format!("line has {} tab-separated fields, not {expected}", f.len()),
            ));
        }
        let get = |at: Option<usize>| {
            at.and_then(|i| f.get(i))
                .copied()
                .filter(|v| !v.is_empty() && *v != "-")
        };
        let time = self.time(&get)?;
        let client = match get(self.client) {
            None => None,
            Some(ip) => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| (Reason::MissingField, format!("c-ip {ip:?} is not an IP address")))?,
            ),
        };
        let status = match get(self.status) {
            None | Some("000") => None,
            Some(code) => match code.parse::<u16>() {
                Ok(c @ 100..=999) if code.len() == 3 => Some(c),
                _ => return Err((Reason::MissingField, format!("sc-status {code:?} is not a status code"))),
            },
        };
        let response_bytes = match get(self.bytes) {
            None => None,
            Some(n) => Some(
                n.parse::<u64>()
                    .map_err(|_| (Reason::MissingField, format!("sc-bytes {n:?} is not a number")))?,
            ),
        };
        let stem = get(self.stem).unwrap_or_default();
        let target = match get(self.query) {
            Some(query) => format!("{stem}?{query}"),
            None => stem.to_string(),
        };
        let mut r = HttpRequest::new(HttpSensor::Cdn, target);
        r.method = get(self.method).map(str::to_string);
        r.observer = get(self.distribution).map(str::to_string);
        r.host = get(self.host_header).map(str::to_string).or_else(|| r.observer.clone());
        if let Some(host) = get(self.host_header) {
            r.headers.push(("Host".into(), host.to_string()));
        }
        for (name, at) in [
            ("User-Agent", self.user_agent),
            ("Referer", self.referer),
            ("Cookie", self.cookie),
        ] {
            if let Some(value) = get(at) {
                r.headers.push((name.into(), percent_decode(value).into_owned()));
            }
        }
        r.user_agent = r.header("User-Agent").map(str::to_string);
        r.client = client;
        r.forwarded_for = get(self.forwarded_for).map(str::to_string);
        r.status = status;
        r.response_bytes = response_bytes;
        Ok((time, r))
    }

    fn time<'a>(&self, get: &impl Fn(Option<usize>) -> Option<&'a str>) -> Result<Timestamp, Failure> {
        let bad = |text: String| (Reason::BadTimestamp, format!("cannot read time {text:?}"));
        if let (Some(date), Some(clock)) = (get(self.date), get(self.time)) {
            if !is_date(date.as_bytes()) {
                return Err(bad(format!("{date} {clock}")));
            }
            return Timestamp::parse_rfc3339(&format!("{date}T{clock}Z")).ok_or_else(|| bad(format!("{date} {clock}")));
        }
        let epoch = |text: &str, scale: f64| -> Result<Timestamp, Failure> {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 && v * scale <= 253_402_300_799_999.0 => {
                    Ok(Timestamp::from_millis((v * scale).round() as i64))
                }
                _ => Err(bad(text.to_string())),
            }
        };
        if let Some(ms) = get(self.timestamp_ms) {
            return epoch(ms, 1.0);
        }
        if let Some(s) = get(self.timestamp) {
            return epoch(s, 1000.0);
        }
        Err((
            Reason::MissingField,
            "line has no date and time (nor timestamp) field".into(),
        ))
    }
}

/// Undoes one level of `%XX` escapes; anything that is not one is kept.
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_undoes_one_level_and_keeps_the_rest() {
        assert_eq!(percent_decode("Mozilla/5.0%20(X11)"), "Mozilla/5.0 (X11)");
        assert_eq!(percent_decode("a%2520b"), "a%20b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%FF"), "\u{fffd}");
    }

    #[test]
    fn v2_epoch_timestamps() {
        let layout = Layout::new(["timestamp", "c-ip", "cs-method", "cs-uri-stem"].into_iter(), true);
        let (t, r) = layout.parse("1710930600.5\t192.0.2.1\tGET\t/").unwrap();
        assert_eq!(t.to_string(), "2024-03-20T10:30:00.500Z");
        assert_eq!(r.target, "/");
        let layout = Layout::new(["timestamp(ms)", "c-ip"].into_iter(), true);
        assert_eq!(
            layout.parse("1710930600123\t192.0.2.1").unwrap().0,
            Timestamp(1_710_930_600_123)
        );
        assert!(layout.parse("-5\t192.0.2.1").is_err());
    }
}
