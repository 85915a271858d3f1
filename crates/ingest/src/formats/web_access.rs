//! nginx and Apache HTTP Server access logs, one request per line:
//!
//! - Common Log Format: `host ident user [time] "request" status bytes`
//!   (<https://httpd.apache.org/docs/current/logs.html#common>);
//! - Combined: CLF + `"referer" "user-agent"`
//!   (<https://httpd.apache.org/docs/current/logs.html#combined>, nginx's predefined `combined`,
//!   <https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format>);
//! - nginx `main` as Amazon Linux and the nginx packages configure it: combined +
//!   `"$http_x_forwarded_for"`;
//! - Apache `vhost_combined` / `vhost_common`: `%v:%p ` before the CLF fields.
//!
//! Fields after the ones above (custom formats append `$request_time`, upstream times, …) are
//! ignored; the quoted field right after the user agent is read as `X-Forwarded-For`.
//!
//! The request line is kept as sent: an absolute-form target (`GET http://169.254.169.254/… HTTP/1.1`,
//! what a client sends to a forward proxy) keeps its scheme and authority in `target`, and `host`
//! is taken from that authority (userinfo removed); a `CONNECT` target is an authority and is also
//! the `host`. A request line without protocol (HTTP/0.9, `GET /`) is read as method and target.
//! A request line that is not `METHOD target [protocol]` (TLS sent to a plain-HTTP port,
//! `"\x16\x03\x01…"`, scanners' binary probes, `"-"` or an empty line for a connection closed
//! before its request) is still a well-formed log record: it becomes an event with no method and
//! the request field, as logged, as its target. Only lines whose log fields cannot be read are
//! diagnostics.
//!
//! Quoted fields are unescaped as the servers escape them: nginx writes `"`, `\` and bytes outside
//! printable ASCII as `\xHH`; Apache writes `\"`, `\\`, C escapes (`\n`, `\t`, …) and `\xhh`. When
//! the unescaped bytes are not UTF-8 (binary probes) the field is kept as logged.
//!
//! The remote address must be an IP address (or `-`): a line with a host name (Apache's
//! `HostnameLookups On`) is a diagnostic, since the request's source could not be used. A line
//! holding bytes that are not UTF-8 is a diagnostic too: both servers escape such bytes, so raw
//! ones mean a damaged file. Blank lines are not records.
//!
//! The server that wrote the file is not in its lines: shipping layouts put it in the path
//! (`hosts/<instance-id>/var/log/nginx/access.log`), which formats do not see, so `observer` is
//! left unset here.

use std::borrow::Cow;
use std::net::IpAddr;

use credtrail_event::metadata::{may_concern, metadata_path_host};
use credtrail_event::{Body, Event, FileId, HttpRequest, HttpSensor, Origin, Timestamp};

use super::{Format, ParsedFile, Window};
use crate::diagnostic::{excerpt, Reason};

pub struct WebAccess;

const NAME: &str = "web-access";

/// How many lines sniffing reads.
const SNIFF_LINES: usize = 8;

impl Format for WebAccess {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "nginx and Apache access logs: common, combined, nginx `main` (+ X-Forwarded-For), Apache vhost_combined; absolute-URI (proxy) and CONNECT requests kept as logged, binary request lines read as their raw target"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let first = head.iter().position(|b| !b.is_ascii_whitespace());
        if matches!(first.map(|i| head[i]), None | Some(b'{' | b'[' | b'#')) {
            return false;
        }
        lines(head)
            .filter(|(_, l)| !is_blank(l))
            .take(SNIFF_LINES)
            .any(|(_, l)| std::str::from_utf8(l).is_ok_and(|text| parse_line(text).is_ok()))
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        parse_lines(buf, file, out, None);
    }

    /// A request whose request line and referer cannot hold a metadata target (see
    /// `Line::may_concern_detectors`) is only counted: no detector acts on a web server's
    /// request otherwise. `ssrf-metadata-request` reads the target's query and path and the
    /// headers (here the referer) with `find_targets`; `metadata-proxy-abuse` and
    /// `imds-access-failures` read the target and its host with `canonical_target`, and the
    /// proxy rule also a metadata path with no host (`metadata_path_host`); the other rules read
    /// network-sensor requests, flows, process and CloudTrail events only.
    fn parse_for_detectors(&self, buf: &[u8], file: FileId, window: &Window, out: &mut ParsedFile) {
        parse_lines(buf, file, out, Some(window));
    }
}

/// [`Format::parse`], or with the scan's window [`Format::parse_for_detectors`].
fn parse_lines(buf: &[u8], file: FileId, out: &mut ParsedFile, quiet: Option<&Window>) {
    if quiet.is_none() {
        out.events.reserve(memchr::memchr_iter(b'\n', buf).count() + 1);
    }
    // Validated once: a file that is UTF-8 as a whole is UTF-8 line by line.
    let whole = std::str::from_utf8(buf).ok();
    let mut index = 0u64;
    for (line, span) in line_spans(buf) {
        let raw = &buf[span.clone()];
        if is_blank(raw) {
            continue;
        }
        index += 1;
        out.records += 1;
        let text = match whole {
            Some(whole) => Ok(&whole[span]),
            None => std::str::from_utf8(raw),
        };
        let parsed = match text {
            Ok(text) => read_line(text),
            Err(e) => Err((
                Reason::InvalidUtf8,
                format!(
                    "line holds bytes that are not UTF-8 (at byte {}); nginx and Apache escape such bytes, so the file is damaged",
                    e.valid_up_to()
                ),
            )),
        };
        match parsed {
            Ok(fields) if quiet.is_some() && !fields.may_concern_detectors() => {
                if quiet.is_some_and(|w| w.contains(&fields.time)) {
                    out.quiet += 1;
                    // No detector reads the request, but "first seen" asks when its client's
                    // network first appeared: that survives as a sighting.
                    if let Some(client) = fields.original_client() {
                        out.sight(client, fields.time);
                    }
                }
            }
            Ok(fields) => out.events.push(Event {
                time: fields.time,
                origin: Origin { file, line, index },
                body: Body::HttpRequest(Box::new(fields.request())),
            }),
            Err((reason, detail)) => out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(raw))),
        }
    }
}

type Failure = (Reason, String);

fn malformed(detail: impl Into<String>) -> Failure {
    (Reason::MissingField, detail.into())
}

/// The lines of `buf` with their 1-based numbers, without `\n` or a trailing `\r`. A last line
/// without `\n` is included.
pub(super) fn lines(buf: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    line_spans(buf).map(move |(number, span)| (number, &buf[span]))
}

/// [`lines`] as byte ranges of `buf`.
fn line_spans(buf: &[u8]) -> impl Iterator<Item = (u64, std::ops::Range<usize>)> + '_ {
    let mut start = 0usize;
    let mut number = 0u64;
    std::iter::from_fn(move || {
        if start >= buf.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |i| start + i);
        let line_end = if end > start && buf[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let span = start..line_end;
        start = end + 1;
        number += 1;
        Some((number, span))
    })
}

pub(super) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// A cursor over the fields of one line.
struct Fields<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Fields<'a> {
    fn skip_spaces(&mut self) {
        while self.s.as_bytes().get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.s.as_bytes().get(self.i).copied()
    }

    /// The next space-separated word.
    fn word(&mut self) -> Option<&'a str> {
        self.skip_spaces();
        let rest = &self.s.as_bytes()[self.i..];
        let len = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        let start = self.i;
        self.i += len;
        (len > 0).then(|| &self.s[start..start + len])
    }

    /// The next `[…]` field, without the brackets.
    fn bracketed(&mut self) -> Result<&'a str, Failure> {
        if self.peek() != Some(b'[') {
            return Err(malformed(
                "expected the request time in brackets (`[10/Oct/2000:13:55:36 -0700]`)",
            ));
        }
        let start = self.i + 1;
        let len = memchr::memchr(b']', &self.s.as_bytes()[start..])
            .ok_or_else(|| malformed("the request time's `[` is never closed (truncated line?)"))?;
        self.i += len + 2;
        Ok(&self.s[start..start + len])
    }

    /// The next `"…"` field, without the quotes and still escaped. A backslash escapes the byte
    /// after it (Apache's `\"`; nginx writes `\x22`, which needs no special case).
    fn quoted(&mut self, what: &str) -> Result<&'a str, Failure> {
        if self.peek() != Some(b'"') {
            return Err(malformed(format!("expected the quoted {what}")));
        }
        let bytes = self.s.as_bytes();
        let start = self.i + 1;
        let mut j = start;
        while let Some(k) = memchr::memchr2(b'\\', b'"', bytes.get(j..).unwrap_or_default()) {
            j += k;
            if bytes[j] == b'"' {
                self.i = j + 1;
                return Ok(&self.s[start..j]);
            }
            j += 2;
        }
        Err(malformed(format!(
            "the quoted {what} is never closed (truncated line?)"
        )))
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }
}

/// One line's fields, checked but still escaped: what [`parse_line`] builds a request from.
struct Line<'a> {
    time: Timestamp,
    vhost: Option<&'a str>,
    client: Option<IpAddr>,
    request_line: &'a str,
    status: Option<u16>,
    response_bytes: Option<u64>,
    referer: &'a str,
    user_agent: &'a str,
    forwarded_for: &'a str,
}

/// One line → the request's time and the request.
fn parse_line(text: &str) -> Result<(Timestamp, HttpRequest), Failure> {
    read_line(text).map(|line| (line.time, line.request()))
}

/// One line → its fields, every check of [`parse_line`] made, nothing allocated.
fn read_line(text: &str) -> Result<Line<'_>, Failure> {
    let mut f = Fields { s: text, i: 0 };
    let mut words = [""; 5];
    let mut count = 0;
    while count < words.len() && f.peek().is_some_and(|b| b != b'[') {
        if let Some(word) = f.word() {
            words[count] = word;
            count += 1;
        }
    }
    // `host ident user` (CLF) or `vhost:port host ident user` (vhost_combined).
    let (vhost, addr) = match &words[..count] {
        [addr, _ident, _user] => (None, *addr),
        [vhost, addr, _ident, _user] => (Some(*vhost), *addr),
        _ if f.peek() == Some(b'[') => {
            return Err(malformed(format!(
                "expected `remote_addr ident user [time]`, optionally after `vhost:port`; found {count} field(s) before the time"
            )))
        }
        _ => {
            return Err(malformed(
                "expected `remote_addr ident user [time]`, optionally after `vhost:port`; no `[time]` among the first fields",
            ))
        }
    };
    let client = match addr {
        "-" => None,
        a => Some(parse_ip(a).ok_or_else(|| malformed(format!("remote address {a:?} is not an IP address")))?),
    };
    let time_text = f.bracketed()?;
    let time =
        parse_clf_time(time_text).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;
    let request_line = f.quoted("request line")?;
    let status = match f.word() {
        None => return Err(malformed("the status is missing")),
        Some("-") => None,
        Some(s) => Some(
            s.parse::<u16>()
                .ok()
                .filter(|_| s.len() <= 3)
                .ok_or_else(|| malformed(format!("status {s:?} is not a number")))?,
        ),
    };
    let response_bytes = match f.word() {
        None => return Err(malformed("the response size is missing")),
        Some("-") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| malformed(format!("response size {s:?} is not a number")))?,
        ),
    };
    let (mut referer, mut user_agent, mut forwarded_for) = ("", "", "");
    if f.peek() == Some(b'"') {
        referer = f.quoted("referer")?;
        if f.at_end() {
            return Err(malformed(
                "a referer without the user agent that follows it in the combined format",
            ));
        }
        user_agent = f.quoted("user agent")?;
        if f.peek() == Some(b'"') {
            forwarded_for = f.quoted("X-Forwarded-For")?;
        }
    }
    Ok(Line {
        time,
        vhost,
        client,
        request_line,
        status,
        response_bytes,
        referer,
        user_agent,
        forwarded_for,
    })
}

impl Line<'_> {
    fn request(&self) -> HttpRequest {
        let (method, target) = split_request(self.request_line);
        let mut request = HttpRequest::new(HttpSensor::WebServer, target);
        request.host = host_of_target(method.as_deref(), &request.target);
        request.method = method;
        request.client = self.client;
        request.server_port = self
            .vhost
            .and_then(|v| v.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok());
        request.status = self.status;
        request.response_bytes = self.response_bytes;
        request.user_agent = value(self.user_agent);
        request.forwarded_for = value(self.forwarded_for);
        if let Some(referer) = value(self.referer) {
            request.headers.push(("Referer".to_string(), referer));
        }
        request
    }

    /// Whether a detector may act on this request: see [`WebAccess::parse_for_detectors`].
    /// [`HttpRequest::original_client`] without building the request: the first
    /// `X-Forwarded-For` address, else the client.
    fn original_client(&self) -> Option<std::net::IpAddr> {
        value(self.forwarded_for)
            .as_deref()
            .and_then(|xff| xff.split(',').next())
            .and_then(|first| first.trim().parse().ok())
            .or(self.client)
    }

    fn may_concern_detectors(&self) -> bool {
        // Unescaping can make anything of `\x..` (a full-width digit, a `%`), and `may_concern`
        // holds for any text with a `\`; without one, `unescape` keeps each field as logged, so
        // the target, its parts and the referer the detectors read are parts of these fields.
        if may_concern(self.request_line) || may_concern(self.referer) {
            return true;
        }
        // The proxy-abuse rule assumes the metadata host for a metadata path without a Host.
        // The target starts the request line or follows its first space (`split_request`), and
        // `metadata_path_host` tests prefixes without a space, `?` or `#`, so a text that starts
        // with the target passes it when the target's path does.
        let line = self.request_line;
        metadata_path_host(line).is_some()
            || line
                .split_once(' ')
                .is_some_and(|(_, rest)| metadata_path_host(rest).is_some())
    }
}

/// An address as servers log it: IPv4, IPv6, or IPv6 in brackets.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    text.parse().ok()
}

/// A quoted field's value: `-` and empty are absent.
fn value(field: &str) -> Option<String> {
    match field {
        "" | "-" => None,
        f => Some(unescape(f).into_owned()),
    }
}

/// Undoes nginx's and Apache's log escaping (`\xHH`, `\"`, `\\`, C escapes). Text that does not
/// unescape to UTF-8 is kept as logged.
pub(super) fn unescape(field: &str) -> Cow<'_, str> {
    if !field.contains('\\') {
        return Cow::Borrowed(field);
    }
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let (byte, used) = match b[i + 1] {
            b'x' | b'X' => match (b.get(i + 2).and_then(hex), b.get(i + 3).and_then(hex)) {
                (Some(h), Some(l)) => (h << 4 | l, 4),
                _ => (b'\\', 1),
            },
            b'"' => (b'"', 2),
            b'\\' => (b'\\', 2),
            b'n' => (b'\n', 2),
            b'r' => (b'\r', 2),
            b't' => (b'\t', 2),
            b'b' => (0x08, 2),
            b'v' => (0x0b, 2),
            _ => (b'\\', 1),
        };
        out.push(byte);
        i += used;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(field),
    }
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// `METHOD target [HTTP/x.y]` → (method, target). Anything else → (None, the field as logged).
fn split_request(field: &str) -> (Option<String>, String) {
    if field == "-" || field.is_empty() {
        return (None, String::new());
    }
    let text = unescape(field);
    let Some((method, rest)) = text.split_once(' ') else {
        return (None, field.to_string());
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return (None, field.to_string());
    }
    let target = match rest.rsplit_once(' ') {
        Some((target, protocol)) if protocol.starts_with("HTTP/") => target,
        _ => rest,
    };
    (Some(method.to_string()), target.to_string())
}

/// RFC 9110 token characters: what a method is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The host a request target names: a `CONNECT` target (authority form) whole, an absolute-form
/// target's authority; `None` for origin-form targets.
pub(super) fn host_of_target(method: Option<&str>, target: &str) -> Option<String> {
    match method {
        Some(m) if m.eq_ignore_ascii_case("CONNECT") => Some(target.to_string()).filter(|t| !t.is_empty()),
        _ => absolute_form_host(target).map(str::to_string),
    }
}

/// The host of an absolute-form target (`http://user@169.254.169.254:80/latest` →
/// `169.254.169.254:80`): the authority without userinfo. `None` for origin-form targets.
pub(super) fn absolute_form_host(target: &str) -> Option<&str> {
    // The scheme is what precedes the first `://`, so it is the run of scheme characters at the
    // start, followed by `://` (a `:` ends the run).
    let b = target.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let scheme_len = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    let rest = target[scheme_len..].strip_prefix("://")?;
    // `\` ends the authority too: WHATWG URL parsers (and so many HTTP clients) treat it as `/`.
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (!host.is_empty()).then_some(host)
}

/// `10/Oct/2000:13:55:36 -0700` (`$time_local`, Apache `%t`) → UTC.
pub(super) fn parse_clf_time(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' '
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &b[range];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(&b[3..6]))? as i64 + 1;
    let (day, year) = (num(0..2)?, num(7..11)?);
    let (hour, minute, second) = (num(12..14)?, num(15..17)?, num(18..20)?);
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (off_h, off_m) = (num(22..24)?, num(24..26)?);
    if off_h > 23 || off_m > 59 {
        return None;
    }
    // Local time less its offset is UTC.
    Some(
        Timestamp::from_utc_civil(year, month, day, hour, minute, second)?
            .plus_seconds(-sign * (off_h * 3600 + off_m * 60)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> HttpRequest {
        parse_line(text).map(|(_, r)| r).expect("a good line")
    }

    #[test]
    fn clf_times_are_utc() {
        let t = parse_clf_time("10/Oct/2000:13:55:36 -0700").expect("a time");
        assert_eq!(t.to_string(), "2000-10-10T20:55:36Z");
        let t = parse_clf_time("29/Feb/2024:00:00:00 +0530").expect("a leap day");
        assert_eq!(t.to_string(), "2024-02-28T18:30:00Z");
        let t = parse_clf_time("01/Jan/1970:00:00:00 +0000").expect("the epoch");
        assert_eq!(t.millis(), 0);
        for bad in [
            "29/Feb/2023:00:00:00 +0000",
            "31/Apr/2024:00:00:00 +0000",
            "10/Oct/2000:24:00:00 +0000",
            "10/Oct/2000:13:55:36",
            "10/Okt/2000:13:55:36 +0000",
            "10/Oct/2000:13:55:36 0700",
            "2000-10-10T13:55:36Z",
            "",
        ] {
            assert!(parse_clf_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn request_lines() {
        assert_eq!(split_request("GET / HTTP/1.1"), (Some("GET".into()), "/".into()));
        assert_eq!(
            split_request("GET /index.html"),
            (Some("GET".into()), "/index.html".into())
        );
        assert_eq!(split_request("GET /a b HTTP/1.0"), (Some("GET".into()), "/a b".into()));
        assert_eq!(split_request("-"), (None, String::new()));
        assert_eq!(
            split_request("\\x16\\x03\\x01\\x00\\xA5"),
            (None, "\\x16\\x03\\x01\\x00\\xA5".into())
        );
        assert_eq!(split_request("GET"), (None, "GET".into()));
        assert_eq!(
            split_request("GET /?q=\\x22x\\x22 HTTP/1.1"),
            (Some("GET".into()), "/?q=\"x\"".into())
        );
    }

    #[test]
    fn hosts_of_absolute_targets() {
        assert_eq!(
            absolute_form_host("http://169.254.169.254/latest/"),
            Some("169.254.169.254")
        );
        assert_eq!(absolute_form_host("HTTP://a.example:8080"), Some("a.example:8080"));
        assert_eq!(
            absolute_form_host("http://good.example@169.254.169.254/x"),
            Some("169.254.169.254")
        );
        assert_eq!(
            absolute_form_host("http://[fd00:ec2::254]/latest"),
            Some("[fd00:ec2::254]")
        );
        assert_eq!(absolute_form_host("/?url=http://169.254.169.254/"), None);
        assert_eq!(absolute_form_host("http:///x"), None);
    }

    #[test]
    fn unescaping() {
        assert_eq!(unescape(r"a\x22b\x5Cc"), "a\"b\\c");
        assert_eq!(unescape(r#"Mozilla \"x\" \\ y"#), "Mozilla \"x\" \\ y");
        assert_eq!(unescape(r"caf\xC3\xA9"), "café");
        // Not UTF-8 once unescaped: kept as logged.
        assert_eq!(unescape(r"\xFF\xFE"), r"\xFF\xFE");
        assert_eq!(unescape(r"end\"), r"end\");
        assert_eq!(unescape(r"\xZZ"), r"\xZZ");
    }

    #[test]
    fn formats() {
        let r = line(r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#);
        assert_eq!(
            (r.method.as_deref(), r.target.as_str(), r.status, r.response_bytes),
            (Some("GET"), "/apache_pb.gif", Some(200), Some(2326))
        );
        let r = line(r#"www.example.com:443 ::1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 304 - "-" "curl/8""#);
        assert_eq!(
            (r.server_port, r.client, r.response_bytes),
            (Some(443), "::1".parse().ok(), None)
        );
        assert_eq!(r.user_agent.as_deref(), Some("curl/8"));
        let r = line(
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1" 200 12 "-" "x" "203.0.113.9, 10.0.0.7" rt=0.001"#,
        );
        assert_eq!(r.host.as_deref(), Some("169.254.169.254"));
        assert_eq!(r.target, "http://169.254.169.254/latest/meta-data/");
        assert_eq!(r.forwarded_for.as_deref(), Some("203.0.113.9, 10.0.0.7"));
        let r =
            line(r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "CONNECT 169.254.169.254:80 HTTP/1.1" 400 0 "-" "-""#);
        assert_eq!(
            (r.host.as_deref(), r.user_agent.as_deref()),
            (Some("169.254.169.254:80"), None)
        );
    }
}
