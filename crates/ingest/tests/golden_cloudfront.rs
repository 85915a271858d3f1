//! Golden tests for Amazon CloudFront standard access logs: the legacy 33-field layout, older
//! and v2 `#Fields` layouts, headerless files, and malformed lines.
//!
//! Each fixture under `testdata/formats/cloudfront/` is parsed with `parse_file` and reduced to a
//! digest snapshotted with `insta`; positions (`line`, 1-based, header lines counted; `index`,
//! 1-based ordinal of the record) and the mapping the detectors rely on (query in the target,
//! decoded header values) are also asserted explicitly.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod aws_http_support;

use aws_http_support::*;
use credtrail_event::HttpSensor;
use credtrail_ingest::formats::AwsCloudFront;
use credtrail_ingest::Format;

const DISTRIBUTION: &str = "d111111abcdef8.cloudfront.net";

// ---------------------------------------------------------------------------------------------
// well-formed files

#[test]
fn legacy_standard_log_with_version_and_fields_headers() {
    let p = parse_fixture("cloudfront/legacy.log");
    assert_clean(&p, "aws-cloudfront", 5);
    // Lines 1-2 are headers, line 6 is blank.
    assert_eq!(event_positions(&p), [(3, 1), (4, 2), (5, 3), (7, 4), (8, 5)]);
    assert_eq!(p.events[0].time.to_string(), "2024-03-20T10:30:00Z");
    let r = requests(&p);
    assert!(r.iter().all(|r| r.sensor == HttpSensor::Cdn));

    let first = r[0];
    assert_eq!(
        (first.method.as_deref(), first.target.as_str()),
        (Some("GET"), "/index.html")
    );
    assert_eq!(first.host.as_deref(), Some("www.example.com"));
    assert_eq!(first.observer.as_deref(), Some(DISTRIBUTION));
    assert_eq!((first.status, first.response_bytes), (Some(200), Some(392)));
    // The user agent is URL-encoded in the log and decoded here.
    assert_eq!(
        first.user_agent.as_deref(),
        Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36")
    );
    assert_eq!(first.header("Host"), Some("www.example.com"));

    // The query goes into the target, as logged.
    assert_eq!(
        r[1].target,
        "/proxy?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    );
    assert_eq!(
        r[2].target,
        "/fetch?u=http%3A%2F%2F169.254.169.254%2Flatest%2Fapi%2Ftoken"
    );
    assert_eq!(r[2].status, Some(403));

    // IPv6 viewer behind a proxy; referer and cookie decoded into headers; an alternate domain.
    let cart = r[3];
    assert_eq!(cart.client, "2001:db8:4f::17".parse().ok());
    assert_eq!(cart.forwarded_for.as_deref(), Some("192.0.2.44"));
    assert_eq!(cart.original_client(), "192.0.2.44".parse().ok());
    assert_eq!(cart.host.as_deref(), Some("shop.example.com"));
    assert_eq!(cart.header("Cookie"), Some("session=abc123; theme=dark"));
    assert_eq!(cart.header("Referer"), Some("https://www.example.com/search?q=a b"));
    assert_eq!(
        cart.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["Host", "User-Agent", "Referer", "Cookie"]
    );
    // `000`: the viewer closed the connection before CloudFront answered.
    assert_eq!((r[4].status, r[4].response_bytes), (None, Some(0)));
    insta::assert_snapshot!("legacy", digest(&p));
}

#[test]
fn an_older_generation_with_fewer_fields_reads_by_name() {
    let p = parse_fixture("cloudfront/older-fields.log");
    assert_clean(&p, "aws-cloudfront", 2);
    assert_eq!(event_positions(&p), [(3, 1), (4, 2)]);
    assert_eq!(requests(&p)[1].target, "/images/logo.png");
    insta::assert_snapshot!("older_fields", digest(&p));
}

#[test]
fn v2_chosen_fields_in_a_chosen_order_with_epoch_milliseconds() {
    let p = parse_fixture("cloudfront/v2-chosen-fields.log");
    assert_clean(&p, "aws-cloudfront", 2);
    assert_eq!(p.events[0].time.to_string(), "2024-03-20T10:30:00.123Z");
    let r = requests(&p);
    assert_eq!(r[1].target, "/redirect?to=http://[::ffff:169.254.169.254]/latest/");
    assert_eq!((r[1].status, r[1].response_bytes), (Some(302), Some(300)));
    assert_eq!(r[1].user_agent.as_deref(), Some("Go-http-client/1.1"));
    assert_eq!(r[1].observer.as_deref(), Some(DISTRIBUTION));
    insta::assert_snapshot!("v2_chosen_fields", digest(&p));
}

#[test]
fn headerless_lines_read_in_the_legacy_order() {
    let p = parse_fixture("cloudfront/headerless.log");
    assert_clean(&p, "aws-cloudfront", 2);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2)]);
    let legacy = parse_fixture("cloudfront/legacy.log");
    // The same two lines as the first two of the legacy file read the same.
    assert_eq!(requests(&p), requests(&legacy)[..2]);
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn a_line_of_something_else_costs_only_itself() {
    let p = parse_fixture("cloudfront/malformed/garbage-between.log");
    assert_eq!(p.format, Some("aws-cloudfront"));
    assert_eq!(p.records, 5);
    assert_eq!(event_positions(&p), [(3, 1), (5, 3), (7, 5)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(4, Some(2), "missing_field"), (6, Some(4), "missing_field")]
    );
    assert_eq!(
        p.diagnostics[0].excerpt.as_deref(),
        Some("this is not a CloudFront log line")
    );
    insta::assert_snapshot!("malformed_garbage_between", digest(&p));
}

#[test]
fn lines_whose_field_count_differs_from_the_header_are_rejected() {
    let p = parse_fixture("cloudfront/malformed/wrong-field-count.log");
    assert_eq!(p.records, 4);
    assert_eq!(event_positions(&p), [(3, 1), (5, 3)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(4, Some(2), "missing_field"), (6, Some(4), "missing_field")]
    );
    insta::assert_snapshot!("malformed_wrong_field_count", digest(&p));
}

#[test]
fn unreadable_dates_and_times_are_bad_timestamps() {
    let p = parse_fixture("cloudfront/malformed/bad-timestamp.log");
    assert_eq!(p.records, 6);
    assert_eq!(event_positions(&p), [(3, 1), (8, 6)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (4, Some(2), "bad_timestamp"), // February 30th
            (5, Some(3), "bad_timestamp"), // 25:61:00
            (6, Some(4), "bad_timestamp"), // 20/Mar/2024
            (7, Some(5), "missing_field"), // no date at all
        ]
    );
    insta::assert_snapshot!("malformed_bad_timestamp", digest(&p));
}

#[test]
fn bad_addresses_and_numbers_are_rejected() {
    let p = parse_fixture("cloudfront/malformed/bad-ip.log");
    assert_eq!(p.records, 6);
    assert_eq!(event_positions(&p), [(3, 1), (8, 6)]);
    let details: Vec<&str> = p.diagnostics.iter().map(|d| d.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "c-ip \"198.51.100.300\" is not an IP address",
            "c-ip \"not-an-ip\" is not an IP address",
            "sc-status \"2OO\" is not a status code",
            "sc-bytes \"many\" is not a number",
        ]
    );
    insta::assert_snapshot!("malformed_bad_ip", digest(&p));
}

#[test]
fn non_utf8_bytes_reject_their_line_only() {
    let p = parse_fixture("cloudfront/malformed/non-utf8.log");
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(3, 1), (5, 3)]);
    assert_eq!(diagnostic_positions(&p), [(4, Some(2), "invalid_utf8")]);
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn a_cut_last_line_is_rejected_and_the_lines_before_it_kept() {
    let p = parse_fixture("cloudfront/malformed/truncated.log");
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(3, 1), (4, 2)]);
    assert_eq!(diagnostic_positions(&p), [(5, Some(3), "missing_field")]);
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn an_empty_file_yields_nothing_and_no_complaint() {
    let p = parse_fixture("cloudfront/malformed/empty.log");
    assert_eq!(p.format, None);
    assert_eq!((p.records, p.bytes), (0, 0));
    assert!(p.events.is_empty() && p.diagnostics.is_empty());
}

// ---------------------------------------------------------------------------------------------
// sniffing

#[test]
fn the_cloudfront_sniffer_claims_its_fixtures_and_nothing_else() {
    for path in files_under(&fixture("cloudfront")) {
        let name = path.to_string_lossy().to_string();
        let p = parse(&path);
        if name.ends_with("empty.log") {
            assert_eq!(p.format, None);
        } else {
            assert_eq!(p.format, Some("aws-cloudfront"), "{name}");
        }
    }
    for dir in std::fs::read_dir(fixture("")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.ends_with("cloudfront") {
            continue;
        }
        for path in files_under(&dir) {
            let bytes = std::fs::read(&path).unwrap();
            let head = &bytes[..bytes.len().min(64 * 1024)];
            assert!(!AwsCloudFront.sniff(head), "{}", path.display());
        }
    }
    let texts: [&[u8]; 4] = [
        // IIS writes W3C logs too, without CloudFront's fields.
        b"#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n2024-03-20 10:30:00 10.0.0.1 GET / - 80 - 192.0.2.1 curl 200\n",
        // RTMP distributions (discontinued) logged other fields.
        b"#Version: 1.0\n#Fields: date time x-edge-location c-ip x-event sc-bytes x-cf-status x-cf-client-id cs-uri-stem cs-uri-query c-referrer x-page-url c-user-agent x-sname\n",
        b"#separator \\x09\n#set_separator\t,\n#fields\tts\tuid\tid.orig_h\n1710930600.000000\tCabc\t192.0.2.1\n",
        b"",
    ];
    for text in texts {
        assert!(!AwsCloudFront.sniff(text), "{}", String::from_utf8_lossy(text));
    }
}
