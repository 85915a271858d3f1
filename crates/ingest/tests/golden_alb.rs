//! Golden tests for Elastic Load Balancing access logs (Application and Classic Load Balancer):
//! every field-count generation, the absolute-URI split into host and origin-form target, the
//! generated corpus, and malformed lines.
//!
//! Each fixture under `testdata/formats/alb/` is parsed with `parse_file` and reduced to a digest
//! snapshotted with `insta`; positions (`line`, 1-based; `index`, 1-based ordinal of the record)
//! and the mapping the detectors rely on are also asserted explicitly.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod aws_http_support;

use aws_http_support::*;
use credtrail_event::HttpSensor;
use credtrail_ingest::decode::Compression;
use credtrail_ingest::formats::AwsElb;
use credtrail_ingest::Format;

const ELB: &str = "app/orders-prod/50dc6c495c0c9188";

// ---------------------------------------------------------------------------------------------
// well-formed lines

#[test]
fn application_load_balancer_lines_of_every_generation() {
    let p = parse_fixture("alb/alb.log");
    assert_clean(&p, "aws-elb", 11);
    // Line 5 is blank: neither a record nor a diagnostic.
    assert_eq!(
        event_positions(&p),
        [
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 4),
            (6, 5),
            (7, 6),
            (8, 7),
            (9, 8),
            (10, 9),
            (11, 10),
            (12, 11)
        ]
    );
    // `time` (when ELB answered), microseconds cut to milliseconds.
    assert_eq!(p.events[0].time.to_string(), "2024-03-20T10:30:00.123Z");
    let r = requests(&p);
    assert!(r.iter().all(|r| r.sensor == HttpSensor::LoadBalancer));

    // The absolute URL ELB logs is split: host from the URL (the Host header), origin-form target.
    let first = r[0];
    assert_eq!(first.method.as_deref(), Some("GET"));
    assert_eq!(first.target, "/api/orders/1234");
    assert_eq!(first.host.as_deref(), Some("orders.example.com"));
    assert_eq!(first.client, "198.51.100.23".parse().ok());
    assert_eq!((first.server, first.server_port), ("10.0.1.17".parse().ok(), Some(80)));
    assert_eq!((first.status, first.response_bytes), (Some(200), Some(50431)));
    assert_eq!(first.observer.as_deref(), Some(ELB));
    assert_eq!(first.header("User-Agent"), first.user_agent.as_deref());

    // SSRF in the query reaches the target; the query stays in the target as logged.
    assert_eq!(
        r[1].target,
        "/api/v1/preview?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    );
    // Blocked by the WAF: ELB answered 403 itself and no target was reached.
    assert_eq!((r[2].status, r[2].server, r[2].server_port), (Some(403), None, None));
    assert_eq!(
        r[2].target,
        "/proxy?target=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F"
    );
    // `Host: 169.254.169.254`: the URL's host is the Host header, not the TLS SNI
    // (`domain_name` says orders.example.com).
    assert_eq!(r[3].host.as_deref(), Some("169.254.169.254"));
    assert_eq!(r[3].target, "/latest/meta-data/iam/security-credentials/");
    // Plain HTTP from an IPv6 client (logged without brackets), no SNI.
    assert_eq!(r[4].client, "2001:db8:4f::17".parse().ok());
    assert_eq!((r[4].server_port, r[4].status), (Some(8080), Some(301)));
    assert_eq!(
        (r[4].host.as_deref(), r[4].target.as_str()),
        (Some("orders.example.com"), "/login")
    );
    // The target failed: the client got ELB's 502.
    assert_eq!(r[5].status, Some(502));
    // A request ELB could not parse.
    assert_eq!((r[6].method.as_deref(), r[6].target.as_str()), (None, ""));
    assert_eq!(
        (r[6].host.as_deref(), r[6].status, r[6].user_agent.as_deref()),
        (None, Some(400), None)
    );
    // The 2016 format (18 fields) and a line with fields appended after `conn_trace_id`.
    assert_eq!(r[7].user_agent.as_deref(), Some("ELB-HealthChecker/2.0"));
    assert_eq!(r[8].target, "/");
    // Escaped quotes inside a quoted field.
    assert_eq!(r[9].user_agent.as_deref(), Some("Scanner \"x\" 1.0"));
    // WebSocket over TLS from a bracketed IPv6 client.
    assert_eq!(r[10].client, "2001:db8::99".parse().ok());
    assert_eq!((r[10].target.as_str(), r[10].status), ("/ws", Some(101)));
    insta::assert_snapshot!("alb", digest(&p));
}

#[test]
fn classic_load_balancer_lines() {
    let p = parse_fixture("alb/classic.log");
    assert_clean(&p, "aws-elb", 5);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]);
    let r = requests(&p);
    assert!(r.iter().all(|r| r.observer.as_deref() == Some("legacy-web")));
    assert_eq!(r[0].host.as_deref(), Some("legacy.example.com"));
    assert_eq!(r[1].target, "/fetch?u=http://169.254.169.254/latest/user-data");
    assert_eq!(r[1].server_port, Some(443));
    // A TCP listener: a connection, not an HTTP request.
    assert_eq!(
        (r[2].method.as_deref(), r[2].target.as_str(), r[2].status),
        (None, "", None)
    );
    assert_eq!(r[2].response_bytes, Some(502));
    // No backend: 503, backend status 0.
    assert_eq!((r[3].status, r[3].server), (Some(503), None));
    // Before 2015: no user agent, no TLS fields.
    assert_eq!((r[4].target.as_str(), r[4].user_agent.as_deref()), ("/old", None));
    insta::assert_snapshot!("classic", digest(&p));
}

// ---------------------------------------------------------------------------------------------
// the generated corpus

#[test]
fn every_generated_load_balancer_file_parses_without_diagnostics() {
    let corpus = generated_corpus();
    let files: Vec<_> = files_under(&corpus.path().join("aws/AWSLogs"))
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/elasticloadbalancing/"))
        .collect();
    assert!(files.len() > 50, "{} load balancer files", files.len());
    let (mut events, mut host_attacks, mut blocked) = (0, 0, 0);
    for file in &files {
        let p = parse(file);
        assert_eq!(p.format, Some("aws-elb"), "{}", file.display());
        assert_eq!(p.compression, Compression::Gzip);
        assert!(p.diagnostics.is_empty(), "{}: {:#?}", file.display(), p.diagnostics);
        assert_eq!(p.records, p.events.len() as u64);
        events += p.events.len();
        for r in requests(&p) {
            assert!(r.target.starts_with('/'), "{}", r.target);
            assert!(r.client.is_some() && r.observer.is_some());
            if r.host.as_deref() == Some("169.254.169.254") {
                host_attacks += 1;
            }
            if r.status == Some(403) && r.server.is_none() {
                blocked += 1;
            }
        }
    }
    assert!(events > 200, "{events}");
    // The generator sends `Host: 169.254.169.254` to both load balancers, and its WAF blocks some.
    assert!(
        host_attacks >= 2 && blocked > 0,
        "host {host_attacks} blocked {blocked}"
    );
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn a_line_of_something_else_costs_only_itself() {
    let p = parse_fixture("alb/malformed/garbage-between.log");
    assert_eq!(p.format, Some("aws-elb"));
    assert_eq!(p.records, 5);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3), (5, 5)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(2, Some(2), "missing_field"), (4, Some(4), "missing_field")]
    );
    assert_eq!(
        p.diagnostics[0].excerpt.as_deref(),
        Some("this is not a load balancer log line")
    );
    insta::assert_snapshot!("malformed_garbage_between", digest(&p));
}

#[test]
fn lines_with_too_few_or_too_many_fields_are_rejected() {
    let p = parse_fixture("alb/malformed/wrong-field-count.log");
    assert_eq!(p.records, 5);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "missing_field"), // ALB, 17 fields
            (4, Some(4), "missing_field"), // Classic, 16 fields
            (5, Some(5), "missing_field"), // Classic, 14 fields
        ]
    );
    insta::assert_snapshot!("malformed_wrong_field_count", digest(&p));
}

#[test]
fn unreadable_times_are_bad_timestamps() {
    let p = parse_fixture("alb/malformed/bad-timestamp.log");
    assert_eq!(p.records, 5);
    assert_eq!(event_positions(&p), [(1, 1), (5, 5)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "bad_timestamp"), // 25:61
            (3, Some(3), "bad_timestamp"), // yesterday
            (4, Some(4), "bad_timestamp"), // Classic, February 30th
        ]
    );
    insta::assert_snapshot!("malformed_bad_timestamp", digest(&p));
}

#[test]
fn bad_addresses_and_numbers_are_rejected() {
    let p = parse_fixture("alb/malformed/bad-ip.log");
    assert_eq!(p.records, 6);
    assert_eq!(event_positions(&p), [(1, 1), (6, 6)]);
    let details: Vec<&str> = p.diagnostics.iter().map(|d| d.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "client \"198.51.100.300:51234\" is not an address:port",
            "target \"10.0.1.17:http\" is not an address:port",
            "client \"not-an-ip\" is not an address:port",
            "elb_status_code \"2OO\" is not a status code",
        ]
    );
    assert!(p.diagnostics.iter().all(|d| d.reason.key() == "missing_field"));
    insta::assert_snapshot!("malformed_bad_ip", digest(&p));
}

#[test]
fn non_utf8_bytes_reject_their_line_only() {
    let p = parse_fixture("alb/malformed/non-utf8.log");
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "invalid_utf8")]);
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn a_line_cut_inside_a_quoted_field_is_rejected_and_the_lines_before_it_kept() {
    let p = parse_fixture("alb/malformed/truncated.log");
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2)]);
    assert_eq!(diagnostic_positions(&p), [(3, Some(3), "missing_field")]);
    assert!(
        p.diagnostics[0].detail.contains("quoted field 13"),
        "{}",
        p.diagnostics[0].detail
    );
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn an_empty_file_yields_nothing_and_no_complaint() {
    let p = parse_fixture("alb/malformed/empty.log");
    assert_eq!(p.format, None);
    assert_eq!((p.records, p.bytes), (0, 0));
    assert!(p.events.is_empty() && p.diagnostics.is_empty());
}

// ---------------------------------------------------------------------------------------------
// sniffing

#[test]
fn the_load_balancer_sniffer_claims_its_fixtures_and_nothing_else() {
    for path in files_under(&fixture("alb")) {
        let name = path.to_string_lossy().to_string();
        let p = parse(&path);
        if name.ends_with("empty.log") {
            assert_eq!(p.format, None);
        } else {
            assert_eq!(p.format, Some("aws-elb"), "{name}");
        }
    }
    for dir in std::fs::read_dir(fixture("")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.ends_with("alb") {
            continue;
        }
        for path in files_under(&dir) {
            let bytes = std::fs::read(&path).unwrap();
            let head = &bytes[..bytes.len().min(64 * 1024)];
            assert!(!AwsElb.sniff(head), "{}", path.display());
        }
    }
    let texts: [&[u8]; 4] = [
        b"203.0.113.9 - - [20/Mar/2024:10:30:00 +0000] \"GET /?url=http://169.254.169.254/ HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n",
        b"#separator \\x09\n#set_separator\t,\n#fields\tts\tuid\tid.orig_h\n",
        // Network Load Balancer TLS logs are another format.
        b"tls 2.0 2018-12-20T02:59:40 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - arn:aws:acm:us-east-2:671290407336:certificate/2a108f19 - ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com - - - 2018-12-20T02:59:30\n",
        b"",
    ];
    for text in texts {
        assert!(!AwsElb.sniff(text), "{}", String::from_utf8_lossy(text));
    }
}
