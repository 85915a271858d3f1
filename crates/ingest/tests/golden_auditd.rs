//! Golden tests for Linux auditd `audit.log` (`auditd`): RAW and ENRICHED records, events
//! grouped by their `msg=audit(…)` stamp (interleaved, and the same serial on two nodes),
//! malformed input, and the benchmark generator's audit logs.
//!
//! Each fixture under `testdata/formats/auditd/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a readable digest snapshotted with `insta`; positions (`line`: 1-based
//! line of the event's first record; `index`: 1-based ordinal of the event, events counted in the
//! order of their first line) and the decoded values detectors rely on are also asserted.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use common::{diagnostic_positions, event_positions, ip, opt, parse, quoted, repo, shared};
use credtrail_event::{Body, HostSensor, Process, ProcessConnect, ProcessStart};
use credtrail_ingest::formats::Auditd;
use credtrail_ingest::{Format, ParsedFile, FORMATS};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(rel: &str) -> PathBuf {
    common::formats_fixture("auditd", rel)
}

fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

fn parse_bytes(buf: &[u8]) -> ParsedFile {
    common::parse_bytes(&Auditd, buf)
}

enum Host<'a> {
    Start(&'a ProcessStart),
    Connect(&'a ProcessConnect),
}

fn host_events(p: &ParsedFile) -> Vec<Host<'_>> {
    p.events
        .iter()
        .map(|e| match &e.body {
            Body::ProcessStart(s) => Host::Start(s),
            Body::ProcessConnect(c) => Host::Connect(c),
            _ => panic!("expected a process event"),
        })
        .collect()
}

fn connects(p: &ParsedFile) -> Vec<&ProcessConnect> {
    host_events(p)
        .into_iter()
        .filter_map(|h| match h {
            Host::Connect(c) => Some(c),
            Host::Start(_) => None,
        })
        .collect()
}

fn starts(p: &ParsedFile) -> Vec<&ProcessStart> {
    host_events(p)
        .into_iter()
        .filter_map(|h| match h {
            Host::Start(s) => Some(s),
            Host::Connect(_) => None,
        })
        .collect()
}

fn write_process(out: &mut String, p: &Process) {
    writeln!(
        out,
        "  process   pid={} ppid={} uid={} auid={} ses={} tty={} container={}",
        opt(&p.pid),
        opt(&p.ppid),
        opt(&p.uid),
        opt(&p.login_uid),
        opt(&p.session),
        opt(&p.tty),
        opt(&p.container)
    )
    .unwrap();
    writeln!(out, "            exe={} comm={}", quoted(&p.exe), quoted(&p.comm)).unwrap();
    writeln!(out, "            argv0={} cwd={}", quoted(&p.argv0), quoted(&p.cwd)).unwrap();
    writeln!(out, "            command_line={}", quoted(&p.command_line)).unwrap();
    writeln!(out, "            subj={}", quoted(&p.security_context)).unwrap();
}

/// One stable, readable block per event and one line per diagnostic.
fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    common::write_counts(&mut out, p);
    for (e, h) in p.events.iter().zip(host_events(p)) {
        writeln!(
            out,
            "event line={} index={} time={}",
            e.origin.line, e.origin.index, e.time
        )
        .unwrap();
        match h {
            Host::Start(s) => {
                writeln!(out, "  start     sensor={} host={}", s.sensor.as_str(), opt(&s.host)).unwrap();
                write_process(&mut out, &s.process);
            }
            Host::Connect(c) => {
                writeln!(
                    out,
                    "  connect   sensor={} host={} destination={} port={} failed={} result={}",
                    c.sensor.as_str(),
                    opt(&c.host),
                    c.destination,
                    opt(&c.port),
                    c.failed,
                    opt(&c.result)
                )
                .unwrap();
                write_process(&mut out, &c.process);
            }
        }
    }
    common::write_diagnostics(&mut out, p);
    out
}

// ---------------------------------------------------------------------------------------------
// well-formed shapes

#[test]
fn raw_format() {
    let p = parse_fixture("raw.log");
    assert_eq!(p.format, Some("auditd"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.records, 20);
    assert_eq!(
        event_positions(&p),
        [
            (1, 1),
            (9, 6),
            (15, 7),
            (21, 8),
            (25, 9),
            (26, 10),
            (39, 12),
            (48, 14),
            (55, 15),
            (56, 16),
            (75, 20),
        ]
    );
    assert!(p.events.iter().all(|e| match &e.body {
        Body::ProcessStart(s) => s.sensor == HostSensor::Auditd,
        Body::ProcessConnect(c) => c.sensor == HostSensor::Auditd,
        _ => false,
    }));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T00:45:31.423Z");

    let c = connects(&p);
    // IPv4 IMDS, non-blocking: EINPROGRESS is not a failure.
    assert_eq!((c[0].destination, c[0].port), (ip("169.254.169.254"), Some(80)));
    assert_eq!((c[0].failed, c[0].result), (false, Some(-115)));
    assert_eq!(c[0].process.exe.as_deref(), Some("/usr/bin/python3.7"));
    assert_eq!(c[0].process.comm.as_deref(), Some("celery"));
    assert_eq!(
        c[0].process.command_line.as_deref(),
        Some("/opt/media/venv/bin/python3 -m celery -A media.tasks worker --concurrency 4")
    );
    assert_eq!(c[0].process.argv0.as_deref(), Some("/opt/media/venv/bin/python3"));
    assert_eq!(
        (c[0].process.pid, c[0].process.ppid, c[0].process.uid),
        (Some(2788), Some(1), Some(1001))
    );
    // Unset login uid and session.
    assert_eq!(
        (
            c[0].process.login_uid,
            c[0].process.session,
            c[0].process.tty.as_deref()
        ),
        (None, None, None)
    );
    // IPv6 IMDS, refused.
    assert_eq!((c[1].destination, c[1].port), (ip("fd00:ec2::254"), Some(80)));
    assert_eq!((c[1].failed, c[1].result), (true, Some(-111)));
    assert_eq!(
        (
            c[1].process.login_uid,
            c[1].process.session,
            c[1].process.tty.as_deref()
        ),
        (Some(1000), Some(5), Some("pts0"))
    );
    // Interleaved with an execve.
    assert_eq!(c[2].process.pid, Some(1345));
    assert_eq!(c[2].process.command_line.as_deref(), Some("/usr/bin/amazon-ssm-agent"));
    // A dual-stack socket's IPv4-mapped address is the IPv4 address; a blocking connect.
    assert_eq!((c[3].destination, c[3].port), (ip("10.20.0.5"), Some(443)));
    assert_eq!((c[3].failed, c[3].result), (false, Some(0)));
    assert_eq!(c[3].process.comm.as_deref(), Some("sdk-ScheduledEx"));
    // node= names the host; aarch64 numbers.
    assert_eq!(c[4].host.as_deref(), Some("ip-10-20-0-12.ec2.internal"));
    assert_eq!(c[4].process.exe.as_deref(), Some("/usr/bin/aws"));
    assert_eq!(c.len(), 5);

    let s = starts(&p);
    assert_eq!(
        s[0].process.command_line.as_deref(),
        Some("/bin/sh -c /usr/bin/flock -n /tmp/logship.lock /opt/scripts/ship-logs.sh")
    );
    assert_eq!(s[0].process.argv0.as_deref(), Some("/bin/sh"));
    assert_eq!(s[0].process.cwd.as_deref(), Some("/root"));
    assert_eq!((s[0].process.login_uid, s[0].process.session), (Some(0), Some(32)));
    // Hex-encoded argument and working directory.
    assert_eq!(
        s[1].process.command_line.as_deref(),
        Some("curl -s -H X-aws-ec2-metadata-token: AQAEAFh0k3 http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    );
    assert_eq!(s[1].process.cwd.as_deref(), Some("/home/ec2-user/my scripts"));
    assert_eq!(s[2].process.exe.as_deref(), Some("/usr/bin/ssm-document-worker"));
    // An argument split over two EXECVE records is joined back.
    assert_eq!(
        s[3].process.command_line.as_deref(),
        Some("python3 -c import urllib.request as u;print(u.urlopen('http://169.254.169.254/').read())")
    );
    // The same serial on another node is another event.
    assert_eq!(s[4].host.as_deref(), Some("ip-10-20-0-13.ec2.internal"));
    assert_eq!(
        s[4].process.command_line.as_deref(),
        Some("/usr/bin/cloud-init modules --mode final")
    );
    // execveat without EXECVE: PROCTITLE.
    assert_eq!(s[5].process.command_line.as_deref(), Some("runc init"));
    assert_eq!(s[5].process.argv0.as_deref(), Some("runc"));
    assert_eq!(s[5].process.comm.as_deref(), Some("runc:[2:INIT]"));
    assert_eq!(s.len(), 6);
    insta::assert_snapshot!("raw", digest(&p));
}

#[test]
fn enriched_format() {
    let p = parse_fixture("enriched.log");
    assert_eq!(p.format, Some("auditd"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.records, 9);
    assert_eq!(event_positions(&p), [(1, 1), (5, 2), (11, 5), (17, 6), (25, 8)]);
    let c = connects(&p);
    assert_eq!((c[0].destination, c[0].port), (ip("127.0.0.1"), Some(8080)));
    assert_eq!(c[0].process.command_line.as_deref(), Some("nginx: worker process"));
    assert_eq!(c[0].process.argv0.as_deref(), Some("nginx: worker process"));
    assert_eq!(
        c[0].process.security_context.as_deref(),
        Some("system_u:system_r:httpd_t:s0")
    );
    // The raw key=value before 0x1D is what is read: the value is not `key="net_connect"\x1dARCH…`.
    assert_eq!(c[1].destination, ip("169.254.169.254"));
    assert_eq!(
        c[1].process.exe.as_deref(),
        Some("/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent")
    );
    assert_eq!(
        (c[2].destination, c[2].failed, c[2].result),
        (ip("fd00:ec2::254"), true, Some(-101))
    );
    // riscv64 is not numbered here: the enriched SYSCALL=connect decides.
    assert_eq!(
        (c[3].destination, c[3].failed, c[3].result),
        (ip("169.254.169.254"), true, Some(-13))
    );
    let s = starts(&p);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].process.cwd.as_deref(), Some("/home/ec2-user"));
    assert_eq!(s[0].process.argv0.as_deref(), Some("curl"));
    insta::assert_snapshot!("enriched", digest(&p));
}

#[test]
fn sniffing_takes_audit_logs_and_nothing_else() {
    for name in ["raw.log", "enriched.log", "malformed.log"] {
        assert!(Auditd.sniff(&std::fs::read(fixture(name)).unwrap()), "{name}");
    }
    assert!(Auditd.sniff(b"\n\nnode=ip-10-0-0-1 type=EOE msg=audit(1.000:1): \n"));
    let not_ours: &[&[u8]] = &[
        br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#,
        b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n",
        b"#Version: 1.0\n#Fields: date time x-edge-location\n",
        // auditd lines as syslog or journald forwards them are another format.
        b"Sep 14 00:45:31 ip-10-0-0-1 audispd: type=SYSCALL msg=audit(1789346731.423:1): arch=c000003e\n",
        b"type=SYSCALL arch=c000003e\n",
        b"node=x\n",
        b"",
    ];
    for head in not_ours {
        assert!(!Auditd.sniff(head), "{}", String::from_utf8_lossy(head));
    }
    // Every fixture of every other format is left to its own format.
    let root = repo().join("testdata/formats");
    let mut stack = vec![root.clone()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let ours = path.starts_with(root.join("auditd"));
            let bytes = std::fs::read(&path).unwrap();
            let head = &bytes[..bytes.len().min(64 * 1024)];
            assert_eq!(Auditd.sniff(head), ours, "{}", path.display());
            if ours {
                // And no format ahead of this one in the registry takes an audit log.
                let first = FORMATS.iter().find(|f| f.sniff(head)).map(|f| f.name());
                assert_eq!(first, Some("auditd"), "{}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen > 60);
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn malformed_records_are_diagnostics_and_good_events_between_them_are_read() {
    let p = parse_fixture("malformed.log");
    assert_eq!(p.format, Some("auditd"));
    assert_eq!(p.records, 17);
    assert_eq!(p.events.len() + p.diagnostics.len(), 17);
    assert_eq!(event_positions(&p), [(1, 1), (6, 3), (18, 7), (40, 12), (46, 15)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            // Not a record.
            (5, Some(2), "missing_field"),
            // A stamp that is not a time.
            (10, Some(4), "bad_timestamp"),
            // SOCKADDR, PROCTITLE, EOE without their SYSCALL.
            (11, Some(5), "missing_field"),
            // saddr not hex; too short for AF_INET.
            (14, Some(6), "missing_field"),
            (24, Some(8), "missing_field"),
            // A byte that is not UTF-8 in comm.
            (28, Some(9), "invalid_utf8"),
            // SYSCALL without syscall=; pid not a number.
            (32, Some(10), "missing_field"),
            (36, Some(11), "missing_field"),
            // No msg=audit(…); not UTF-8 and not a record.
            (44, Some(13), "missing_field"),
            (45, Some(14), "invalid_utf8"),
            // The file ends inside the last event, its last line cut.
            (52, Some(16), "missing_field"),
            (54, Some(17), "missing_field"),
        ]
    );
    let detail = |i: usize| p.diagnostics[i].detail.as_str();
    assert!(
        detail(2).contains("SOCKADDR record without the SYSCALL record"),
        "{}",
        detail(2)
    );
    assert!(detail(3).contains("is not hex"), "{}", detail(3));
    assert!(detail(4).contains("too short for AF_INET"), "{}", detail(4));
    assert!(detail(6).contains("no syscall="), "{}", detail(6));
    assert!(detail(7).contains("pid=13x5"), "{}", detail(7));
    assert!(detail(10).contains("file ends inside this event"), "{}", detail(10));
    // The excerpt is the offending line.
    assert!(p.diagnostics[3].excerpt.as_deref().unwrap().contains("saddr=0200005G"));
    insta::assert_snapshot!("malformed", digest(&p));
}

#[test]
fn records_of_an_event_are_grouped_within_the_look_back() {
    // Event 1's EOE arrives after 63 other events: still event 1. After 64, it is a new event.
    let mut text = String::new();
    let connect = |serial: u32| {
        format!(
            "type=SYSCALL msg=audit(1789347000.000:{serial}): arch=c000003e syscall=42 success=no exit=-115 pid=7 comm=\"x\" exe=\"/x\"\n\
             type=SOCKADDR msg=audit(1789347000.000:{serial}): saddr=02000050A9FEA9FE0000000000000000\n"
        )
    };
    text += &connect(1);
    for serial in 2..=64 {
        text += &format!("type=USER_START msg=audit(1789347000.000:{serial}): pid=1 uid=0 msg='op=x res=success'\n");
    }
    text += "type=EOE msg=audit(1789347000.000:1): \n";
    let p = parse_bytes(text.as_bytes());
    assert_eq!(
        (p.records, event_positions(&p), p.diagnostics.len()),
        (64, vec![(1, 1)], 0)
    );

    let mut text = connect(1);
    for serial in 2..=65 {
        text += &format!("type=USER_START msg=audit(1789347000.000:{serial}): pid=1 uid=0 msg='op=x res=success'\n");
    }
    text += "type=PROCTITLE msg=audit(1789347000.000:1): proctitle=\"x\"\ntype=EOE msg=audit(1789347000.000:1): \n";
    let p = parse_bytes(text.as_bytes());
    // Event 1 closed without its EOE (no diagnostic: it was not at the end of the file); the late
    // records are event 66, which has no SYSCALL.
    assert_eq!(p.records, 66);
    assert_eq!(event_positions(&p), [(1, 1)]);
    assert_eq!(diagnostic_positions(&p), [(67, Some(66), "missing_field")]);
}

#[test]
fn empty_and_blank_input_is_nothing() {
    for buf in [&b""[..], b"\n\n  \r\n"] {
        let p = parse_bytes(buf);
        assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (0, 0, 0));
    }
}

// ---------------------------------------------------------------------------------------------
// the benchmark generator's audit logs

/// The generator writes a 5 MB corpus in about two seconds.
fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(shared("bench/gen_logs.py"))
        .arg(dir.path())
        .args(["--size", "5M"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    dir
}

fn stamp_of(line: &str) -> &str {
    let start = line.find("msg=audit(").unwrap() + "msg=audit(".len();
    &line[start..start + line[start..].find(')').unwrap()]
}

#[test]
fn generated_audit_logs_parse_without_diagnostics_and_labels_point_at_events() {
    let dir = generated();
    let mut logs = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("var/log/audit/audit.log") {
                logs.push(path);
            } else {
                // No other file the generator writes is taken for an audit log.
                assert_ne!(parse(&path).format, Some("auditd"), "{}", path.display());
            }
        }
    }
    logs.sort();
    assert!(logs.len() > 5);
    let mut parsed = HashMap::new();
    let (mut enriched, mut raw) = (0, 0);
    for log in &logs {
        let p = parse(log);
        let text = std::fs::read_to_string(log).unwrap();
        if text.contains('\u{1d}') {
            enriched += 1;
        } else {
            raw += 1;
        }
        let stamps: HashSet<&str> = text.lines().map(stamp_of).collect();
        assert_eq!(p.format, Some("auditd"), "{}", log.display());
        assert_eq!(p.diagnostics.len(), 0, "{}: {:#?}", log.display(), p.diagnostics);
        assert_eq!(p.records, stamps.len() as u64, "{}", log.display());
        assert!(!p.events.is_empty(), "{}", log.display());
        // Host attribution: the instance directory names the host.
        let instance = log
            .components()
            .nth_back(4)
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        for h in host_events(&p) {
            let host = match h {
                Host::Start(s) => &s.host,
                Host::Connect(c) => &c.host,
            };
            assert_eq!(host.as_deref(), Some(instance.as_str()), "{}", log.display());
        }
        let rel = log.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned();
        parsed.insert(rel, (p, text));
    }
    assert!(
        enriched > 0 && raw > 0,
        "both log formats: {enriched} ENRICHED, {raw} RAW"
    );

    let labels = std::fs::read_to_string(dir.path().join("LABELS.jsonl")).unwrap();
    let mut checked = 0;
    for label in labels.lines() {
        let label: serde_json::Value = serde_json::from_str(label).unwrap();
        let source = label["source"].as_str().unwrap();
        if !source.ends_with("audit.log") {
            continue;
        }
        let (p, text) = parsed.get(source).unwrap_or_else(|| panic!("{source} was not read"));
        let (line, index) = (label["line"].as_u64().unwrap(), label["index"].as_u64().unwrap());
        let event = p
            .events
            .iter()
            .find(|e| e.origin.line == line)
            .unwrap_or_else(|| panic!("no event at {source}:{line}"));
        assert_eq!(event.origin.index, index, "{source}:{line}");
        // The strings the label names are in the event's records.
        let lines: Vec<&str> = text.lines().collect();
        let stamp = stamp_of(lines[line as usize - 1]);
        let records: String = lines.iter().filter(|l| stamp_of(l) == stamp).copied().collect();
        for s in label["contains"].as_array().unwrap() {
            assert!(records.contains(s.as_str().unwrap()), "{source}:{line} lacks {s}");
        }
        // A connect label's address is the destination; an execve label's is context (the address
        // the program goes on to reach).
        match (&event.body, label["ip"].as_str()) {
            (Body::ProcessConnect(c), Some(want)) => assert_eq!(c.destination, ip(want), "{source}:{line}"),
            (Body::ProcessConnect(_) | Body::ProcessStart(_), _) => {}
            _ => panic!("expected a process event"),
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} labels on audit logs");
}

// ---------------------------------------------------------------------------------------------
// robustness

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let out = parse_bytes(&data);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = Auditd.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic_and_every_event_is_accounted_for(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
        enriched in any::<bool>(),
    ) {
        let mut buf = std::fs::read(fixture(if enriched { "enriched.log" } else { "raw.log" })).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let out = parse_bytes(&buf);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
