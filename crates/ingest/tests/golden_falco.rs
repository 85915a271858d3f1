//! Golden tests for Falco JSON alerts (`falco`): the default IMDS rule (connection in `fd.name`
//! only), custom rules with `fd.sip`/`fd.rip`, exec alerts, alerts without process or address
//! fields, and malformed input.
//!
//! Each fixture under `testdata/formats/falco/` is parsed with `parse_file` (sniffed, not forced)
//! and reduced to a digest snapshotted with `insta`; positions (one alert per line) and the
//! values detectors rely on are also asserted.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod host_support;

use credtrail_event::{Body, HostSensor};
use credtrail_ingest::formats::Falco;
use credtrail_ingest::Format;
use host_support::*;
use proptest::prelude::*;

#[test]
fn falco_alerts() {
    let p = parse_fixture("falco/events.json");
    assert_eq!(p.format, Some("falco"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.records, 7);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3), (5, 5), (7, 7)]);
    assert!(p.events.iter().all(|e| match &e.body {
        Body::ProcessStart(s) => s.sensor == HostSensor::Falco,
        Body::ProcessConnect(c) => c.sensor == HostSensor::Falco,
        _ => false,
    }));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T10:00:00.123Z");
    let c = connects(&p);
    assert_eq!(c.len(), 4);
    // The default rule: the server side of fd.name; the container; an unset login uid.
    assert_eq!(
        (c[0].destination, c[0].port, c[0].failed),
        (ip("169.254.169.254"), Some(80), false)
    );
    assert_eq!(c[0].host.as_deref(), Some("ip-10-20-0-12.ec2.internal"));
    assert_eq!(c[0].process.container.as_deref(), Some("3f2a9c1be07d"));
    assert_eq!(c[0].process.exe.as_deref(), Some("/usr/bin/curl"));
    assert_eq!((c[0].process.uid, c[0].process.login_uid), (Some(0), None));
    // fd.sip is the server; EINPROGRESS is not a failure; proc.exe is argv[0], not the executable.
    assert_eq!(
        (c[1].destination, c[1].failed, c[1].result),
        (ip("169.254.169.254"), false, Some(-115))
    );
    assert_eq!((c[1].process.pid, c[1].process.ppid), (Some(4242), Some(4200)));
    assert_eq!(c[1].process.exe.as_deref(), Some("/usr/local/bin/python3.12"));
    assert_eq!(c[1].process.argv0.as_deref(), Some("python3"));
    assert_eq!(c[1].process.cwd.as_deref(), Some("/srv/app/"));
    assert_eq!(c[1].process.user_name.as_deref(), Some("app"));
    // container.id "host" is not a container; refused.
    assert_eq!(
        (c[2].destination, c[2].failed, c[2].result),
        (ip("fd00:ec2::254"), true, Some(-111))
    );
    assert_eq!(c[2].process.container, None);
    // <NA> is no value; no hostname.
    assert_eq!(
        (c[3].host.as_deref(), c[3].process.command_line.as_deref()),
        (None, None)
    );
    assert_eq!(c[3].process.container, None);
    let s = starts(&p);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].process.command_line.as_deref(), Some("bash -il"));
    assert_eq!(s[0].process.container.as_deref(), Some("b6f1c2d3e4f5"));
    insta::assert_snapshot!("events", digest(&p));
}

#[test]
fn malformed_alerts_are_diagnostics_and_good_alerts_between_them_are_read() {
    let p = parse_fixture("falco/malformed.json");
    assert_eq!(p.format, Some("falco"));
    assert_eq!(p.records, 12);
    assert_eq!(event_positions(&p), [(1, 1), (11, 11)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "invalid_json"),
            (3, Some(3), "missing_field"),
            (4, Some(4), "bad_timestamp"),
            (5, Some(5), "missing_field"),
            (6, Some(6), "missing_field"),
            (7, Some(7), "missing_field"),
            (8, Some(8), "missing_field"),
            (9, Some(9), "missing_field"),
            (10, Some(10), "missing_field"),
            (12, Some(12), "invalid_utf8"),
        ]
    );
    assert!(p.diagnostics[4].detail.contains("169.254.169.2544"));
    assert!(p.diagnostics[6].detail.contains("fd.name"));
    insta::assert_snapshot!("malformed", digest(&p));
}

#[test]
fn alerts_under_an_instance_directory_are_that_instance() {
    let p = parse_as(
        &fixture("falco/events.json"),
        "hosts/i-0a1b2c3d4e5f60718/var/log/falco/events.json",
    );
    for c in connects(&p) {
        assert_eq!(c.host.as_deref(), Some("i-0a1b2c3d4e5f60718"));
    }
}

#[test]
fn sniffing_takes_falco_and_nothing_else() {
    sniffs_only_its_own(&Falco);
    for head in [
        &br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#[..],
        br#"{"ID":"1789346731.423:272367","SYSCALL":{"syscall":42}}"#,
        br#"{"timestamp":"2026-09-14T10:00:00.000000+0000","event_type":"alert","src_ip":"10.0.0.1"}"#,
        b"",
    ] {
        assert!(!Falco.sniff(head), "{}", String::from_utf8_lossy(head));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let out = parse_bytes(&Falco, &data);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = Falco.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = std::fs::read(fixture("falco/events.json")).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let out = parse_bytes(&Falco, &buf);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
