//! Golden tests for AWS WAF (v2) web ACL logs: every delivery shape, Panther's labelled WAF test
//! events, the generated corpus, and malformed input.
//!
//! Each fixture under `testdata/formats/aws-waf/` is parsed with `parse_file` and reduced to a
//! digest snapshotted with `insta`; positions (`line`, 1-based line on which the record starts;
//! `index`, 1-based ordinal of the record in the file) and the WAF decisions the detectors rely on
//! (COUNT versus BLOCK, qualified rule names) are also asserted explicitly.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod aws_http_support;

use std::io::Write as _;

use aws_http_support::*;
use credtrail_event::{FileId, HttpRequest, HttpSensor, WafRuleMatch};
use credtrail_ingest::decode::Compression;
use credtrail_ingest::formats::AwsWaf;
use credtrail_ingest::Format;
use serde_json::Value;

const SSRF_QUERY: &str = "AWS-AWSManagedRulesCommonRuleSet/EC2MetaDataSSRF_QUERYARGUMENTS";

fn rule(r: &HttpRequest, name: &str) -> Vec<WafRuleMatch> {
    r.waf
        .as_ref()
        .expect("a WAF record carries a decision")
        .matches
        .iter()
        .filter(|m| m.rule == name)
        .cloned()
        .collect()
}

fn rules(r: &HttpRequest) -> Vec<(String, String)> {
    r.waf
        .as_ref()
        .unwrap()
        .matches
        .iter()
        .map(|m| (m.rule.clone(), m.action.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// well-formed shapes

#[test]
fn json_lines_as_waf_delivers_them_to_s3() {
    let p = parse_fixture("aws-waf/lines.jsonl");
    assert_clean(&p, "aws-waf", 6);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]);
    assert_eq!(p.events[0].time.to_string(), "2024-03-20T10:30:00Z");
    assert_eq!(p.events[1].time.to_string(), "2024-03-20T10:30:01.250Z");
    let r = requests(&p);
    assert!(r.iter().all(|r| r.sensor == HttpSensor::Waf));

    // An ordinary request: the default action decided, nothing matched.
    let waf = r[0].waf.as_ref().unwrap();
    assert_eq!((waf.action.as_str(), waf.terminating_rule.as_deref()), ("ALLOW", None));
    assert!(waf.matches.is_empty());
    assert_eq!(r[0].host.as_deref(), Some("orders.example.com"));
    assert_eq!(r[0].forwarded_for.as_deref(), Some("198.51.100.23"));
    assert_eq!(
        r[0].observer.as_deref(),
        Some("111122223333-app/orders-prod/50dc6c495c0c9188")
    );

    // SSRF blocked by the managed Core rule set: the rule inside the group decided, and the
    // group's match details (logged at the top level) are its.
    let ssrf = r[1];
    assert_eq!(
        ssrf.target,
        "/proxy?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    );
    let waf = ssrf.waf.as_ref().unwrap();
    assert_eq!(waf.action, "BLOCK");
    assert_eq!(waf.terminating_rule.as_deref(), Some(SSRF_QUERY));
    assert_eq!(
        waf.matches,
        [WafRuleMatch {
            rule: SSRF_QUERY.into(),
            action: "BLOCK".into(),
            location: Some("QUERY_STRING".into()),
            data: Some("http://169.254.169.254/latest/meta-data/iam/security-credentials/".into()),
        }]
    );
    assert_eq!(
        waf.web_acl.as_deref(),
        Some("arn:aws:wafv2:us-east-1:111122223333:regional/webacl/orders-acl/6c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6")
    );

    // The same rule in COUNT mode: it matched and was counted, the request went through.
    let counted = r[2];
    let waf = counted.waf.as_ref().unwrap();
    assert_eq!((waf.action.as_str(), waf.terminating_rule.as_deref()), ("ALLOW", None));
    let m = rule(counted, SSRF_QUERY);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].action, "COUNT");
    assert_eq!(m[0].location.as_deref(), Some("QUERY_STRING"));

    // A custom rule of the web ACL blocked with a custom response; each match detail is a
    // match, and a top-level COUNT rule is listed after the terminating rule. IPv6 peer,
    // HTTP/2 header names in lower case.
    let custom = r[3];
    assert_eq!(custom.client, "2001:db8:4f::17".parse().ok());
    assert_eq!(custom.host.as_deref(), Some("orders.example.com"));
    assert_eq!(custom.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(custom.status, Some(451));
    assert_eq!(custom.method.as_deref(), Some("POST"));
    assert_eq!(
        rules(custom),
        [
            ("block-admin-from-outside".into(), "BLOCK".into()),
            ("block-admin-from-outside".into(), "BLOCK".into()),
            ("count-admin-paths".into(), "COUNT".into()),
        ]
    );

    // CloudFront-fronted web ACL: the distribution is the observer.
    let cf = r[4];
    assert_eq!(cf.observer.as_deref(), Some("E2QWRUHAPOMQZL"));
    assert_eq!(cf.target, "/checkout?step=pay");
    assert_eq!(cf.waf.as_ref().unwrap().action, "CAPTCHA");

    // A customer rule group (named by its ARN) terminated; another group only counted.
    let group = r[5];
    let waf = group.waf.as_ref().unwrap();
    assert_eq!(waf.terminating_rule.as_deref(), Some("ssrf-guard/deny-jndi"));
    assert_eq!(
        rules(group),
        [
            (
                "AWS-AWSManagedRulesKnownBadInputsRuleSet/Log4JRCE_QUERYSTRING".into(),
                "COUNT".into()
            ),
            ("ssrf-guard/deny-jndi".into(), "BLOCK".into()),
        ]
    );
    insta::assert_snapshot!("lines", digest(&p));
}

#[test]
fn a_pretty_printed_json_array_of_records() {
    let path = fixture("aws-waf/array.json");
    let p = parse(&path);
    assert_clean(&p, "aws-waf", 3);
    // Each element starts on a line holding only `  {`.
    let text = std::fs::read_to_string(&path).unwrap();
    let starts: Vec<u64> = (1..)
        .zip(text.lines())
        .filter(|(_, l)| *l == "  {")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(
        event_positions(&p),
        starts.iter().zip(1..).map(|(&l, i)| (l, i)).collect::<Vec<_>>()
    );
    assert_eq!(p.events[0].time.to_string(), "2024-03-20T11:30:00Z");
    assert_eq!(rule(requests(&p)[1], SSRF_QUERY)[0].action, "BLOCK");
    insta::assert_snapshot!("array", digest(&p));
}

#[test]
fn cloudwatch_logs_subscription_envelopes_back_to_back() {
    let p = parse_fixture("aws-waf/cloudwatch-envelope.json");
    // Two log events in the data message; the control message holds no record.
    assert_clean(&p, "aws-waf", 2);
    assert_eq!(event_positions(&p), [(1, 1), (1, 2)]);
    assert_eq!(p.events[0].time.to_string(), "2024-03-20T10:31:40Z");
    assert_eq!(rule(requests(&p)[1], SSRF_QUERY)[0].action, "COUNT");
    insta::assert_snapshot!("cloudwatch_envelope", digest(&p));
}

#[test]
fn gzip_and_zstd_read_like_the_plain_file() {
    let plain_path = fixture("aws-waf/lines.jsonl");
    let bytes = std::fs::read(&plain_path).unwrap();
    let expected = digest(&parse(&plain_path));
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap();
    for (name, data, compression) in [
        ("waf.log.gz", gz.finish().unwrap(), Compression::Gzip),
        (
            "waf.log.zst",
            zstd::encode_all(&bytes[..], 3).unwrap(),
            Compression::Zstd,
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        let p = parse(&path);
        assert_eq!(p.compression, compression);
        let tag = match compression {
            Compression::Gzip => "gzip",
            _ => "zstd",
        };
        assert_eq!(
            digest(&p),
            expected.replace("compression=none", &format!("compression={tag}"))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Panther's labelled test events

/// The `Log:` mappings of a Panther rule file's `Tests:` as JSON. Panther writes them as block
/// YAML of nested mappings, sequences and double-quoted scalars: that subset is read here, and
/// the result is checked against a conversion made with a full YAML parser (the fixture).
fn panther_logs(yaml: &str) -> Vec<Value> {
    struct Line {
        indent: usize,
        text: String,
    }
    fn scalar(text: &str) -> Value {
        let text = text.trim();
        if text.starts_with('"') {
            return serde_json::from_str(text).unwrap();
        }
        if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
            return Value::String(inner.replace("''", "'"));
        }
        match text {
            "null" | "~" => Value::Null,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.to_string())),
        }
    }
    fn block(lines: &mut Vec<Line>, i: &mut usize, indent: usize) -> Value {
        if lines[*i].text.starts_with("- ") {
            let mut items = Vec::new();
            while *i < lines.len() && lines[*i].indent == indent && lines[*i].text.starts_with("- ") {
                let rest = lines[*i].text[2..].to_string();
                if rest.contains(": ") || rest.ends_with(':') {
                    lines[*i] = Line {
                        indent: indent + 2,
                        text: rest,
                    };
                    items.push(block(lines, i, indent + 2));
                } else {
                    items.push(scalar(&rest));
                    *i += 1;
                }
            }
            return Value::Array(items);
        }
        let mut map = serde_json::Map::new();
        while *i < lines.len() && lines[*i].indent == indent && !lines[*i].text.starts_with("- ") {
            let text = lines[*i].text.clone();
            let (key, value) = match text.split_once(": ") {
                Some((k, v)) => (k.to_string(), v.trim().to_string()),
                None => (text.trim_end_matches(':').to_string(), String::new()),
            };
            *i += 1;
            let value = if !value.is_empty() {
                scalar(&value)
            } else if *i < lines.len()
                && (lines[*i].indent > indent || (lines[*i].indent == indent && lines[*i].text.starts_with("- ")))
            {
                let inner = lines[*i].indent;
                block(lines, i, inner)
            } else {
                Value::Null
            };
            map.insert(key, value);
        }
        Value::Object(map)
    }
    let all: Vec<&str> = yaml.lines().collect();
    let mut logs = Vec::new();
    for (n, line) in all.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        if line.trim() != "Log:" {
            continue;
        }
        let mut lines: Vec<Line> = all[n + 1..]
            .iter()
            .filter(|l| !l.trim().is_empty())
            .take_while(|l| l.len() - l.trim_start().len() > indent)
            .map(|l| Line {
                indent: l.len() - l.trim_start().len(),
                text: l.trim().to_string(),
            })
            .collect();
        let first = lines[0].indent;
        logs.push(block(&mut lines, &mut 0, first));
    }
    logs
}

#[test]
fn panther_core_rule_set_test_events_parse_and_ssrf_is_a_match() {
    let yaml = std::fs::read_to_string(shared("corpora/panther-tests/aws_waf_managed_core_rule_set.yml")).unwrap();
    let logs = panther_logs(&yaml);
    assert_eq!(logs.len(), 6);
    // The subset reader agrees with a full YAML parser's conversion.
    let converted: Vec<Value> = std::fs::read_to_string(fixture("aws-waf/panther-core-rule-set.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logs, converted);

    // Read as a scan would: one JSON line per test event.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panther-waf.jsonl");
    let text: String = logs.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let p = parse(&path);
    assert_clean(&p, "aws-waf", 6);
    assert_eq!(p.events[0].time.to_string(), "2024-03-20T10:30:00Z");
    let r = requests(&p);

    // "CloudFront SSRF detection": blocked by EC2MetaDataSSRF_QUERYARGUMENTS.
    let ssrf = r[3];
    assert_eq!(ssrf.target, "/proxy?url=http://169.254.169.254/latest/meta-data/");
    assert_eq!(ssrf.observer.as_deref(), Some("CF"));
    let waf = ssrf.waf.as_ref().unwrap();
    assert_eq!(waf.action, "BLOCK");
    assert_eq!(waf.terminating_rule.as_deref(), Some(SSRF_QUERY));
    assert_eq!(rules(ssrf), [(SSRF_QUERY.to_string(), "BLOCK".to_string())]);

    // "Blocked via terminatingRuleId": no group detail, the web ACL rule is the match.
    assert_eq!(
        rules(r[0]),
        [("AWS-AWSManagedRulesCommonRuleSet".to_string(), "BLOCK".to_string())]
    );
    // "Non-terminating match in rule group (COUNT mode)": counted, allowed.
    let count = r[2].waf.as_ref().unwrap();
    assert_eq!(
        (count.action.as_str(), count.terminating_rule.as_deref()),
        ("ALLOW", None)
    );
    assert_eq!(
        rules(r[2]),
        [(
            "AWS-AWSManagedRulesCommonRuleSet/CrossSiteScripting_QUERYARGUMENTS".to_string(),
            "COUNT".to_string()
        )]
    );
    // "Normal traffic - no alert": nothing matched; its request has no URI at all.
    assert!(r[5].waf.as_ref().unwrap().matches.is_empty());
    assert_eq!(r[5].target, "");
    insta::assert_snapshot!("panther", digest(&p));
}

// ---------------------------------------------------------------------------------------------
// the generated corpus

#[test]
fn every_generated_waf_file_parses_without_diagnostics() {
    let corpus = generated_corpus();
    let files = files_under(&corpus.path().join("aws/waf"));
    assert!(files.len() > 50, "{} WAF files", files.len());
    let (mut events, mut count_ssrf, mut blocked_ssrf) = (0, 0, 0);
    for file in &files {
        let p = parse(file);
        assert_eq!(p.format, Some("aws-waf"), "{}", file.display());
        assert_eq!(p.compression, Compression::Gzip);
        assert!(p.diagnostics.is_empty(), "{}: {:#?}", file.display(), p.diagnostics);
        assert_eq!(p.records, p.events.len() as u64);
        events += p.events.len();
        for r in requests(&p) {
            for m in &r.waf.as_ref().unwrap().matches {
                if m.rule.contains("EC2MetaDataSSRF") {
                    match m.action.as_str() {
                        "COUNT" => count_ssrf += 1,
                        "BLOCK" => blocked_ssrf += 1,
                        other => panic!("unexpected action {other}"),
                    }
                }
            }
        }
    }
    assert!(events > 200, "{events}");
    // The generator's media ACL counts SSRF matches, its storefront ACL blocks them.
    assert!(
        count_ssrf > 0 && blocked_ssrf > 0,
        "count {count_ssrf} block {blocked_ssrf}"
    );
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn a_broken_line_costs_only_itself() {
    let p = parse_fixture("aws-waf/malformed/invalid-json.jsonl");
    assert_eq!(p.format, Some("aws-waf"));
    assert_eq!(p.records, 5);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3), (5, 5)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(2, Some(2), "invalid_json"), (4, Some(4), "invalid_json")]
    );
    assert!(p.diagnostics[0]
        .excerpt
        .as_deref()
        .unwrap()
        .starts_with("{\"timestamp\":1710930601250"));
    insta::assert_snapshot!("malformed_invalid_json", digest(&p));
}

#[test]
fn records_with_bad_or_missing_fields_are_rejected_by_reason() {
    let p = parse_fixture("aws-waf/malformed/bad-fields.jsonl");
    assert_eq!(p.records, 11);
    assert_eq!(event_positions(&p), [(1, 1), (10, 11)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "bad_timestamp"), // "last tuesday"
            (3, Some(3), "bad_timestamp"), // -5
            (4, Some(4), "missing_field"), // clientIp 203.0.113.500
            (5, Some(5), "missing_field"), // no action
            (6, Some(6), "missing_field"), // no httpRequest
            (7, Some(7), "missing_field"), // no timestamp
            (8, Some(8), "missing_field"), // ruleGroupList is a string
            (9, Some(9), "missing_field"), // [1,2]: two elements, neither a record
            (9, Some(10), "missing_field"),
        ]
    );
    insta::assert_snapshot!("malformed_bad_fields", digest(&p));
}

#[test]
fn non_utf8_bytes_reject_their_record_only() {
    let p = parse_fixture("aws-waf/malformed/non-utf8.jsonl");
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(2), "invalid_utf8")]);
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn a_file_cut_mid_record_keeps_the_records_before_the_cut() {
    let p = parse_fixture("aws-waf/malformed/truncated.jsonl");
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2)]);
    assert_eq!(diagnostic_positions(&p), [(3, Some(3), "invalid_json")]);
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn an_empty_file_yields_nothing_and_no_complaint() {
    let p = parse_fixture("aws-waf/malformed/empty.jsonl");
    assert_eq!(p.format, None);
    assert_eq!((p.records, p.bytes), (0, 0));
    assert!(p.events.is_empty() && p.diagnostics.is_empty());
}

// ---------------------------------------------------------------------------------------------
// sniffing

#[test]
fn the_waf_sniffer_leaves_other_formats_alone() {
    let mut others = files_under(&fixture("cloudtrail"));
    others.extend(files_under(&fixture("aws-inventory")));
    for path in others {
        let bytes = std::fs::read(&path).unwrap();
        let head = &bytes[..bytes.len().min(64 * 1024)];
        assert!(!AwsWaf.sniff(head), "{}", path.display());
    }
    let texts: [&[u8]; 4] = [
        b"203.0.113.9 - - [20/Mar/2024:10:30:00 +0000] \"GET /?url=http://169.254.169.254/ HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n",
        b"#separator \\x09\n#set_separator\t,\n#fields\tts\tuid\tid.orig_h\n",
        b"{\"eventVersion\":\"1.08\",\"eventSource\":\"wafv2.amazonaws.com\",\"eventName\":\"GetWebACL\",\"requestParameters\":{\"webaclId\":\"x\"}}\n",
        b"",
    ];
    for text in texts {
        assert!(!AwsWaf.sniff(text), "{}", String::from_utf8_lossy(text));
    }
    let mut out = credtrail_ingest::ParsedFile::default();
    AwsWaf.parse(b"", FileId(0), &mut out);
    assert_eq!(out.records, 0);
}
