//! laurel's JSON rendering of Linux audit events: one JSON object per line, every record of an
//! auditd event (`msg=audit(…)` stamp) coalesced into it.
//!
//! The shape follows laurel's documentation (`json-format.md` and laurel-about(7),
//! <https://github.com/threathunters-io/laurel>): every line holds at least an `ID`
//! (`"<epoch seconds>.<milliseconds>:<serial>"`, written first), then `NODE` when auditd names
//! the node; `SYSCALL`, `EXECVE`, `CWD` and `PROCTITLE` are single objects, `PATH` and
//! `SOCKADDR` lists of objects. `SYSCALL.a0…a3` become `SYSCALL.ARGV`, `EXECVE.a*` become
//! `EXECVE.ARGV` (or the string `EXECVE.ARGV_STR`), `PROCTITLE.proctitle` split at NULs becomes
//! `PROCTITLE.ARGV`. Decimal numbers are JSON numbers, hexadecimal ones strings such as
//! `"0xc000003e"`. Bytes that are not printable ASCII or valid UTF-8, and `%` and `+`, are
//! percent-encoded (`%25`); they are decoded here. Enriched values use upper-case keys, as auditd
//! `log_format = ENRICHED` does: `SYSCALL.SYSCALL` (`"connect"`), `ARCH`, `UID`/`AUID`
//! (`"root"`, `"unset"`); with `translate.drop-raw` only the names remain.
//!
//! laurel's process enrichment (`SYSCALL.PPID` / `SYSCALL.PID` objects with `EVENT_ID`, `comm`,
//! `exe`, `ppid`; `PARENT_INFO` in older releases, where `SYSCALL.ppid` itself may be such an
//! object) is tolerated; a container id is read from a `container_info` / `CONTAINER_INFO` /
//! `container` object's `id`, at the top level, in `SYSCALL`, or in `SYSCALL.PID`.
//!
//! `SOCKADDR[].saddr` is the decoded address (`{"family":"inet","addr":"169.254.169.254",
//! "port":80}`), the translated `SADDR` (`{"saddr_fam":"inet","addr":…,"port":"80"}`, what laurel
//! writes with `translate.universal`), or the kernel's hex (older releases); all three are read.
//!
//! Events read into credtrail events, as for raw auditd (see `auditd.rs`): `connect` with an
//! `inet`/`inet6` address → [`ProcessConnect`] (`EINPROGRESS` is not a failure); a successful
//! `execve`/`execveat` → [`ProcessStart`]. Other events (user-space records, other syscalls,
//! other address families, a connect without `SOCKADDR`) are counted and yield nothing. A line
//! that is not UTF-8, not JSON, not an object, has no readable `ID`, or whose `SYSCALL` or
//! address fields are mistyped is a diagnostic.

use std::borrow::Cow;
use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, HostSensor, Origin, Process, ProcessConnect, ProcessStart, Timestamp};
use serde_json::{Map, Value};

use super::auditd::{classify, sockaddr, stamp, Call, EINPROGRESS, UNSET};
use super::{Format, ParsedFile};
use crate::diagnostic::Reason;
use crate::json_stream::{json_lines, skip_ws};

pub struct Laurel;

const NAME: &str = "laurel";

/// Lines looked at when sniffing (the first may be cut by log rotation).
const SNIFF_LINES: usize = 8;

impl Format for Laurel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "laurel JSON lines (auditd events coalesced by laurel): connect and execve events with the process, parent and container enrichment"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let start = skip_ws(head, 0);
        if head.get(start) != Some(&b'{') {
            return false;
        }
        // laurel writes `ID` first (coalesce.rs `Serialize for Event`): `{"ID":"<s>.<ms>:<n>"`.
        json_lines(head, start).take(SNIFF_LINES).any(|span| {
            let line = &head[span.start..span.end];
            let Some(rest) = line.strip_prefix(b"{") else {
                return false;
            };
            let rest = &rest[leading_ws(rest)..];
            let Some(rest) = rest.strip_prefix(b"\"ID\"") else {
                return false;
            };
            let rest = &rest[leading_ws(rest)..];
            let Some(rest) = rest.strip_prefix(b":") else {
                return false;
            };
            let rest = &rest[leading_ws(rest)..];
            let Some(rest) = rest.strip_prefix(b"\"") else {
                return false;
            };
            let Some(end) = memchr::memchr(b'"', rest) else {
                return false;
            };
            stamp(&rest[..end]).is_some()
        })
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        super::json_records::json_line_events(buf, file, NAME, out, record);
    }
}

fn leading_ws(s: &[u8]) -> usize {
    s.iter().take_while(|b| matches!(b, b' ' | b'\t')).count()
}

use super::json_records::Failure;

fn missing(detail: impl Into<String>) -> Failure {
    (Reason::MissingField, detail.into())
}

/// Parses one line as a JSON object, with the reason a failure gets.
pub(super) fn json_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, Failure> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err((
            Reason::InvalidUtf8,
            format!("line holds bytes that are not UTF-8 ({e}); JSON must be UTF-8"),
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(missing(format!("not {what}: the line is JSON but not an object"))),
        Err(e) => Err((Reason::InvalidJson, format!("invalid JSON: {e}"))),
    }
}

fn record(bytes: &[u8], origin: Origin) -> Result<Option<Event>, Failure> {
    let map = json_object(bytes, "a laurel event")?;
    let id = match map.get("ID") {
        Some(Value::String(id)) => id,
        Some(_) => return Err(missing("ID is not a string")),
        None => return Err(missing("not a laurel event: no ID")),
    };
    let time = stamp(id.as_bytes())
        .map(|s| Timestamp::from_millis(s.millis))
        .ok_or_else(|| {
            (
                Reason::BadTimestamp,
                format!("cannot read the event ID {id:?}: expected <seconds>.<milliseconds>:<serial>"),
            )
        })?;
    let Some(body) = build(&map)? else { return Ok(None) };
    Ok(Some(Event { time, origin, body }))
}

fn build(map: &Map<String, Value>) -> Result<Option<Body>, Failure> {
    let syscall = match map.get("SYSCALL") {
        None => return Ok(None),
        Some(Value::Object(s)) => s,
        Some(_) => return Err(missing("SYSCALL is not an object")),
    };
    let call = call(syscall)?;
    if call == Call::Other {
        return Ok(None);
    }
    let mut process = process(syscall)?;
    process.container = container(map)
        .or_else(|| container(syscall))
        .or_else(|| syscall.get("PID").and_then(Value::as_object).and_then(container));
    let host = text(map.get("NODE"));
    let success = match syscall.get("success").and_then(Value::as_str) {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let exit = match syscall.get("exit") {
        None | Some(Value::Null) => None,
        Some(v) => Some(integer(v).ok_or_else(|| missing(format!("SYSCALL.exit {v} is not a number")))?),
    };
    let title = object(map, "PROCTITLE")?
        .map(|p| argv(p, "proctitle"))
        .unwrap_or_default();
    match call {
        Call::Connect => {
            let Some((destination, port)) = destination(map)? else {
                return Ok(None);
            };
            set_command_line(&mut process, &title);
            let failed = match exit {
                Some(exit) => exit < 0 && exit != EINPROGRESS,
                None => success == Some(false),
            };
            Ok(Some(Body::ProcessConnect(Box::new(ProcessConnect {
                sensor: HostSensor::Laurel,
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
            let execve = object(map, "EXECVE")?;
            let args = execve.map(|e| argv(e, "")).unwrap_or_default();
            // `ARGV_STR` (laurel `transform.execve-argv = ["string"]`) is the arguments joined by
            // spaces: the command line, but not where the first argument ends.
            match execve.and_then(|e| text(e.get("ARGV_STR"))) {
                Some(line) if args.is_empty() => process.command_line = Some(line),
                _ => set_command_line(&mut process, if args.is_empty() { &title } else { &args }),
            }
            process.cwd = object(map, "CWD")?.and_then(|c| text(c.get("cwd")));
            Ok(Some(Body::ProcessStart(Box::new(ProcessStart {
                sensor: HostSensor::Laurel,
                host,
                process,
            }))))
        }
        Call::Other => Ok(None),
    }
}

fn object<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a Map<String, Value>>, Failure> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(missing(format!("{key} is not an object"))),
    }
}

/// Which call the SYSCALL object records: by the enriched name when there is one, otherwise by
/// number in its architecture's table (auditd.rs `classify`).
fn call(syscall: &Map<String, Value>) -> Result<Call, Failure> {
    let by_name = |name: &str| match name {
        "connect" => Call::Connect,
        "execve" | "execveat" => Call::Exec,
        _ => Call::Other,
    };
    if let Some(name) = syscall.get("SYSCALL").and_then(Value::as_str) {
        return Ok(by_name(name));
    }
    let number = match syscall.get("syscall") {
        None => return Err(missing("SYSCALL has no syscall")),
        Some(Value::String(s)) if s.parse::<u32>().is_err() => return Ok(by_name(s)),
        Some(v) => integer(v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| missing(format!("SYSCALL.syscall {v} is not a syscall number")))?,
    };
    let arch = syscall.get("arch").and_then(|a| match a {
        Value::String(s) => Some(s.trim_start_matches("0x").to_string()),
        Value::Number(n) => n.as_u64().map(|n| format!("{n:x}")),
        _ => None,
    });
    let a0 = syscall
        .get("ARGV")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(|a| a.trim_start_matches("0x").to_string());
    Ok(classify(
        arch.as_deref().map(str::as_bytes),
        number,
        None,
        a0.as_deref().map(str::as_bytes),
    ))
}

fn process(s: &Map<String, Value>) -> Result<Process, Failure> {
    let (uid, uid_name) = id(s, "uid")?;
    let (login_uid, _) = id(s, "auid")?;
    let (session, _) = id(s, "ses")?;
    Ok(Process {
        pid: pid(s, "pid")?,
        // Older laurel replaced `ppid` by its enrichment object: the parent's id is then unknown.
        ppid: match s.get("ppid") {
            Some(Value::Object(_)) => None,
            _ => pid(s, "ppid")?,
        },
        exe: text(s.get("exe")),
        comm: text(s.get("comm")),
        uid,
        login_uid,
        session,
        tty: text(s.get("tty")).filter(|t| t != "(none)"),
        security_context: text(s.get("subj")),
        user_name: uid_name.or_else(|| text(s.get("UID")).filter(|u| u != "unset" && !u.starts_with("unknown("))),
        ..Process::default()
    })
}

fn pid(s: &Map<String, Value>, key: &str) -> Result<Option<u32>, Failure> {
    match s.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => integer(v)
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| missing(format!("SYSCALL.{key} {v} is not a process id"))),
    }
}

/// A uid or session id: a number, unset (4294967295, -1, `"unset"`) as `None`, or a name (laurel
/// `translate.drop-raw` leaves only `UID:"root"`), returned second.
fn id(s: &Map<String, Value>, key: &str) -> Result<(Option<u32>, Option<String>), Failure> {
    let upper = key.to_ascii_uppercase();
    let value = match s.get(key).filter(|v| !v.is_null()) {
        Some(v) => v,
        None => match s.get(&upper) {
            Some(Value::String(name)) if name != "unset" && !name.starts_with("unknown(") => {
                return Ok((None, Some(name.clone())))
            }
            _ => return Ok((None, None)),
        },
    };
    match value {
        Value::String(name) if name == "unset" => Ok((None, None)),
        Value::String(name) if integer(value).is_none() => Ok((None, Some(name.clone()))),
        _ => match integer(value) {
            Some(-1) => Ok((None, None)),
            Some(n) => match u32::try_from(n) {
                Ok(UNSET) => Ok((None, None)),
                Ok(n) => Ok((Some(n), None)),
                Err(_) => Err(missing(format!("SYSCALL.{key} {value} is out of range"))),
            },
            None => Err(missing(format!("SYSCALL.{key} {value} is not an id"))),
        },
    }
}

/// A JSON number, a decimal string, or laurel's `"0x…"` hexadecimal string.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

/// A string value, percent-decoded; `None` for null, empty, and auditd's `(null)`.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if s.is_empty() || s == "(null)" || s == "?" => None,
        Value::String(s) => Some(unpercent(s).into_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// laurel percent-encodes bytes that are not printable or valid UTF-8, and `%` and `+`
/// (json-format.md); a `%` not followed by two hex digits is kept as written.
pub(super) fn unpercent(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The `ARGV` list of an object (or its `fallback` string field, NULs between arguments).
fn argv(o: &Map<String, Value>, fallback: &str) -> Vec<String> {
    match o.get("ARGV") {
        Some(Value::Array(args)) => args
            .iter()
            .map(|a| match a {
                Value::String(s) => unpercent(s).into_owned(),
                other => other.to_string(),
            })
            .collect(),
        _ => text(o.get(fallback))
            .map(|t| t.split('\0').filter(|a| !a.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
    }
}

fn set_command_line(process: &mut Process, args: &[String]) {
    if let Some(first) = args.first() {
        process.argv0 = Some(first.clone());
        process.command_line = Some(args.join(" "));
    }
}

/// A container id from a `container_info`, `CONTAINER_INFO` or `container` object (or string).
fn container(o: &Map<String, Value>) -> Option<String> {
    ["container_info", "CONTAINER_INFO", "container", "CONTAINER"]
        .iter()
        .find_map(|k| match o.get(*k)? {
            Value::Object(c) => text(c.get("id").or_else(|| c.get("ID"))),
            Value::String(id) => text(Some(&Value::String(id.clone()))),
            _ => None,
        })
}

/// The first IP address of the event's `SOCKADDR` list: `Ok(None)` when there is none or it is
/// another family.
fn destination(map: &Map<String, Value>) -> Result<Option<(IpAddr, u16)>, Failure> {
    let entries = match map.get("SOCKADDR") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => return Err(missing("SOCKADDR is not a list")),
    };
    for entry in entries {
        let Value::Object(entry) = entry else {
            return Err(missing("a SOCKADDR entry is not an object"));
        };
        let found = match (entry.get("saddr"), entry.get("SADDR")) {
            (Some(Value::Object(a)), _) | (_, Some(Value::Object(a))) => decoded(a)?,
            (Some(Value::String(hex)), _) => sockaddr(hex.as_bytes()).map_err(|d| missing(format!("SOCKADDR.{d}")))?,
            (None, None) => return Err(missing("SOCKADDR entry has no saddr")),
            (Some(v), _) | (_, Some(v)) => return Err(missing(format!("SOCKADDR.saddr {v} is not an address"))),
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// `{"family":"inet","addr":"169.254.169.254","port":80}` or the translated
/// `{"saddr_fam":"inet","addr":…,"port":"80"}`.
fn decoded(a: &Map<String, Value>) -> Result<Option<(IpAddr, u16)>, Failure> {
    let family = a.get("family").or_else(|| a.get("saddr_fam")).and_then(Value::as_str);
    if !matches!(family, Some("inet" | "inet6")) {
        return Ok(None);
    }
    let addr = a.get("addr").and_then(Value::as_str).unwrap_or_default();
    let ip: IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| missing(format!("SOCKADDR address {addr:?} is not an IP address")))?;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let port = a
        .get("port")
        .and_then(integer)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| {
            missing(format!(
                "SOCKADDR port {} is not a port",
                a.get("port").unwrap_or(&Value::Null)
            ))
        })?;
    Ok(Some((ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(unpercent("/tmp/a%20b%25c"), "/tmp/a b%c");
        assert_eq!(unpercent("100%"), "100%");
        assert_eq!(unpercent("%zz%4"), "%zz%4");
        assert_eq!(unpercent("%C3%A9%FF"), "é\u{fffd}");
    }

    #[test]
    fn sniffs_the_id_first() {
        assert!(Laurel.sniff(br#"{"ID":"1789346731.423:272367","SYSCALL":{}}"#));
        assert!(Laurel.sniff(b"{ \"ID\" : \"1.2:3\"}\n"));
        assert!(!Laurel.sniff(br#"{"SYSCALL":{},"ID":"1.2:3"}"#));
        assert!(!Laurel.sniff(br#"{"ID":"abc"}"#));
        assert!(!Laurel.sniff(b"type=EOE msg=audit(1.000:1): \n"));
    }
}
