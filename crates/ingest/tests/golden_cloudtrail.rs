//! Golden tests for every CloudTrail input shape credtrail accepts, well-formed and malformed,
//! and for the inventory JSON it reads beside it.
//!
//! Each fixture under `testdata/formats/` is parsed with `parse_file` and reduced to a
//! readable digest (one block per event, one line per diagnostic) that is snapshotted with
//! `insta`. The positions PRODUCT.md §6 promises (`line`: 1-based line on which the record
//! starts in the decompressed file; `index`: 1-based ordinal of the record in the file) are
//! also asserted explicitly, so a reviewer can read the expectations without the snapshots.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use common::{diagnostic_positions, event_positions, fixture, opt, parse, parse_fixture, shared};
use credtrail_event::{Body, Fact};
use credtrail_ingest::decode::Compression;
use credtrail_ingest::{ParsedFile, Reason, FORMATS};

// ---------------------------------------------------------------------------------------------
// helpers

/// One stable, readable block per event and one line per diagnostic.
fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    let compression = match p.compression {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    };
    writeln!(
        out,
        "format={} compression={compression} records={} events={} diagnostics={} bytes={}",
        p.format.unwrap_or("-"),
        p.records,
        p.events.len(),
        p.diagnostics.len(),
        p.bytes
    )
    .unwrap();
    events_digest(p, &mut out);
    common::write_diagnostics(&mut out, p);
    out
}

fn events_digest(p: &ParsedFile, out: &mut String) {
    for e in &p.events {
        let Body::CloudApiCall(c) = &e.body else {
            panic!("expected a cloud API call")
        };
        let id = &c.identity;
        writeln!(
            out,
            "event line={} index={} time={}",
            e.origin.line, e.origin.index, e.time
        )
        .unwrap();
        writeln!(
            out,
            "  call      {} {} region={} recipient={} type={} read_only={}",
            c.service,
            c.action,
            opt(&c.region),
            opt(&c.recipient_account),
            opt(&c.event_type),
            c.read_only.map_or("-".to_string(), |b| b.to_string()),
        )
        .unwrap();
        writeln!(
            out,
            "  identity  kind={} arn={} account={} key={} issuer={} invoked_by={}",
            id.kind.as_ref().map_or("-".to_string(), |k| format!("{k:?}")),
            opt(&id.arn),
            opt(&id.account),
            opt(&id.access_key),
            opt(&id.session_issuer_arn),
            opt(&id.invoked_by),
        )
        .unwrap();
        writeln!(
            out,
            "  session   role_delivery={} issued_in_vpc={} created={}",
            opt(&id.role_delivery),
            opt(&id.issued_in_vpc),
            id.session_created.map_or("-".to_string(), |t| t.to_string()),
        )
        .unwrap();
        let workload = c.workload.as_ref().map_or("-".to_string(), |w| {
            format!("{}:{} role={}", w.kind.as_str(), w.id, w.role)
        });
        writeln!(
            out,
            "  network   workload={workload} source={} vpce={} vpce_account={}",
            c.source.as_ref().map_or("-".to_string(), |s| format!("{s:?}")),
            opt(&c.vpc_endpoint),
            opt(&c.vpc_endpoint_account),
        )
        .unwrap();
        writeln!(
            out,
            "  outcome   error={} user_agent={:?}",
            opt(&c.error_code),
            c.user_agent.as_deref().unwrap_or("-")
        )
        .unwrap();
        if let Some(ic) = &c.issued_credential {
            writeln!(
                out,
                "  issued    key={} role={} session={} by={}",
                ic.access_key,
                opt(&ic.role_arn),
                ic.session_name,
                ic.issuer
            )
            .unwrap();
        }
        if let Some(md) = &c.metadata_options {
            writeln!(
                out,
                "  metadata  target={} http_tokens={} hop_limit={} http_endpoint={}",
                opt(&md.target),
                opt(&md.http_tokens),
                md.hop_limit.map_or("-".to_string(), |h| h.to_string()),
                opt(&md.http_endpoint),
            )
            .unwrap();
        }
    }
}

fn actions(p: &ParsedFile) -> Vec<String> {
    p.events
        .iter()
        .map(|e| {
            let Body::CloudApiCall(c) = &e.body else {
                panic!("expected a cloud API call")
            };
            c.qualified_action()
        })
        .collect()
}

/// Lines on which a `{` opens at `depth` containers deep (0 = top level), found by a
/// string-aware scan of the text that shares no code with the parser under test.
fn object_start_lines(text: &[u8], depth: usize) -> Vec<u64> {
    let mut lines = Vec::new();
    let (mut line, mut level, mut in_string, mut escaped) = (1u64, 0usize, false, false);
    for &b in text {
        if b == b'\n' {
            line += 1;
        }
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                if b == b'{' && level == depth {
                    lines.push(line);
                }
                level += 1;
            }
            b'}' | b']' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    lines
}

fn gzip(data: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), level);
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every record of a well-formed fixture became an event: no diagnostics, and the record count
/// matches.
fn assert_clean(p: &ParsedFile, events: usize) {
    assert_eq!(p.format, Some("cloudtrail"));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.events.len(), events);
    assert_eq!(p.records, events as u64);
}

// ---------------------------------------------------------------------------------------------
// well-formed shapes

#[test]
fn records_document_on_one_line_as_s3_delivers_it() {
    let p = parse_fixture("cloudtrail/records.json");
    assert_clean(&p, 5);
    // Every record starts on line 1; the index tells them apart.
    assert_eq!(event_positions(&p), [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5)]);
    assert_eq!(
        actions(&p),
        [
            "ec2:ModifyInstanceMetadataOptions",
            "sts:AssumeRole",
            "s3:GetObject",
            "sts:GetCallerIdentity",
            "iam:ListRoles"
        ]
    );
    let Body::CloudApiCall(issue) = &p.events[1].body else {
        panic!("expected a cloud API call")
    };
    let issued = issue
        .issued_credential
        .as_ref()
        .expect("AssumeRole by EC2 issues a credential");
    assert_eq!(issued.access_key, "ASIAEXAMPLEORDERS001");
    let Body::CloudApiCall(stolen) = &p.events[3].body else {
        panic!("expected a cloud API call")
    };
    assert_eq!(stolen.identity.role_delivery.as_deref(), Some("1.0"));
    assert_eq!(
        stolen.workload.as_ref().map(|w| w.id.as_str()),
        Some("i-0c4f5e6d7a8b9c0d1")
    );
    insta::assert_snapshot!("records", digest(&p));
}

/// A delivered CloudTrail object is claimed before any other sniffer runs: a record that carries
/// the keys another format's sniffer looks for (here an EventBridge `PutEvents` forwarding a GCP
/// audit entry and a WAF log record) no longer makes that sniffer take the whole file.
#[test]
fn a_delivered_object_is_cloudtrail_whatever_its_records_carry() {
    let dir = tempfile::tempdir().unwrap();
    let forwarded = concat!(
        r#"{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{}},"#,
        r#""webaclId":"w","httpRequest":{},"terminatingRuleId":"r"}"#
    );
    let record = format!(
        concat!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops","#,
            r#""accountId":"111122223333"}},"eventTime":"2026-03-01T10:00:00Z","eventSource":"events.amazonaws.com","#,
            r#""eventName":"PutEvents","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","#,
            r#""userAgent":"aws-cli/2.15.0","requestParameters":{{"entries":[{{"detail":{forwarded}}}]}}}}"#
        ),
        forwarded = forwarded
    );
    for (name, text) in [
        ("one-line.json", format!(r#"{{"Records":[{record}]}}"#)),
        ("spaced.json", format!("\u{feff} {{ \"Records\" :\n [ {record} ] }}")),
    ] {
        let p = parse(&write(dir.path(), name, text.as_bytes()));
        assert_clean(&p, 1);
        assert_eq!(actions(&p), ["events:PutEvents"], "{name}");
    }
}

#[test]
fn records_document_pretty_printed() {
    let path = fixture("cloudtrail/records-pretty.json");
    let p = parse(&path);
    assert_clean(&p, 3);
    assert_eq!(event_positions(&p), [(3, 1), (49, 2), (106, 3)]);
    let starts = object_start_lines(&std::fs::read(&path).unwrap(), 2);
    assert_eq!(p.events.iter().map(|e| e.origin.line).collect::<Vec<_>>(), starts);
    insta::assert_snapshot!("records_pretty", digest(&p));
}

#[test]
fn json_array_like_stratus_detonation_logs() {
    let path = fixture("cloudtrail/array.json");
    let p = parse(&path);
    assert_clean(&p, 3);
    assert_eq!(event_positions(&p), [(2, 1), (51, 2), (99, 3)]);
    let starts = object_start_lines(&std::fs::read(&path).unwrap(), 1);
    assert_eq!(p.events.iter().map(|e| e.origin.line).collect::<Vec<_>>(), starts);
    insta::assert_snapshot!("array", digest(&p));
}

#[test]
fn json_lines_one_event_per_line_with_a_blank_line() {
    let p = parse_fixture("cloudtrail/lines.jsonl");
    assert_clean(&p, 4);
    // Line 3 is blank: it is neither a record nor a diagnostic, and numbering goes on after it.
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (4, 3), (5, 4)]);
    let Body::CloudApiCall(vpce) = &p.events[2].body else {
        panic!("expected a cloud API call")
    };
    assert_eq!(vpce.event_type.as_deref(), Some("AwsVpceEvent"));
    assert_eq!(vpce.error_code.as_deref(), Some("VpceAccessDenied"));
    // An offset time is normalised to UTC.
    assert_eq!(p.events[3].time.to_string(), "2026-02-13T04:12:30Z");
    insta::assert_snapshot!("lines", digest(&p));
}

#[test]
fn json_lines_of_records_batches() {
    let p = parse_fixture("cloudtrail/batches.jsonl");
    assert_clean(&p, 5);
    // Index counts records across batches; line is the batch's line.
    assert_eq!(event_positions(&p), [(1, 1), (1, 2), (2, 3), (3, 4), (3, 5)]);
    insta::assert_snapshot!("batches", digest(&p));
}

#[test]
fn eventbridge_envelopes() {
    let p = parse_fixture("cloudtrail/eventbridge.jsonl");
    assert_clean(&p, 3);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3)]);
    assert_eq!(
        actions(&p),
        [
            "ec2:ModifyInstanceMetadataOptions",
            "iam:ListAttachedRolePolicies",
            "sts:GetCallerIdentity"
        ]
    );
    insta::assert_snapshot!("eventbridge", digest(&p));
}

#[test]
fn logstash_records_with_at_timestamp_and_no_event_time() {
    let p = parse_fixture("cloudtrail/logstash.jsonl");
    assert_clean(&p, 3);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3)]);
    assert_eq!(p.events[0].time.to_string(), "2026-02-16T11:00:00Z");
    insta::assert_snapshot!("logstash", digest(&p));
}

#[test]
fn filebeat_ecs_records_nested() {
    let p = parse_fixture("cloudtrail/filebeat.jsonl");
    assert_clean(&p, 3);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3)]);
    assert_eq!(actions(&p), ["sts:GetCallerIdentity", "iam:ListUsers", "s3:PutObject"]);
    let Body::CloudApiCall(c) = &p.events[1].body else {
        panic!("expected a cloud API call")
    };
    assert_eq!(c.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(c.identity.access_key.as_deref(), Some("ASIAEXAMPLEORDERS008"));
    assert_eq!(c.workload.as_ref().map(|w| w.role.as_str()), Some("orders-api-role"));
    insta::assert_snapshot!("filebeat", digest(&p));
}

#[test]
fn filebeat_ecs_records_with_dotted_keys_read_like_nested_ones() {
    let p = parse_fixture("cloudtrail/filebeat-dotted.jsonl");
    assert_clean(&p, 3);
    assert_eq!(event_positions(&p), [(1, 1), (2, 2), (3, 3)]);
    assert_eq!(
        actions(&p),
        [
            "ec2:DescribeSecurityGroups",
            "iam:GetAccountAuthorizationDetails",
            "ec2:DescribeInstances"
        ]
    );
    insta::assert_snapshot!("filebeat_dotted", digest(&p));
}

#[test]
fn gzip_zstd_and_multi_member_gzip_read_like_the_plain_file() {
    let plain_path = fixture("cloudtrail/lines.jsonl");
    let plain_bytes = std::fs::read(&plain_path).unwrap();
    let plain = parse(&plain_path);
    let expected = {
        let mut s = String::new();
        events_digest(&plain, &mut s);
        common::write_diagnostics(&mut s, &plain);
        s
    };
    let dir = tempfile::tempdir().unwrap();
    // A member boundary in the middle of a record: members are one byte stream.
    let cut = plain_bytes.len() / 2 + 7;
    let mut multi = gzip(&plain_bytes[..cut], flate2::Compression::default());
    multi.extend(gzip(&plain_bytes[cut..], flate2::Compression::best()));
    let cases = [
        (
            "lines.jsonl.gz",
            gzip(&plain_bytes, flate2::Compression::default()),
            Compression::Gzip,
        ),
        (
            "lines.jsonl.zst",
            zstd::encode_all(&plain_bytes[..], 3).unwrap(),
            Compression::Zstd,
        ),
        ("lines-multi-member.jsonl.gz", multi, Compression::Gzip),
        // Compression is recognised by content, not by name.
        (
            "renamed.jsonl",
            gzip(&plain_bytes, flate2::Compression::fast()),
            Compression::Gzip,
        ),
    ];
    for (name, bytes, compression) in cases {
        let p = parse(&write(dir.path(), name, &bytes));
        assert_eq!(p.compression, compression, "{name}");
        assert_eq!(p.format, Some("cloudtrail"), "{name}");
        assert_eq!(p.bytes, plain_bytes.len() as u64, "{name}");
        assert_eq!(p.records, plain.records, "{name}");
        let mut got = String::new();
        events_digest(&p, &mut got);
        common::write_diagnostics(&mut got, &p);
        assert_eq!(got, expected, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// malformed input

#[test]
fn a_broken_line_costs_only_itself() {
    let p = parse_fixture("cloudtrail/malformed/invalid-json.jsonl");
    assert_eq!(p.format, Some("cloudtrail"));
    assert_eq!(p.records, 5);
    assert_eq!(event_positions(&p), [(1, 1), (3, 3), (5, 5)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(2, Some(2), "invalid_json"), (4, Some(4), "invalid_json")]
    );
    for d in &p.diagnostics {
        let excerpt = d
            .excerpt
            .as_deref()
            .expect("a rejected record keeps its bytes for quarantine");
        assert!(excerpt.starts_with("{\"eventVersion\""), "{excerpt}");
    }
    insta::assert_snapshot!("malformed_invalid_json", digest(&p));
}

#[test]
fn non_utf8_bytes_reject_their_record_only() {
    let p = parse_fixture("cloudtrail/malformed/non-utf8.jsonl");
    assert_eq!(p.format, Some("cloudtrail"));
    assert_eq!(p.records, 4);
    assert_eq!(event_positions(&p), [(1, 1), (4, 4)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(2, Some(2), "invalid_utf8"), (3, Some(3), "invalid_utf8")]
    );
    insta::assert_snapshot!("malformed_non_utf8", digest(&p));
}

#[test]
fn records_missing_required_fields_or_with_bad_times_are_rejected_by_reason() {
    let p = parse_fixture("cloudtrail/malformed/missing-fields.jsonl");
    assert_eq!(p.records, 6);
    assert_eq!(event_positions(&p), [(1, 1), (6, 6)]);
    assert_eq!(
        diagnostic_positions(&p),
        [
            (2, Some(2), "missing_field"), // no eventName
            (3, Some(3), "missing_field"), // neither eventTime nor @timestamp
            (4, Some(4), "bad_timestamp"), // 2026-02-30T25:61:00Z
            (5, Some(5), "missing_field"), // eventTime is a number
        ]
    );
    insta::assert_snapshot!("malformed_missing_fields", digest(&p));
}

#[test]
fn a_records_document_cut_mid_record_keeps_the_records_before_the_cut() {
    let p = parse_fixture("cloudtrail/malformed/truncated-records.json");
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(1, 1), (1, 2)]);
    assert_eq!(diagnostic_positions(&p), [(1, Some(3), "invalid_json")]);
    insta::assert_snapshot!("malformed_truncated_records", digest(&p));
}

#[test]
fn a_pretty_records_document_cut_mid_record_cites_the_line_the_cut_record_starts_on() {
    let path = fixture("cloudtrail/malformed/truncated-records-pretty.json");
    let p = parse(&path);
    let starts = object_start_lines(&std::fs::read(&path).unwrap(), 2);
    assert_eq!(starts, [3, 52, 101]);
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(3, 1), (52, 2)]);
    assert_eq!(diagnostic_positions(&p), [(101, Some(3), "invalid_json")]);
    insta::assert_snapshot!("malformed_truncated_records_pretty", digest(&p));
}

#[test]
fn a_records_batch_line_cut_mid_record_does_not_reach_into_the_next_line() {
    let p = parse_fixture("cloudtrail/malformed/truncated-batch-line.jsonl");
    assert_eq!(p.format, Some("cloudtrail"));
    assert_eq!(p.records, 5);
    assert_eq!(event_positions(&p), [(1, 1), (1, 2), (2, 3), (3, 5)]);
    assert_eq!(diagnostic_positions(&p), [(2, Some(4), "invalid_json")]);
    insta::assert_snapshot!("malformed_truncated_batch_line", digest(&p));
}

#[test]
fn text_that_is_not_cloudtrail_is_one_unrecognised_format_diagnostic() {
    let p = parse_fixture("cloudtrail/malformed/not-cloudtrail.txt");
    assert_eq!(p.format, None);
    assert_eq!(p.records, 0);
    assert!(p.events.is_empty());
    assert_eq!(diagnostic_positions(&p), [(1, None, "unrecognised_format")]);
    assert!(p.diagnostics[0]
        .excerpt
        .as_deref()
        .unwrap_or_default()
        .contains("meta-data"));
    insta::assert_snapshot!("malformed_not_cloudtrail", digest(&p));
}

#[test]
fn an_empty_file_yields_nothing_and_no_complaint() {
    let p = parse_fixture("cloudtrail/malformed/empty.json");
    assert_eq!(p.format, None);
    assert_eq!((p.records, p.bytes), (0, 0));
    assert!(p.events.is_empty() && p.diagnostics.is_empty());
}

#[test]
fn a_missing_file_is_one_unreadable_diagnostic() {
    let p = parse(&fixture("cloudtrail/malformed/does-not-exist.json"));
    assert_eq!(diagnostic_positions(&p), [(0, None, "unreadable")]);
}

/// Stored (uncompressed) deflate blocks make the cut exact: the decompressed prefix is the
/// file's first `n` bytes, whatever the compressor version.
#[test]
fn a_truncated_gzip_keeps_the_records_before_the_cut() {
    let content = std::fs::read(fixture("cloudtrail/records.json")).unwrap();
    let stored = gzip(&content, flate2::Compression::none());
    let at = stored
        .windows(16)
        .position(|w| w == &content[..16])
        .expect("stored deflate holds the content verbatim");
    // Cut inside the fourth record.
    let fourth = content
        .windows(17)
        .enumerate()
        .filter(|(_, w)| w == b"{\"eventVersion\":\"")
        .map(|(i, _)| i)
        .nth(3)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "malformed/truncated.json.gz", &stored[..at + fourth + 100]);
    let p = parse(&path);
    assert_eq!(p.compression, Compression::Gzip);
    assert_eq!(p.format, Some("cloudtrail"));
    assert_eq!(p.bytes, fourth as u64 + 100);
    assert_eq!(p.records, 4);
    assert_eq!(event_positions(&p), [(1, 1), (1, 2), (1, 3)]);
    assert_eq!(
        diagnostic_positions(&p),
        [(1, Some(4), "invalid_json"), (1, None, "corrupt_compression")]
    );
    insta::assert_snapshot!("malformed_truncated_gzip", digest(&p));
}

#[test]
fn a_truncated_compressed_json_lines_file_yields_a_prefix_of_its_events() {
    let plain_path = fixture("cloudtrail/lines.jsonl");
    let content = std::fs::read(&plain_path).unwrap();
    let plain = parse(&plain_path);
    let compressed = gzip(&content, flate2::Compression::default());
    let dir = tempfile::tempdir().unwrap();
    for cut in [compressed.len() - 4, compressed.len() * 2 / 3, compressed.len() / 2, 12] {
        let p = parse(&write(dir.path(), "truncated.jsonl.gz", &compressed[..cut]));
        let last = p.diagnostics.last().expect("the truncation is reported");
        assert_eq!(last.reason, Reason::CorruptCompression, "cut at {cut}");
        assert!(p.events.len() <= plain.events.len());
        assert_eq!(p.events[..], plain.events[..p.events.len()], "cut at {cut}");
        // Whatever was cut mid-line is rejected as invalid JSON, on the line it starts on.
        for d in &p.diagnostics[..p.diagnostics.len() - 1] {
            assert_eq!(d.reason, Reason::InvalidJson, "cut at {cut}");
            assert_eq!(d.line, last.line, "cut at {cut}");
        }
    }
}

#[test]
fn a_corrupt_json_lines_first_line_does_not_hide_the_lines_after_it() {
    let p = parse_fixture("cloudtrail/malformed/invalid-json-first-line.jsonl");
    assert_eq!(p.format, Some("cloudtrail"));
    assert_eq!(p.records, 3);
    assert_eq!(event_positions(&p), [(2, 2), (3, 3)]);
    assert_eq!(diagnostic_positions(&p), [(1, Some(1), "invalid_json")]);
    insta::assert_snapshot!("malformed_invalid_json_first_line", digest(&p));
}

// ---------------------------------------------------------------------------------------------
// sniffing

fn sniffed(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    FORMATS.iter().find(|f| f.sniff(head)).map(|f| f.name())
}

#[test]
fn sniffing_picks_cloudtrail_for_every_shape() {
    for name in [
        "records.json",
        "records-pretty.json",
        "array.json",
        "lines.jsonl",
        "batches.jsonl",
        "eventbridge.jsonl",
        "logstash.jsonl",
        "filebeat.jsonl",
        "filebeat-dotted.jsonl",
        "malformed/invalid-json.jsonl",
        "malformed/invalid-json-first-line.jsonl",
        "malformed/non-utf8.jsonl",
        "malformed/missing-fields.jsonl",
        "malformed/truncated-records.json",
        "malformed/truncated-records-pretty.json",
    ] {
        let path = fixture(&format!("cloudtrail/{name}"));
        assert_eq!(sniffed(&std::fs::read(&path).unwrap()), Some("cloudtrail"), "{name}");
        assert_eq!(parse(&path).format, Some("cloudtrail"), "{name}");
    }
    for name in ["malformed/not-cloudtrail.txt", "malformed/empty.json"] {
        let path = fixture(&format!("cloudtrail/{name}"));
        assert_eq!(sniffed(&std::fs::read(&path).unwrap()), None, "{name}");
    }
}

#[test]
fn sniffing_picks_aws_inventory_for_describe_output() {
    for name in [
        "describe-instances.json",
        "describe-nat-gateways.json",
        "describe-route-tables.json",
        "describe-vpc-endpoints.json",
        "malformed.json",
    ] {
        let path = fixture(&format!("aws-inventory/{name}"));
        assert_eq!(sniffed(&std::fs::read(&path).unwrap()), Some("aws-inventory"), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// inventory

fn facts_digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "format={} records={} facts={} diagnostics={}",
        p.format.unwrap_or("-"),
        p.records,
        p.facts.len(),
        p.diagnostics.len()
    )
    .unwrap();
    let ips = |v: &[std::net::IpAddr]| v.iter().map(|ip| ip.to_string()).collect::<Vec<_>>().join(",");
    for f in &p.facts {
        match f {
            Fact::Instance {
                id,
                account,
                vpc,
                subnet,
                private_ips,
                public_ips,
                http_tokens,
                hop_limit,
            } => writeln!(
                out,
                "instance {id} account={} vpc={} subnet={} private=[{}] public=[{}] http_tokens={} hop_limit={}",
                opt(account),
                opt(vpc),
                opt(subnet),
                ips(private_ips),
                ips(public_ips),
                opt(http_tokens),
                hop_limit.map_or("-".to_string(), |h| h.to_string())
            ),
            Fact::NatGateway {
                id,
                vpc,
                subnet,
                public_ips,
            } => writeln!(
                out,
                "nat-gateway {id} vpc={} subnet={} public=[{}]",
                opt(vpc),
                opt(subnet),
                ips(public_ips)
            ),
            Fact::RouteTable {
                id,
                vpc,
                subnets,
                main,
                nat_gateways,
            } => writeln!(
                out,
                "route-table {id} vpc={} main={main} subnets=[{}] nat_gateways=[{}]",
                opt(vpc),
                subnets.join(","),
                nat_gateways.join(",")
            ),
            Fact::VpcEndpoint {
                id,
                vpc,
                owner_account,
                service,
            } => writeln!(
                out,
                "vpc-endpoint {id} vpc={} owner={} service={}",
                opt(vpc),
                opt(owner_account),
                opt(service)
            ),
            // IAM authorization details have their own golden test.
            Fact::Role(_) | Fact::ManagedPolicy(_) => writeln!(out, "iam {f:?}"),
            // GCP and Azure inventories have their own golden tests (golden_cloud_audit.rs).
            Fact::CloudVm { id, .. } => writeln!(out, "cloud-vm {id}"),
        }
        .unwrap();
    }
    common::write_diagnostics(&mut out, p);
    out
}

#[test]
fn inventory_facts_are_golden() {
    let instances = parse_fixture("aws-inventory/describe-instances.json");
    assert_eq!(instances.format, Some("aws-inventory"));
    assert_eq!((instances.records, instances.facts.len()), (1, 2));
    let Fact::Instance {
        public_ips,
        private_ips,
        http_tokens,
        ..
    } = &instances.facts[0]
    else {
        panic!("{:?}", instances.facts[0]);
    };
    // The primary public address, a secondary Elastic IP from the network interface, and IPv6.
    assert_eq!(
        public_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["3.220.5.6", "54.91.10.20", "2600:1f18:4a3:6a00:1c2d:3e4f:5a6b:7c8d"]
    );
    assert_eq!(private_ips.len(), 2);
    assert_eq!(http_tokens.as_deref(), Some("optional"));

    let tables = parse_fixture("aws-inventory/describe-route-tables.json");
    let mains: Vec<bool> = tables
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::RouteTable { main, .. } => Some(*main),
            _ => None,
        })
        .collect();
    assert_eq!(mains, [true, false]);

    let mut all = String::new();
    for name in [
        "describe-instances.json",
        "describe-nat-gateways.json",
        "describe-route-tables.json",
        "describe-vpc-endpoints.json",
    ] {
        let p = parse_fixture(&format!("aws-inventory/{name}"));
        assert!(p.diagnostics.is_empty(), "{name}: {:?}", p.diagnostics);
        writeln!(all, "## {name}\n{}", facts_digest(&p)).unwrap();
    }
    insta::assert_snapshot!("inventory", all);
}

#[test]
fn a_truncated_inventory_document_is_one_diagnostic_and_no_facts() {
    let p = parse_fixture("aws-inventory/malformed.json");
    assert_eq!(p.format, Some("aws-inventory"));
    assert!(p.facts.is_empty());
    assert_eq!(diagnostic_positions(&p), [(1, Some(1), "invalid_json")]);
    insta::assert_snapshot!("inventory_malformed", facts_digest(&p));
}

// ---------------------------------------------------------------------------------------------
// public corpus

#[test]
fn stratus_steal_instance_credentials_detonation_parses_completely_with_true_lines() {
    let path = shared("corpora/stratus-detonation-logs/aws.credential-access.ec2-steal-instance-credentials.json");
    let text = std::fs::read(&path).unwrap();
    let p = parse(&path);
    assert_eq!(p.format, Some("cloudtrail"));
    assert_eq!(p.events.len(), 45);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    let starts = object_start_lines(&text, 1);
    assert_eq!(starts.len(), 45);
    let lines: Vec<u64> = p.events.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, starts);
    assert_eq!(
        p.events.iter().map(|e| e.origin.index).collect::<Vec<_>>(),
        (1..=45).collect::<Vec<u64>>()
    );
    // The two stolen-credential records the corpus labels (records 6 and 21, counting from 1).
    let text = String::from_utf8(text).unwrap();
    let line_text = |n: u64| text.lines().nth(n as usize - 1).unwrap_or_default().to_string();
    for index in [6u64, 21] {
        let e = &p.events[index as usize - 1];
        assert_eq!(e.origin.index, index);
        assert_eq!(e.origin.line, starts[index as usize - 1]);
        assert_eq!(
            line_text(e.origin.line).trim(),
            "{",
            "record {index} starts on its own `{{` line"
        );
        let Body::CloudApiCall(c) = &e.body else {
            panic!("expected a cloud API call")
        };
        assert_eq!(
            c.identity.arn.as_deref(),
            Some("arn:aws:sts::017622104382:assumed-role/stratus-red-team-ec2-steal-credentials-role/i-786a3A8B5C0d92eF4")
        );
        assert_eq!(c.identity.role_delivery.as_deref(), Some("1.0"));
        assert_eq!(
            c.source
                .as_ref()
                .and_then(|s| s.ip())
                .map(|ip| ip.to_string())
                .as_deref(),
            Some("18.236.253.47")
        );
    }
}
