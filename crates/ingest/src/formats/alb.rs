//! Elastic Load Balancing access logs, one request per line, as ELB writes them to
//! `AWSLogs/<account>/elasticloadbalancing/<region>/…`:
//!
//! - Application Load Balancer
//!   (<https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html>):
//!   `type time elb client:port target:port request_processing_time target_processing_time
//!   response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//!   "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
//!   "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
//!   "redirect_url" "error_reason" "target:port_list" "target_status_code_list" "classification"
//!   "classification_reason" conn_trace_id`. Fields were appended over the years and AWS says more
//!   may come, so a line needs the first 18 (through `trace_id`) and may have any number after.
//! - Classic Load Balancer
//!   (<https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html>):
//!   `time elb client:port backend:port request_processing_time backend_processing_time
//!   response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
//!   "request" "user_agent" ssl_cipher ssl_protocol`: 15 fields, or 12 in logs written before
//!   `user_agent` and the TLS fields were added.
//!
//! Each line is told apart by its first field: ALB lines start with the request type (`http`,
//! `https`, `h2`, `grpcs`, `ws`, `wss`), Classic lines with the time.
//!
//! Mapping to [`HttpRequest`] (sensor `LoadBalancer`):
//!
//! - `request` is `METHOD URL VERSION`, the URL in absolute form that ELB rebuilds from the
//!   listener's scheme and port and the request's `Host` header (`https://host:443/path?query`).
//!   That absolute form is ELB's notation, not a proxy request, so it is split: `target` is the
//!   origin form (`/path?query`; `/` when the path is empty) and `host` the URL's host without
//!   ELB's port: the client's `Host` header (`Host: 169.254.169.254` shows there). When the URL
//!   has no host, `host` is ALB's `domain_name` (the TLS SNI, which is not the `Host` header and
//!   is otherwise not used). `"- - - "` (a request ELB could not parse, or a TCP listener)
//!   leaves method and target empty.
//! - `client` is the peer (`client:port`, IPv6 with or without brackets); `server` and
//!   `server_port` the target (`-` when no target was reached: WAF block, redirect, fixed
//!   response).
//! - `status` is `elb_status_code`, the status the client received: the target's own when ELB
//!   relayed it, ELB's when ELB answered (403 for a WAF block, 502, 504, 460, …). When the target
//!   answered something else (ELB turns an invalid response into a 502), the target's status is
//!   not kept: `HttpRequest` has one status, and the client-facing one is what an analyst needs.
//!   Only when `elb_status_code` is `-` is `target_status_code` used.
//! - `response_bytes` is `sent_bytes`; `user_agent` (also a `User-Agent` header) the quoted user
//!   agent; `observer` the load balancer (`app/<name>/<id>`, or the Classic name).
//!
//! Quoted fields may hold spaces; a `\"` or `\\` inside is unescaped, and a `"` not followed by a
//! space or the end of the line is read as part of the field.

use std::borrow::Cow;
use std::net::IpAddr;

use credtrail_event::metadata::{may_concern, metadata_path_host};
use credtrail_event::{Body, Event, FileId, HttpRequest, HttpSensor, Origin, Timestamp};

use super::{Format, ParsedFile, Window};
use crate::diagnostic::{excerpt, Reason};

pub struct AwsElb;

const NAME: &str = "aws-elb";

/// The request types ALB logs (`type`, the first field).
const TYPES: &[&str] = &["http", "https", "h2", "grpcs", "ws", "wss"];

/// Fields an ALB line needs: through `trace_id`, the last of the 2016 format.
const ALB_MIN_FIELDS: usize = 18;

impl Format for AwsElb {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Elastic Load Balancing access logs: Application Load Balancer and Classic Load Balancer (S3 layout); plain, .gz, .zst"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        sniff_lines(head, 5).any(|line| {
            // A line opens with the ALB request type (lower-case) or the classic ELB time (a
            // digit): anything else (JSON, a header) is turned down before splitting it.
            let first = line.iter().find(|&&b| b != b' ');
            if !matches!(first, Some(b'a'..=b'z' | b'0'..=b'9')) {
                return false;
            }
            let Ok(text) = std::str::from_utf8(line) else {
                return false;
            };
            let mut f = Vec::new();
            if fields(text, &mut f).is_err() {
                return false;
            }
            let alb = f.len() >= ALB_MIN_FIELDS
                && TYPES.contains(&&*f[0])
                && is_time(&f[1])
                && endpoint(&f[3]).is_ok_and(|e| e.is_some());
            let classic = matches!(f.len(), 12 | 15)
                && is_time(&f[0])
                && endpoint(&f[2]).is_ok_and(|e| e.is_some())
                && endpoint(&f[3]).is_ok();
            alb || classic
        })
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        parse_lines(buf, file, out, None);
    }

    /// A line whose request cannot concern a detector (see `Line::may_concern_detectors`) is
    /// still read and checked in full (the same diagnostics as `parse`), counted in
    /// `ParsedFile::quiet` when its time is in the scan's window, and its client sighted for
    /// first-seen networks, but no `HttpRequest` is built for it.
    ///
    /// What the detectors read of a load balancer's request (`HttpSensor::LoadBalancer`, no
    /// body, no `X-Forwarded-For`, no WAF decision, one header: `User-Agent`):
    ///
    /// - `ssrf-metadata-request`: `find_targets` on the target's query and path (after
    ///   `origin_form`) and on every header but `Host` (here the user agent);
    ///   `required_header` on the headers (a `User-Agent` is never one); its WAF-only path reads
    ///   `waf`, which this parser never sets (ALB's `actions_executed` is not read).
    /// - `metadata-proxy-abuse`: `canonical_target` on the target alone (absolute form) and with
    ///   the host (the URL's authority, else `domain_name`). Its host-less metadata-path branch
    ///   (`metadata_path_host`) is for web servers and CDNs only, and `relayed` for network
    ///   sensors only.
    /// - `imds-access-failures`: `canonical_target` on the target and the host, when there is a
    ///   status; the on-the-wire branch is for network sensors only.
    /// - `imds-access-from-container` reads network-sensor requests only; `activity` (and so
    ///   triage) only the original client and time, which the sighting keeps; `footprint` and the
    ///   other rules read no web request. Status, size, server and observer (and the user agent
    ///   as an alert entity) matter only for a request in which one of the reads above found a
    ///   target: `imds-access-failures` needs a status, but returns without a target.
    fn parse_for_detectors(&self, buf: &[u8], file: FileId, window: &Window, out: &mut ParsedFile) {
        parse_lines(buf, file, out, Some(window));
    }
}

/// [`Format::parse`], or with the scan's window [`Format::parse_for_detectors`].
fn parse_lines(buf: &[u8], file: FileId, out: &mut ParsedFile, quiet: Option<&Window>) {
    let mut index = 0u64;
    // One vector for every line's fields.
    let mut f = Vec::new();
    for (line, bytes) in lines(buf) {
        index += 1;
        out.records += 1;
        let parsed = match std::str::from_utf8(bytes) {
            Ok(text) => read_line(text, &mut f),
            Err(e) => Err((Reason::InvalidUtf8, format!("line holds bytes that are not UTF-8: {e}"))),
        };
        match parsed {
            Ok(fields) if quiet.is_some() && !fields.may_concern_detectors() => {
                if quiet.is_some_and(|w| w.contains(&fields.time)) {
                    out.quiet += 1;
                    // No detector reads the request, but "first seen" asks when its client's
                    // network first appeared (the original client: ELB logs no X-Forwarded-For).
                    if let Some(client) = fields.client {
                        out.sight(client, fields.time);
                    }
                }
            }
            Ok(fields) => out.events.push(Event {
                time: fields.time,
                origin: Origin { file, line, index },
                body: Body::HttpRequest(Box::new(fields.request())),
            }),
            Err((reason, detail)) => {
                out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(bytes)))
            }
        }
    }
}

type Failure = (Reason, String);

/// Non-blank lines with their 1-based numbers, without the line ending.
pub(super) fn lines(buf: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    // Every piece between newlines is numbered, the one after the last newline included.
    let mut start = Some(0usize);
    let mut number = 0u64;
    std::iter::from_fn(move || loop {
        let from = start?;
        let end = match memchr::memchr(b'\n', &buf[from..]) {
            Some(i) => {
                start = Some(from + i + 1);
                from + i
            }
            None => {
                start = None;
                buf.len()
            }
        };
        number += 1;
        let line = &buf[from..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            return Some((number, line));
        }
    })
}

/// The first `max` non-blank lines of a sniffing window, without a last line the window may
/// have cut (unless it is the only one).
pub(super) fn sniff_lines(head: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    let complete = match memchr::memrchr(b'\n', head) {
        Some(last) => &head[..last],
        None => head,
    };
    lines(complete).map(|(_, line)| line).take(max)
}

/// Splits a line into fields, into `out` (emptied first): see the module documentation for
/// quoting.
fn fields<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) -> Result<(), String> {
    let bytes = line.as_bytes();
    out.clear();
    let mut i = 0;
    loop {
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
        if i >= bytes.len() {
            return Ok(());
        }
        if bytes[i] != b'"' {
            let end = memchr::memchr(b' ', &bytes[i..]).map_or(bytes.len(), |k| i + k);
            out.push(Cow::Borrowed(&line[i..end]));
            i = end;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        let mut owned: Option<String> = None;
        let mut copied = start;
        loop {
            let Some(k) = memchr::memchr2(b'"', b'\\', &bytes[j..]) else {
                return Err(format!(
                    "line ends inside the quoted field {} (truncated line?)",
                    out.len() + 1
                ));
            };
            let k = j + k;
            if bytes[k] == b'\\' && matches!(bytes.get(k + 1), Some(b'"') | Some(b'\\')) {
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&line[copied..k]);
                s.push(bytes[k + 1] as char);
                j = k + 2;
                copied = j;
            } else if bytes[k] == b'"' && matches!(bytes.get(k + 1), None | Some(b' ')) {
                out.push(match owned.take() {
                    Some(mut s) => {
                        s.push_str(&line[copied..k]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&line[start..k]),
                });
                i = k + 1;
                break;
            } else {
                j = k + 1;
            }
        }
    }
}

fn is_time(text: &str) -> bool {
    text.as_bytes().first().is_some_and(u8::is_ascii_digit) && Timestamp::parse_rfc3339(text).is_some()
}

fn time(text: &str) -> Result<Timestamp, Failure> {
    // `parse_rfc3339` also reads zone-less data-lake times; ELB always writes `…Z`.
    if text.contains('T') {
        if let Some(t) = Timestamp::parse_rfc3339(text) {
            return Ok(t);
        }
    }
    Err((Reason::BadTimestamp, format!("cannot read time {text:?}")))
}

/// `ip:port` (IPv6 bracketed or not), or `-` for none.
fn endpoint(text: &str) -> Result<Option<(IpAddr, u16)>, String> {
    if text == "-" {
        return Ok(None);
    }
    let bad = || format!("{text:?} is not an address:port");
    let (ip, port) = match text.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").ok_or_else(bad)?,
        None => text.rsplit_once(':').ok_or_else(bad)?,
    };
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok(Some((ip, port)))
}

/// A status code; `-`, and the `0` Classic writes when no backend answered, are none.
fn status(text: &str, what: &str) -> Result<Option<u16>, Failure> {
    if text == "-" {
        return Ok(None);
    }
    match text.parse::<u16>() {
        Ok(0) if text.len() <= 3 => Ok(None),
        Ok(code @ 100..=999) if text.len() == 3 => Ok(Some(code)),
        _ => Err((Reason::MissingField, format!("{what} {text:?} is not a status code"))),
    }
}

fn bytes_field(text: &str, what: &str) -> Result<Option<u64>, Failure> {
    if text == "-" {
        return Ok(None);
    }
    text.parse::<u64>()
        .map(Some)
        .map_err(|_| (Reason::MissingField, format!("{what} {text:?} is not a number")))
}

fn value(text: &str) -> Option<&str> {
    (!text.is_empty() && text != "-").then_some(text)
}

/// The parts of `"METHOD URL VERSION"`: method, target, host.
struct RequestLine<'a> {
    method: Option<&'a str>,
    target: Cow<'a, str>,
    host: Option<&'a str>,
}

fn request_line(text: &str) -> RequestLine<'_> {
    let text = text.trim_end();
    let (method, rest) = text.split_once(' ').unwrap_or((text, ""));
    // The URL may hold spaces only if ELB logged them raw; the version is the last word.
    let url = match rest.rsplit_once(' ') {
        Some((url, version)) if version.starts_with("HTTP/") || version == "-" => url,
        _ => rest,
    };
    if method == "-" || method.is_empty() {
        return RequestLine {
            method: None,
            target: Cow::Borrowed(if url == "-" { "" } else { url }),
            host: None,
        };
    }
    let (target, host) = split_url(url);
    RequestLine {
        method: Some(method),
        target,
        host,
    }
}

/// Splits an absolute URL into the origin-form target and the host (port removed); any other
/// form is the target as logged.
fn split_url(url: &str) -> (Cow<'_, str>, Option<&str>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (Cow::Borrowed(url), None);
    };
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return (Cow::Borrowed(url), None);
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = match authority.rfind(':') {
        Some(colon)
            if authority[colon + 1..].bytes().all(|b| b.is_ascii_digit())
                && (!authority.starts_with('[') || authority[..colon].ends_with(']')) =>
        {
            &authority[..colon]
        }
        _ => authority,
    };
    let target = if path.is_empty() || !path.starts_with('/') {
        Cow::Owned(format!("/{path}"))
    } else {
        Cow::Borrowed(path)
    };
    (target, (!host.is_empty()).then_some(host))
}

/// One line's fields, checked: what [`Line::request`] builds a request from.
struct Line<'a> {
    time: Timestamp,
    client: Option<IpAddr>,
    server: Option<(IpAddr, u16)>,
    status: Option<u16>,
    sent: Option<u64>,
    request: RequestLine<'a>,
    user_agent: Option<&'a str>,
    observer: Option<&'a str>,
}

/// One line → its fields, every check made; nothing allocated unless a quoted field holds an
/// escape or the URL has no path.
fn read_line<'t, 'f>(text: &'t str, f: &'f mut Vec<Cow<'t, str>>) -> Result<Line<'f>, Failure> {
    fields(text, f).map_err(|e| (Reason::MissingField, e))?;
    let f: &'f [Cow<'t, str>] = f;
    let classic = f
        .first()
        .and_then(|f0| f0.as_bytes().first())
        .is_some_and(u8::is_ascii_digit);
    // Field positions: Classic lines lack the leading `type`.
    let at = |alb: usize| if classic { alb - 1 } else { alb };
    if !classic && !f.first().is_some_and(|f0| TYPES.contains(&&**f0)) && !f.get(1).is_some_and(|f1| is_time(f1)) {
        let first = f.first().map_or("", |f0| &**f0);
        return Err((
            Reason::MissingField,
            format!("not a load balancer log line: it starts with {first:?}, neither a request type nor a time"),
        ));
    }
    if classic {
        if !matches!(f.len(), 12 | 15) {
            return Err((
                Reason::MissingField,
                format!(
                    "a Classic Load Balancer line has 15 fields (12 before 2015), this one {}",
                    f.len()
                ),
            ));
        }
    } else if f.len() < ALB_MIN_FIELDS {
        return Err((
            Reason::MissingField,
            format!(
                "an Application Load Balancer line has at least {ALB_MIN_FIELDS} fields, this one {}",
                f.len()
            ),
        ));
    }
    let time = time(&f[at(1)])?;
    let client = endpoint(&f[at(3)]).map_err(|e| (Reason::MissingField, format!("client {e}")))?;
    let server = endpoint(&f[at(4)]).map_err(|e| (Reason::MissingField, format!("target {e}")))?;
    let elb_status = status(&f[at(8)], "elb_status_code")?;
    let target_status = status(&f[at(9)], "target_status_code")?;
    let sent = bytes_field(&f[at(11)], "sent_bytes")?;
    bytes_field(&f[at(10)], "received_bytes")?;
    let mut request = request_line(&f[at(12)]);
    let user_agent = f.get(at(13)).and_then(|ua| value(ua));
    let domain = if classic {
        None
    } else {
        f.get(18).and_then(|d| value(d))
    };
    request.host = request.host.or(domain);
    Ok(Line {
        time,
        client: client.map(|(ip, _)| ip),
        server,
        status: elb_status.or(target_status),
        sent,
        request,
        user_agent,
        observer: value(&f[at(2)]),
    })
}

impl Line<'_> {
    fn request(self) -> HttpRequest {
        let mut r = HttpRequest::new(HttpSensor::LoadBalancer, self.request.target);
        r.method = self.request.method.map(str::to_string);
        r.host = self.request.host.map(str::to_string);
        if let Some(ua) = self.user_agent {
            r.headers.push(("User-Agent".into(), ua.to_string()));
        }
        r.user_agent = self.user_agent.map(str::to_string);
        r.client = self.client;
        r.server = self.server.map(|(ip, _)| ip);
        r.server_port = self.server.map(|(_, port)| port);
        r.status = self.status;
        r.response_bytes = self.sent;
        r.observer = self.observer.map(str::to_string);
        r
    }

    /// Whether a detector may act on this request: see [`AwsElb::parse_for_detectors`] for
    /// what they read. These are the very texts [`Line::request`] hands them (target, host,
    /// user agent, unescaped as the request holds them), so `may_concern`'s property applies
    /// as stated: every text that `find_targets` or `canonical_target` reads is one of them or
    /// a part of one cut at `?`, `/` or after `scheme://authority` (`origin_form`), and
    /// `canonical_target(target, host)` needs its pre-filter to pass on the target or the host,
    /// which `may_concern` of that text implies.
    ///
    /// `metadata_path_host` is tested too, though no detector reads a metadata path without a
    /// host from a load balancer today (the proxy rule's host-less branch is for web servers and
    /// CDNs): it costs two byte comparisons on most targets, and keeps these lines should that
    /// branch take load balancers in. It tests prefixes without `?` or `#`, so the whole target
    /// passes it when the target's path does.
    fn may_concern_detectors(&self) -> bool {
        let target = &*self.request.target;
        may_concern(target)
            || self.request.host.is_some_and(may_concern)
            || self.user_agent.is_some_and(may_concern)
            || metadata_path_host(target).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_spaces_and_unescape_quotes() {
        let mut f = Vec::new();
        fields(r#"a "b c" "d \"e\" f" "g"h" "" x"#, &mut f).unwrap();
        assert_eq!(f, ["a", "b c", "d \"e\" f", "g\"h", "", "x"]);
        assert!(fields(r#"a "b c"#, &mut f).is_err());
    }

    #[test]
    fn absolute_urls_split_into_host_and_origin_form() {
        let cases = [
            ("https://shop.example:443/a/b?x=1", "/a/b?x=1", Some("shop.example")),
            (
                "https://169.254.169.254:443/latest/meta-data/",
                "/latest/meta-data/",
                Some("169.254.169.254"),
            ),
            ("http://[2001:db8::1]:80/x", "/x", Some("[2001:db8::1]")),
            ("http://[2001:db8::1]/x", "/x", Some("[2001:db8::1]")),
            ("https://shop.example:443", "/", Some("shop.example")),
            ("https://shop.example:443?q=1", "/?q=1", Some("shop.example")),
            ("http://:80/x", "/x", None),
            ("/relative?x", "/relative?x", None),
            ("*", "*", None),
        ];
        for (url, target, host) in cases {
            let (t, h) = split_url(url);
            assert_eq!((&*t, h), (target, host), "{url}");
        }
    }

    #[test]
    fn endpoints_accept_ipv6_with_or_without_brackets() {
        assert_eq!(
            endpoint("2001:db8::7:51234"),
            Ok(Some(("2001:db8::7".parse().unwrap(), 51234)))
        );
        assert_eq!(
            endpoint("[2001:db8::7]:443"),
            Ok(Some(("2001:db8::7".parse().unwrap(), 443)))
        );
        assert_eq!(endpoint("-"), Ok(None));
        assert!(endpoint("10.0.0.300:80").is_err());
        assert!(endpoint("10.0.0.3").is_err());
    }

    #[test]
    fn requests_elb_could_not_parse_have_no_method_or_target() {
        let r = request_line("- - - ");
        assert_eq!((r.method, &*r.target, r.host), (None, "", None));
    }
}
