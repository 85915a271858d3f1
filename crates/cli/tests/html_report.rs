//! `--format html` (issue #5 item 7): one self-contained page that escapes every log-derived
//! value. The fixture `testdata/hostile/` is a CloudTrail file and an nginx log whose role,
//! principal, user agents, URIs, S3 key and IAM user names carry script, HTML, attribute-breaking,
//! Markdown-link and formula payloads; every one of them reaches an alert or an incident.
//! The records keep the vendors' layouts: CloudTrail's `{"Records":[…]}` with `userIdentity`,
//! `sessionContext.ec2RoleDelivery`, `requestParameters` and `additionalEventData`
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>),
//! and nginx's `main` format, combined plus `"$http_x_forwarded_for"`, with `"` written as `\x22`
//! as nginx escapes it (<https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format>); its
//! last line is no log record at all and is counted as a diagnostic.
//!
//! The page is checked as text here, and loaded in headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`): no script runs, no element or attribute comes from a payload, the
//! payloads show as text, and a screenshot is taken. Without `chromium` the browser test skips
//! with a message, unless `CREDTRAIL_REQUIRE_BROWSER=1` (CI) makes its absence a failure.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::repo;

/// Payloads as they are in the fixture's logs; each must show on the page as text.
const PAYLOADS: [&str; 9] = [
    "<script>document.title='PWNED'</script>",
    "<img src=x onerror=document.body.setAttribute('data-pwned','img')>",
    r#""><svg onload=document.body.setAttribute("data-pwned","svg")>"#,
    "<img/src=x/onerror=alert(1)>",
    "[click](javascript:alert(1))",
    r#"=HYPERLINK("http://evil.example","x")"#,
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
];

fn hostile() -> PathBuf {
    repo().join("testdata/hostile")
}

/// Runs `credtrail scan --format html` over `paths` and returns the page.
fn html_of(paths: &[PathBuf], threads: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let status = Command::new(env!("CARGO_BIN_EXE_credtrail"))
        .current_dir(dir.path())
        .args([
            "scan",
            "--no-progress",
            "--format",
            "html",
            "--threads",
            &threads.to_string(),
        ])
        // Relative: the page names it, and must be the same for every run.
        .args(["--quarantine", "quarantine.jsonl"])
        .arg("-o")
        .arg(&out)
        .args(paths)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "alerts found");
    std::fs::read_to_string(out).unwrap()
}

/// How a text node holding `payload` reads in HTML source, with every markup character an
/// entity (what `report::html::escape` writes).
fn escaped(payload: &str) -> String {
    payload
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Every tag of a page (`<` to `>`, which holds since text and attribute values escape both)
/// with its lower-cased name and its attributes as `(name, value)`.
fn tags(page: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for raw in page.split('<').skip(1) {
        let tag = raw.split('>').next().unwrap_or("");
        if tag.starts_with('!') || tag.starts_with('/') {
            continue;
        }
        let mut rest = tag.trim_end_matches('/');
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        let mut attributes = Vec::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
            let attribute = rest[..end].to_ascii_lowercase();
            rest = &rest[end..];
            let mut value = String::new();
            if let Some(after) = rest.strip_prefix('=') {
                if let Some(quoted) = after.strip_prefix('"') {
                    let close = quoted.find('"').unwrap_or(quoted.len());
                    value = quoted[..close].to_string();
                    rest = quoted.get(close + 1..).unwrap_or("");
                } else {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    value = after[..close].to_string();
                    rest = &after[close..];
                }
            }
            attributes.push((attribute, value));
        }
        out.push((name, attributes));
    }
    out
}

#[test]
fn the_page_is_self_contained_and_every_payload_is_escaped_text() {
    let page = html_of(&[hostile()], 1);
    let lower = page.to_ascii_lowercase();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..80.min(page.len())]);
    assert_eq!(
        page.matches(r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">"#).count(),
        1,
        "one CSP that forbids every fetch"
    );
    // Every markup character of a log value is an entity, so every `<` opens one of our tags:
    // none of them may load or run anything.
    for (name, attributes) in tags(&page) {
        assert!(
            !["script", "link", "iframe", "object", "embed", "img", "base", "form"].contains(&name.as_str()),
            "<{name}> in the page"
        );
        for (attribute, value) in attributes {
            assert!(
                !attribute.starts_with("on") && attribute != "src",
                "<{name} {attribute}={value:?}>"
            );
            if attribute == "href" {
                assert!(value.starts_with('#'), "only links within the page: {value:?}");
            }
        }
    }
    for forbidden in ["@import", "url("] {
        assert!(!lower.contains(forbidden), "{forbidden:?} in the page");
    }
    // Every payload is on the page, escaped; none of them is there raw.
    for payload in PAYLOADS {
        assert!(page.contains(&escaped(payload)), "payload not shown as text: {payload}");
        assert!(
            !page.contains(payload) || !payload.contains(['<', '>', '"', '\'']),
            "raw payload: {payload}"
        );
    }
    // Incidents before alerts; both charts drawn; the diagnostic counted by reason.
    let incidents = page.find(r#"<section id="incidents">"#).unwrap();
    let alerts = page.find(r#"<section id="alerts">"#).unwrap();
    assert!(page.find(r#"<section id="summary">"#).unwrap() < incidents && incidents < alerts);
    assert!(page.contains(r#"aria-label="incident timeline""#));
    assert!(page.contains(r#"aria-label="metadata access volume per source""#));
    assert!(
        page.contains("escalate_t2") && page.contains("<td><code>missing_field</code></td>"),
        "decision and diagnostics"
    );
    // The containment commands are preformatted, the hostile role shell-quoted inside them.
    assert!(
        page.contains(
            "<pre><code>aws iam put-role-policy --role-name &#39;&lt;script&gt;document.title=&#39;\\&#39;&#39;PWNED"
        ),
        "containment command"
    );
}

#[test]
fn the_page_does_not_depend_on_threads_or_argument_order() {
    let ct = hostile().join("cloudtrail.json");
    let hosts = hostile().join("hosts");
    let one = html_of(&[ct.clone(), hosts.clone()], 1);
    let other = html_of(&[hosts, ct], 4);
    assert!(one == other, "the page differs with --threads 4 and the paths reversed");
}

/// `chromium`, or why the browser test cannot run.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").map(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    });
    match found.flatten() {
        Some(path) => Some(path),
        None if std::env::var("CREDTRAIL_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("CREDTRAIL_REQUIRE_BROWSER=1 but `chromium` is not on PATH (apt-get install -y chromium)")
        }
        None => {
            eprintln!("SKIPPED html_report browser test: `chromium` is not installed (apt-get install -y chromium; CI sets CREDTRAIL_REQUIRE_BROWSER=1)");
            None
        }
    }
}

/// Runs headless Chromium on `page` with `extra` arguments and returns its standard output.
/// Everything that could reach the network is off; a browser that hangs is killed.
fn run_chromium(browser: &Path, page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let stdout = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(stdout.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium failed: {status}");
    std::fs::read_to_string(stdout.path()).unwrap()
}

/// What a script could have changed, and what an escaping failure would have left, in a DOM
/// as Chromium serialises it after loading the page.
fn assert_inert(dom: &str, what: &str) {
    assert!(
        dom.contains("<title>credtrail report</title>"),
        "{what}: document.title changed"
    );
    for (name, attributes) in tags(dom) {
        assert!(
            !["script", "img", "iframe", "object", "embed", "a"].contains(&name.as_str())
                || (name == "a" && attributes.iter().all(|(k, v)| k != "href" || v.starts_with('#'))),
            "{what}: an element <{name} {attributes:?}> a payload made"
        );
        for (attribute, value) in attributes {
            assert!(
                !attribute.starts_with("on") && !attribute.starts_with("data-") && attribute != "src",
                "{what}: <{name} {attribute}={value:?}> a payload made or a script set"
            );
        }
    }
    let lower = dom.to_ascii_lowercase();
    // <svg> exists only as the two kinds of chart: one per incident plus the volume chart.
    let svgs = lower.matches("<svg").count();
    let charts = dom.matches(r#"aria-label="incident timeline""#).count()
        + dom.matches(r#"aria-label="metadata access volume per source""#).count();
    assert_eq!(svgs, charts, "{what}: an <svg> that is not a chart");
    // The payloads are text nodes (the serialiser escapes <, > and & in text, not quotes).
    for payload in PAYLOADS {
        let text = payload.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(dom.contains(&text), "{what}: payload not shown as text: {payload}");
    }
}

#[test]
fn in_headless_chromium_no_script_runs_and_the_payloads_show_as_text() {
    let Some(browser) = chromium() else { return };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let page = html_of(&[hostile()], 2);
    let report = dir.join("report.html");
    std::fs::write(&report, &page).unwrap();

    // The harness sees a script that runs: a page that sets document.title does change it.
    let control = dir.join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><title>credtrail report</title><script>document.title='PWNED'</script>",
    )
    .unwrap();
    let dom = run_chromium(&browser, &control, &["--dump-dom".into()]);
    assert!(
        dom.contains("<title>PWNED</title>"),
        "control page: script did not run:\n{dom}"
    );

    let dom = run_chromium(&browser, &report, &["--dump-dom".into()]);
    assert_inert(&dom, "report");

    // The escaping holds on its own: the same page without its Content-Security-Policy.
    let csp = r#"<meta http-equiv="Content-Security-Policy""#;
    assert_eq!(page.matches(csp).count(), 1);
    let open = dir.join("report-without-csp.html");
    std::fs::write(&open, page.replace(csp, r#"<meta name="removed-csp""#)).unwrap();
    let dom = run_chromium(&browser, &open, &["--dump-dom".into()]);
    assert_inert(&dom, "report without CSP");

    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        &browser,
        &report,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".into(),
        ],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000));
    assert!(
        bytes.len() > 50_000,
        "a page with content, not a blank: {} bytes",
        bytes.len()
    );
    eprintln!("screenshot: {}", png.display());
}
