//! Golden tests for nginx and Apache access logs (`web-access`): every log shape credtrail
//! reads, the request lines that matter for SSRF and open-proxy abuse (absolute-form targets,
//! CONNECT, binary probes), malformed lines, and the benchmark generator's nginx logs.
//!
//! Each fixture under `testdata/formats/web-access/` is parsed with `parse_file` (sniffed, not
//! forced) and reduced to a readable digest snapshotted with `insta`; positions (`line`: 1-based
//! line, `index`: 1-based ordinal of the non-blank line) and the fields detectors rely on are
//! also asserted explicitly.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod http_log_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use credtrail_event::{Body, FileId, HttpSensor};
use credtrail_ingest::formats::WebAccess;
use credtrail_ingest::{Format, ParsedFile};
use proptest::prelude::*;

// http_log_support already loads tests/common; a second `mod common` would compile it twice.
use http_log_support::common::{self, diagnostic_positions, event_positions, parse, repo, shared};
use http_log_support::{digest, requests};

// ---------------------------------------------------------------------------------------------
// helpers

fn fixture(rel: &str) -> PathBuf {
    common::formats_fixture("web-access", rel)
}

fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

fn targets(p: &ParsedFile) -> Vec<&str> {
    requests(p).iter().map(|r| r.target.as_str()).collect()
}

fn assert_clean(p: &ParsedFile, events: usize) {
    assert_eq!(p.format, Some("web-access"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.events.len(), events);
    assert_eq!(p.records, events as u64);
    assert!(requests(p).iter().all(|r| r.sensor == HttpSensor::WebServer));
}

/// Every record is an event or a diagnostic, once.
fn assert_accounted(p: &ParsedFile) {
    assert_eq!(p.events.len() as u64 + p.diagnostics.len() as u64, p.records);
}

// ---------------------------------------------------------------------------------------------
// well-formed shapes

#[test]
fn common_log_format() {
    let p = parse_fixture("clf.log");
    assert_clean(&p, 3);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3)]);
    let r = requests(&p);
    // `[10/Oct/2000:13:55:36 -0700]` is 20:55:36 UTC.
    assert_eq!(p.events[0].time.to_string(), "2000-10-10T20:55:36Z");
    assert_eq!((r[0].status, r[0].response_bytes), (Some(200), Some(2326)));
    // `-` for the size is no size, not zero.
    assert_eq!((r[1].status, r[1].response_bytes), (Some(404), None));
    assert!(r.iter().all(|r| r.user_agent.is_none() && r.headers.is_empty()));
    insta::assert_snapshot!("clf", digest(&p));
}

#[test]
fn combined_with_ipv6_escapes_http09_and_blank_lines() {
    let p = parse_fixture("combined.log");
    assert_clean(&p, 5);
    // Line 4 is blank: neither a record nor a diagnostic; numbering goes on after it.
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3), (5, 4), (6, 5)]);
    let r = requests(&p);
    assert_eq!(r[0].header("Referer"), Some("http://www.example.com/start.html"));
    assert_eq!(r[0].user_agent.as_deref(), Some("Mozilla/4.08 [en] (Win98; I ;Nav)"));
    assert_eq!(r[1].client, "2001:db8::17".parse().ok());
    // An SSRF payload in the query of an origin-form target: no host is invented.
    assert!(r[1].target.starts_with("/api/v1/preview?url=http://169.254.169.254/"));
    assert_eq!(r[1].host, None);
    // Apache's `\"` and `\\` are unescaped.
    assert_eq!(
        r[2].user_agent.as_deref(),
        Some(r#"Mozilla/5.0 "quoted" agent \ backslash"#)
    );
    assert_eq!(r[2].response_bytes, None);
    assert_eq!(r[3].client, "::ffff:203.0.113.5".parse().ok());
    // HTTP/0.9: no protocol in the request line.
    assert_eq!((r[3].method.as_deref(), r[3].target.as_str()), (Some("GET"), "/"));
    // Apache's `"-"` request (408, the client never sent one).
    assert_eq!(
        (r[4].method.as_deref(), r[4].target.as_str(), r[4].status),
        (None, "", Some(408))
    );
    assert_eq!(p.events[4].time.to_string(), "2026-09-14T10:01:05Z");
    insta::assert_snapshot!("combined", digest(&p));
}

#[test]
fn nginx_main_with_forwarded_for_escapes_and_binary_requests() {
    let p = parse_fixture("nginx-main.log");
    assert_clean(&p, 7);
    let r = requests(&p);
    assert_eq!(r[0].forwarded_for.as_deref(), Some("91.92.248.57"));
    assert_eq!(r[0].original_client(), "91.92.248.57".parse().ok());
    assert_eq!(r[1].forwarded_for, None);
    // nginx's `\x22` in the request line and `\x5C` in the user agent.
    assert_eq!(r[2].target, r#"/search?q="169.254.169.254""#);
    assert_eq!(r[2].user_agent.as_deref(), Some(r"curl/8.5.0 \"));
    assert_eq!(r[2].forwarded_for.as_deref(), Some("203.0.113.9, 10.20.2.39"));
    // TLS sent to the plain-HTTP port: an event with no method and the raw request as target.
    assert_eq!(r[3].method, None);
    assert_eq!(r[3].target, r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03\xA1");
    assert_eq!(r[3].status, Some(400));
    // A connection closed before its request.
    assert_eq!((r[4].method.as_deref(), r[4].target.as_str()), (None, ""));
    assert_eq!(r[5].client, "fd00:ec2::1".parse().ok());
    // UTF-8 escaped byte by byte is read back; fields after X-Forwarded-For are ignored.
    assert_eq!(r[6].target, "/café");
    assert_eq!(r[6].forwarded_for.as_deref(), Some("91.92.248.57"));
    insta::assert_snapshot!("nginx_main", digest(&p));
}

#[test]
fn proxy_requests_keep_absolute_targets_and_take_the_host_from_the_authority() {
    let p = parse_fixture("proxy.log");
    assert_clean(&p, 7);
    assert_eq!(
        targets(&p),
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://169.254.169.254/latest/api/token",
            "169.254.169.254:80",
            "HTTP://innocent.example@169.254.169.254:80/latest/user-data",
            "http://www.baidu.com/",
            "/latest/meta-data/",
        ]
    );
    let hosts: Vec<Option<&str>> = requests(&p).iter().map(|r| r.host.as_deref()).collect();
    assert_eq!(
        hosts,
        [
            Some("169.254.169.254"),
            Some("169.254.169.254"),
            Some("169.254.169.254"),
            // CONNECT's authority-form target is the host.
            Some("169.254.169.254:80"),
            // Userinfo is not the host: the request went to the metadata service.
            Some("169.254.169.254:80"),
            Some("www.baidu.com"),
            // Origin form: the log does not say which host was asked for.
            None,
        ]
    );
    let methods: Vec<&str> = requests(&p).iter().map(|r| r.method.as_deref().unwrap()).collect();
    assert_eq!(methods, ["GET", "GET", "PUT", "CONNECT", "GET", "GET", "GET"]);
    insta::assert_snapshot!("proxy", digest(&p));
}

#[test]
fn apache_vhost_combined() {
    let p = parse_fixture("vhost-combined.log");
    assert_clean(&p, 3);
    let r = requests(&p);
    let ports: Vec<Option<u16>> = r.iter().map(|r| r.server_port).collect();
    assert_eq!(ports, [Some(443), Some(80), Some(8443)]);
    assert_eq!(r[1].client, "2001:db8::50".parse().ok());
    // The virtual host is the server's name, not the request's Host header.
    assert!(r.iter().all(|r| r.host.is_none()));
    insta::assert_snapshot!("vhost_combined", digest(&p));
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn bad_line_between_good_ones() {
    let p = parse_fixture("malformed/bad-line-between.log");
    assert_eq!(p.format, Some("web-access"));
    assert_accounted(&p);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "missing_field")]);
    assert_eq!(
        p.diagnostics[0].excerpt.as_deref(),
        Some("this is not an access log line")
    );
    insta::assert_snapshot!("malformed_bad_line_between", digest(&p));
}

#[test]
fn wrong_field_counts() {
    let p = parse_fixture("malformed/wrong-field-count.log");
    assert_accounted(&p);
    assert_eq!(event_positions(&p), [(1, 1), (8, 8)]);
    assert_eq!(
        diagnostic_positions(&p),
        (2..=7).map(|n| (n, Some(n), "missing_field")).collect::<Vec<_>>()
    );
    insta::assert_snapshot!("malformed_wrong_field_count", digest(&p));
}

#[test]
fn bad_times() {
    let p = parse_fixture("malformed/bad-time.log");
    assert_accounted(&p);
    assert_eq!(event_positions(&p), [(1, 1), (7, 7)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "bad_timestamp"),
            (3, Some(3), "bad_timestamp"),
            (4, Some(4), "bad_timestamp"),
            (5, Some(5), "bad_timestamp"),
            // `[` never closed.
            (6, Some(6), "missing_field"),
        ]
    );
    insta::assert_snapshot!("malformed_bad_time", digest(&p));
}

#[test]
fn bad_remote_addresses() {
    let p = parse_fixture("malformed/bad-ip.log");
    assert_accounted(&p);
    assert_eq!(event_positions(&p), [(1, 1), (6, 6)]);
    assert_eq!(
        diagnostic_positions(&p),
        (2..=5).map(|n| (n, Some(n), "missing_field")).collect::<Vec<_>>()
    );
    assert!(p.diagnostics.iter().all(|d| d.detail.contains("is not an IP address")));
    insta::assert_snapshot!("malformed_bad_ip", digest(&p));
}

#[test]
fn bytes_that_are_not_utf8() {
    let p = parse_fixture("malformed/non-utf8.log");
    assert_accounted(&p);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "invalid_utf8")]);
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn truncated_last_line() {
    let p = parse_fixture("malformed/truncated.log");
    assert_accounted(&p);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2)]);
    assert_eq!(diagnostic_positions(&p), [(3, Some(3), "missing_field")]);
    assert!(p.diagnostics[0].detail.contains("never closed"));
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn empty_file_is_nothing() {
    let p = parse_fixture("malformed/empty.log");
    assert_eq!(
        (p.format, p.records, p.events.len(), p.diagnostics.len()),
        (None, 0, 0, 0)
    );
    let mut out = ParsedFile::default();
    WebAccess.parse(b"", FileId(0), &mut out);
    assert_eq!((out.records, out.events.len(), out.diagnostics.len()), (0, 0, 0));
}

// ---------------------------------------------------------------------------------------------
// sniffing

#[test]
fn other_formats_are_not_taken_for_access_logs() {
    let not_ours: &[&[u8]] = &[
        br#"{"Records":[{"eventSource":"s3.amazonaws.com"}]}"#,
        br#"{"timestamp":1576280412771,"formatVersion":1,"webaclId":"arn:aws:wafv2:us-east-1:1:regional/webacl/a/b","action":"ALLOW","httpRequest":{"clientIp":"1.2.3.4","uri":"/"}}"#,
        b"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\"\n",
        b"#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status\n2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\n",
        b"#separator \\x09\n#path\thttp\n",
        br#"{"timestamp":"2024-01-15T10:30:00.123456+0000","event_type":"http","src_ip":"10.0.0.1"}"#,
        b"type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13\n",
    ];
    for head in not_ours {
        assert!(!WebAccess.sniff(head), "{}", String::from_utf8_lossy(head));
    }
    assert!(WebAccess.sniff(&std::fs::read(fixture("clf.log")).unwrap()));
    // A bad first line does not hide the good ones after it.
    assert!(WebAccess
        .sniff(b"not an access log line\n203.0.113.10 - - [14/Sep/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n"));
}

// ---------------------------------------------------------------------------------------------
// the benchmark generator's nginx logs

#[test]
fn generated_nginx_logs_parse_without_diagnostics_and_labels_point_at_events() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(shared("bench/gen_logs.py"))
        .arg(dir.path())
        .args(["--size", "5M"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    let hosts = dir.path().join("hosts");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&hosts)
        .unwrap()
        .map(|e| e.unwrap().path().join("var/log/nginx/access.log"))
        .filter(|p| p.exists())
        .collect();
    logs.sort();
    assert!(logs.len() >= 3, "{logs:?}");
    let mut parsed = std::collections::HashMap::new();
    for log in &logs {
        let p = parse(log);
        let lines = std::fs::read_to_string(log).unwrap().lines().count();
        assert_eq!(p.format, Some("web-access"), "{}", log.display());
        assert_eq!(p.diagnostics.len(), 0, "{}: {:#?}", log.display(), p.diagnostics);
        assert_eq!((p.records, p.events.len()), (lines as u64, lines), "{}", log.display());
        let rel = log.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned();
        parsed.insert(rel, (p, std::fs::read_to_string(log).unwrap()));
    }
    // No other file the generator writes (CloudTrail, ALB, WAF, auditd, VPC flow logs, inventory)
    // is taken for an access log, and no Zeek or Suricata sniffer takes an nginx log.
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let is_nginx = logs.contains(&path);
            let is_zeek = path.to_string_lossy().contains("network/zeek/http.");
            let format = parse(&path).format;
            assert_eq!(format == Some("web-access"), is_nginx, "{}: {format:?}", path.display());
            assert_eq!(format == Some("zeek-http"), is_zeek, "{}: {format:?}", path.display());
            assert_ne!(format, Some("suricata-eve"), "{}", path.display());
        }
    }
    // Every label on an nginx line names a record that is an event at that line and index.
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
            r.client == Some(ip) || r.original_client() == Some(ip),
            "{source}:{line}: {ip} is neither the client nor the forwarded client"
        );
        checked += 1;
    }
    assert!(checked > 0, "no label points into an nginx log");
}

// ---------------------------------------------------------------------------------------------
// robustness

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic_and_every_line_is_accounted_for(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut out = ParsedFile::default();
        WebAccess.parse(&data, FileId(0), &mut out);
        prop_assert_eq!(out.events.len() as u64 + out.diagnostics.len() as u64, out.records);
        let _ = WebAccess.sniff(&data);
    }

    #[test]
    fn mutated_lines_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = std::fs::read(fixture("nginx-main.log")).unwrap();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        buf.truncate(cut.index(buf.len() + 1));
        let mut out = ParsedFile::default();
        WebAccess.parse(&buf, FileId(0), &mut out);
        prop_assert_eq!(out.events.len() as u64 + out.diagnostics.len() as u64, out.records);
    }
}

// ---------------------------------------------------------------------------------------------
// sniffing across every fixture of every format

/// Every fixture under `testdata/formats/`, with the format sniffing picks for it.
fn every_fixture() -> Vec<(String, Option<&'static str>)> {
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
    let root = repo().join("testdata/formats");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            (rel, parse(&path).format)
        })
        .collect()
}

/// The three web, proxy and network formats take their own fixtures and no other format's.
#[test]
fn sniffing_across_every_fixture() {
    const OURS: [&str; 6] = [
        "web-access",
        "zeek-http",
        "zeek-conn",
        "suricata-eve",
        "vpc-flow-logs",
        "auditd",
    ];
    const NOTHING: [&str; 9] = [
        "web-access/malformed/empty.log",
        "zeek-http/malformed/empty.log",
        "zeek-http/malformed/no-fields.log",
        "zeek-conn/malformed/empty.log",
        "zeek-conn/malformed/no-fields.log",
        "suricata-eve/malformed/empty.json",
        "vpc-flow-logs/malformed/empty.log",
        // A line of another shape among headerless ones: not recognisably a flow log.
        "vpc-flow-logs/malformed/headerless-damaged.log",
        "cloudtrail/malformed/not-cloudtrail.txt",
    ];
    // Fixtures kept in one format's directory to prove it does not take them, and that another
    // format does.
    const ELSEWHERE: [(&str, &str); 2] = [
        ("zeek-http/conn.log", "zeek-conn"),
        ("zeek-http/conn.json", "zeek-conn"),
    ];
    let fixtures = every_fixture();
    assert!(fixtures.len() > 60);
    for (rel, format) in fixtures {
        let dir = rel.split('/').next().unwrap();
        if NOTHING.contains(&rel.as_str()) {
            assert_eq!(format, None, "{rel}");
        } else if let Some((_, other)) = ELSEWHERE.iter().find(|(r, _)| *r == rel) {
            assert_eq!(format, Some(*other), "{rel}");
        } else if OURS.contains(&dir) {
            assert_eq!(format, Some(dir), "{rel}");
        } else {
            assert!(!format.is_some_and(|f| OURS.contains(&f)), "{rel} taken for {format:?}");
        }
    }
}
