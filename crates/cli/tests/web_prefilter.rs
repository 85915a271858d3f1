//! A scan leaves out the web requests no detector can act on (`scan_file`, the pre-filter of the
//! nginx/Apache and ELB access logs): on every test input the detectors must decide exactly what
//! they decide on every event, and the left-out requests must still be counted.

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

/// Every CRS 934 SSRF row's target, body and header values, each as `quote` writes it and raw,
/// with statuses each rule reads: `request` gets the request's number, client, text and status.
fn for_each_crs_request(quote: fn(&str) -> String, mut request: impl FnMut(u32, &str, &str, u16)) {
    let corpus = std::fs::read_to_string(shared().join("corpora/crs-ssrf-regression/crs_934_flat.jsonl")).unwrap();
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
                quote(&text),
                text.chars()
                    .filter(|c| !matches!(c, '"' | '\\') && !c.is_control())
                    .collect(),
            ] {
                for status in [200, 403, 502] {
                    n += 1;
                    let client = format!("198.51.{}.{}", n / 250 % 250, n % 250);
                    request(n, &client, &shown, status);
                }
            }
        }
    }
}

/// An access log holding every CRS 934 SSRF row's target, body and header values, as the request
/// target and as the referer, escaped by nginx and raw, with statuses each rule reads, between
/// ordinary requests.
fn crs_access_log(dir: &std::path::Path) -> std::path::PathBuf {
    let mut log = String::new();
    for_each_crs_request(nginx_escape, |n, client, shown, status| {
        let time = format!(
            "14/Sep/2026:{:02}:{:02}:{:02} +0000",
            n / 3600 % 24,
            n / 60 % 60,
            n % 60
        );
        log += &format!("{client} - - [{time}] \"GET {shown} HTTP/1.1\" {status} 1400 \"-\" \"curl/8\" \"-\"\n");
        log += &format!(
            "{client} - - [{time}] \"GET /gallery/{n} HTTP/1.1\" {status} 24423 \"{shown}\" \"Mozilla/5.0\" \"-\"\n"
        );
        log +=
            &format!("10.20.2.39 - - [{time}] \"GET /health HTTP/1.1\" 200 2 \"-\" \"ELB-HealthChecker/2.0\" \"-\"\n");
    });
    let path = dir.join("hosts/i-0123456789abcdef0/var/log/nginx/access.log");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, log).unwrap();
    path
}

/// As ELB writes a quoted field, as far as the parser reads it: a backslash before each `"` and
/// backslash; control characters, which no log line holds raw, dropped.
fn elb_quote(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One ALB line (every field of the 2024 format).
fn alb_line(n: u32, client: &str, status: u16, request: &str, user_agent: &str, domain: &str) -> String {
    let time = format!(
        "2026-09-14T{:02}:{:02}:{:02}.{:06}Z",
        n / 3600 % 24,
        n / 60 % 60,
        n % 60,
        n % 1_000_000
    );
    // A 403 is the load balancer's own (its web ACL blocked): no target was reached.
    let (target, target_status, actions) = match status {
        403 => ("-", "-", "waf"),
        _ => ("10.0.1.17:80", "200", "waf,forward"),
    };
    format!(
        "https {time} app/shop-prod/50dc6c495c0c9188 {client}:51234 {target} 0.001 0.044 0.000 {status} {target_status} 430 1400 \"{request}\" \"{user_agent}\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/shop-web/73e2d6bc24d8a067 \"Root=1-65f9a1b2-0123456789abcdef01234567\" \"{domain}\" \"-\" 0 {time} \"{actions}\" \"-\" \"-\" \"{target}\" \"{target_status}\" \"-\" \"-\" TID_1a2b3c4d5e6f7a8b\n"
    )
}

/// An ALB log holding every CRS 934 SSRF row's target, body and header values, quoted as ELB
/// quotes them and raw, in each field the detectors read of a load balancer's request: the
/// request target (in ELB's absolute URL and as logged), the user agent, and the host (the URL's
/// authority, and `domain_name` for a URL without one); with statuses each rule reads, between
/// ordinary requests and health checks. A pre-filter that forgets any of the three fields, or the
/// left-out lines' sightings, fails the test that reads it.
fn crs_alb_log(dir: &std::path::Path) -> std::path::PathBuf {
    let mut log = String::new();
    for_each_crs_request(elb_quote, |n, client, shown, status| {
        let path = shown.trim_start_matches('/');
        let gallery = format!("/gallery/{n}");
        let ua = "Mozilla/5.0";
        let host = "shop.example";
        log += &alb_line(
            n,
            client,
            status,
            &format!("GET http://{host}:80/{path} HTTP/1.1"),
            ua,
            host,
        );
        log += &alb_line(n, client, status, &format!("GET {shown} HTTP/1.1"), ua, host);
        log += &alb_line(
            n,
            client,
            status,
            &format!("GET https://{host}:443{gallery} HTTP/1.1"),
            shown,
            host,
        );
        log += &alb_line(
            n,
            client,
            status,
            &format!("GET https://:443{gallery} HTTP/1.1"),
            ua,
            shown,
        );
        if !shown.is_empty() && !shown.contains([' ', '/', '?', '#', '\\']) {
            log += &alb_line(
                n,
                client,
                status,
                &format!("GET http://{shown}:80{gallery} HTTP/1.1"),
                ua,
                host,
            );
        }
        log += &alb_line(
            n,
            "10.20.2.39",
            200,
            "GET http://10.0.1.17:80/health HTTP/1.1",
            "ELB-HealthChecker/2.0",
            "-",
        );
    });
    let path = dir.join("AWSLogs/111122223333/elasticloadbalancing/us-east-1/2026/09/14/111122223333_elasticloadbalancing_us-east-1_app.shop-prod.50dc6c495c0c9188_20260914T0000Z_10.0.1.17_crs.log");
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

/// Scans `inputs` with and without the pre-filter: the same records and diagnostics per file,
/// the kept events the full parse's, the left-out ones counted (in a narrower window too), and
/// the same alerts and incidents. Returns how many events were left out, and the decisions.
fn left_out_change_nothing(inputs: &[String]) -> (usize, Vec<String>) {
    let (mut all, mut kept, mut sightings) = (Vec::new(), Vec::new(), Vec::new());
    let mut left_out = 0;
    for (i, input) in discover(inputs).iter().enumerate() {
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
    let whole = alerts(&all, &[]);
    assert_eq!(alerts(&kept, &sightings), whole);
    (left_out, whole)
}

#[test]
fn left_out_requests_change_no_alert_and_are_still_counted() {
    let dir = tempfile::tempdir().unwrap();
    let generated = crs_access_log(dir.path());
    let (left_out, whole) = left_out_change_nothing(&inputs(&generated));
    assert!(
        left_out > 100,
        "the inputs hold ordinary requests ({left_out} left out)"
    );
    assert!(whole.len() > 20);
}

/// The load balancer logs under `AWSLogs/*/elasticloadbalancing` of the 1G benchmark set
/// (`bench/`), when it was generated on this machine.
fn bench_elb_logs() -> Vec<String> {
    let root = std::path::Path::new("/tmp/credtrail-bench-1G/aws/AWSLogs");
    let Ok(accounts) = std::fs::read_dir(root) else {
        eprintln!(
            "skipping the 1G benchmark set's load balancer logs: {} is absent (bench/ generates it)",
            root.display()
        );
        return Vec::new();
    };
    let logs: Vec<String> = accounts
        .map(|a| a.unwrap().path().join("elasticloadbalancing"))
        .filter(|p| p.is_dir())
        .map(|p| p.display().to_string())
        .collect();
    if logs.is_empty() {
        eprintln!(
            "skipping the 1G benchmark set's load balancer logs: no elasticloadbalancing folder under {}",
            root.display()
        );
    }
    logs
}

#[test]
fn left_out_load_balancer_requests_change_no_alert_and_are_still_counted() {
    let dir = tempfile::tempdir().unwrap();
    let generated = crs_alb_log(dir.path());
    // The generated log is read as ELB's, every line a request.
    let parsed = parse_file(
        &discover(&[generated.display().to_string()])[0],
        FileId(0),
        None,
        1 << 30,
    );
    assert_eq!(parsed.format, Some("aws-elb"));
    assert_eq!(
        (parsed.diagnostics.len() as u64, parsed.events.len() as u64),
        (0, parsed.records)
    );
    let (left_out, whole) = left_out_change_nothing(&[generated.display().to_string()]);
    assert!(left_out > 100, "the log holds ordinary requests ({left_out} left out)");
    assert!(whole.len() > 20, "the CRS rows raise alerts ({})", whole.len());
    // Every ELB fixture (Application and Classic, malformed ones included).
    let fixtures = repo().join("testdata/formats/alb").display().to_string();
    let (_, whole) = left_out_change_nothing(&[fixtures]);
    assert!(!whole.is_empty());
    let bench = bench_elb_logs();
    if !bench.is_empty() {
        let (left_out, whole) = left_out_change_nothing(&bench);
        eprintln!(
            "1G benchmark set's load balancer logs: {left_out} requests left out, {} decisions",
            whole.len()
        );
        assert!(left_out > 0 && !whole.is_empty());
    }
}
