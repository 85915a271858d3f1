//! Golden tests for Kubernetes API server audit events (`kubernetes-audit`): the log backend's
//! JSON lines, the webhook's `EventList`, EKS control-plane logs as CloudWatch Logs exports them
//! (S3 export lines, `aws logs filter-log-events` output, `{"message": …}` lines, subscription
//! envelopes), and malformed input.
//!
//! Each fixture under `testdata/formats/kubernetes-audit/` is parsed with `parse_file`
//! (sniffed, not forced) and reduced to a readable digest snapshotted with `insta`.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::{event_positions, parse, quoted, repo};
use credtrail_event::{Body, HostSensor, ProcessStart};
use credtrail_ingest::formats::{CloudTrail, KubernetesAudit};
use credtrail_ingest::{Format, ParsedFile, FORMATS};
use proptest::prelude::*;

const NAME: &str = "kubernetes-audit";

fn fixture(rel: &str) -> PathBuf {
    common::formats_fixture(NAME, rel)
}

fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

fn parse_bytes(buf: &[u8]) -> ParsedFile {
    common::parse_bytes(&KubernetesAudit, buf)
}

fn starts(p: &ParsedFile) -> Vec<&ProcessStart> {
    p.events
        .iter()
        .map(|e| match &e.body {
            Body::ProcessStart(s) => &**s,
            _ => panic!("expected a process start"),
        })
        .collect()
}

fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    common::write_counts(&mut out, p);
    for (e, s) in p.events.iter().zip(starts(p)) {
        let pr = &s.process;
        writeln!(
            out,
            "event line={} index={} time={}",
            e.origin.line, e.origin.index, e.time
        )
        .unwrap();
        writeln!(
            out,
            "  start     sensor={} host={} container={} tty={}",
            s.sensor.as_str(),
            quoted(&s.host),
            quoted(&pr.container),
            quoted(&pr.tty)
        )
        .unwrap();
        writeln!(
            out,
            "            user={} argv0={}",
            quoted(&pr.user_name),
            quoted(&pr.argv0)
        )
        .unwrap();
        writeln!(out, "            command_line={}", quoted(&pr.command_line)).unwrap();
        // Nothing else is filled: the audit record names no process ids, executable or host.
        assert_eq!(
            (pr.pid, pr.ppid, &pr.exe, &pr.comm, &pr.cwd, pr.uid),
            (None, None, &None, &None, &None, None)
        );
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
fn log_backend_json_lines() {
    let p = parse_fixture("audit.log");
    assert_eq!(p.format, Some(NAME));
    assert_eq!((p.records, p.diagnostics.len()), (10, 0), "{:#?}", p.diagnostics);
    // The exec's ResponseStarted (line 3) is taken, not its RequestReceived or ResponseComplete;
    // the refused exec (403, line 7) ran nothing.
    assert_eq!(event_positions(&p), [(3, 3), (5, 5), (8, 8), (9, 9)]);
    let s = starts(&p);
    assert!(s
        .iter()
        .all(|s| s.sensor == HostSensor::KubernetesAudit && s.host.is_none()));
    assert_eq!(
        s[0].process.command_line.as_deref(),
        Some("curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    );
    assert_eq!(s[0].process.argv0.as_deref(), Some("curl"));
    assert_eq!(s[0].process.container.as_deref(), Some("prod/web-7d9f/app"));
    assert_eq!(s[0].process.user_name.as_deref(), Some("alice"));
    assert_eq!(s[0].process.tty.as_deref(), Some("kubectl exec -t"));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T00:52:10.412Z");
    // Impersonation, `+` for spaces, no container parameter, no tty.
    assert_eq!(
        s[1].process.user_name.as_deref(),
        Some("bob (as system:serviceaccount:payments:deployer)")
    );
    assert_eq!(
        s[1].process.command_line.as_deref(),
        Some("sh -c wget -qO- http://169.254.169.254/latest/api/token")
    );
    assert_eq!(s[1].process.container.as_deref(), Some("payments/api-5c6b8d7f9-x2k4q"));
    assert_eq!(s[1].process.tty, None);
    // Attach runs no command.
    assert_eq!(
        (s[2].process.command_line.as_deref(), s[2].process.argv0.as_deref()),
        (None, None)
    );
    // A websocket exec (verb get) with tty=1.
    assert_eq!(s[3].process.tty.as_deref(), Some("kubectl exec -t"));
    assert_eq!(
        s[3].process.container.as_deref(),
        Some("kube-system/aws-node-8xk2p/aws-node")
    );
    insta::assert_snapshot!("log_backend", digest(&p));
}

#[test]
fn webhook_event_list() {
    let p = parse_fixture("event-list.json");
    assert_eq!(p.format, Some(NAME));
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (2, 1, 0));
    assert_eq!(event_positions(&p), [(6, 1)]);
    insta::assert_snapshot!("event_list", digest(&p));
}

#[test]
fn eks_cloudwatch_exports() {
    let p = parse_fixture("eks-export.log");
    assert_eq!(p.format, Some(NAME));
    assert_eq!((p.records, p.diagnostics.len()), (2, 0), "{:#?}", p.diagnostics);
    let s = starts(&p);
    assert_eq!(
        s[0].process.command_line.as_deref(),
        Some(
            "python3 -c import urllib.request as u;print(u.urlopen('http://169.254.169.254/latest/meta-data/').read())"
        )
    );

    let p2 = parse_fixture("eks-subscription.json");
    assert_eq!(p2.format, Some(NAME));
    // The control message holds no records; the authenticator stream's event is counted.
    assert_eq!(
        (p2.records, p2.events.len(), p2.diagnostics.len()),
        (3, 2, 0),
        "{:#?}",
        p2.diagnostics
    );
    assert_eq!(event_positions(&p2), [(2, 1), (2, 2)]);
    assert_eq!(
        starts(&p2)[0].process.user_name.as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/ci-role/i-0abc1234def567890")
    );

    let p3 = parse_fixture("eks-filter-log-events.json");
    assert_eq!(p3.format, Some(NAME));
    assert_eq!(
        (p3.records, p3.events.len(), p3.diagnostics.len()),
        (2, 1, 0),
        "{:#?}",
        p3.diagnostics
    );

    let p4 = parse_fixture("eks-message-lines.jsonl");
    assert_eq!(p4.format, Some(NAME));
    assert_eq!(
        (p4.records, p4.events.len(), p4.diagnostics.len()),
        (2, 1, 0),
        "{:#?}",
        p4.diagnostics
    );
    assert_eq!(
        starts(&p4)[0].process.command_line.as_deref(),
        Some("aws sts get-caller-identity")
    );
    let all = [&p, &p2, &p3, &p4].map(digest).join("\n");
    insta::assert_snapshot!("eks_cloudwatch", all);
}

#[test]
fn malformed_records_are_diagnostics_and_good_records_between_them_are_read() {
    let p = parse_fixture("malformed/malformed.log");
    assert_eq!(p.format, Some(NAME));
    assert_eq!(p.records, 13);
    assert_eq!(event_positions(&p), [(1, 1)]);
    let reasons: Vec<(u64, &str)> = p.diagnostics.iter().map(|d| (d.line, d.reason.key())).collect();
    assert_eq!(
        reasons,
        [
            (2, "invalid_json"),
            (3, "bad_timestamp"),
            (4, "missing_field"),
            (5, "missing_field"),
            (6, "missing_field"),
            (7, "missing_field"),
            (8, "missing_field"),
            (9, "invalid_json"),
            (10, "invalid_json"),
            (11, "invalid_json"),
            (12, "invalid_utf8"),
            (13, "invalid_json"),
        ]
    );
    for d in &p.diagnostics {
        assert_eq!((d.format, d.index), (NAME, Some(d.line)));
        assert!(d.excerpt.as_deref().is_some_and(|e| !e.is_empty()), "{d:?}");
    }
    insta::assert_snapshot!("malformed", digest(&p));

    let p = parse_fixture("malformed/truncated-event-list.json");
    assert_eq!(p.format, Some(NAME));
    assert_eq!((p.records, p.events.len()), (2, 1));
    assert_eq!(p.diagnostics[0].reason.key(), "invalid_json");
    insta::assert_snapshot!("truncated_event_list", digest(&p));

    let p = parse_fixture("malformed/empty.log");
    assert_eq!((p.format, p.records, p.diagnostics.len()), (None, 0, 0));
}

#[test]
fn each_request_is_taken_once_at_its_earliest_answered_stage() {
    let line = |stage: &str, code: u16, t: &str| {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"{stage}","requestURI":"/api/v1/namespaces/n/pods/p/exec?command=id","responseStatus":{{"code":{code}}},"requestReceivedTimestamp":"{t}"}}"#
        )
    };
    // ResponseComplete first in the file, ResponseStarted after it: the earlier stage wins.
    let text = [
        line("ResponseComplete", 101, "2026-01-01T00:00:02Z"),
        line("ResponseStarted", 101, "2026-01-01T00:00:01Z"),
    ]
    .join("\n");
    let p = parse_bytes(text.as_bytes());
    assert_eq!((p.records, event_positions(&p)), (2, vec![(2, 2)]));
    // A refused exec is not an event and not a diagnostic.
    let p = parse_bytes(line("ResponseComplete", 403, "2026-01-01T00:00:02Z").as_bytes());
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (1, 0, 0));
    // RequestReceived alone does not mean the command ran.
    let p = parse_bytes(line("RequestReceived", 101, "2026-01-01T00:00:02Z").as_bytes());
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (1, 0, 0));
}

// ---------------------------------------------------------------------------------------------
// sniffing

fn every_fixture() -> Vec<PathBuf> {
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
    let mut files = Vec::new();
    walk(&repo().join("testdata/formats"), &mut files);
    files.sort();
    files
}

#[test]
fn sniffing_takes_audit_events_and_nothing_else() {
    let root = repo().join("testdata/formats");
    let mut seen = 0;
    for path in every_fixture() {
        let bytes = std::fs::read(&path).unwrap();
        let head = &bytes[..bytes.len().min(64 * 1024)];
        let ours = path.starts_with(root.join(NAME)) && !path.ends_with("empty.log");
        assert_eq!(KubernetesAudit.sniff(head), ours, "{}", path.display());
        if ours {
            // CloudTrail, which also takes JSON, does not take audit events, and no format ahead
            // of this one does either.
            assert!(!CloudTrail.sniff(head), "{}", path.display());
            let first = FORMATS.iter().find(|f| f.sniff(head)).map(|f| f.name());
            assert_eq!(first, Some(NAME), "{}", path.display());
        }
        seen += 1;
    }
    assert!(seen > 70);
    let not_ours: &[&[u8]] = &[
        br#"{"Records":[{"eventSource":"eks.amazonaws.com","eventName":"DescribeCluster"}]}"#,
        br#"{"kind":"Event","apiVersion":"v1","involvedObject":{"kind":"Pod"},"reason":"Pulled"}"#,
        b"2026-09-14T00:00:00Z audit.k8s.io/v1 auditID\n",
        b"",
    ];
    for head in not_ours {
        assert!(!KubernetesAudit.sniff(head), "{}", String::from_utf8_lossy(head));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let out = parse_bytes(&data);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = KubernetesAudit.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic_and_every_event_is_accounted_for(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
        which in 0usize..4,
    ) {
        let name = ["audit.log", "event-list.json", "eks-subscription.json", "eks-export.log"][which];
        let mut buf = std::fs::read(fixture(name)).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let out = parse_bytes(&buf);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
