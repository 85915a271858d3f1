//! Golden tests for Zeek `http.log` (`zeek-http`): TSV with one or several header blocks, JSON
//! lines, other Zeek logs that must not be taken for it, malformed records, and the benchmark
//! generator's Zeek files.
//!
//! Each fixture under `testdata/formats/zeek-http/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a readable digest snapshotted with `insta`; positions (`line`: 1-based
//! line in the file, header lines included; `index`: 1-based ordinal of the record, header lines
//! not counted) and the fields detectors rely on are also asserted explicitly.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod http_log_support;

use std::path::PathBuf;
use std::process::Command;

use credtrail_event::{Body, FileId, HttpSensor};
use credtrail_ingest::formats::ZeekHttp;
use credtrail_ingest::{Format, ParsedFile};
use proptest::prelude::*;

// http_log_support already loads tests/common; a second `mod common` would compile it twice.
use http_log_support::common::{self, accounted, diagnostic_positions, event_positions, parse, shared};
use http_log_support::{digest, requests};

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(rel: &str) -> PathBuf {
    common::formats_fixture("zeek-http", rel)
}

fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

fn parse_forced(rel: &str) -> ParsedFile {
    common::parse_bytes(&ZeekHttp, &std::fs::read(fixture(rel)).unwrap())
}

fn assert_clean(p: &ParsedFile, events: usize) {
    assert_eq!(p.format, Some("zeek-http"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.events.len(), events);
    assert!(requests(p).iter().all(|r| r.sensor == HttpSensor::NetworkSensor));
}

// ---------------------------------------------------------------------------------------------
// well-formed shapes

#[test]
fn tsv_with_one_header_block() {
    let p = parse_fixture("http.log");
    assert_clean(&p, 9);
    assert_eq!(p.records, 9);
    // Eight header lines, then one record per line; `#close` is not a record.
    assert_eq!(event_positions(&p), (1..=9).map(|i| (8 + i, i)).collect::<Vec<_>>());
    let r = requests(&p);
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T00:07:11.821Z");
    assert_eq!(
        (r[0].method.as_deref(), r[0].target.as_str()),
        (Some("PUT"), "/latest/api/token")
    );
    assert_eq!(
        (r[0].client, r[0].server, r[0].server_port),
        ("172.17.0.5".parse().ok(), "169.254.169.254".parse().ok(), Some(80))
    );
    assert_eq!((r[0].status, r[0].response_bytes), (Some(200), Some(56)));
    // Client to open proxy: the absolute-form target is kept as sent.
    assert_eq!(
        r[2].target,
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    );
    assert_eq!(r[2].host.as_deref(), Some("169.254.169.254"));
    assert_eq!(r[2].forwarded_for, None);
    // Proxy to upstream: origin-form target; `proxied` carries X-Forwarded-For.
    assert_eq!(r[3].target, "/latest/meta-data/iam/security-credentials/");
    assert_eq!(r[3].forwarded_for.as_deref(), Some("159.65.3.29"));
    assert_eq!(r[3].original_client(), "159.65.3.29".parse().ok());
    assert_eq!(r[3].header("VIA"), Some("1.1 edge-proxy (nginx)"));
    assert_eq!(r[4].server, "fd00:ec2::254".parse().ok());
    // No response seen: unset status and size. With no Host header, CONNECT's target is the host.
    assert_eq!(
        (r[5].status, r[5].response_bytes, r[5].host.as_deref()),
        (None, None, Some("169.254.169.254:80"))
    );
    assert_eq!(
        (r[5].method.as_deref(), r[5].target.as_str()),
        (Some("CONNECT"), "169.254.169.254:80")
    );
    // No Host header: the host is the authority of the absolute-form target, userinfo removed.
    assert_eq!(r[6].host.as_deref(), Some("169.254.169.254"));
    assert_eq!(r[6].header("Referer"), Some("http://evil.example/"));
    assert_eq!(r[6].header("Origin"), Some("http://evil.example"));
    // `\xHH` escapes are undone.
    assert_eq!(r[7].target, "/café?q=a\tb");
    assert_eq!(r[7].user_agent.as_deref(), Some("agent\twith tab"));
    // `(empty)` user agent: none.
    assert_eq!(r[8].user_agent, None);
    insta::assert_snapshot!("tsv", digest(&p));
}

#[test]
fn concatenated_rotations_with_their_own_field_orders_and_a_conn_block() {
    let p = parse_fixture("rotated.log");
    assert_eq!(p.format, Some("zeek-http"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    // Two conn.log records are read and skipped: counted, neither event nor diagnostic.
    assert_eq!((p.records, p.events.len()), (6, 4));
    assert_eq!(event_positions(&p), [(9, 1), (10, 2), (20, 3), (41, 6)]);
    let r = requests(&p);
    // The second block's order puts status and size before the method.
    assert_eq!((r[2].status, r[2].response_bytes), (Some(200), Some(1313)));
    assert_eq!(r[2].target, "/latest/meta-data/iam/security-credentials/web-role");
    assert_eq!(r[2].forwarded_for.as_deref(), Some("203.0.113.77"));
    assert_eq!(r[3].client, "fd00:ec2:0:1::15".parse().ok());
    insta::assert_snapshot!("rotated", digest(&p));
}

#[test]
fn json_lines() {
    let p = parse_fixture("http.json");
    assert_clean(&p, 5);
    // The `_path: conn` record is read and skipped.
    assert_eq!(p.records, 6);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3), (4, 4), (6, 6)]);
    let r = requests(&p);
    let times: Vec<String> = p.events.iter().map(|e| e.time.to_string()).collect();
    assert_eq!(
        times,
        [
            "2026-09-14T00:07:11.821Z",
            // ISO 8601 ts.
            "2026-09-14T10:00:00.250Z",
            "2026-09-14T15:48:04.101Z",
            // Epoch milliseconds (JSON::TS_MILLIS).
            "2026-09-14T15:48:05.123Z",
            "2026-09-14T15:48:07.500Z",
        ]
    );
    assert_eq!(r[1].observer.as_deref(), Some("sensor-use1-a"));
    assert_eq!(r[1].target, "http://169.254.169.254/latest/meta-data/");
    // A nested `id` object reads like dotted keys.
    assert_eq!((r[2].client, r[2].server_port), ("10.20.0.12".parse().ok(), Some(80)));
    assert_eq!(r[2].forwarded_for.as_deref(), Some("159.65.3.29"));
    assert_eq!(r[3].host.as_deref(), Some("[fd00:ec2::254]"));
    assert_eq!((r[4].status, r[4].user_agent.as_deref()), (None, None));
    insta::assert_snapshot!("json", digest(&p));
}

#[test]
fn other_zeek_logs_are_not_taken() {
    for name in ["conn.log", "conn.json"] {
        let head = std::fs::read(fixture(name)).unwrap();
        assert!(!ZeekHttp.sniff(&head), "{name}");
        // They are conn.log's: read as zeek-conn (see golden_zeek_conn.rs).
        let p = parse_fixture(name);
        assert_eq!(p.format, Some("zeek-conn"), "{name}");
    }
    // Forced, a conn.log is read and yields nothing: no event, no diagnostic.
    let p = parse_forced("conn.log");
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (1, 0, 0));
}

#[test]
fn sniffing_takes_http_logs_and_nothing_else() {
    for name in [
        "http.log",
        "rotated.log",
        "http.json",
        "malformed/bad-line-between.log",
        "malformed/invalid.json",
        "malformed/non-utf8.log",
    ] {
        assert!(ZeekHttp.sniff(&std::fs::read(fixture(name)).unwrap()), "{name}");
    }
    let not_ours: &[&[u8]] = &[
        br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#,
        br#"{"timestamp":1576280412771,"formatVersion":1,"webaclId":"arn","httpRequest":{"clientIp":"1.2.3.4","uri":"/"}}"#,
        br#"{"timestamp":"2024-01-15T10:30:00.123456+0000","flow_id":1,"event_type":"http","src_ip":"10.0.0.1","http":{"url":"/"}}"#,
        b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n",
        b"#Version: 1.0\n#Fields: date time x-edge-location\n",
        b"",
    ];
    for head in not_ours {
        assert!(!ZeekHttp.sniff(head), "{}", String::from_utf8_lossy(head));
    }
    // Data without a header is not recognisable as Zeek.
    assert!(!ZeekHttp.sniff(&std::fs::read(fixture("malformed/no-fields.log")).unwrap()));
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn bad_line_between_good_ones() {
    let p = parse_fixture("malformed/bad-line-between.log");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (11, 3)]);
    assert_eq!(diagnostic_positions(&p), [(10, Some(2), "missing_field")]);
    assert_eq!(p.diagnostics[0].detail, "1 fields where `#fields` declares 30");
    insta::assert_snapshot!("malformed_bad_line_between", digest(&p));
}

#[test]
fn wrong_field_counts() {
    let p = parse_fixture("malformed/wrong-field-count.log");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (12, 4)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(10, Some(2), "missing_field"), (11, Some(3), "missing_field")]
    );
    insta::assert_snapshot!("malformed_wrong_field_count", digest(&p));
}

#[test]
fn bad_times() {
    let p = parse_fixture("malformed/bad-time.log");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (13, 5)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (10, Some(2), "bad_timestamp"),
            // `-`: no time at all.
            (11, Some(3), "missing_field"),
            (12, Some(4), "bad_timestamp"),
        ]
    );
    insta::assert_snapshot!("malformed_bad_time", digest(&p));
}

#[test]
fn bad_addresses_ports_and_numbers() {
    let p = parse_fixture("malformed/bad-ip.log");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (14, 6)]);
    assert_eq!(
        diagnostic_positions(&p),
        (10..=13).map(|l| (l, Some(l - 8), "missing_field")).collect::<Vec<_>>()
    );
    insta::assert_snapshot!("malformed_bad_ip", digest(&p));
}

#[test]
fn bytes_that_are_not_utf8() {
    let p = parse_fixture("malformed/non-utf8.log");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (11, 3)]);
    assert_eq!(diagnostic_positions(&p), [(10, Some(2), "invalid_utf8")]);
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn truncated_last_record() {
    let p = parse_fixture("malformed/truncated.log");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(9, 1), (10, 2)]);
    assert_eq!(diagnostic_positions(&p), [(11, Some(3), "missing_field")]);
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn empty_file_is_nothing() {
    let p = parse_fixture("malformed/empty.log");
    assert_eq!(
        (p.format, p.records, p.events.len(), p.diagnostics.len()),
        (None, 0, 0, 0)
    );
}

#[test]
fn records_without_a_fields_header_are_diagnostics_when_forced() {
    let p = parse_forced("malformed/no-fields.log");
    assert!(accounted(&p));
    assert_eq!(
        diagnostic_positions(&p),
        [(1, Some(1), "missing_field"), (2, Some(2), "missing_field")]
    );
    assert!(p.diagnostics[0].detail.contains("before any `#fields` header"));
}

#[test]
fn invalid_json_records() {
    let p = parse_fixture("malformed/invalid.json");
    assert_eq!(p.format, Some("zeek-http"));
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
            // Neither `_path` nor an http.log field: a dns.log record, or garbage.
            (7, Some(7), "missing_field"),
            // A field of the wrong type.
            (8, Some(8), "missing_field"),
        ]
    );
    insta::assert_snapshot!("malformed_invalid_json", digest(&p));
}

// ---------------------------------------------------------------------------------------------
// the benchmark generator's Zeek files

#[test]
fn generated_zeek_logs_parse_without_diagnostics_and_labels_point_at_events() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(shared("bench/gen_logs.py"))
        .arg(dir.path())
        .args(["--size", "5M"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    let zeek = dir.path().join("network/zeek");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&zeek)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("http."))
        .collect();
    logs.sort();
    assert!(!logs.is_empty());
    let mut parsed = std::collections::HashMap::new();
    for log in &logs {
        let p = parse(log);
        let text = std::fs::read_to_string(log).unwrap();
        let data_lines = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(p.format, Some("zeek-http"), "{}", log.display());
        assert_eq!(p.diagnostics.len(), 0, "{}: {:#?}", log.display(), p.diagnostics);
        assert_eq!(
            (p.records, p.events.len()),
            (data_lines as u64, data_lines),
            "{}",
            log.display()
        );
        let rel = log.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned();
        parsed.insert(rel, (p, text));
    }
    let labels = std::fs::read_to_string(dir.path().join("LABELS.jsonl")).unwrap();
    let mut checked = 0;
    for label in labels.lines() {
        let label: serde_json::Value = serde_json::from_str(label).unwrap();
        let source = label["source"].as_str().unwrap();
        let Some((p, text)) = parsed.get(source) else { continue };
        let (line, index) = (label["line"].as_u64().unwrap(), label["index"].as_u64().unwrap());
        let event = p
            .events
            .iter()
            .find(|e| e.origin.line == line)
            .unwrap_or_else(|| panic!("no event at {source}:{line}"));
        assert_eq!(event.origin.index, index, "{source}:{line}");
        let raw = text.lines().nth(line as usize - 1).unwrap();
        for s in label["contains"].as_array().unwrap() {
            assert!(raw.contains(s.as_str().unwrap()), "{source}:{line} lacks {s}");
        }
        let Body::HttpRequest(r) = &event.body else {
            panic!("expected an HTTP request")
        };
        let ip: std::net::IpAddr = label["ip"].as_str().unwrap().parse().unwrap();
        assert!(
            [r.client, r.original_client(), r.server].contains(&Some(ip)),
            "{source}:{line}: {ip} is not in the record"
        );
        checked += 1;
    }
    assert!(checked > 0, "no label points into a Zeek log");
}

// ---------------------------------------------------------------------------------------------
// robustness

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut out = ParsedFile::default();
        ZeekHttp.parse(&data, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = ZeekHttp.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic_and_every_http_record_is_accounted_for(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
        json in any::<bool>(),
    ) {
        let mut buf = std::fs::read(fixture(if json { "http.json" } else { "http.log" })).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let mut out = ParsedFile::default();
        ZeekHttp.parse(&buf, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
