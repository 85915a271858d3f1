//! Golden tests for Sysmon for Linux (`sysmon-linux`): events in syslog (mixed with other
//! daemons' lines), one event per line, a whole XML file, and malformed input.
//!
//! Each fixture under `testdata/formats/sysmon-linux/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a digest snapshotted with `insta`; positions (`line` of the event's
//! `<Event>`, `index` its ordinal among the file's records) and decoded values are asserted.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod host_support;

use credtrail_event::{Body, HostSensor};
use credtrail_ingest::formats::SysmonLinux;
use credtrail_ingest::Format;
use host_support::*;
use proptest::prelude::*;

#[test]
fn sysmon_in_syslog() {
    let p = parse_fixture("sysmon-linux/syslog.log");
    assert_eq!(p.format, Some("sysmon-linux"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    // Every line is a record: the systemd line, the inbound connection, the terminate and the
    // configuration change yield nothing.
    assert_eq!(p.records, 8);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (6, 6), (8, 8)]);
    assert!(p.events.iter().all(|e| match &e.body {
        Body::ProcessStart(s) => s.sensor == HostSensor::Sysmon,
        Body::ProcessConnect(c) => c.sensor == HostSensor::Sysmon,
        _ => false,
    }));
    assert_eq!(p.events[1].time.to_string(), "2026-09-14T10:00:00.123Z");
    let s = starts(&p);
    assert_eq!(
        s[0].process.command_line.as_deref(),
        Some("curl -s -H \"X-aws-ec2-metadata-token: AQAEAFh0k3\" http://169.254.169.254/latest/meta-data/iam/security-credentials/ && echo <done>")
    );
    assert_eq!(
        (s[0].process.pid, s[0].process.ppid, s[0].process.login_uid),
        (Some(4242), Some(4200), Some(1000))
    );
    assert_eq!(s[0].process.cwd.as_deref(), Some("/home/ec2-user/my scripts"));
    assert_eq!(s[0].host.as_deref(), Some("ip-10-20-0-12"));
    // UtcTime when TimeCreated is missing; unset LogonId.
    assert_eq!(p.events[3].time.to_string(), "2026-09-14T10:00:04.750Z");
    assert_eq!(s[1].process.login_uid, None);
    let c = connects(&p);
    assert_eq!(
        (c[0].destination, c[0].port, c[0].failed, c[0].result),
        (ip("169.254.169.254"), Some(80), false, None)
    );
    assert_eq!(
        (c[0].process.exe.as_deref(), c[0].process.user_name.as_deref()),
        (Some("/usr/bin/curl"), Some("ec2-user"))
    );
    assert_eq!(c[1].destination, ip("fd00:ec2::254"));
    insta::assert_snapshot!("syslog", digest(&p));
}

#[test]
fn one_event_per_line_and_whole_xml_files() {
    let p = parse_fixture("sysmon-linux/events.lines.xml");
    assert_eq!(p.format, Some("sysmon-linux"));
    assert_eq!((p.records, p.diagnostics.len()), (3, 0));
    assert_eq!(event_positions(&p), [(1, 1), (2, 2)]);
    let p = parse_fixture("sysmon-linux/events.xml");
    assert_eq!(p.format, Some("sysmon-linux"));
    assert_eq!((p.records, p.diagnostics.len()), (3, 0), "{:#?}", p.diagnostics);
    assert_eq!(event_positions(&p), [(3, 1), (27, 2)]);
    insta::assert_snapshot!("xml", digest(&p));
}

#[test]
fn malformed_events_are_diagnostics_and_good_events_between_them_are_read() {
    let p = parse_fixture("sysmon-linux/malformed.log");
    assert_eq!(p.format, Some("sysmon-linux"));
    assert_eq!(p.records, 11);
    assert_eq!(event_positions(&p), [(1, 1), (9, 9)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "missing_field"),
            (3, Some(3), "bad_timestamp"),
            (4, Some(4), "missing_field"),
            (5, Some(5), "missing_field"),
            (6, Some(6), "missing_field"),
            (7, Some(7), "missing_field"),
            (8, Some(8), "missing_field"),
            (10, Some(10), "missing_field"),
            (11, Some(11), "invalid_utf8"),
        ]
    );
    insta::assert_snapshot!("malformed", digest(&p));
    let p = parse_fixture("sysmon-linux/malformed-cut.xml");
    assert_eq!(p.format, Some("sysmon-linux"));
    assert_eq!(event_positions(&p), [(3, 1)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(27, Some(2), "missing_field"), (28, Some(3), "missing_field")]
    );
}

#[test]
fn sniffing_takes_sysmon_and_nothing_else() {
    sniffs_only_its_own(&SysmonLinux);
    for head in [
        &b"<Event><System><Provider Name=\"Microsoft-Windows-Sysmon\"/></System></Event>"[..],
        b"Sep 14 10:00:00 host systemd[1]: Started.\n",
        b"",
    ] {
        assert!(!SysmonLinux.sniff(head), "{}", String::from_utf8_lossy(head));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let out = parse_bytes(&SysmonLinux, &data);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = SysmonLinux.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
        xml in any::<bool>(),
    ) {
        let mut buf = std::fs::read(fixture(if xml { "sysmon-linux/events.xml" } else { "sysmon-linux/syslog.log" })).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let out = parse_bytes(&SysmonLinux, &buf);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
