//! Golden tests for Suricata EVE JSON (`suricata-eve`): http events, alerts carrying an http
//! object (merged with their transaction's http event), the event types credtrail skips, and
//! malformed lines.
//!
//! Each fixture under `testdata/formats/suricata-eve/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a readable digest snapshotted with `insta`; positions (`line` and
//! `index`: 1-based line and ordinal of the record, every event type counted) and the fields
//! detectors rely on are also asserted explicitly.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod flow_support;

use std::fmt::Write as _;
use std::path::PathBuf;

use credtrail_event::{Body, FileId, HttpRequest, HttpSensor};
use credtrail_ingest::formats::SuricataEve;
use credtrail_ingest::{Format, ParsedFile};
use proptest::prelude::*;

// flow_support already loads tests/common; a second `mod common` would compile it twice.
use flow_support::common::{self, accounted, diagnostic_positions, event_positions, opt, parse};

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(rel: &str) -> PathBuf {
    common::formats_fixture("suricata-eve", rel)
}

fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

fn requests(p: &ParsedFile) -> Vec<&HttpRequest> {
    p.events
        .iter()
        .filter_map(|e| match &e.body {
            Body::HttpRequest(r) => Some(r.as_ref()),
            Body::NetFlow(_) => None,
            _ => panic!("expected an HTTP request or a flow"),
        })
        .collect()
}

/// One stable, readable block per event and one line per diagnostic.
fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    common::write_counts(&mut out, p);
    for e in &p.events {
        let r = match &e.body {
            Body::NetFlow(f) => {
                flow_support::flow_block(&mut out, e, f);
                continue;
            }
            Body::HttpRequest(r) => r,
            _ => panic!("expected an HTTP request or a flow"),
        };
        common::write_request(&mut out, e, r);
        if let Some(waf) = &r.waf {
            writeln!(
                out,
                "  rules     action={} terminating={}",
                waf.action,
                opt(&waf.terminating_rule)
            )
            .unwrap();
            for m in &waf.matches {
                writeln!(out, "  match     {} {:?}", m.action, m.rule).unwrap();
            }
        }
    }
    common::write_diagnostics(&mut out, p);
    out
}

// ---------------------------------------------------------------------------------------------
// well-formed

#[test]
fn http_events_and_alerts_merged_per_transaction_other_event_types_skipped() {
    let p = parse_fixture("eve.json");
    assert_eq!(p.format, Some("suricata-eve"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    // 14 lines: stats, dns, tls, fileinfo, anomaly and an alert without http are read and
    // skipped; two alerts merge into their transaction's http event; the flow is a flow.
    assert_eq!((p.records, p.events.len()), (14, 6));
    assert_eq!(
        event_positions(&p),
        [(2, 2), (3, 3), (5, 5), (9, 9), (10, 10), (12, 12)]
    );
    let r = requests(&p);
    assert_eq!(r.len(), 5);
    assert!(r.iter().all(|r| r.sensor == HttpSensor::NetworkSensor));
    let f = flow_support::flows(&p);
    assert_eq!(
        (f[0].client, f[0].server, f[0].server_port, f[0].packets, f[0].rejected),
        (
            "10.20.2.39".parse().unwrap(),
            "10.20.4.7".parse().unwrap(),
            Some(8080),
            Some(11),
            false
        )
    );

    // SSRF through the web application, and the alert on it (line 4) as a non-blocking match.
    assert_eq!(p.events[1].time.to_string(), "2026-09-14T22:28:51.120Z");
    assert_eq!(
        r[0].target,
        "/api/v1/preview?url=http://169.254.169.254/latest/meta-data/"
    );
    assert_eq!(r[0].host.as_deref(), Some("shop.example"));
    assert_eq!(r[0].forwarded_for.as_deref(), Some("91.92.248.57"));
    assert_eq!(r[0].original_client(), "91.92.248.57".parse().ok());
    assert_eq!((r[0].status, r[0].response_bytes), (Some(200), Some(312)));
    assert_eq!(r[0].header("Referer"), Some("https://shop.example/"));
    assert_eq!(r[0].observer.as_deref(), Some("sensor-use1-a"));
    let waf = r[0].waf.as_ref().unwrap();
    assert_eq!((waf.action.as_str(), waf.terminating_rule.as_deref()), ("ALLOW", None));
    assert_eq!(
        waf.matches
            .iter()
            .map(|m| (m.action.as_str(), m.rule.as_str()))
            .collect::<Vec<_>>(),
        [("ALERT", "sid:9000001 LOCAL cloud metadata address in HTTP request")]
    );

    // Open proxy: absolute-form url kept; host from hostname.
    assert_eq!(
        r[1].target,
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    );
    assert_eq!(r[1].host.as_deref(), Some("169.254.169.254"));
    assert_eq!((r[1].client, r[1].server_port), ("159.65.3.29".parse().ok(), Some(80)));
    assert!(r[1].waf.is_none());

    // Alert on the response packet: the client is the one that sent the request; IPS blocked it.
    assert_eq!(
        (r[2].client, r[2].server, r[2].server_port),
        ("45.134.26.117".parse().ok(), "10.20.0.12".parse().ok(), Some(80))
    );
    let waf = r[2].waf.as_ref().unwrap();
    assert_eq!(waf.action, "BLOCK");
    assert_eq!(
        waf.terminating_rule.as_deref(),
        Some("sid:9000003 LOCAL AWS temporary credentials in HTTP response")
    );

    // IPv6, status written as text, CONNECT without hostname: the target is the host.
    assert_eq!(r[3].client, "2001:db8::7".parse().ok());
    assert_eq!((r[3].status, r[3].response_bytes), (Some(403), None));
    assert_eq!(r[3].host.as_deref(), Some("169.254.169.254:80"));

    // Alert first, http event after: one event at the alert's line, with the completed
    // transaction's status, size and headers.
    assert_eq!(
        (r[4].method.as_deref(), r[4].status, r[4].response_bytes),
        (Some("PUT"), Some(200), Some(56))
    );
    assert_eq!(r[4].header("X-aws-ec2-metadata-token-ttl-seconds"), Some("21600"));
    assert_eq!(r[4].waf.as_ref().unwrap().matches.len(), 1);
    insta::assert_snapshot!("eve", digest(&p));
}

#[test]
fn sniffing_takes_eve_and_nothing_else() {
    for name in [
        "eve.json",
        "malformed/bad-line-between.json",
        "malformed/wrong-fields.json",
        "malformed/non-utf8.json",
        "flows.json",
        "malformed/flow-fields.json",
    ] {
        assert!(SuricataEve.sniff(&std::fs::read(fixture(name)).unwrap()), "{name}");
    }
    let not_ours: &[&[u8]] = &[
        br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2024-01-15T10:30:00Z"}]}"#,
        br#"{"eventVersion":"1.08","eventTime":"2024-01-15T10:30:00Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity"}"#,
        br#"{"timestamp":1576280412771,"formatVersion":1,"webaclId":"arn","action":"ALLOW","httpRequest":{"clientIp":"1.2.3.4","uri":"/"}}"#,
        br#"{"ts":1789344431.8,"uid":"C1","id.orig_h":"10.0.0.1","trans_depth":1,"method":"GET","uri":"/"}"#,
        b"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n",
        b"#separator \\x09\n#path\thttp\n",
        b"",
    ];
    for head in not_ours {
        assert!(!SuricataEve.sniff(head), "{}", String::from_utf8_lossy(head));
    }
}

#[test]
fn flow_events_are_flows() {
    let p = parse_fixture("flows.json");
    assert_eq!(p.format, Some("suricata-eve"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    // The dns event is read and skipped.
    assert_eq!((p.records, p.events.len()), (7, 6));
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (7, 7)]);
    let f = flow_support::flows(&p);
    assert!(f.iter().all(|f| f.sensor == credtrail_event::FlowSensor::SuricataFlow));
    // The flow's start is the event's time; its end is kept.
    assert_eq!(p.events[0].time.to_string(), "2026-09-15T04:49:58.250Z");
    assert_eq!(
        f[0].end.map(|t| t.to_string()).as_deref(),
        Some("2026-09-15T04:49:59.900Z")
    );
    assert_eq!(
        (f[0].client_port, f[0].server_port, f[0].protocol.as_deref()),
        (Some(51000), Some(443), Some("tcp"))
    );
    assert_eq!(
        (f[0].bytes_to_server, f[0].bytes_to_client, f[0].packets),
        (Some(2210), Some(9630), Some(26))
    );
    assert_eq!(
        (f[0].state.as_deref(), f[0].observer.as_deref()),
        (Some("closed"), Some("sensor-use1-a"))
    );
    let rejected: Vec<bool> = f.iter().map(|f| f.rejected).collect();
    // Answered; SYNs never answered (state new, nothing to the client); refused with a RST;
    // answered UDP; an ICMP echo with no reply (new, no count to the client); a bypassed flow
    // without times (its `timestamp` is the time).
    assert_eq!(rejected, [false, true, true, false, true, false]);
    assert_eq!(f[4].protocol.as_deref(), Some("ipv6-icmp"));
    assert_eq!(p.events[5].time.to_string(), "2026-09-15T04:50:06Z");
    assert_eq!(f[5].end, None);
    insta::assert_snapshot!("flows", digest(&p));
}

#[test]
fn flow_events_missing_or_mistyping_what_a_flow_needs() {
    let p = parse_fixture("malformed/flow-fields.json");
    assert_eq!(p.format, Some("suricata-eve"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (10, 10)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            // No `flow` object; bad and missing source address; port out of range; a count that
            // is not one.
            (2, Some(2), "missing_field"),
            (3, Some(3), "missing_field"),
            (4, Some(4), "missing_field"),
            (5, Some(5), "missing_field"),
            (6, Some(6), "missing_field"),
            (7, Some(7), "bad_timestamp"),
            // Neither flow.start nor timestamp.
            (8, Some(8), "missing_field"),
            // `flow` of the wrong type.
            (9, Some(9), "missing_field"),
        ]
    );
    insta::assert_snapshot!("malformed_flow_fields", digest(&p));
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn bad_line_between_good_ones() {
    let p = parse_fixture("malformed/bad-line-between.json");
    assert_eq!(p.format, Some("suricata-eve"));
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "invalid_json")]);
    insta::assert_snapshot!("malformed_bad_line_between", digest(&p));
}

#[test]
fn records_missing_or_mistyping_what_an_http_event_needs() {
    let p = parse_fixture("malformed/wrong-fields.json");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (8, 8)]);
    assert_eq!(
        diagnostic_positions(&p),
        (2..=7).map(|l| (l, Some(l), "missing_field")).collect::<Vec<_>>()
    );
    insta::assert_snapshot!("malformed_wrong_fields", digest(&p));
}

#[test]
fn bad_times() {
    let p = parse_fixture("malformed/bad-time.json");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (6, 6)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "bad_timestamp"),
            (3, Some(3), "bad_timestamp"),
            // No timestamp at all.
            (4, Some(4), "missing_field"),
            (5, Some(5), "bad_timestamp"),
        ]
    );
    insta::assert_snapshot!("malformed_bad_time", digest(&p));
}

#[test]
fn bad_addresses() {
    let p = parse_fixture("malformed/bad-ip.json");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (4, 4)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(2, Some(2), "missing_field"), (3, Some(3), "missing_field")]
    );
    assert!(p.diagnostics.iter().all(|d| d.detail.contains("is not an IP address")));
    insta::assert_snapshot!("malformed_bad_ip", digest(&p));
}

#[test]
fn bytes_that_are_not_utf8() {
    let p = parse_fixture("malformed/non-utf8.json");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "invalid_utf8")]);
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn truncated_last_line() {
    let p = parse_fixture("malformed/truncated.json");
    assert!(accounted(&p));
    assert_eq!(event_positions(&p), [(1, 1), (2, 2)]);
    assert_eq!(diagnostic_positions(&p), [(3, Some(3), "invalid_json")]);
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn empty_file_is_nothing() {
    let p = parse_fixture("malformed/empty.json");
    assert_eq!(
        (p.format, p.records, p.events.len(), p.diagnostics.len()),
        (None, 0, 0, 0)
    );
}

// ---------------------------------------------------------------------------------------------
// robustness

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut out = ParsedFile::default();
        SuricataEve.parse(&data, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
        let _ = SuricataEve.sniff(&data);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = std::fs::read(fixture("eve.json")).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let mut out = ParsedFile::default();
        SuricataEve.parse(&buf, FileId(0), &mut out);
        prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
    }
}
