//! A scan leaves out the web requests no detector can act on (`scan_file`, the access-log
//! pre-filter): on every test input the detectors must decide exactly what they decide on every
//! event, and the left-out requests must still be counted.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod support;

use credtrail_detect::Engine;
use credtrail_event::{Event, FileId, Timestamp};
use credtrail_ingest::{discover, parse_file, scan_file};
use support::{repo, shared};

fn inputs(generated: &std::path::Path) -> Vec<String> {
    vec![
        repo().join("testdata").display().to_string(),
        shared().join("corpora").display().to_string(),
        generated.display().to_string(),
    ]
}

/// As nginx writes a quoted field: `"`, `\\` and bytes outside printable ASCII as `\\xHH`.
fn nginx_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0..0x20 | 0x7f.. => format!("\\x{b:02X}"),
            _ => char::from(b).to_string(),
        })
        .collect()
}

/// An access log holding every CRS 934 SSRF row's target, body and header values, as the request
/// target and as the referer, escaped by nginx and raw, with statuses each rule reads, between
/// ordinary requests.
fn crs_access_log(dir: &std::path::Path) -> std::path::PathBuf {
    let corpus = std::fs::read_to_string(shared().join("corpora/crs-ssrf-regression/crs_934_flat.jsonl")).unwrap();
    let mut log = String::new();
    let mut n = 0u32;
    for row in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(row).unwrap();
        let mut texts = vec![row["uri"].as_str().unwrap().to_owned()];
        texts.extend(row["data"].as_str().map(str::to_owned));
        texts.extend(
            row["headers"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_str().unwrap().to_owned()),
        );
        for text in texts {
            for shown in [
                nginx_escape(&text),
                text.chars()
                    .filter(|c| !matches!(c, '"' | '\\') && !c.is_control())
                    .collect(),
            ] {
                for status in [200, 403, 502] {
                    n += 1;
                    let client = format!("198.51.{}.{}", n / 250 % 250, n % 250);
                    let time = format!(
                        "14/Sep/2026:{:02}:{:02}:{:02} +0000",
                        n / 3600 % 24,
                        n / 60 % 60,
                        n % 60
                    );
                    log += &format!(
                        "{client} - - [{time}] \"GET {shown} HTTP/1.1\" {status} 1400 \"-\" \"curl/8\" \"-\"\n"
                    );
                    log += &format!("{client} - - [{time}] \"GET /gallery/{n} HTTP/1.1\" {status} 24423 \"{shown}\" \"Mozilla/5.0\" \"-\"\n");
                    log += &format!("10.20.2.39 - - [{time}] \"GET /health HTTP/1.1\" 200 2 \"-\" \"ELB-HealthChecker/2.0\" \"-\"\n");
                }
            }
        }
    }
    let path = dir.join("hosts/i-0123456789abcdef0/var/log/nginx/access.log");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, log).unwrap();
    path
}

fn alerts(events: &[Event], sightings: &[(std::net::IpAddr, Timestamp)]) -> Vec<String> {
    let mut engine = Engine::default();
    for e in events {
        engine.observe(e);
    }
    // What the scan keeps of left-out lines: when their clients were seen (first-seen networks).
    for &(client, time) in sightings {
        engine.sight(client, time);
    }
    support::decisions(engine)
}

#[test]
fn left_out_requests_change_no_alert_and_are_still_counted() {
    let (mut all, mut kept, mut sightings) = (Vec::new(), Vec::new(), Vec::new());
    let mut left_out = 0;
    let dir = tempfile::tempdir().unwrap();
    let generated = crs_access_log(dir.path());
    for (i, input) in discover(&inputs(&generated)).iter().enumerate() {
        let full = parse_file(input, FileId(i as u32), None, 1 << 30);
        let scan = scan_file(
            input,
            FileId(i as u32),
            None,
            1 << 30,
            &(Timestamp::MIN..=Timestamp::MAX),
        );
        assert_eq!(
            (scan.format, scan.records, format!("{:?}", scan.diagnostics)),
            (full.format, full.records, format!("{:?}", full.diagnostics)),
            "{}",
            input.display
        );
        assert_eq!(full.quiet, 0);
        // The kept events are the full parse's, in order, minus the left-out ones, whose times
        // are the rest.
        let mut rest = full.events.iter();
        let mut times = Vec::new();
        for e in &scan.events {
            for skipped in rest.by_ref() {
                if skipped.origin == e.origin {
                    assert_eq!(format!("{skipped:?}"), format!("{e:?}"), "{}", input.display);
                    break;
                }
                times.push(skipped.time);
            }
        }
        times.extend(rest.map(|e| e.time));
        assert_eq!(times.len() as u64, scan.quiet, "{}", input.display);
        left_out += times.len();
        // Within a narrower window, only the left-out events inside it are counted.
        times.sort_unstable();
        if let (Some(&from), Some(&to)) = (times.get(times.len() / 4), times.get(times.len() / 2)) {
            let narrow = scan_file(input, FileId(i as u32), None, 1 << 30, &(from..=to));
            let inside = times.iter().filter(|t| (from..=to).contains(*t)).count();
            assert_eq!(narrow.quiet, inside as u64, "{}", input.display);
            assert_eq!(format!("{:?}", narrow.events), format!("{:?}", scan.events));
        }
        all.extend(full.events);
        kept.extend(scan.events);
        sightings.extend(scan.sightings);
    }
    assert!(
        left_out > 100,
        "the inputs hold ordinary requests ({left_out} left out)"
    );
    let whole = alerts(&all, &[]);
    assert!(whole.len() > 20);
    assert_eq!(alerts(&kept, &sightings), whole);
}
