//! Golden tests for laurel's JSON lines (`laurel`): execve and connect events with laurel's
//! enrichment (parent process, container, translated names and addresses), the shapes of older
//! releases (hex `saddr`, `ppid` objects, `PARENT_INFO`), and malformed input.
//!
//! Each fixture under `testdata/formats/laurel/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a digest snapshotted with `insta`; positions (`line`, `index`: one
//! event per line) and the decoded values detectors rely on are also asserted.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod host_support;

use credtrail_event::{Body, HostSensor};
use credtrail_ingest::formats::Laurel;
use credtrail_ingest::Format;
use host_support::*;
use proptest::prelude::*;

#[test]
fn laurel_events() {
    let p = parse_fixture("laurel/audit.log");
    assert_eq!(p.format, Some("laurel"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.records, 10);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (4, 4), (6, 6), (7, 7), (9, 9)]);
    assert!(p.events.iter().all(|e| match &e.body {
        Body::ProcessStart(s) => s.sensor == HostSensor::Laurel,
        Body::ProcessConnect(c) => c.sensor == HostSensor::Laurel,
        _ => false,
    }));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T00:45:31.420Z");

    let c = connects(&p);
    assert_eq!(c.len(), 4);
    // IMDS over IPv4, non-blocking: EINPROGRESS is not a failure.
    assert_eq!((c[0].destination, c[0].port), (ip("169.254.169.254"), Some(80)));
    assert_eq!((c[0].failed, c[0].result), (false, Some(-115)));
    assert_eq!(c[0].host.as_deref(), Some("ip-10-20-0-12.ec2.internal"));
    assert_eq!(c[0].process.exe.as_deref(), Some("/usr/bin/curl"));
    assert_eq!(
        (
            c[0].process.pid,
            c[0].process.ppid,
            c[0].process.uid,
            c[0].process.login_uid,
            c[0].process.session
        ),
        (Some(2788), Some(2780), Some(1001), None, None)
    );
    assert_eq!(c[0].process.argv0.as_deref(), Some("curl"));
    // IPv6 IMDS, refused; the container from laurel's PID enrichment.
    assert_eq!(
        (c[1].destination, c[1].failed, c[1].result),
        (ip("fd00:ec2::254"), true, Some(-111))
    );
    assert_eq!(
        c[1].process.container.as_deref(),
        Some("3f2a9c1be07d4e5a8c6b3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a")
    );
    assert_eq!(
        (
            c[1].process.login_uid,
            c[1].process.session,
            c[1].process.tty.as_deref()
        ),
        (Some(1000), Some(5), Some("pts0"))
    );
    // Names only (translate.drop-raw): the translated SADDR, the IPv4-mapped address as IPv4.
    assert_eq!(
        (c[2].destination, c[2].port, c[2].failed),
        (ip("10.20.0.5"), Some(443), false)
    );
    assert_eq!(
        (c[2].process.uid, c[2].process.user_name.as_deref()),
        (None, Some("root"))
    );
    assert_eq!(c[2].process.container.as_deref(), Some("ecs-task-7f1e2d3c"));
    // Older laurel: hex saddr, aarch64 numbers, ppid replaced by its enrichment object.
    assert_eq!((c[3].destination, c[3].port), (ip("169.254.169.254"), Some(80)));
    assert_eq!((c[3].process.pid, c[3].process.ppid), (Some(4242), None));
    assert_eq!(
        c[3].process.command_line.as_deref(),
        Some("/usr/bin/python3 /usr/bin/aws sts get-caller-identity")
    );

    let s = starts(&p);
    assert_eq!(s.len(), 2);
    assert_eq!(
        s[0].process.command_line.as_deref(),
        Some("curl -s -H X-aws-ec2-metadata-token: AQAEAFh0k3 http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    );
    // Percent-encoded bytes are decoded; the enriched UID names the user.
    assert_eq!(s[0].process.cwd.as_deref(), Some("/opt/media/my scripts"));
    assert_eq!(s[0].process.user_name.as_deref(), Some("media"));
    assert_eq!(s[1].process.command_line.as_deref(), Some("sh -c printf %s\n x"));
    assert_eq!(s[1].process.container.as_deref(), Some("b6f1c2d3e4f5"));
    insta::assert_snapshot!("laurel", digest(&p));
}

#[test]
fn malformed_lines_are_diagnostics_and_good_lines_between_them_are_read() {
    let p = parse_fixture("laurel/malformed.log");
    assert_eq!(p.format, Some("laurel"));
    assert_eq!(p.records, 14);
    assert_eq!(event_positions(&p), [(1, 1), (12, 12)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "invalid_json"),
            (3, Some(3), "invalid_json"),
            (4, Some(4), "missing_field"),
            (5, Some(5), "missing_field"),
            (6, Some(6), "bad_timestamp"),
            (7, Some(7), "missing_field"),
            (8, Some(8), "missing_field"),
            (9, Some(9), "missing_field"),
            (10, Some(10), "missing_field"),
            (11, Some(11), "missing_field"),
            (13, Some(13), "invalid_utf8"),
            // The last line is cut.
            (14, Some(14), "invalid_json"),
        ]
    );
    let detail = |i: usize| p.diagnostics[i].detail.as_str();
    assert!(detail(6).contains("\"12x\""), "{}", detail(6));
    assert!(detail(7).contains("169.254.169.999"), "{}", detail(7));
    assert!(detail(8).contains("not hex"), "{}", detail(8));
    assert!(detail(9).contains("no syscall"), "{}", detail(9));
    assert!(p.diagnostics[7].excerpt.as_deref().unwrap().contains("169.254.169.999"));
    insta::assert_snapshot!("malformed", digest(&p));
}

#[test]
fn logs_under_an_instance_directory_are_that_instance() {
    let path = fixture("laurel/audit.log");
    let p = parse_as(&path, "hosts/i-0a1b2c3d4e5f60718/var/log/laurel/audit.log");
    assert!(!p.events.is_empty());
    for e in &p.events {
        let host = match &e.body {
            Body::ProcessStart(s) => &s.host,
            Body::ProcessConnect(c) => &c.host,
            _ => unreachable!(),
        };
        assert_eq!(host.as_deref(), Some("i-0a1b2c3d4e5f60718"));
    }
}

#[test]
fn sniffing_takes_laurel_and_nothing_else() {
    sniffs_only_its_own(&Laurel);
    for head in [
        &br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#[..],
        b"type=SYSCALL msg=audit(1789346731.423:1): arch=c000003e syscall=42\n",
        br#"{"output":"x","priority":"Warning","rule":"r","time":"2026-09-14T10:00:00Z","output_fields":{}}"#,
        b"",
    ] {
        assert!(!Laurel.sniff(head), "{}", String::from_utf8_lossy(head));
    }
}

#[test]
fn empty_and_blank_input_is_nothing() {
    for buf in [&b""[..], b"\n\n  \r\n"] {
        let p = parse_bytes(&Laurel, buf);
        assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (0, 0, 0));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let out = parse_bytes(&Laurel, &data);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = Laurel.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic_and_every_line_is_accounted_for(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = std::fs::read(fixture("laurel/audit.log")).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let out = parse_bytes(&Laurel, &buf);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
