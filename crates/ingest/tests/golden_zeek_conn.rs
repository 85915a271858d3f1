//! Golden tests for Zeek `conn.log` (`zeek-conn`): TSV with one or several header blocks (other
//! logs' blocks skipped), JSON lines, the connection states that count as rejected, malformed
//! records.
//!
//! Each fixture under `testdata/formats/zeek-conn/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a readable digest snapshotted with `insta`; positions (`line`: 1-based
//! line in the file, header lines included; `index`: 1-based ordinal of the record, header lines
//! not counted) and the fields detectors rely on are also asserted explicitly.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod flow_support;

use credtrail_event::{FileId, FlowSensor};
use credtrail_ingest::formats::{ZeekConn, ZeekHttp};
use credtrail_ingest::{Format, ParsedFile};
use flow_support::*;
use proptest::prelude::*;

fn conn(rel: &str) -> String {
    format!("zeek-conn/{rel}")
}

#[test]
fn tsv_with_one_header_block() {
    let p = parse_fixture(&conn("conn.log"));
    assert_eq!(p.format, Some("zeek-conn"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!((p.records, p.events.len()), (10, 10));
    // Eight header lines, then one record per line; `#close` is not a record.
    assert_eq!(event_positions(&p), (1..=10).map(|i| (8 + i, i)).collect::<Vec<_>>());
    let f = flows(&p);
    assert!(f
        .iter()
        .all(|f| f.sensor == FlowSensor::ZeekConn && f.observer.is_none()));
    assert!(f
        .iter()
        .all(|f| f.end.is_none() && f.account.is_none() && f.interface.is_none()));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T00:07:11.821Z");
    assert_eq!(
        (f[0].client, f[0].client_port, f[0].server, f[0].server_port),
        (
            "10.20.3.3".parse().unwrap(),
            Some(41001),
            "52.94.236.248".parse().unwrap(),
            Some(443)
        )
    );
    assert_eq!(
        (f[0].bytes_to_server, f[0].bytes_to_client, f[0].packets),
        (Some(4821), Some(98233), Some(118))
    );
    assert_eq!(
        (f[0].protocol.as_deref(), f[0].state.as_deref()),
        (Some("tcp"), Some("SF"))
    );
    let rejected: Vec<(&str, bool)> = f.iter().map(|f| (f.state.as_deref().unwrap(), f.rejected)).collect();
    assert_eq!(
        rejected,
        [
            ("SF", false),
            ("REJ", true),
            ("S0", true),
            ("RSTOS0", true),
            ("SH", true),
            ("RSTRH", true),
            ("SHR", true),
            ("OTH", false),
            ("SF", false),
            ("OTH", false),
        ]
    );
    // S0 with unset byte counts: unknown, not zero.
    assert_eq!(
        (f[2].bytes_to_server, f[2].bytes_to_client, f[2].packets),
        (None, None, Some(1))
    );
    assert_eq!(f[7].client, "fd00:ec2:0:1::15".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(f[9].protocol.as_deref(), Some("icmp"));
    insta::assert_snapshot!("tsv", digest(&p));
}

#[test]
fn concatenated_rotations_with_an_http_block_skipped() {
    let p = parse_fixture(&conn("rotated.log"));
    assert_eq!(p.format, Some("zeek-conn"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    // The http.log record is read and skipped: counted, neither event nor diagnostic.
    assert_eq!((p.records, p.events.len()), (4, 3));
    assert_eq!(event_positions(&p), [(9, 1), (29, 3), (30, 4)]);
    let f = flows(&p);
    // The third block's order puts the responder before the originator.
    assert_eq!(
        (f[1].client, f[1].server, f[1].server_port),
        (
            "172.17.0.5".parse().unwrap(),
            "169.254.169.254".parse().unwrap(),
            Some(80)
        )
    );
    assert!(f[1].rejected);
    assert_eq!(
        (f[1].bytes_to_server, f[1].bytes_to_client, f[1].packets),
        (Some(60), None, Some(1))
    );
    assert_eq!((f[2].protocol.as_deref(), f[2].packets), (Some("udp"), Some(2)));
    insta::assert_snapshot!("rotated", digest(&p));
    // zeek-http, forced, reads only the http block's record.
    let h = parse_forced(&ZeekHttp, &conn("rotated.log"));
    assert_eq!((h.records, h.events.len(), h.diagnostics.len()), (4, 1, 0));
}

#[test]
fn json_lines() {
    let p = parse_fixture(&conn("conn.json"));
    assert_eq!(p.format, Some("zeek-conn"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    // The `_path: dns` record is read and skipped.
    assert_eq!((p.records, p.events.len()), (6, 5));
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3), (5, 5), (6, 6)]);
    let times: Vec<String> = p.events.iter().map(|e| e.time.to_string()).collect();
    assert_eq!(
        times,
        [
            "2026-09-14T15:48:06.245Z",
            // ISO 8601 ts.
            "2026-09-14T10:00:00.250Z",
            // Epoch milliseconds (JSON::TS_MILLIS).
            "2026-09-14T15:48:08.123Z",
            // Epoch seconds as text.
            "2026-09-14T15:48:10.500Z",
            "2026-09-14T15:48:11Z",
        ]
    );
    let f = flows(&p);
    assert_eq!(f[0].observer.as_deref(), Some("sensor-use1-a"));
    assert_eq!(f[0].packets, Some(22));
    // A nested `id` object reads like dotted keys.
    assert_eq!(
        (f[1].client, f[1].server_port),
        ("10.20.0.12".parse().unwrap(), Some(4444))
    );
    assert!(f[1].rejected && f[2].rejected && !f[3].rejected && !f[4].rejected);
    // Numbers written as text.
    assert_eq!((f[3].client_port, f[3].bytes_to_client), (Some(53000), Some(80)));
    assert_eq!(f[4].packets, None);
    insta::assert_snapshot!("json", digest(&p));
}

#[test]
fn sniffing_takes_conn_logs_and_nothing_else() {
    for name in [
        "conn.log",
        "rotated.log",
        "conn.json",
        "malformed/bad-records.log",
        "malformed/non-utf8.log",
        "malformed/truncated.log",
        "malformed/invalid.json",
    ] {
        assert!(ZeekConn.sniff(&std::fs::read(fixture(&conn(name))).unwrap()), "{name}");
    }
    // zeek-http's own files, even those holding a conn block or record, stay zeek-http's.
    for name in ["http.log", "rotated.log", "http.json"] {
        let path = fixture(&format!("zeek-http/{name}"));
        assert!(!ZeekConn.sniff(&std::fs::read(&path).unwrap()), "{name}");
        assert_eq!(parse(&path).format, Some("zeek-http"), "{name}");
    }
    let not_ours: &[&[u8]] = &[
        br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#,
        br#"{"timestamp":"2024-01-15T10:30:00.123456+0000","flow_id":1,"event_type":"flow","src_ip":"10.0.0.1","flow":{"pkts_toserver":1}}"#,
        br#"{"ts":1789344431.8,"uid":"C1","id.orig_h":"10.0.0.1","trans_depth":1,"method":"GET","uri":"/"}"#,
        b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n",
        b"#separator \\x09\n#path\tdns\n#fields\tts\tuid\tquery\n",
        b"",
    ];
    for head in not_ours {
        assert!(!ZeekConn.sniff(head), "{}", String::from_utf8_lossy(head));
    }
    assert!(!ZeekConn.sniff(&std::fs::read(fixture(&conn("malformed/no-fields.log"))).unwrap()));
}

/// The conn.log fixtures zeek-http keeps to prove it does not take them are now zeek-conn's.
#[test]
fn zeek_http_conn_fixtures_are_read_as_zeek_conn() {
    let p = parse_fixture("zeek-http/conn.log");
    assert_eq!(p.format, Some("zeek-conn"));
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (1, 1, 0));
    let p = parse_fixture("zeek-http/conn.json");
    assert_eq!(p.format, Some("zeek-conn"));
    // Its second record has no `_path` and only dns.log fields: which log it belongs to cannot
    // be told, so it is a diagnostic, as zeek-http reports such a record.
    assert_eq!(event_positions(&p), [(1, 1)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "missing_field")]);
}

#[test]
fn bad_records_between_good_ones() {
    let p = parse_fixture(&conn("malformed/bad-records.log"));
    assert_eq!(p.format, Some("zeek-conn"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (18, 10)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (10, Some(2), "missing_field"),
            (11, Some(3), "missing_field"),
            (12, Some(4), "bad_timestamp"),
            // `-`: no time at all.
            (13, Some(5), "missing_field"),
            (14, Some(6), "missing_field"),
            (15, Some(7), "missing_field"),
            (16, Some(8), "missing_field"),
            (17, Some(9), "missing_field"),
        ]
    );
    assert!(p.diagnostics.iter().all(|d| d.excerpt.is_some()));
    insta::assert_snapshot!("malformed_bad_records", digest(&p));
}

#[test]
fn bytes_that_are_not_utf8() {
    let p = parse_fixture(&conn("malformed/non-utf8.log"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (11, 3)]);
    assert_eq!(diagnostic_positions(&p), [(10, Some(2), "invalid_utf8")]);
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn truncated_last_record() {
    let p = parse_fixture(&conn("malformed/truncated.log"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (10, 2)]);
    assert_eq!(diagnostic_positions(&p), [(11, Some(3), "missing_field")]);
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn empty_file_is_nothing() {
    let p = parse_fixture(&conn("malformed/empty.log"));
    assert_eq!(
        (p.format, p.records, p.events.len(), p.diagnostics.len()),
        (None, 0, 0, 0)
    );
}

#[test]
fn records_without_a_fields_header_are_diagnostics_when_forced() {
    let p = parse_forced(&ZeekConn, &conn("malformed/no-fields.log"));
    assert!(accounted(&p));
    assert_eq!(
        diagnostic_positions(&p),
        [(1, Some(1), "missing_field"), (2, Some(2), "missing_field")]
    );
    assert!(p.diagnostics[0].detail.contains("before any `#fields` header"));
}

#[test]
fn invalid_json_records() {
    let p = parse_fixture(&conn("malformed/invalid.json"));
    assert_eq!(p.format, Some("zeek-conn"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (9, 9)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "invalid_json"),
            // No ts.
            (3, Some(3), "missing_field"),
            (4, Some(4), "bad_timestamp"),
            // Bad address, port out of range.
            (5, Some(5), "missing_field"),
            (6, Some(6), "missing_field"),
            // Neither `_path` nor a conn.log field.
            (7, Some(7), "missing_field"),
            // A field of the wrong type.
            (8, Some(8), "missing_field"),
        ]
    );
    insta::assert_snapshot!("malformed_invalid_json", digest(&p));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut out = ParsedFile::default();
        ZeekConn.parse(&data, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = ZeekConn.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
        json in any::<bool>(),
    ) {
        let mut buf = std::fs::read(fixture(&conn(if json { "conn.json" } else { "conn.log" }))).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let mut out = ParsedFile::default();
        ZeekConn.parse(&buf, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
