//! Golden tests for Amazon VPC Flow Logs (`vpc-flow-logs`): the default format with its header,
//! a custom v5 format (and a second header starting a new order), a headerless CloudWatch Logs
//! export, NODATA/SKIPDATA records, malformed records, and every file of the benchmark
//! generator's `network/vpcflow/`.
//!
//! Each fixture under `testdata/formats/vpc-flow-logs/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a readable digest snapshotted with `insta`. Positions: `line` is the
//! 1-based line in the (decompressed) file, the header line counted; `index` is the 1-based
//! ordinal of the flow record, the header not counted, NODATA/SKIPDATA records counted.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod flow_support;

use std::collections::HashMap;
use std::io::Read as _;

use credtrail_event::{Body, FileId, FlowSensor};
use credtrail_ingest::formats::VpcFlowLogs;
use credtrail_ingest::{Format, ParsedFile};
use flow_support::*;
use proptest::prelude::*;

fn vpc(rel: &str) -> String {
    format!("vpc-flow-logs/{rel}")
}

#[test]
fn default_format_with_its_header() {
    let p = parse_fixture(&vpc("default.log"));
    assert_eq!(p.format, Some("vpc-flow-logs"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    // NODATA and SKIPDATA are records without a flow.
    assert_eq!((p.records, p.events.len()), (8, 6));
    assert_eq!(event_positions(&p), [(2, 1), (3, 2), (6, 5), (7, 6), (8, 7), (9, 8)]);
    let f = flows(&p);
    assert!(f.iter().all(|f| f.sensor == FlowSensor::VpcFlowLogs));
    assert_eq!(p.events[0].time.to_string(), "2014-12-14T04:06:50Z");
    assert_eq!(f[0].end.map(|t| t.to_string()).as_deref(), Some("2014-12-14T04:07:50Z"));
    assert_eq!(
        (f[0].client, f[0].client_port, f[0].server, f[0].server_port),
        (
            "172.31.16.139".parse().unwrap(),
            Some(20641),
            "172.31.16.21".parse().unwrap(),
            Some(22)
        )
    );
    assert_eq!(
        (f[0].bytes_to_server, f[0].bytes_to_client, f[0].packets),
        (Some(4249), None, Some(20))
    );
    assert_eq!(
        (
            f[0].account.as_deref(),
            f[0].interface.as_deref(),
            f[0].observer.as_deref()
        ),
        (
            Some("123456789010"),
            Some("eni-1235b8ca123456789"),
            Some("eni-1235b8ca123456789")
        )
    );
    let rejected: Vec<bool> = f.iter().map(|f| f.rejected).collect();
    assert_eq!(rejected, [false, true, false, true, false, false]);
    let protocols: Vec<&str> = f.iter().map(|f| f.protocol.as_deref().unwrap()).collect();
    assert_eq!(protocols, ["tcp", "tcp", "icmp", "icmp", "tcp", "50"]);
    assert!(f[4].client.is_ipv6());
    assert!(f
        .iter()
        .all(|f| f.state.is_none() && f.instance.is_none() && f.packet_client.is_none()));
    insta::assert_snapshot!("default", digest(&p));
}

#[test]
fn custom_v5_format_and_a_second_header() {
    let p = parse_fixture(&vpc("custom-v5.log"));
    assert_eq!(p.format, Some("vpc-flow-logs"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!((p.records, p.events.len()), (6, 5));
    assert_eq!(event_positions(&p), [(2, 1), (3, 2), (4, 3), (7, 5), (8, 6)]);
    let f = flows(&p);
    // A NAT gateway's interface: the packet's own source is the instance behind it.
    assert_eq!(f[0].client, "10.40.0.7".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(f[0].packet_client, "10.40.3.88".parse().ok());
    assert_eq!(f[0].packet_server, "52.216.192.34".parse().ok());
    assert_eq!(f[0].instance, None);
    assert_eq!(
        (f[1].instance.as_deref(), f[1].interface.as_deref()),
        (Some("i-0f5cd4758e60bc975"), Some("eni-0f71a52b37cfbb406"))
    );
    // The custom order puts bytes before packets.
    assert_eq!((f[1].bytes_to_server, f[1].packets), (Some(18304), Some(31)));
    // The second header's own order.
    assert_eq!(
        (f[3].client, f[3].server_port, f[3].rejected, f[3].packets),
        ("198.51.100.23".parse().unwrap(), Some(23), true, Some(1))
    );
    assert_eq!(p.events[3].time.to_string(), "2026-09-14T01:00:00Z");
    assert_eq!(f[4].protocol.as_deref(), Some("udp"));
    insta::assert_snapshot!("custom_v5", digest(&p));
}

#[test]
fn headerless_cloudwatch_export_in_the_default_order() {
    let p = parse_fixture(&vpc("cloudwatch-export.log"));
    assert_eq!(p.format, Some("vpc-flow-logs"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!((p.records, p.events.len()), (4, 3));
    // No header: the first record is on line 1.
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (4, 4)]);
    assert!(flows(&p)[2].rejected);
    insta::assert_snapshot!("cloudwatch_export", digest(&p));
}

#[test]
fn sniffing_takes_flow_logs_and_nothing_else() {
    for name in [
        "default.log",
        "custom-v5.log",
        "cloudwatch-export.log",
        "malformed/bad-records.log",
        "malformed/non-utf8.log",
        "malformed/truncated.log",
    ] {
        assert!(
            VpcFlowLogs.sniff(&std::fs::read(fixture(&vpc(name))).unwrap()),
            "{name}"
        );
    }
    let not_ours: &[&[u8]] = &[
        // ALB, Classic ELB, CloudFront, S3 server access, web access, a space-separated v2-looking
        // line with the wrong version or field count.
        b"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\"\n",
        b"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.38.0\" - -\n",
        b"#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip\n2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\n",
        b"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /awsexamplebucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" -\n",
        b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n",
        b"3 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n",
        b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 ACCEPT OK\n",
        b"2 is the number of things in this sentence of exactly fourteen words or so ok\n",
        b"version of the product is two\n",
        b"",
    ];
    for head in not_ours {
        assert!(!VpcFlowLogs.sniff(head), "{}", String::from_utf8_lossy(head));
    }
    // A sniffing window that cuts the last line mid-record still takes a headerless export.
    let text = std::fs::read(fixture(&vpc("cloudwatch-export.log"))).unwrap();
    assert!(VpcFlowLogs.sniff(&text[..text.len() - 30]));
}

#[test]
fn bad_records_between_good_ones() {
    let p = parse_fixture(&vpc("malformed/bad-records.log"));
    assert_eq!(p.format, Some("vpc-flow-logs"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(2, 1), (14, 13)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            // Field counts.
            (3, Some(2), "missing_field"),
            (4, Some(3), "missing_field"),
            // Address, time, port, protocol, bytes, action, log-status, no source, no time.
            (5, Some(4), "missing_field"),
            (6, Some(5), "bad_timestamp"),
            (7, Some(6), "missing_field"),
            (8, Some(7), "missing_field"),
            (9, Some(8), "missing_field"),
            (10, Some(9), "missing_field"),
            (11, Some(10), "missing_field"),
            (12, Some(11), "missing_field"),
            (13, Some(12), "missing_field"),
        ]
    );
    assert!(p
        .diagnostics
        .iter()
        .all(|d| d.excerpt.is_some() && d.format == "vpc-flow-logs"));
    insta::assert_snapshot!("malformed_bad_records", digest(&p));
}

#[test]
fn bytes_that_are_not_utf8() {
    let p = parse_fixture(&vpc("malformed/non-utf8.log"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(2, 1), (4, 3)]);
    assert_eq!(diagnostic_positions(&p), [(3, Some(2), "invalid_utf8")]);
}

#[test]
fn truncated_last_record() {
    let p = parse_fixture(&vpc("malformed/truncated.log"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(2, 1), (3, 2)]);
    assert_eq!(diagnostic_positions(&p), [(4, Some(3), "missing_field")]);
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn a_damaged_headerless_file_is_not_recognised_but_reads_when_forced() {
    let p = parse_fixture(&vpc("malformed/headerless-damaged.log"));
    assert_eq!(p.format, None);
    assert_eq!(diagnostic_positions(&p), [(1, None, "unrecognised_format")]);
    let p = parse_forced(&VpcFlowLogs, &vpc("malformed/headerless-damaged.log"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "missing_field")]);
}

#[test]
fn empty_file_is_nothing() {
    let p = parse_fixture(&vpc("malformed/empty.log"));
    assert_eq!(
        (p.format, p.records, p.events.len(), p.diagnostics.len()),
        (None, 0, 0, 0)
    );
}

/// Every file of the generator's `network/vpcflow/` parses without a diagnostic, every line after
/// the header is a record, every label on one points at an event, and no other generated file is
/// taken for a flow log.
///
/// The label convention, checked against the data: `line` is the 1-based line in the
/// decompressed file with the header line counted (the first record is line 2), `index` the
/// 1-based ordinal of the flow record with the header not counted (so `index == line - 1`).
#[test]
fn generated_vpc_flow_logs_parse_without_diagnostics_and_labels_point_at_events() {
    let dir = generated_corpus();
    let root = dir.path().join("network/vpcflow");
    let logs = files_under(&root);
    assert!(logs.len() > 10, "{} files", logs.len());
    let mut parsed = HashMap::new();
    for log in &logs {
        let p = parse(log);
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(log).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(p.format, Some("vpc-flow-logs"), "{}", log.display());
        assert_eq!(p.diagnostics.len(), 0, "{}: {:#?}", log.display(), p.diagnostics);
        assert!(text.starts_with("version account-id "), "{}", log.display());
        let records = text.lines().count() as u64 - 1;
        assert_eq!(p.records, records, "{}", log.display());
        let rel = log.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned();
        parsed.insert(rel, (p, text));
    }
    let labels = std::fs::read_to_string(dir.path().join("LABELS.jsonl")).unwrap();
    let mut checked = 0;
    for label in labels.lines() {
        let label: serde_json::Value = serde_json::from_str(label).unwrap();
        let source = label["source"].as_str().unwrap();
        if !source.starts_with("network/vpcflow/") {
            continue;
        }
        let (p, text) = parsed
            .get(source)
            .unwrap_or_else(|| panic!("label names {source}, which is not a generated file"));
        let (line, index) = (label["line"].as_u64().unwrap(), label["index"].as_u64().unwrap());
        assert_eq!(
            index,
            line - 1,
            "{source}:{line}: the header is line 1 and not a record"
        );
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
        let Body::NetFlow(f) = &event.body else {
            panic!("expected a flow")
        };
        let ip: std::net::IpAddr = label["ip"].as_str().unwrap().parse().unwrap();
        assert!(
            f.client == ip || f.server == ip,
            "{source}:{line}: {ip} is not in the record"
        );
        checked += 1;
    }
    assert!(checked > 0, "no label points into a VPC flow log");
    // No generated file of another format is taken for a flow log or a Zeek conn.log.
    for path in files_under(dir.path()) {
        let rel = path.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned();
        let format = parse(&path).format;
        let is_vpc = rel.starts_with("network/vpcflow/");
        assert_eq!(format == Some("vpc-flow-logs"), is_vpc, "{rel}: {format:?}");
        assert_ne!(format, Some("zeek-conn"), "{rel}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut out = ParsedFile::default();
        VpcFlowLogs.parse(&data, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = VpcFlowLogs.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
        custom in any::<bool>(),
    ) {
        let mut buf = std::fs::read(fixture(&vpc(if custom { "custom-v5.log" } else { "default.log" }))).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let mut out = ParsedFile::default();
        VpcFlowLogs.parse(&buf, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
