//! Golden tests for AWS ImdsPacketAnalyzer's `imds-trace.log` (`imds-packet-analyzer`): the
//! default logger (1.1.0 and later: `Req details`, token redaction, `{MISSING PAYLOAD}`), the
//! shipped `logging.conf` layout with the pre-1.2.0 repeated pid, and malformed lines.
//!
//! Each fixture under `testdata/formats/imds-packet-analyzer/` is parsed with `parse_file`
//! (sniffed, not forced) and reduced to a readable digest snapshotted with `insta`.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod host_support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use credtrail_event::{Body, HostSensor, Process};
use credtrail_ingest::formats::{CloudTrail, ImdsPacketAnalyzer};
use credtrail_ingest::{Format, ParsedFile, FORMATS};
use proptest::prelude::*;

// host_support already loads tests/common; a second `mod common` would compile it twice.
use host_support::common::{self, opt, parse, quoted, repo};
use host_support::{connects, starts};

const NAME: &str = "imds-packet-analyzer";

fn fixture(rel: &str) -> PathBuf {
    common::formats_fixture(NAME, rel)
}

fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

fn parse_bytes(buf: &[u8]) -> ParsedFile {
    common::parse_bytes(&ImdsPacketAnalyzer, buf)
}

fn write_process(out: &mut String, p: &Process) {
    writeln!(
        out,
        "  process   pid={} ppid={} comm={} exe={} argv0={}",
        opt(&p.pid),
        opt(&p.ppid),
        quoted(&p.comm),
        quoted(&p.exe),
        quoted(&p.argv0)
    )
    .unwrap();
    writeln!(out, "            command_line={}", quoted(&p.command_line)).unwrap();
}

fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    common::write_counts(&mut out, p);
    for e in &p.events {
        writeln!(
            out,
            "event line={} index={} time={}",
            e.origin.line, e.origin.index, e.time
        )
        .unwrap();
        match &e.body {
            Body::ProcessStart(s) => {
                writeln!(out, "  start     sensor={} host={}", s.sensor.as_str(), opt(&s.host)).unwrap();
                write_process(&mut out, &s.process);
            }
            Body::ProcessConnect(c) => {
                let http = c.http.clone().unwrap_or_default();
                writeln!(
                    out,
                    "  connect   sensor={} host={} destination={} port={} failed={} imds_version={} method={} path={}",
                    c.sensor.as_str(),
                    opt(&c.host),
                    c.destination,
                    opt(&c.port),
                    c.failed,
                    opt(&http.imds_version),
                    quoted(&http.method),
                    quoted(&http.path)
                )
                .unwrap();
                write_process(&mut out, &c.process);
            }
            _ => panic!("expected a process event"),
        }
    }
    for d in &p.diagnostics {
        writeln!(
            out,
            "diagnostic line={} index={} reason={} detail={:?}",
            d.line,
            d.index.map_or("-".to_string(), |i| i.to_string()),
            d.reason.key(),
            d.detail
        )
        .unwrap();
    }
    out
}

#[test]
fn default_logger_with_request_details() {
    let p = parse_fixture("imds-trace.log");
    assert_eq!(p.format, Some(NAME));
    assert_eq!((p.records, p.diagnostics.len()), (10, 0), "{:#?}", p.diagnostics);
    let c = connects(&p);
    assert_eq!(c.len(), 8);
    assert!(c.iter().all(|c| c.sensor == HostSensor::ImdsPacketAnalyzer
        && c.destination.to_string() == "169.254.169.254"
        && c.port == Some(80)
        && !c.failed
        && c.host.is_none()));
    let http = |i: usize| c[i].http.clone().unwrap();
    // The token request and the credential read, both IMDSv2.
    assert_eq!(
        (http(0).method.as_deref(), http(0).path.as_deref(), http(0).imds_version),
        (Some("PUT"), Some("/latest/api/token"), Some(2))
    );
    assert_eq!(
        http(1).path.as_deref(),
        Some("/latest/meta-data/iam/security-credentials/")
    );
    assert_eq!(
        (c[0].process.pid, c[0].process.ppid, c[0].process.comm.as_deref()),
        (Some(2871), Some(2790), Some("aws"))
    );
    assert_eq!(
        c[0].process.command_line.as_deref(),
        Some("/usr/bin/python3 /usr/bin/aws s3 ls")
    );
    // A web worker reading the role's credentials with IMDSv1.
    assert_eq!(
        (http(2).imds_version, http(2).path.as_deref()),
        (Some(1), Some("/latest/meta-data/iam/security-credentials/app-role"))
    );
    // A caller that exited before the tool read its argv.
    assert_eq!((c[3].process.pid, c[3].process.comm.as_deref()), (Some(3314), None));
    // Missing payload: the version is unknown; a payload that is not a request head likewise.
    assert_eq!((http(6).imds_version, http(6).method.as_deref()), (None, None));
    assert_eq!((http(7).imds_version, http(7).method.as_deref()), (None, None));
    // Ancestors start once per file: sshd, bash, gunicorn master, systemd, rotate.sh, sh, and the
    // gunicorn worker as the parent of sh.
    let s = starts(&p);
    let pids: Vec<Option<u32>> = s.iter().map(|s| s.process.pid).collect();
    assert_eq!(
        pids,
        [
            Some(2790),
            Some(2789),
            Some(2771),
            Some(3301),
            Some(1),
            Some(3290),
            Some(4077),
            Some(3312)
        ]
    );
    assert_eq!(
        (s[0].process.ppid, s[1].process.ppid, s[2].process.ppid),
        (Some(2789), Some(2771), None)
    );
    insta::assert_snapshot!("default_logger", digest(&p));
}

#[test]
fn logging_conf_layout_and_the_pre_1_2_repeated_pid() {
    let p = parse_fixture("imds-trace-logging-conf.log");
    assert_eq!(p.format, Some(NAME));
    assert_eq!((p.records, p.diagnostics.len()), (3, 0), "{:#?}", p.diagnostics);
    let c = connects(&p);
    assert_eq!(c.len(), 3);
    assert_eq!(p.events[0].time.to_string(), "2026-03-02T11:03:58Z");
    // No request details before 1.1.0: the version only.
    assert_eq!(c[0].http.clone().unwrap().imds_version, Some(1));
    assert_eq!(c[1].http.clone().unwrap().imds_version, Some(2));
    assert_eq!(c[0].http.clone().unwrap().path, None);
    // `(pid:32678:zsh) -> (pid:32678:sshd)`: the second 32678 is the bug's, so zsh's parent is
    // unknown and sshd has no start.
    let s = starts(&p);
    let zsh = s.iter().find(|s| s.process.comm.as_deref() == Some("zsh")).unwrap();
    assert_eq!((zsh.process.pid, zsh.process.ppid), (Some(32678), None));
    assert!(!s.iter().any(|s| s.process.comm.as_deref() == Some("sshd")));
    // pid 0 is no one's parent and has no start.
    let systemd = s.iter().find(|s| s.process.pid == Some(1)).unwrap();
    assert_eq!(systemd.process.ppid, None);
    assert!(!s.iter().any(|s| s.process.pid == Some(0)));
    insta::assert_snapshot!("logging_conf", digest(&p));
}

#[test]
fn malformed_lines_are_diagnostics_and_good_lines_between_them_are_read() {
    let p = parse_fixture("malformed/malformed.log");
    assert_eq!(p.format, Some(NAME));
    assert_eq!(p.records, 11);
    // Line 7 is the first line of a record whose argv held a line break: it reads as a whole
    // record (argv `python3 -c print(1`), and its continuation on line 8 is a diagnostic.
    let lines: Vec<u64> = p
        .events
        .iter()
        .filter(|e| matches!(e.body, Body::ProcessConnect(_)))
        .map(|e| e.origin.line)
        .collect();
    assert_eq!(lines, [1, 7, 9]);
    let reasons: Vec<(u64, &str)> = p.diagnostics.iter().map(|d| (d.line, d.reason.key())).collect();
    assert_eq!(
        reasons,
        [
            (2, "missing_field"),
            (3, "bad_timestamp"),
            (4, "missing_field"),
            (5, "missing_field"),
            (6, "missing_field"),
            (8, "missing_field"),
            (10, "invalid_utf8"),
            (11, "missing_field"),
        ]
    );
    for d in &p.diagnostics {
        assert_eq!((d.format, d.index), (NAME, Some(d.line)));
        assert!(d.excerpt.as_deref().is_some_and(|e| !e.is_empty()), "{d:?}");
    }
    insta::assert_snapshot!("malformed", digest(&p));
    let p = parse_fixture("malformed/empty.log");
    assert_eq!((p.format, p.records, p.diagnostics.len()), (None, 0, 0));
}

#[test]
fn sniffing_takes_trace_logs_and_nothing_else() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = repo().join("testdata/formats");
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(files.len() > 70);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let head = &bytes[..bytes.len().min(64 * 1024)];
        let ours = path.starts_with(root.join(NAME)) && !path.ends_with("empty.log");
        assert_eq!(ImdsPacketAnalyzer.sniff(head), ours, "{}", path.display());
        if ours {
            assert!(!CloudTrail.sniff(head), "{}", path.display());
            let first = FORMATS.iter().find(|f| f.sniff(head)).map(|f| f.name());
            assert_eq!(first, Some(NAME), "{}", path.display());
        }
    }
    let not_ours: &[&[u8]] = &[
        // The tool's console output carries no time.
        b"[WARNING] IMDSv1(!) (pid:1:curl argv:curl) Req details: GET / HTTP/1.1, \n",
        b"[2026-09-14 08:00:00,000] [INFO] Starting something else\n",
        br#"[{"eventSource":"ec2.amazonaws.com"}]"#,
        b"",
    ];
    for head in not_ours {
        assert!(!ImdsPacketAnalyzer.sniff(head), "{}", String::from_utf8_lossy(head));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let out = parse_bytes(&data);
        prop_assert!(out.diagnostics.len() as u64 <= out.records);
        prop_assert!(out.events.len() as u64 <= 4 * out.records);
        let _ = ImdsPacketAnalyzer.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic_and_each_line_is_one_call_or_one_diagnostic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = std::fs::read(fixture("imds-trace.log")).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let out = parse_bytes(&buf);
        let calls = out.events.iter().filter(|e| matches!(e.body, Body::ProcessConnect(_))).count();
        prop_assert!(calls as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
