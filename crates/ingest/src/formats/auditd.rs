//! Linux audit `audit.log` as auditd writes it, in `log_format = RAW` or `ENRICHED`
//! (auditd.conf(5)).
//!
//! A line is one record: an optional `node=<name> ` prefix (`name_format` in auditd.conf), then
//! `type=<TYPE> msg=audit(<epoch seconds>.<milliseconds>:<serial>): ` and the record's
//! `key=value` fields. One *event* is every record sharing the `msg=audit(…)` stamp: a syscall
//! event is a `SYSCALL` record with auxiliary records (`EXECVE`, `SOCKADDR`, `CWD`, `PATH`,
//! `PROCTITLE`, …) and ends with `EOE` (kernel/auditsc.c `audit_log_exit`: "Send end of event
//! record to help user space know we are finished"); user-space events (`USER_START`,
//! `CRED_ACQ`, `SERVICE_START`, …) are one record. The records of an event are written together
//! but events may interleave, so events stay open until their `EOE` or until [`LOOK_BACK`] other
//! events have started: memory stays bounded on logs of any size. The ENRICHED format appends
//! `0x1D` and the resolved names (`ARCH=x86_64 SYSCALL=connect AUID="unset" UID="root"`,
//! `SADDR={ saddr_fam=inet laddr=169.254.169.254 lport=80 }`); the raw part before it is read,
//! and of the enriched part only `SYSCALL=` (when the raw architecture is one this file does not
//! number).
//!
//! Values that a process controls (`comm`, `exe`, `EXECVE` arguments, `proctitle`, `cwd`) are
//! logged by the kernel's `audit_log_n_untrustedstring`: `"text"` when the text holds no space,
//! quote, control character or byte above 0x7E, otherwise the bytes in uppercase hex
//! (`audit_log_n_hex`); `(null)` when absent. `proctitle` is the command line with NULs between
//! arguments (at most 128 bytes). Unset login uid and session are 4294967295 (`AUDIT_UID_UNSET`).
//! `SOCKADDR`'s `saddr` is the socket address in hex, in host byte order for the family and
//! network order for the port (`sockaddr_in`, `sockaddr_in6`).
//!
//! Events read into credtrail events:
//! - `connect` (x86_64 42, aarch64 203, i386 362 or `socketcall` 102 with `a0=3`) with an
//!   `AF_INET` or `AF_INET6` `SOCKADDR` → [`ProcessConnect`]; IPv4-mapped IPv6 destinations
//!   (a dual-stack socket, as Java opens) are read as the IPv4 address. `failed` is an error exit
//!   other than `EINPROGRESS` (-115, a non-blocking connect still in progress). Other families
//!   (`AF_UNIX`, netlink) and a connect without `SOCKADDR` are not connections to an address;
//! - a successful `execve` or `execveat` (x86_64 59 and 322, aarch64 221 and 281, i386 11 and
//!   358) → [`ProcessStart`], its command line from the `EXECVE` arguments (long arguments split
//!   as `aN_len`, `aN[k]` are joined back), `PROCTITLE` when there is no `EXECVE`.
//!
//! Other events and syscalls are counted as records and yield nothing: they are valid records
//! credtrail does not use, not damage. An event is a diagnostic instead when a record of it is
//! not UTF-8, its `SYSCALL` lacks `syscall=` or has a number field that is not a number, its
//! `saddr` is not hex or too short for its family, it has auxiliary records but no `SYSCALL`, or
//! the file ends inside it (no `EOE` in a file whose events have one). A line that is not
//! `type=… msg=audit(…):`, or whose stamp cannot be read, is a record of its own and a
//! diagnostic.
//!
//! Positions: `line` is the line of the event's first record, `index` the event's ordinal in the
//! file, events numbered in the order of their first line.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use credtrail_event::{Body, Event, FileId, HostSensor, Origin, Process, ProcessConnect, ProcessStart, Timestamp};

use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};

pub struct Auditd;

const NAME: &str = "auditd";

/// An event still waiting for records is closed once this many later events have started.
pub const LOOK_BACK: u64 = 64;

/// `AUDIT_UID_UNSET`, also the unset session id.
pub(super) const UNSET: u32 = u32::MAX;

/// Separates the raw fields from the enriched ones (auditd `log_format = ENRICHED`).
const ENRICHED_SEPARATOR: u8 = 0x1d;

pub(super) const EINPROGRESS: i64 = -115;

impl Format for Auditd {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Linux auditd audit.log, RAW or ENRICHED: records grouped into events by msg=audit(…) stamp; connect and execve events"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let Some((_, span)) = line_spans(head).find(|(_, s)| !is_blank(&head[s.clone()])) else {
            return false;
        };
        let line = &head[span];
        let rest = match line.strip_prefix(b"node=") {
            Some(rest) => match memchr::memchr(b' ', rest) {
                Some(i) => trim_spaces(&rest[i..]),
                None => return false,
            },
            None => line,
        };
        rest.starts_with(b"type=") && memchr::memmem::find(rest, b" msg=audit(").is_some()
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let first_event = out.events.len();
        let first_diagnostic = out.diagnostics.len();
        // Validated once: a file that is UTF-8 as a whole is UTF-8 line by line.
        let whole_utf8 = std::str::from_utf8(buf).is_ok();
        let mut open: VecDeque<Open> = VecDeque::with_capacity(LOOK_BACK as usize + 1);
        let mut index = 0u64;
        let mut saw_eoe = false;
        let cx = Context { buf, file };
        for (line, span) in line_spans(buf) {
            let raw = &buf[span.clone()];
            if is_blank(raw) {
                continue;
            }
            let utf8 = whole_utf8 || std::str::from_utf8(raw).is_ok();
            let header = match header(raw) {
                Ok(h) => h.offset(span.start),
                Err((reason, detail)) => {
                    index += 1;
                    out.records += 1;
                    close_older(&cx, &mut open, index, out);
                    let (reason, detail) = if utf8 {
                        (reason, detail)
                    } else {
                        (
                            Reason::InvalidUtf8,
                            format!("line holds bytes that are not UTF-8, and is {detail}"),
                        )
                    };
                    out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(raw)));
                    continue;
                }
            };
            let found = open
                .iter()
                .rposition(|e| e.stamp == header.stamp && same_node(buf, &e.node, &header.node));
            let at = match found {
                Some(at) => at,
                None => {
                    index += 1;
                    out.records += 1;
                    close_older(&cx, &mut open, index, out);
                    open.push_back(Open::new(index, line, span.clone(), &header));
                    open.len() - 1
                }
            };
            let Some(event) = open.get_mut(at) else { continue };
            let record = Record {
                line: span.clone(),
                body: header.body.clone(),
                enriched: header.enriched.clone(),
            };
            if !utf8 && event.problem.is_none() {
                event.problem = Some(Problem {
                    reason: Reason::InvalidUtf8,
                    detail: format!(
                        "line {line} holds bytes that are not UTF-8; auditd hex-encodes such bytes, so the file is damaged"
                    ),
                    at: span.clone(),
                });
            }
            let kind = &buf[header.kind.clone()];
            if kind == b"EOE" {
                event.eoe = true;
                saw_eoe = true;
                if let Some(event) = open.remove(at) {
                    finish(&cx, event, false, out);
                }
                continue;
            }
            event.add(kind, record);
        }
        while let Some(event) = open.pop_front() {
            finish(&cx, event, saw_eoe, out);
        }
        // Events are finished when they close, which is not always in the order they started.
        out.events[first_event..].sort_by_key(|e| e.origin.index);
        out.diagnostics[first_diagnostic..].sort_by_key(|d| d.index);
    }
}

struct Context<'a> {
    buf: &'a [u8],
    file: FileId,
}

/// Closes the events that [`LOOK_BACK`] later events have passed, `index` being the newest.
fn close_older(cx: &Context, open: &mut VecDeque<Open>, index: u64, out: &mut ParsedFile) {
    while open.front().is_some_and(|e| e.index + LOOK_BACK <= index) {
        if let Some(event) = open.pop_front() {
            finish(cx, event, false, out);
        }
    }
}

fn same_node(buf: &[u8], a: &Option<Range<usize>>, b: &Option<Range<usize>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => buf.get(a.clone()) == buf.get(b.clone()),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// lines and headers

fn line_spans(buf: &[u8]) -> impl Iterator<Item = (u64, Range<usize>)> + '_ {
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

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ').unwrap_or(s.len());
    &s[start..]
}

/// `msg=audit(<seconds>.<milliseconds>:<serial>)`: the event's time and serial number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) millis: i64,
    serial: u64,
}

/// Where a record's parts sit, relative to the line until [`Header::offset`] makes them
/// positions in the file.
#[derive(Debug)]
struct Header {
    node: Option<Range<usize>>,
    kind: Range<usize>,
    stamp: Stamp,
    /// The fields after `): `, up to the enriched separator.
    body: Range<usize>,
    /// The enriched fields after 0x1D.
    enriched: Option<Range<usize>>,
}

impl Header {
    fn offset(self, by: usize) -> Header {
        let shift = |r: Range<usize>| r.start + by..r.end + by;
        Header {
            node: self.node.map(shift),
            kind: shift(self.kind),
            stamp: self.stamp,
            body: shift(self.body),
            enriched: self.enriched.map(shift),
        }
    }
}

type Failure = (Reason, String);

fn not_a_record(why: &str) -> Failure {
    (
        Reason::MissingField,
        format!("not an audit record ({why}): expected `[node=… ]type=… msg=audit(<seconds>.<ms>:<serial>): …`"),
    )
}

/// Reads `[node=<name> ]type=<TYPE> msg=audit(<stamp>): `.
fn header(line: &[u8]) -> Result<Header, Failure> {
    let mut i = 0;
    let mut node = None;
    if line.starts_with(b"node=") {
        let end = memchr::memchr(b' ', line).ok_or_else(|| not_a_record("`node=` and nothing after it"))?;
        node = Some(5..end);
        i = end;
        while line.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    if !line[i..].starts_with(b"type=") {
        return Err(not_a_record("no `type=`"));
    }
    i += 5;
    let kind_end = memchr::memchr(b' ', &line[i..])
        .map(|n| i + n)
        .ok_or_else(|| not_a_record("no `msg=audit(…)` after `type=`"))?;
    if kind_end == i {
        return Err(not_a_record("empty `type=`"));
    }
    let kind = i..kind_end;
    i = kind_end;
    while line.get(i) == Some(&b' ') {
        i += 1;
    }
    if !line[i..].starts_with(b"msg=audit(") {
        return Err(not_a_record("no `msg=audit(…)` after `type=`"));
    }
    i += b"msg=audit(".len();
    let close = memchr::memchr(b')', &line[i..])
        .map(|n| i + n)
        .ok_or_else(|| not_a_record("`msg=audit(` is not closed"))?;
    let stamp_text = &line[i..close];
    let stamp = stamp(stamp_text).ok_or_else(|| {
        (
            Reason::BadTimestamp,
            format!(
                "cannot read the event stamp msg=audit({}): expected <seconds>.<milliseconds>:<serial>",
                String::from_utf8_lossy(stamp_text)
            ),
        )
    })?;
    if line.get(close + 1) != Some(&b':') {
        return Err(not_a_record("no `:` after `msg=audit(…)`"));
    }
    let start = close + 2;
    let start = start.min(line.len());
    let (body, enriched) = match memchr::memchr(ENRICHED_SEPARATOR, &line[start..]) {
        Some(n) => (start..start + n, Some(start + n + 1..line.len())),
        None => (start..line.len(), None),
    };
    Ok(Header {
        node,
        kind,
        stamp,
        body,
        enriched,
    })
}

fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// `1789346731.423:272367`; the fraction is milliseconds (auditd prints three digits; more are
/// truncated, fewer padded).
pub(super) fn stamp(text: &[u8]) -> Option<Stamp> {
    let colon = memchr::memchr(b':', text)?;
    let (time, serial) = (&text[..colon], &text[colon + 1..]);
    let (seconds, fraction) = match memchr::memchr(b'.', time) {
        Some(dot) => (&time[..dot], &time[dot + 1..]),
        None => (time, &b""[..]),
    };
    if seconds.len() > 12 || fraction.len() > 9 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let seconds = i64::try_from(digits(seconds)?).ok()?;
    let millis = fraction
        .iter()
        .copied()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Some(Stamp {
        millis: seconds * 1000 + millis,
        serial: digits(serial)?,
    })
}

// ---------------------------------------------------------------------------------------------
// events

/// One record of an event: its whole line (for excerpts) and its fields.
#[derive(Debug, Clone)]
struct Record {
    line: Range<usize>,
    body: Range<usize>,
    enriched: Option<Range<usize>>,
}

#[derive(Debug)]
struct Problem {
    reason: Reason,
    detail: String,
    at: Range<usize>,
}

/// An event whose records are still being collected; records are kept as positions in the file
/// and read when the event closes.
#[derive(Debug)]
struct Open {
    index: u64,
    line: u64,
    first: Range<usize>,
    node: Option<Range<usize>>,
    stamp: Stamp,
    syscall: Option<Record>,
    execve: Vec<Record>,
    sockaddr: Option<Record>,
    proctitle: Option<Record>,
    cwd: Option<Record>,
    /// Holds auxiliary records of a syscall event (`EXECVE`, `SOCKADDR`, `CWD`, `PATH`,
    /// `PROCTITLE`).
    auxiliary: Option<&'static str>,
    eoe: bool,
    problem: Option<Problem>,
}

impl Open {
    fn new(index: u64, line: u64, first: Range<usize>, header: &Header) -> Open {
        Open {
            index,
            line,
            first,
            node: header.node.clone(),
            stamp: header.stamp,
            syscall: None,
            execve: Vec::new(),
            sockaddr: None,
            proctitle: None,
            cwd: None,
            auxiliary: None,
            eoe: false,
            problem: None,
        }
    }

    fn add(&mut self, kind: &[u8], record: Record) {
        let auxiliary = match kind {
            b"SYSCALL" => {
                self.syscall.get_or_insert(record);
                return;
            }
            b"EXECVE" => {
                self.execve.push(record);
                "EXECVE"
            }
            b"SOCKADDR" => {
                self.sockaddr.get_or_insert(record);
                "SOCKADDR"
            }
            b"PROCTITLE" => {
                self.proctitle.get_or_insert(record);
                "PROCTITLE"
            }
            b"CWD" => {
                self.cwd.get_or_insert(record);
                "CWD"
            }
            b"PATH" => "PATH",
            _ => return,
        };
        self.auxiliary.get_or_insert(auxiliary);
    }
}

/// Turns a closed event into an event, a diagnostic or nothing. `at_end_of_eoe_file`: the file
/// ended with the event open, in a file whose events end with `EOE`.
fn finish(cx: &Context, event: Open, at_end_of_eoe_file: bool, out: &mut ParsedFile) {
    let at = (cx.file, event.line, Some(event.index));
    if let Some(problem) = event.problem {
        let bytes = cx.buf.get(problem.at).unwrap_or_default();
        out.diagnose(at, NAME, problem.reason, problem.detail, Some(excerpt(bytes)));
        return;
    }
    let first = cx.buf.get(event.first.clone()).unwrap_or_default();
    if at_end_of_eoe_file && !event.eoe && (event.syscall.is_some() || event.auxiliary.is_some()) {
        out.diagnose(
            at,
            NAME,
            Reason::MissingField,
            "the file ends inside this event: its records stop before the EOE record that ends a syscall event (truncated file?)",
            Some(excerpt(first)),
        );
        return;
    }
    match build(cx.buf, &event) {
        Ok(Some(body)) => out.events.push(Event {
            time: Timestamp::from_millis(event.stamp.millis),
            origin: Origin {
                file: cx.file,
                line: event.line,
                index: event.index,
            },
            body,
        }),
        Ok(None) => {}
        Err((reason, detail, bytes)) => {
            let bytes = bytes.and_then(|r| cx.buf.get(r)).unwrap_or(first);
            out.diagnose(at, NAME, reason, detail, Some(excerpt(bytes)));
        }
    }
}

/// A failure and the line it is about (the event's first when `None`).
type EventFailure = (Reason, String, Option<Range<usize>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Connect,
    Exec,
    Other,
}

fn build(buf: &[u8], event: &Open) -> Result<Option<Body>, EventFailure> {
    let Some(syscall) = &event.syscall else {
        return match event.auxiliary {
            Some(kind) => Err((
                Reason::MissingField,
                format!("{kind} record without the SYSCALL record of its event"),
                None,
            )),
            None => Ok(None),
        };
    };
    let fail = |detail: String| (Reason::MissingField, detail, Some(syscall.line.clone()));
    let f = SyscallFields::read(&buf[syscall.body.clone()]);
    let number = f
        .syscall
        .ok_or_else(|| fail("SYSCALL record has no syscall=".to_string()))?;
    let number = digits(number)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| fail(format!("syscall={} is not a number", lossy(number))))?;
    let name = syscall
        .enriched
        .clone()
        .and_then(|r| fields(&buf[r]).find(|(k, _)| *k == b"SYSCALL").map(|(_, v)| v));
    let call = classify(f.arch, number, name, f.a0);
    if call == Call::Other {
        return Ok(None);
    }
    let mut process = f.process().map_err(fail)?;
    let success = match f.success {
        Some(b"yes") => Some(true),
        Some(b"no") => Some(false),
        _ => None,
    };
    let exit: Option<i64> = number_field(f.exit, "exit").map_err(fail)?;
    let title = event.proctitle.as_ref().and_then(|r| {
        fields(&buf[r.body.clone()])
            .find(|(k, _)| *k == b"proctitle")
            .and_then(|(_, v)| untrusted(v))
    });
    let host = event.node.clone().map(|r| lossy(&buf[r]));
    match call {
        Call::Connect => {
            let Some(record) = &event.sockaddr else {
                return Ok(None);
            };
            let at = Some(record.line.clone());
            let Some((_, saddr)) = fields(&buf[record.body.clone()]).find(|(k, _)| *k == b"saddr") else {
                return Err((Reason::MissingField, "SOCKADDR record has no saddr=".to_string(), at));
            };
            let Some((destination, port)) = sockaddr(saddr).map_err(|d| (Reason::MissingField, d, at))? else {
                return Ok(None);
            };
            if let Some(title) = &title {
                process.argv0 = Some(lossy(title.split(|&b| b == 0).next().unwrap_or_default()));
                process.command_line = Some(command_line(title));
            }
            let failed = match exit {
                Some(exit) => exit < 0 && exit != EINPROGRESS,
                None => success == Some(false),
            };
            Ok(Some(Body::ProcessConnect(Box::new(ProcessConnect {
                sensor: HostSensor::Auditd,
                host,
                process,
                destination,
                port: Some(port),
                failed,
                result: exit,
                http: None,
            }))))
        }
        Call::Exec => {
            // A failed execve started nothing.
            if success == Some(false) || exit.is_some_and(|e| e < 0) {
                return Ok(None);
            }
            let args = execve_args(buf, &event.execve);
            if let Some(first) = args.first() {
                process.argv0 = Some(lossy(first));
                let mut line = Vec::with_capacity(args.iter().map(|a| a.len() + 1).sum());
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        line.push(b' ');
                    }
                    line.extend_from_slice(arg);
                }
                process.command_line = Some(text(Cow::Owned(line)));
            } else if let Some(title) = &title {
                process.argv0 = Some(lossy(title.split(|&b| b == 0).next().unwrap_or_default()));
                process.command_line = Some(command_line(title));
            }
            process.cwd = event.cwd.as_ref().and_then(|r| {
                fields(&buf[r.body.clone()])
                    .find(|(k, _)| *k == b"cwd")
                    .and_then(|(_, v)| untrusted(v))
                    .map(text)
            });
            Ok(Some(Body::ProcessStart(Box::new(ProcessStart {
                sensor: HostSensor::Auditd,
                host,
                process,
            }))))
        }
        Call::Other => Ok(None),
    }
}

/// Which call a SYSCALL record is, by its number in its architecture's table
/// (`arch=` is `AUDIT_ARCH_*`: c000003e x86_64, c00000b7 aarch64, 40000003 i386), or by the
/// enriched name for an architecture not numbered here.
pub(super) fn classify(arch: Option<&[u8]>, number: u32, name: Option<&[u8]>, a0: Option<&[u8]>) -> Call {
    let by_name = |name: &[u8]| match name {
        b"connect" => Call::Connect,
        b"execve" | b"execveat" => Call::Exec,
        _ => Call::Other,
    };
    let arch = arch.map(|a| a.to_ascii_lowercase());
    match arch.as_deref() {
        Some(b"c000003e") => match number {
            42 => Call::Connect,
            59 | 322 => Call::Exec,
            _ => Call::Other,
        },
        Some(b"c00000b7") => match number {
            203 => Call::Connect,
            221 | 281 => Call::Exec,
            _ => Call::Other,
        },
        Some(b"40000003") => match number {
            362 => Call::Connect,
            // socketcall(SYS_CONNECT, …)
            102 if a0 == Some(b"3") => Call::Connect,
            11 | 358 => Call::Exec,
            _ => Call::Other,
        },
        _ => match name {
            Some(name) => by_name(name),
            // No architecture at all: x86_64, the common case.
            None if arch.is_none() => classify(Some(b"c000003e"), number, None, a0),
            None => Call::Other,
        },
    }
}

/// The fields of a SYSCALL record this parser reads, as logged.
#[derive(Debug, Default)]
struct SyscallFields<'a> {
    arch: Option<&'a [u8]>,
    syscall: Option<&'a [u8]>,
    success: Option<&'a [u8]>,
    exit: Option<&'a [u8]>,
    a0: Option<&'a [u8]>,
    pid: Option<&'a [u8]>,
    ppid: Option<&'a [u8]>,
    uid: Option<&'a [u8]>,
    auid: Option<&'a [u8]>,
    ses: Option<&'a [u8]>,
    tty: Option<&'a [u8]>,
    comm: Option<&'a [u8]>,
    exe: Option<&'a [u8]>,
    subj: Option<&'a [u8]>,
}

impl<'a> SyscallFields<'a> {
    fn read(body: &'a [u8]) -> Self {
        let mut f = SyscallFields::default();
        for (key, value) in fields(body) {
            let slot = match key {
                b"arch" => &mut f.arch,
                b"syscall" => &mut f.syscall,
                b"success" => &mut f.success,
                b"exit" => &mut f.exit,
                b"a0" => &mut f.a0,
                b"pid" => &mut f.pid,
                b"ppid" => &mut f.ppid,
                b"uid" => &mut f.uid,
                b"auid" => &mut f.auid,
                b"ses" => &mut f.ses,
                b"tty" => &mut f.tty,
                b"comm" => &mut f.comm,
                b"exe" => &mut f.exe,
                b"subj" => &mut f.subj,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        f
    }

    fn process(&self) -> Result<Process, String> {
        Ok(Process {
            pid: number_field(self.pid, "pid")?,
            ppid: number_field(self.ppid, "ppid")?,
            exe: self.exe.and_then(untrusted).map(text),
            comm: self.comm.and_then(untrusted).map(text),
            uid: id_field(self.uid, "uid")?,
            login_uid: id_field(self.auid, "auid")?,
            session: id_field(self.ses, "ses")?,
            tty: self.tty.filter(|t| !is_absent(t)).map(|t| lossy(unquote(t))),
            security_context: self.subj.filter(|s| !is_absent(s)).map(|s| lossy(unquote(s))),
            ..Process::default()
        })
    }
}

fn number_field<T: std::str::FromStr>(value: Option<&[u8]>, name: &str) -> Result<Option<T>, String> {
    let Some(value) = value else { return Ok(None) };
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| format!("{name}={} is not a number in range", lossy(value)))
}

/// A uid or session id: `None` when unset (4294967295, or -1 as some tools write it).
fn id_field(value: Option<&[u8]>, name: &str) -> Result<Option<u32>, String> {
    if value == Some(b"-1") {
        return Ok(None);
    }
    Ok(number_field::<u32>(value, name)?.filter(|&id| id != UNSET))
}

fn is_absent(value: &[u8]) -> bool {
    matches!(value, b"(null)" | b"(none)" | b"?")
}

fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        [b'"', inner @ ..] => inner,
        _ => value,
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// [`lossy`] without a copy when the bytes are already owned (decoded hex) and UTF-8.
fn text(bytes: Cow<'_, [u8]>) -> String {
    match bytes {
        Cow::Borrowed(b) => lossy(b),
        Cow::Owned(v) => String::from_utf8(v).unwrap_or_else(|e| lossy(e.as_bytes())),
    }
}

/// The command line a `proctitle` spells: NULs between arguments become spaces.
fn command_line(title: &[u8]) -> String {
    let end = title.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut line = title[..end].to_vec();
    for b in &mut line {
        if *b == 0 {
            *b = b' ';
        }
    }
    text(Cow::Owned(line))
}

/// The `EXECVE` arguments in order: `aN="…"` or hex, or an argument too long for one record
/// split as `aN_len=…` then `aN[0]=…`, `aN[1]=…` (possibly across several EXECVE records).
fn execve_args<'a>(buf: &'a [u8], records: &[Record]) -> Vec<Cow<'a, [u8]>> {
    let mut pieces: Vec<(u32, u32, Cow<'a, [u8]>)> = Vec::new();
    for record in records {
        for (key, value) in fields(&buf[record.body.clone()]) {
            let Some(rest) = key.strip_prefix(b"a") else { continue };
            let (n, part) = match memchr::memchr(b'[', rest) {
                Some(open) => {
                    let Some(part) = rest[open + 1..].strip_suffix(b"]").and_then(digits) else {
                        continue;
                    };
                    (&rest[..open], part)
                }
                None => (rest, 0),
            };
            let (Some(n), Ok(part)) = (digits(n).and_then(|n| u32::try_from(n).ok()), u32::try_from(part)) else {
                // `argc`, `aN_len` and anything else.
                continue;
            };
            pieces.push((n, part, untrusted(value).unwrap_or_default()));
        }
    }
    if pieces.windows(2).any(|w| (w[0].0, w[0].1) >= (w[1].0, w[1].1)) {
        pieces.sort_by_key(|p| (p.0, p.1));
        pieces.dedup_by_key(|p| (p.0, p.1));
    }
    let mut args: Vec<Cow<'a, [u8]>> = Vec::with_capacity(pieces.len());
    let mut last = None;
    for (n, _, bytes) in pieces {
        match args.last_mut() {
            Some(arg) if last == Some(n) => arg.to_mut().extend_from_slice(&bytes),
            _ => args.push(bytes),
        }
        last = Some(n);
    }
    args
}

// ---------------------------------------------------------------------------------------------
// fields and values

/// The `key=value` fields of a record body, separated by spaces. A value is `"…"`, `'…'` (the
/// `msg='…'` of user-space records) or runs to the next space; a word without `=` is skipped.
fn fields(body: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut i = 0;
    std::iter::from_fn(move || loop {
        while body.get(i) == Some(&b' ') {
            i += 1;
        }
        if i >= body.len() {
            return None;
        }
        let key_start = i;
        while i < body.len() && body[i] != b'=' && body[i] != b' ' {
            i += 1;
        }
        if i >= body.len() || body[i] == b' ' {
            continue;
        }
        let key = &body[key_start..i];
        i += 1;
        let value_start = i;
        let end = match body.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                memchr::memchr(quote, &body[i + 1..]).map_or(body.len(), |n| i + 1 + n + 1)
            }
            _ => memchr::memchr(b' ', &body[i..]).map_or(body.len(), |n| i + n),
        };
        i = end;
        return Some((key, &body[value_start..end]));
    })
}

/// An untrusted string's bytes: `"text"` as is, hex decoded, `None` for `(null)` and
/// `(none)`. A value that is neither quoted nor hex is kept as logged.
fn untrusted(value: &[u8]) -> Option<Cow<'_, [u8]>> {
    if let Some(inner) = value.strip_prefix(b"\"") {
        return Some(Cow::Borrowed(inner.strip_suffix(b"\"").unwrap_or(inner)));
    }
    if is_absent(value) {
        return None;
    }
    Some(match unhex(value, false) {
        Some(bytes) => Cow::Owned(bytes),
        None => Cow::Borrowed(value),
    })
}

fn hex_digit(b: u8, lowercase: bool) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' if lowercase => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Hex to bytes; `None` when the text is empty, odd-length or not hex. The kernel writes
/// uppercase; `lowercase` also accepts lowercase digits.
fn unhex(text: &[u8], lowercase: bool) -> Option<Vec<u8>> {
    if text.is_empty() || text.len() % 2 != 0 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() / 2);
    for pair in text.chunks_exact(2) {
        bytes.push(hex_digit(pair[0], lowercase)? << 4 | hex_digit(pair[1], lowercase)?);
    }
    Some(bytes)
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// A `saddr` as a destination: `Ok(None)` for a family that is not an IP address (`AF_UNIX`,
/// netlink, …); an error when the hex or the length is damaged.
pub(super) fn sockaddr(saddr: &[u8]) -> Result<Option<(IpAddr, u16)>, String> {
    let bytes = unhex(saddr, true).ok_or_else(|| format!("saddr={} is not hex", lossy(saddr)))?;
    let short = |family: &str, need: usize| {
        format!(
            "saddr={} is {} bytes, too short for {family} ({need})",
            lossy(saddr),
            bytes.len()
        )
    };
    let [f0, f1, ..] = bytes[..] else {
        return Err(short("a socket address", 2));
    };
    // sa_family in host byte order: little-endian on x86_64 and aarch64.
    match u16::from_le_bytes([f0, f1]) {
        AF_INET => {
            let [_, _, p0, p1, a, b, c, d, ..] = bytes[..] else {
                return Err(short("AF_INET", 8));
            };
            Ok(Some((
                IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
                u16::from_be_bytes([p0, p1]),
            )))
        }
        AF_INET6 => {
            let Some(address) = bytes.get(8..24).and_then(|a| <[u8; 16]>::try_from(a).ok()) else {
                return Err(short("AF_INET6", 24));
            };
            let port = u16::from_be_bytes([bytes[2], bytes[3]]);
            let v6 = Ipv6Addr::from(address);
            let ip = match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            };
            Ok(Some((ip, port)))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(hex: &str) -> Result<Option<(IpAddr, u16)>, String> {
        sockaddr(hex.as_bytes())
    }

    #[test]
    fn saddr_ipv4() {
        assert_eq!(
            sa("02000050A9FEA9FE0000000000000000"),
            Ok(Some(("169.254.169.254".parse().unwrap(), 80)))
        );
        assert_eq!(
            sa("02001F907F000001"),
            Ok(Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 8080)))
        );
        assert!(sa("02000050A9FE").is_err_and(|e| e.contains("too short for AF_INET")));
    }

    #[test]
    fn saddr_ipv6_and_mapped_ipv4() {
        let v6: Ipv6Addr = "fd00:ec2::254".parse().unwrap();
        assert_eq!(sa(""), Err("saddr= is not hex".to_string()));
        assert_eq!(
            sa("0A00005000000000FD000EC200000000000000000000025400000000"),
            Ok(Some((IpAddr::V6(v6), 80)))
        );
        // ::ffff:169.254.169.254 from a dual-stack socket.
        assert_eq!(
            sa("0A0000500000000000000000000000000000FFFFA9FEA9FE00000000"),
            Ok(Some((IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)), 80)))
        );
        assert!(sa("0A000050000000000000").is_err_and(|e| e.contains("AF_INET6")));
    }

    #[test]
    fn saddr_other_families_and_damage() {
        // AF_UNIX "/run/dbus/system_bus_socket"
        assert_eq!(
            sa("01002F72756E2F646275732F73797374656D5F6275735F736F636B6574"),
            Ok(None)
        );
        // AF_NETLINK
        assert_eq!(sa("100000000000000000000000"), Ok(None));
        assert!(sa("0200005GA9FEA9FE").is_err_and(|e| e.contains("not hex")));
        assert!(sa("0200005").is_err());
        assert!(sa("02").is_err_and(|e| e.contains("too short")));
    }

    #[test]
    fn untrusted_strings() {
        assert_eq!(untrusted(b"\"celery\"").as_deref(), Some(&b"celery"[..]));
        assert_eq!(untrusted(b"2F62696E2F7368002D63").as_deref(), Some(&b"/bin/sh\0-c"[..]));
        assert_eq!(untrusted(b"(null)"), None);
        assert_eq!(untrusted(b"(none)"), None);
        // Lowercase is not what the kernel writes: kept as logged.
        assert_eq!(untrusted(b"2f62").as_deref(), Some(&b"2f62"[..]));
        assert_eq!(untrusted(b"ABC").as_deref(), Some(&b"ABC"[..]));
        assert_eq!(command_line(b"/bin/sh\0-c\0echo hi\0"), "/bin/sh -c echo hi");
        assert_eq!(lossy(&untrusted(b"C3A9FF").unwrap()), "é\u{fffd}");
    }

    #[test]
    fn unset_ids() {
        assert_eq!(id_field(Some(b"4294967295"), "auid"), Ok(None));
        assert_eq!(id_field(Some(b"-1"), "auid"), Ok(None));
        assert_eq!(id_field(Some(b"1000"), "auid"), Ok(Some(1000)));
        assert_eq!(id_field(None, "auid"), Ok(None));
        assert!(id_field(Some(b"x1"), "auid").is_err());
        assert!(id_field(Some(b"4294967296"), "auid").is_err());
    }

    #[test]
    fn stamps_and_headers() {
        assert_eq!(
            stamp(b"1789346731.423:272367"),
            Some(Stamp {
                millis: 1_789_346_731_423,
                serial: 272_367
            })
        );
        assert_eq!(stamp(b"1789346731.4:1").map(|s| s.millis), Some(1_789_346_731_400));
        for bad in &[
            &b""[..],
            b"1789346731.423",
            b"17893x6731.423:1",
            b":1",
            b"1.2:",
            b"1.2a:3",
        ] {
            assert_eq!(stamp(bad), None, "{}", lossy(bad));
        }
        let line = b"node=ip-10-0-1-5 type=EOE msg=audit(1789346731.423:272367): ";
        let h = header(line).map_err(|e| e.1);
        let h = h
            .as_ref()
            .map(|h| (&line[h.kind.clone()], h.node.clone().map(|n| &line[n])));
        assert_eq!(h, Ok((&b"EOE"[..], Some(&b"ip-10-0-1-5"[..]))));
        assert!(header(b"type=EOE msg=audit(1789346731.423:272367)").is_err());
        assert_eq!(
            header(b"type=EOE msg=audit(x:1): ").map(|_| ()).map_err(|e| e.0),
            Err(Reason::BadTimestamp)
        );
        let fs: Vec<(&[u8], &[u8])> =
            fields(b"pid=1 msg='op=PAM:x acct=\"root\" res=success' a0=\"x y\" word k=").collect();
        assert_eq!(
            fs,
            [
                (&b"pid"[..], &b"1"[..]),
                (b"msg", b"'op=PAM:x acct=\"root\" res=success'"),
                (b"a0", b"\"x y\""),
                (b"k", b""),
            ]
        );
    }

    #[test]
    fn classification() {
        assert_eq!(classify(Some(b"c000003e"), 42, None, None), Call::Connect);
        assert_eq!(classify(Some(b"C000003E"), 59, None, None), Call::Exec);
        assert_eq!(classify(Some(b"c00000b7"), 203, None, None), Call::Connect);
        assert_eq!(classify(Some(b"c00000b7"), 42, None, None), Call::Other);
        assert_eq!(classify(Some(b"40000003"), 102, None, Some(b"3")), Call::Connect);
        assert_eq!(classify(Some(b"c0009026"), 7, Some(b"connect"), None), Call::Connect);
        assert_eq!(classify(Some(b"c0009026"), 7, None, None), Call::Other);
        assert_eq!(classify(None, 322, None, None), Call::Exec);
    }
}
