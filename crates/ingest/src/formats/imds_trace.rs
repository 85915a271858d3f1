//! `imds-trace.log`, written by AWS's ImdsPacketAnalyzer
//! (<https://github.com/aws/aws-imds-packet-analyzer>, `src/imds_snoop.py`, `src/bpf.c`): an eBPF
//! probe on `sock_sendmsg` reports every send to 169.254.169.254 with the sending process and up
//! to three ancestors, and a Python logger writes one line per send.
//!
//! A line is `[<time>] [<LEVEL>] <message>` (Python `logging` format
//! `[%(asctime)s] [%(levelname)s] %(message)s`). The time is `2022-12-20T11:03:58` with the
//! shipped `logging.conf` (`datefmt=%Y-%m-%dT%H:%M:%S`), or Python's default
//! `2022-12-20 11:03:58,123` when the tool runs without one (1.1.0 and later); both are the host's
//! local time without a zone, read as UTC (the EC2 default). A call's message is
//!
//! ```text
//! IMDSv1(!) (pid:1016:curl argv:curl http://169.254.169.254/latest/meta-data/) called by -> (pid:1015:makeCalls.sh argv:/bin/bash ./makeCalls.sh) -> (pid:32678:zsh argv:-zsh) -> (pid:32677:sshd argv:sshd: ec2-user@pts/0) Req details: GET /latest/meta-data/ HTTP/1.1, Host: 169.254.169.254, User-Agent: curl/8.3.0, Accept: */*,
//! ```
//!
//! - `IMDSv2 ` (level INFO) when the payload holds an `X-aws-ec2-metadata-token` header (the
//!   token request's `…-token-ttl-seconds` counts), `IMDSv1(!) ` (WARNING) otherwise, prefixed by
//!   `{MISSING PAYLOAD} ` (ERROR) when the probe could not read the payload: the tool could not
//!   tell the version then, and neither can credtrail;
//! - each process is `(pid:<tgid>:<comm> argv:<cmdline>)`, comm being the kernel task name and
//!   argv `/proc/<pid>/cmdline` with NULs turned into spaces, read when the line is logged (a
//!   process that already exited is `(pid:<pid> Unable to get argv information)`); the caller
//!   first, then ` called by -> ` its parent, ` -> ` the grandparent and great-grandparent;
//! - since 1.1.0, ` Req details: ` and the payload's lines joined by `, `; since 1.4.0 (earlier
//!   versions only in part) the token value is replaced by `**token redacted**`.
//!
//! Before 1.2.0 the great-grandparent was printed with the grandparent's pid (its argv is its
//! own), and ancestors of pid 0 were printed. Other lines (`Try to attach multiple kernel
//! functions…`, `Cannot attach kprobe to …`) are the tool's own and are counted without an event.
//!
//! Mapping: each call is a [`ProcessConnect`] by the calling process (`pid`, `ppid` the parent's
//! pid, `comm`, `command_line` the argv text; no `exe` and no `argv0`: the log gives neither, and
//! argv's boundaries are lost), to 169.254.169.254 (the only address `bpf.c` reports) port 80
//! (not logged; the metadata service answers HTTP there only), not failed (data was sent), with
//! `http` the request line's method and path and the IMDS version. A payload that is not a
//! request head (a body sent in a second `sendmsg`) has no method or path, and its version
//! verdict means nothing: none.
//!
//! Lineage: the log is the only record of the ancestors, so each ancestor becomes a
//! [`ProcessStart`] (`pid`, `ppid` the next ancestor's pid, `comm`, `command_line`) at the
//! call's time, at the call's position, emitted once per file for the same process (same pid,
//! comm and command line) so that a shell running a loop of calls does not start a
//! thousand times. Detectors rebuild the chain from these as they do from auditd's `execve`. An
//! ancestor whose pid cannot be trusted (pid 0, or the pre-1.2.0 repeated pid) yields no start
//! and is no one's `ppid`.
//!
//! A line that is not `[time] [LEVEL] message`, a time that cannot be read, and a call message
//! whose processes cannot be read are diagnostics. Positions: `line` and `index` are the line's.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use credtrail_event::{
    Body, ConnectHttp, Event, FileId, HostSensor, Origin, Process, ProcessConnect, ProcessStart, Timestamp,
};

use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};

pub struct ImdsPacketAnalyzer;

const NAME: &str = "imds-packet-analyzer";

const IMDS: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));

impl Format for ImdsPacketAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "AWS ImdsPacketAnalyzer imds-trace.log: each metadata call (IMDSv1/v2, method, path) with its process and ancestors"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let Some(first) = lines(head).map(|(_, l)| l).find(|l| !is_blank(l)) else {
            return false;
        };
        let Ok(first) = std::str::from_utf8(first) else {
            return false;
        };
        if header(first).is_none() {
            return false;
        }
        let has = |m: &[u8]| memchr::memmem::find(head, m).is_some();
        has(b"] IMDSv1(!) (pid:")
            || has(b"] IMDSv2 (pid:")
            || has(b"] {MISSING PAYLOAD} IMDSv")
            || has(b"] Try to attach multiple kernel functions")
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut index = 0u64;
        let mut started: HashMap<StartKey, usize> = HashMap::new();
        for (line, raw) in lines(buf) {
            if is_blank(raw) {
                continue;
            }
            index += 1;
            out.records += 1;
            let origin = Origin { file, line, index };
            let text = match std::str::from_utf8(raw) {
                Ok(text) => text,
                Err(_) => {
                    out.diagnose(
                        (file, line, Some(index)),
                        NAME,
                        Reason::InvalidUtf8,
                        "line holds bytes that are not UTF-8 (the tool writes UTF-8)",
                        Some(excerpt(raw)),
                    );
                    continue;
                }
            };
            if let Err((reason, detail)) = record(text, origin, &mut started, out) {
                out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(raw)));
            }
        }
    }
}

type Failure = (Reason, String);

/// What makes two ancestors' starts the same: pid, comm, command line. The same process logged
/// at the end of one chain (parent unknown) and inside another (parent known) is one start, its
/// parent filled in when first known.
type StartKey = (Option<u32>, Option<String>, Option<String>);

/// Lines with their 1-based numbers, without the line break (and a `\r` before it).
fn lines(buf: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut start = 0;
    let mut number = 0u64;
    std::iter::from_fn(move || {
        if start >= buf.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |k| start + k);
        let mut line = &buf[start..end];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        start = end + 1;
        number += 1;
        Some((number, line))
    })
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// `(time text, level, message)` of `[time] [LEVEL] message`.
fn header(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (time, rest) = rest.split_once("] [")?;
    let (level, message) = rest.split_once("] ")?;
    let date_like =
        time.len() >= 19 && time.as_bytes()[..4].iter().all(u8::is_ascii_digit) && time.as_bytes()[4] == b'-';
    let level_like = !level.is_empty() && level.bytes().all(|b| b.is_ascii_uppercase());
    (date_like && level_like).then_some((time, level, message))
}

/// `2022-12-20T11:03:58` or `2022-12-20 11:03:58,123`, local time read as UTC.
fn time(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let shape = b.len() >= 19
        && b[..19].iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T' || c == b' ',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        })
        && (b.len() == 19 || (b[19] == b',' && b.len() > 20 && b[20..].iter().all(u8::is_ascii_digit)));
    if !shape {
        return None;
    }
    Timestamp::parse_rfc3339(&text.replacen(',', ".", 1))
}

/// One process as the tool prints it, its pid still to be judged.
struct Logged {
    pid: u32,
    comm: Option<String>,
    argv: Option<String>,
}

fn record(
    text: &str,
    origin: Origin,
    started: &mut HashMap<StartKey, usize>,
    out: &mut ParsedFile,
) -> Result<(), Failure> {
    let (time_text, _level, message) = header(text).ok_or_else(|| {
        (
            Reason::MissingField,
            "not an imds-trace.log line: `[time] [LEVEL] message` expected".to_string(),
        )
    })?;
    let time = time(time_text).ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;
    let (missing_payload, message) = match message.strip_prefix("{MISSING PAYLOAD} ") {
        Some(rest) => (true, rest),
        None => (false, message),
    };
    let (version, rest) = if let Some(rest) = message.strip_prefix("IMDSv2 ") {
        (2, rest)
    } else if let Some(rest) = message.strip_prefix("IMDSv1(!) ") {
        (1, rest)
    } else if missing_payload {
        return Err((
            Reason::MissingField,
            "{MISSING PAYLOAD} message without IMDSv1(!) or IMDSv2".into(),
        ));
    } else {
        // The tool's own messages (start-up, kprobe attachment).
        return Ok(());
    };
    // The payload follows the processes; an argv holding ") Req details: " would be cut there.
    let (chain, details) = match rest.find(") Req details: ") {
        Some(at) => (&rest[..at + 1], Some(&rest[at + ") Req details: ".len()..])),
        None => (rest.trim_end(), None),
    };
    let logged = processes(chain)?;
    // A pid is trusted unless it is 0 or repeats the previous one (the pre-1.2.0 bug).
    let pids: Vec<Option<u32>> = logged
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pid != 0 && (i == 0 || logged[i - 1].pid != p.pid)).then_some(p.pid))
        .collect();
    let process_at = |i: usize| Process {
        pid: pids[i],
        ppid: pids.get(i + 1).copied().flatten(),
        comm: logged[i].comm.clone(),
        command_line: logged[i].argv.clone(),
        ..Process::default()
    };
    for (i, _) in pids.iter().enumerate().skip(1).filter(|(_, pid)| pid.is_some()) {
        let process = process_at(i);
        let key = (process.pid, process.comm.clone(), process.command_line.clone());
        if let Some(&at) = started.get(&key) {
            if let Some(Body::ProcessStart(start)) = out.events.get_mut(at).map(|e| &mut e.body) {
                if start.process.ppid.is_none() {
                    start.process.ppid = process.ppid;
                }
            }
            continue;
        }
        started.insert(key, out.events.len());
        out.events.push(Event {
            time,
            origin,
            body: Body::ProcessStart(Box::new(ProcessStart {
                sensor: HostSensor::ImdsPacketAnalyzer,
                host: None,
                process,
            })),
        });
    }
    let request_line = details.and_then(|d| d.split(", ").next()).and_then(request_line);
    let http = ConnectHttp {
        method: request_line.map(|(m, _)| m.to_string()),
        path: request_line.map(|(_, p)| p.to_string()),
        imds_version: match (missing_payload, details, request_line) {
            (true, _, _) => None,
            (false, Some(_), None) => None,
            _ => Some(version),
        },
    };
    out.events.push(Event {
        time,
        origin,
        body: Body::ProcessConnect(Box::new(ProcessConnect {
            sensor: HostSensor::ImdsPacketAnalyzer,
            host: None,
            process: process_at(0),
            destination: IMDS,
            port: Some(80),
            failed: false,
            result: None,
            http: Some(http),
        })),
    });
    Ok(())
}

/// `GET /latest/meta-data/ HTTP/1.1` → (method, path).
fn request_line(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.split(' ');
    let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && !path.is_empty()
        && version.starts_with("HTTP/")
        && parts.next().is_none();
    ok.then_some((method, path))
}

/// The processes of `(pid:…) called by -> (pid:…) -> (pid:…)`, caller first.
fn processes(chain: &str) -> Result<Vec<Logged>, Failure> {
    let bad = |why: &str| (Reason::MissingField, format!("cannot read the processes: {why}"));
    let inner = chain
        .strip_prefix("(pid:")
        .and_then(|c| c.strip_suffix(')'))
        .ok_or_else(|| bad("`(pid:…)` expected after the IMDS version"))?;
    let mut entries = Vec::new();
    let (caller, mut rest) = match split_at_separator(inner, ") called by -> (pid:") {
        Some((caller, rest)) => (caller, Some(rest)),
        None => (inner, None),
    };
    entries.push(caller);
    while let Some(text) = rest {
        match split_at_separator(text, ") -> (pid:") {
            Some((entry, next)) => {
                entries.push(entry);
                rest = Some(next);
            }
            None => {
                entries.push(text);
                rest = None;
            }
        }
    }
    entries
        .into_iter()
        .map(|entry| {
            let digits = entry.bytes().take_while(u8::is_ascii_digit).count();
            let pid: u32 = entry[..digits].parse().map_err(|_| bad(&format!("pid in {entry:?}")))?;
            let rest = &entry[digits..];
            if rest == " Unable to get argv information" {
                return Ok(Logged {
                    pid,
                    comm: None,
                    argv: None,
                });
            }
            let (comm, argv) = rest
                .strip_prefix(':')
                .and_then(|r| r.split_once(" argv:"))
                .ok_or_else(|| bad(&format!("`<pid>:<comm> argv:<argv>` expected in {entry:?}")))?;
            let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
            Ok(Logged {
                pid,
                comm: some(comm),
                argv: some(argv.trim_end()),
            })
        })
        .collect()
}

/// Splits at the first `sep` that is followed by a pid and `:` or ` Unable` (an argv holding the
/// separator text is not split there, mostly).
fn split_at_separator<'a>(text: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let mut from = 0;
    while let Some(at) = text[from..].find(sep).map(|k| from + k) {
        let next = &text[at + sep.len()..];
        let digits = next.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && (next[digits..].starts_with(':') || next[digits..].starts_with(" Unable")) {
            return Some((&text[..at], next));
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_time_layouts_are_read_as_utc() {
        assert_eq!(
            time("2022-12-20T11:03:58").map(|t| t.to_string()).as_deref(),
            Some("2022-12-20T11:03:58Z")
        );
        assert_eq!(
            time("2022-12-20 11:03:58,123").map(|t| t.to_string()).as_deref(),
            Some("2022-12-20T11:03:58.123Z")
        );
        for bad in [
            "2022-12-20",
            "2022-13-20T11:03:58",
            "2022-12-20T11:03:58Z",
            "2022-12-20 11:03:58,",
        ] {
            assert_eq!(time(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_process_chain_is_split_at_separators_followed_by_a_pid() {
        let p = processes("(pid:5:sh argv:sh -c echo ') -> (x' ) called by -> (pid:4 Unable to get argv information) -> (pid:3:init argv:)").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].argv.as_deref(), Some("sh -c echo ') -> (x'"));
        assert_eq!((p[1].pid, p[1].comm.as_deref()), (4, None));
        assert_eq!((p[2].comm.as_deref(), p[2].argv.as_deref()), (Some("init"), None));
        assert!(processes("pid:5:sh argv:sh").is_err());
        assert!(processes("(pid:x:sh argv:sh)").is_err());
        assert!(processes("(pid:5 sh)").is_err());
    }

    #[test]
    fn request_lines_are_method_path_version() {
        assert_eq!(
            request_line("PUT /latest/api/token HTTP/1.1"),
            Some(("PUT", "/latest/api/token"))
        );
        assert_eq!(request_line("Host: 169.254.169.254"), None);
        assert_eq!(request_line("{\"a\":1}"), None);
    }
}
