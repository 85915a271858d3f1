//! Sysmon for Linux events (<https://github.com/microsoft/SysmonForLinux>): each event is the
//! Windows event XML Sysmon renders (`<Event><System><Provider Name="Linux-Sysmon" Guid="{…}"/>
//! <EventID>3</EventID>…<TimeCreated SystemTime="…Z"/>…<Computer>host</Computer>…</System>
//! <EventData><Data Name="…">…</Data>…</EventData></Event>`), written to syslog by the `sysmon`
//! daemon (`Oct 12 10:00:00 host sysmon: <Event>…</Event>` in `/var/log/syslog` or
//! `/var/log/messages`), or exported one event per line or as a whole XML file (`sysmonLogView
//! -X`, `journalctl -u sysmon -o cat`).
//!
//! Field names follow Sysmon's manifest and event schema (SysmonForLinux `sysmon -s`; the OSSEM
//! data dictionaries for Linux Sysmon, <https://ossemproject.com/dd/dictionaries/linux/sysmon/>):
//!
//! - EventID 1, ProcessCreate → [`ProcessStart`]: `ProcessId`, `Image` (the executable's path),
//!   `CommandLine`, `CurrentDirectory`, `User` (a user name), `LogonId` (the login uid),
//!   `ParentProcessId` (`ParentImage` and `ParentCommandLine` describe the parent, which
//!   [`Process`] has no place for);
//! - EventID 3, NetworkConnect → [`ProcessConnect`] to `DestinationIp`:`DestinationPort`, with
//!   `Image`, `ProcessId`, `User`. Sysmon logs connections that were made, so `failed` is false
//!   and there is no result. A connection the process accepted (`Initiated` `false`) is not one
//!   it opened and yields nothing.
//!
//! Other event ids (5 ProcessTerminate, 11 FileCreate, 23 FileDelete, 16 configuration change, …)
//! are counted and yield nothing. `Computer` names the host; the time is `TimeCreated
//! SystemTime`, else `UtcTime`. Values are XML-escaped by Sysmon and decoded here (`&lt;`,
//! `&amp;`, `&#10;`, …); `-` is Sysmon's empty value.
//!
//! Records: each `<Event>` is one. In a syslog file, a line of another program is counted and
//! skipped (syslog mixes every daemon's messages); a `sysmon` line with markup but no `<Event>`,
//! an event that does not end (`</Event>`), is not UTF-8, or lacks a readable `EventID` or time,
//! or whose ids or addresses are not numbers or addresses, is a diagnostic. In an XML file, text
//! between events other than the XML declaration and an `<Events>` wrapper is a diagnostic.

use std::borrow::Cow;
use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, HostSensor, Origin, Process, ProcessConnect, ProcessStart, Timestamp};

use super::auditd::UNSET;
use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};
use crate::json_stream::LineCounter;

pub struct SysmonLinux;

const NAME: &str = "sysmon-linux";

impl Format for SysmonLinux {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Sysmon for Linux XML events, in syslog, one per line or as an XML file: process create (1) and network connect (3)"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let has = |m: &[u8]| memchr::memmem::find(head, m).is_some();
        has(b"<Event") && has(b"<System>") && (has(b"Name=\"Linux-Sysmon\"") || has(b"Name='Linux-Sysmon'"))
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let first = buf.iter().position(|b| !b.is_ascii_whitespace());
        let Some(first) = first else { return };
        let mut cx = Cx {
            buf,
            file,
            index: 0,
            lines: LineCounter::new(buf),
        };
        if buf[first] == b'<' || buf[first..].starts_with(b"\xEF\xBB\xBF<") {
            xml_file(&mut cx, out);
        } else {
            syslog(&mut cx, out);
        }
    }
}

struct Cx<'a> {
    buf: &'a [u8],
    file: FileId,
    index: u64,
    lines: LineCounter<'a>,
}

impl Cx<'_> {
    /// One record at `start..end`: an event, nothing, or a diagnostic.
    fn record(&mut self, start: usize, end: usize, out: &mut ParsedFile) {
        self.index += 1;
        out.records += 1;
        let line = self.lines.line_at(start);
        let bytes = &self.buf[start..end];
        let origin = Origin {
            file: self.file,
            line,
            index: self.index,
        };
        match event(bytes, origin) {
            Ok(Some(e)) => out.events.push(e),
            Ok(None) => {}
            Err((reason, detail)) => self.fail(start, end, reason, detail, out, false),
        }
    }

    fn fail(&mut self, start: usize, end: usize, reason: Reason, detail: String, out: &mut ParsedFile, count: bool) {
        if count {
            self.index += 1;
            out.records += 1;
        }
        let line = self.lines.line_at(start);
        out.diagnose(
            (self.file, line, Some(self.index)),
            NAME,
            reason,
            detail,
            Some(excerpt(&self.buf[start..end])),
        );
    }
}

/// Where the next `<Event>` or `<Event …>` (not `<Events>`) starts in `buf[from..]`.
fn next_event(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(k) = memchr::memmem::find(&buf[i..], b"<Event") {
        let at = i + k;
        match buf.get(at + 6) {
            Some(b'>' | b' ' | b'\t' | b'\r' | b'\n' | b'/') => return Some(at),
            _ => i = at + 6,
        }
    }
    None
}

const CLOSE: &[u8] = b"</Event>";

/// A whole XML file or one event per line: every `<Event>…</Event>` is a record.
fn xml_file(cx: &mut Cx, out: &mut ParsedFile) {
    let buf = cx.buf;
    let mut i = 0;
    loop {
        let next = next_event(buf, i);
        let gap_end = next.unwrap_or(buf.len());
        if let Some((start, end)) = stray_text(buf, i, gap_end) {
            cx.fail(
                start,
                end,
                Reason::MissingField,
                "text between Sysmon events that is not an event".to_string(),
                out,
                true,
            );
        }
        let Some(start) = next else { return };
        match memchr::memmem::find(&buf[start..], CLOSE) {
            Some(k) => {
                let end = start + k + CLOSE.len();
                cx.record(start, end, out);
                i = end;
            }
            None => {
                cx.fail(
                    start,
                    buf.len(),
                    Reason::MissingField,
                    "the event does not end (no </Event>): truncated file?".to_string(),
                    out,
                    true,
                );
                return;
            }
        }
    }
}

/// The extent of text in `buf[from..to]` that is neither whitespace nor the XML wrapper
/// (`<?xml …?>`, `<Events>`, `</Events>`, comments).
fn stray_text(buf: &[u8], from: usize, to: usize) -> Option<(usize, usize)> {
    let mut i = from;
    let mut first = None;
    let mut last = from;
    while i < to {
        let b = buf[i];
        if b.is_ascii_whitespace() || (i == 0 && buf.starts_with(b"\xEF\xBB\xBF")) {
            i += if b.is_ascii_whitespace() { 1 } else { 3 };
            continue;
        }
        let rest = &buf[i..to];
        let skip = [
            (&b"<?"[..], &b"?>"[..]),
            (b"<!--", b"-->"),
            (b"<Events>", b""),
            (b"</Events>", b""),
        ]
        .iter()
        .find_map(|(open, close)| {
            if !rest.starts_with(open) {
                return None;
            }
            if close.is_empty() {
                return Some(open.len());
            }
            memchr::memmem::find(&rest[open.len()..], close).map(|k| open.len() + k + close.len())
        });
        match skip {
            Some(n) => i += n,
            None => {
                first.get_or_insert(i);
                let line_end = memchr::memchr(b'\n', rest).map_or(to, |k| i + k);
                last = line_end;
                i = line_end;
            }
        }
    }
    first.map(|f| (f, last))
}

/// A syslog file: the lines holding an event are records; other programs' lines are counted and
/// skipped.
fn syslog(cx: &mut Cx, out: &mut ParsedFile) {
    let buf = cx.buf;
    let mut start = 0;
    while start < buf.len() {
        let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |k| start + k);
        let line = &buf[start..end];
        let next = end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            start = next;
            continue;
        }
        match next_event(line, 0) {
            Some(k) => match memchr::memmem::find(&line[k..], CLOSE) {
                Some(c) => cx.record(start + k, start + k + c + CLOSE.len(), out),
                None => cx.fail(
                    start,
                    end,
                    Reason::MissingField,
                    "the event does not end on its line (no </Event>): cut by the syslog daemon's message size limit?"
                        .to_string(),
                    out,
                    true,
                ),
            },
            None if is_sysmon_line(line) && memchr::memchr(b'<', line).is_some() => cx.fail(
                start,
                end,
                Reason::MissingField,
                "a sysmon line with markup but no <Event>".to_string(),
                out,
                true,
            ),
            None => {
                cx.index += 1;
                out.records += 1;
            }
        }
        start = next;
    }
}

/// Whether a syslog line's tag is `sysmon` (`sysmon:` or `sysmon[pid]:`).
fn is_sysmon_line(line: &[u8]) -> bool {
    memchr::memmem::find(line, b" sysmon:").is_some() || memchr::memmem::find(line, b" sysmon[").is_some()
}

type Failure = (Reason, String);

fn missing(detail: impl Into<String>) -> Failure {
    (Reason::MissingField, detail.into())
}

fn event(bytes: &[u8], origin: Origin) -> Result<Option<Event>, Failure> {
    let xml = std::str::from_utf8(bytes).map_err(|e| {
        (
            Reason::InvalidUtf8,
            format!("event holds bytes that are not UTF-8 ({e})"),
        )
    })?;
    let (system, _) = element(xml, "System").ok_or_else(|| missing("event has no <System>"))?;
    let system = system.unwrap_or_default();
    let id_text = element(system, "EventID")
        .and_then(|(content, _)| content)
        .unwrap_or_default();
    let id: u32 = decode(id_text)
        .trim()
        .parse()
        .map_err(|_| missing(format!("EventID {:?} is not a number", id_text)))?;
    if id != 1 && id != 3 {
        return Ok(None);
    }
    let data = Data::read(element(xml, "EventData").and_then(|(c, _)| c).unwrap_or_default());
    let time = element(system, "TimeCreated")
        .and_then(|(_, attrs)| attr(attrs, "SystemTime"))
        .or_else(|| data.get("UtcTime"));
    let time = match time {
        Some(t) => {
            Timestamp::parse_rfc3339(&t).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {t:?}")))?
        }
        None => return Err(missing("event has no TimeCreated SystemTime or UtcTime")),
    };
    let host = element(system, "Computer")
        .and_then(|(c, _)| c)
        .map(|c| decode(c).trim().to_string())
        .filter(|c| !c.is_empty() && c != "-");
    let mut process = Process {
        pid: data.number("ProcessId")?,
        exe: data.get("Image"),
        user_name: data.get("User"),
        ..Process::default()
    };
    let body = if id == 1 {
        process.ppid = data.number("ParentProcessId")?;
        process.command_line = data.get("CommandLine");
        process.cwd = data.get("CurrentDirectory");
        process.login_uid = data.number::<u32>("LogonId")?.filter(|&id| id != UNSET);
        Body::ProcessStart(Box::new(ProcessStart {
            sensor: HostSensor::Sysmon,
            host,
            process,
        }))
    } else {
        if data.get("Initiated").is_some_and(|i| i.eq_ignore_ascii_case("false")) {
            return Ok(None);
        }
        let text = data
            .get("DestinationIp")
            .ok_or_else(|| missing("NetworkConnect has no DestinationIp"))?;
        let destination: IpAddr = text
            .parse()
            .map_err(|_| missing(format!("DestinationIp {text:?} is not an IP address")))?;
        let destination = match destination {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        Body::ProcessConnect(Box::new(ProcessConnect {
            sensor: HostSensor::Sysmon,
            host,
            process,
            destination,
            port: data.number("DestinationPort")?,
            failed: false,
            result: None,
            http: None,
        }))
    };
    Ok(Some(Event { time, origin, body }))
}

/// The `<Data Name="…">…</Data>` values of `EventData`, decoded, `-` and empty as absent.
struct Data(Vec<(String, String)>);

impl Data {
    fn read(xml: &str) -> Data {
        let mut out = Vec::new();
        let mut rest = xml;
        while let Some(k) = rest.find("<Data") {
            let after = &rest[k + 5..];
            if !after.starts_with([' ', '\t', '\n', '\r', '>', '/']) {
                rest = after;
                continue;
            }
            let Some(gt) = after.find('>') else { break };
            let attrs = &after[..gt];
            let name = attr(attrs, "Name").unwrap_or_default();
            let (value, next) = if attrs.ends_with('/') {
                ("", &after[gt + 1..])
            } else {
                let body = &after[gt + 1..];
                match body.find("</Data>") {
                    Some(end) => (&body[..end], &body[end + 7..]),
                    None => (body, ""),
                }
            };
            out.push((name, decode(value).into_owned()));
            rest = next;
        }
        Data(out)
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty() && v != "-")
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Failure> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16)
                .ok()
                .and_then(|n| n.to_string().parse().ok()),
            None => v.parse().ok(),
        };
        parsed
            .map(Some)
            .ok_or_else(|| missing(format!("{name} {v:?} is not a number in range")))
    }
}

/// The first element `<name …>` in `xml`: its content (`None` when self-closing) and its
/// attribute text.
fn element<'a>(xml: &'a str, name: &str) -> Option<(Option<&'a str>, &'a str)> {
    let open = format!("<{name}");
    let mut from = 0;
    loop {
        let k = from + xml[from..].find(&open)?;
        let after = &xml[k + open.len()..];
        if !after.starts_with([' ', '\t', '\n', '\r', '>', '/']) {
            from = k + open.len();
            continue;
        }
        let gt = after.find('>')?;
        let attrs = &after[..gt];
        if let Some(attrs) = attrs.strip_suffix('/') {
            return Some((None, attrs));
        }
        let body = &after[gt + 1..];
        let close = format!("</{name}>");
        let end = body.find(&close).unwrap_or(body.len());
        return Some((Some(&body[..end]), attrs));
    }
}

/// An attribute's decoded value (`Name="…"` or `Name='…'`).
fn attr(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs;
    loop {
        let k = rest.find(name)?;
        let before_ok = k == 0 || rest[..k].ends_with([' ', '\t', '\n', '\r']);
        let after = rest[k + name.len()..].trim_start();
        if before_ok {
            if let Some(value) = after.strip_prefix('=') {
                let value = value.trim_start();
                let quote = value.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let end = value[1..].find(quote)?;
                    return Some(decode(&value[1..1 + end]).into_owned());
                }
            }
        }
        rest = &rest[k + name.len()..];
    }
}

/// XML entity and character references; an unknown or invalid one is kept as written.
fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find('&') {
        out.push_str(&rest[..k]);
        rest = &rest[k..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = match entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => entity.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities() {
        assert_eq!(decode("a &lt;b&gt; &amp;&quot;&apos; &#65;&#x42;"), "a <b> &\"' AB");
        assert_eq!(decode("&bogus; & &#xZZ; &#1114112;"), "&bogus; & &#xZZ; &#1114112;");
        assert_eq!(decode("plain"), "plain");
    }

    #[test]
    fn elements_and_attributes() {
        let xml = r#"<System><EventIDs>9</EventIDs><EventID>3</EventID><TimeCreated SystemTime="2026-09-14T10:00:00.1Z"/></System>"#;
        assert_eq!(element(xml, "EventID").map(|e| e.0), Some(Some("3")));
        let (content, attrs) = element(xml, "TimeCreated").unwrap();
        assert_eq!(
            (content, attr(attrs, "SystemTime").as_deref()),
            (None, Some("2026-09-14T10:00:00.1Z"))
        );
        assert_eq!(attr(r#" XName="a" Name='b'"#, "Name").as_deref(), Some("b"));
        let data = Data::read(
            r#"<Data Name="A">x &amp; y</Data><Data Name="B"/><Data Name="C">-</Data><DataX Name="D">z</DataX>"#,
        );
        assert_eq!(
            (data.get("A").as_deref(), data.get("B"), data.get("C"), data.get("D")),
            (Some("x & y"), None, None, None)
        );
    }
}
