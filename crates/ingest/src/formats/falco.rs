//! Falco alerts as Falco writes them with `json_output: true` (file, stdout, program and HTTP
//! outputs, Falcosidekick): one JSON object per line,
//! `{"hostname":…,"output":…,"output_fields":{…},"priority":"Warning","rule":…,"source":"syscall",
//! "tags":[…],"time":"2026-09-14T10:00:00.123456789Z"}` (Falco's alert output,
//! <https://falco.org/docs/concepts/outputs/>). `output_fields` holds every field the rule's
//! `output` names (plus `append_output` extras), keyed by the field name; the field meanings
//! follow "Supported Fields for Conditions and Outputs"
//! (<https://falco.org/docs/reference/rules/supported-fields/>):
//!
//! - `proc.exepath` is the executable's full path (the kernel's view); `proc.exe` is `argv[0]`,
//!   which the caller chooses, so it is the first argument and not the executable; `proc.name`
//!   is the task name (`comm`); `proc.cmdline` is `proc.name` and the arguments; `proc.pid`,
//!   `proc.ppid`, `proc.cwd`;
//! - `user.name`, `user.uid`, `user.loginuid` (-1 when unset);
//! - `fd.sip`/`fd.sport` are the server side of a connection, `fd.cip`/`fd.cport` the client,
//!   `fd.rip`/`fd.rport` the remote end; `fd.name` of a socket is
//!   `<client>:<port>-><server>:<port>` (the default rule "Contact EC2 Instance Metadata Service
//!   From Container" logs only `fd.name`, `fd.lport`, `fd.rport`);
//! - `evt.type` (`connect`, `execve`), `evt.rawres` (the syscall's return value);
//! - `container.id` (`host` for a process that is not in a container), `k8s.ns.name`,
//!   `k8s.pod.name`. Fields Falco cannot resolve are `null` or `<NA>`.
//!
//! Mapping: an `execve`/`execveat` alert → [`ProcessStart`]; an alert whose fields give a
//! connection (`fd.sip`, `fd.rip`, or an `fd.name` with `->`) → [`ProcessConnect`] to the server
//! side, `failed` only when `evt.rawres` is an error other than `EINPROGRESS`. `host` is the
//! alert's `hostname`. Alerts without process or address fields (Kubernetes audit, CloudTrail
//! plugin, file rules) are counted and yield nothing. A line that is not UTF-8, not JSON, not an
//! object, not an alert (no `rule` or `time`), or has a mistyped process or address field is a
//! diagnostic.

use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, HostSensor, Origin, Process, ProcessConnect, ProcessStart, Timestamp};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::auditd::{EINPROGRESS, UNSET};
use super::laurel::json_object;
use super::{Format, ParsedFile};
use crate::diagnostic::Reason;
use crate::json_stream::{json_lines, skip_ws};

pub struct Falco;

const NAME: &str = "falco";

const SNIFF_LINES: usize = 8;

impl Format for Falco {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Falco alerts, JSON lines (json_output: true): the process and connection of a rule's output fields; connect and execve"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        /// What every Falco alert has (`rule`, `priority`, `time`, and `output` or
        /// `output_fields`).
        #[derive(Deserialize)]
        struct Alert {
            rule: Option<IgnoredAny>,
            priority: Option<IgnoredAny>,
            time: Option<IgnoredAny>,
            output: Option<IgnoredAny>,
            output_fields: Option<IgnoredAny>,
        }
        let start = skip_ws(head, 0);
        if head.get(start) != Some(&b'{')
            || !super::mentions(head, b"\"priority\"")
            || !super::mentions(head, b"\"rule\"")
        {
            return false;
        }
        json_lines(head, start)
            .take(SNIFF_LINES)
            .filter_map(|s| serde_json::from_slice::<Alert>(&head[s.start..s.end]).ok())
            .any(|a| {
                a.rule.is_some()
                    && a.priority.is_some()
                    && a.time.is_some()
                    && (a.output.is_some() || a.output_fields.is_some())
            })
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        super::json_records::json_line_events(buf, file, NAME, out, record);
    }
}

use super::json_records::Failure;

fn missing(detail: impl Into<String>) -> Failure {
    (Reason::MissingField, detail.into())
}

fn record(bytes: &[u8], origin: Origin) -> Result<Option<Event>, Failure> {
    let map = json_object(bytes, "a Falco alert")?;
    if !matches!(map.get("rule"), Some(Value::String(_))) {
        return Err(missing("not a Falco alert: no rule"));
    }
    let time = match map.get("time") {
        Some(Value::String(t)) => {
            Timestamp::parse_rfc3339(t).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {t:?}")))?
        }
        Some(other) => return Err((Reason::BadTimestamp, format!("time {other} is not RFC 3339 text"))),
        None => return Err(missing("alert has no time")),
    };
    let fields = match map.get("output_fields") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(f)) => f,
        Some(_) => return Err(missing("output_fields is not an object")),
    };
    let host = text(map.get("hostname"));
    let Some(body) = build(fields, host)? else {
        return Ok(None);
    };
    Ok(Some(Event { time, origin, body }))
}

fn build(f: &Map<String, Value>, host: Option<String>) -> Result<Option<Body>, Failure> {
    let exec = matches!(text(f.get("evt.type")).as_deref(), Some("execve" | "execveat"));
    let connection = if exec { None } else { connection(f)? };
    if !exec && connection.is_none() {
        return Ok(None);
    }
    let process = process(f)?;
    let Some((destination, port)) = connection else {
        return Ok(Some(Body::ProcessStart(Box::new(ProcessStart {
            sensor: HostSensor::Falco,
            host,
            process,
        }))));
    };
    let result = match f.get("evt.rawres") {
        None | Some(Value::Null) => None,
        Some(v) => integer(v),
    };
    Ok(Some(Body::ProcessConnect(Box::new(ProcessConnect {
        sensor: HostSensor::Falco,
        host,
        process,
        destination,
        port,
        failed: result.is_some_and(|r| r < 0 && r != EINPROGRESS),
        result,
        http: None,
    }))))
}

fn process(f: &Map<String, Value>) -> Result<Process, Failure> {
    Ok(Process {
        pid: number(f, "proc.pid")?,
        ppid: number(f, "proc.ppid")?,
        exe: text(f.get("proc.exepath")),
        comm: text(f.get("proc.name")),
        command_line: text(f.get("proc.cmdline")),
        argv0: text(f.get("proc.exe")),
        uid: id(f, "user.uid")?,
        login_uid: id(f, "user.loginuid")?,
        cwd: text(f.get("proc.cwd")),
        container: text(f.get("container.id")).filter(|c| c != "host"),
        user_name: text(f.get("user.name")),
        ..Process::default()
    })
}

/// A string field; `None` for null, empty and Falco's `<NA>`.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if s.is_empty() || s == "<NA>" => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number field, absent as `None`, mistyped as a failure.
fn number<T: TryFrom<i64>>(f: &Map<String, Value>, key: &str) -> Result<Option<T>, Failure> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "<NA>" || s.is_empty() => Ok(None),
        Some(v) => integer(v)
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| missing(format!("{key} {v} is not a number in range"))),
    }
}

/// A uid: unset (-1, 4294967295) is `None`.
fn id(f: &Map<String, Value>, key: &str) -> Result<Option<u32>, Failure> {
    if f.get(key).and_then(integer) == Some(-1) {
        return Ok(None);
    }
    Ok(number::<u32>(f, key)?.filter(|&id| id != UNSET))
}

/// The server side of the alert's socket: `fd.sip`/`fd.sport`, else `fd.rip`/`fd.rport`, else
/// the part of `fd.name` after `->`. `Ok(None)` when the alert names no connection.
fn connection(f: &Map<String, Value>) -> Result<Option<(IpAddr, Option<u16>)>, Failure> {
    for (ip_key, port_key) in [("fd.sip", "fd.sport"), ("fd.rip", "fd.rport")] {
        if let Some(ip) = text(f.get(ip_key)) {
            let ip = parse_ip(&ip).ok_or_else(|| missing(format!("{ip_key} {ip:?} is not an IP address")))?;
            return Ok(Some((ip, number(f, port_key)?)));
        }
    }
    let Some(name) = text(f.get("fd.name")) else {
        return Ok(None);
    };
    let Some((_, server)) = name.split_once("->") else {
        // A file, pipe or unconnected socket.
        return Ok(None);
    };
    let (ip, port) = server
        .rsplit_once(':')
        .and_then(|(ip, port)| Some((parse_ip(ip)?, port.parse::<u16>().ok()?)))
        .ok_or_else(|| missing(format!("fd.name {name:?}: the server side is not <address>:<port>")))?;
    Ok(Some((ip, Some(port))))
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.trim().trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_server_side_of_fd_name() {
        let f = fields(r#"{"fd.name":"10.0.0.5:40000->169.254.169.254:80"}"#);
        assert_eq!(connection(&f), Ok(Some(("169.254.169.254".parse().unwrap(), Some(80)))));
        let f = fields(r#"{"fd.name":"[fd00::5]:40000->[fd00:ec2::254]:80"}"#);
        assert_eq!(connection(&f), Ok(Some(("fd00:ec2::254".parse().unwrap(), Some(80)))));
        let f = fields(r#"{"fd.name":"/etc/shadow"}"#);
        assert_eq!(connection(&f), Ok(None));
        let f = fields(r#"{"fd.name":"10.0.0.5:40000->nowhere"}"#);
        assert!(connection(&f).is_err());
        let f = fields(r#"{"fd.sip":"169.254.169.254","fd.sport":80,"fd.name":"x"}"#);
        assert_eq!(connection(&f), Ok(Some(("169.254.169.254".parse().unwrap(), Some(80)))));
    }
}
