//! `may_concern` is a superset of what the canonicaliser recognises in any part of a text: a
//! parser that skips records whose fields fail it (nginx and Apache access logs) loses nothing a
//! detector could find. Checked on the OWASP CRS 934 SSRF corpus (every `uri`, body and header
//! value, and each as a referer beside a request line), on every disguise the canonicaliser
//! undoes, and on random texts built from the pieces those disguises are made of, cut wherever a
//! log parser or a detector cuts (spaces, `?`, `#`, `/`, `@`, `:`, quotes, `=`, `&`, `,`).

#![allow(clippy::unwrap_used)]

use credtrail_event::metadata::{canonical_target, find_targets, may_concern, metadata_path_host};
use proptest::prelude::*;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpora/crs-ssrf-regression/crs_934_flat.jsonl"
);

/// Where parts start and end: text boundaries and both sides of each delimiter. None cuts
/// through a run of digits, as `may_concern` requires.
fn cuts(text: &str) -> Vec<usize> {
    let mut at = vec![0, text.len()];
    for (i, c) in text.char_indices() {
        if matches!(
            c,
            ' ' | '?' | '#' | '/' | '\\' | '@' | ':' | '"' | '=' | '&' | ',' | ';'
        ) {
            at.push(i);
            at.push(i + 1);
        }
    }
    at.sort_unstable();
    at.dedup();
    at
}

/// Every part of `text` (between two cuts) the canonicaliser finds a target in, as a host, a
/// target or free text.
fn flagged_parts(text: &str) -> Vec<&str> {
    let at = cuts(text);
    let mut parts = Vec::new();
    for (n, &i) in at.iter().enumerate() {
        for &j in &at[n + 1..] {
            let part = &text[i..j];
            if !find_targets(part).is_empty() || canonical_target(part, None).is_some() {
                parts.push(part);
            }
        }
    }
    parts
}

fn assert_covered(text: &str) {
    if let Some(part) = flagged_parts(text).first() {
        assert!(
            may_concern(text),
            "{part:?} holds a target but may_concern({text:?}) is false"
        );
    }
}

fn corpus_texts() -> Vec<String> {
    let text = std::fs::read_to_string(CORPUS).expect("CRS corpus (shared/corpora/crs-ssrf-regression)");
    let mut texts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let uri = row["uri"].as_str().unwrap();
        texts.push(format!("{} {uri} HTTP/1.1", row["method"].as_str().unwrap_or("GET")));
        if let Some(data) = row["data"].as_str() {
            texts.push(data.to_owned());
        }
        for value in row["headers"].as_object().unwrap().values() {
            texts.push(value.as_str().unwrap().to_owned());
        }
    }
    texts
}

/// The disguises `canonicaliser_props.rs` and the module's documentation list, as literals.
const DISGUISES: &[&str] = &[
    "http://169.254.169.254/latest/meta-data/",
    "169.254.169.254",
    "http://2852039166/latest/meta-data/iam/security-credentials/",
    "2852039166/latest/api/token",
    "http://0251.0376.0251.0376/",
    "http://0xA9FEA9FE/latest/",
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://169.16689662/latest/",
    "http://169.254.43518/",
    "http://7147006462/latest/",
    "http://[::ffff:169.254.169.254]/latest/",
    "http://[::ffff:a9fe:a9fe]/latest/",
    "http://[64:ff9b::a9fe:a9fe]/latest/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://169.254.169.254.nip.io/latest/",
    "http://169-254-169-254.nip.io/latest/",
    "http://a9fea9fe.rbndr.us/latest/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata/computeMetadata/v1/",
    "http://instance-data/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://100-100-100-200.nip.io/",
    "http://192.0.0.192/latest/",
    "http://169.254.170.2/v2/credentials/x",
    "http://169.254.170.23/v1/credentials",
    "http://localhost:40342/metadata/identity/oauth2/token",
    "http://127.0.0.1:040342/metadata/",
    "http://１６９．２５４．１６９．２５４/latest/",
    "http://169。254。169。254/latest/",
    "http://①⑥⑨.②⑤④.①⑥⑨.②⑤④/latest/",
    "http://169.254.169.254\u{200B}/latest/",
    "http%3A%2F%2F169.254.169.254%2Flatest%2F",
    "http%253A%252F%252F169.254.169.254%252F",
    "http:\\u002f\\u002f169.254.169.254/latest/",
    "http:&#47;&#47;169.254.169.254/latest/",
    "http:&#x2F;&#x2F;169.254.169.254/",
    "http:\\\\169.254.169.254\\latest",
    "http:169.254.169.254/latest/",
    "//169.254.169.254/latest/",
    "http://user@169.254.169.254:80/latest/",
    "http://good.example@169.254.169.254/",
    "CONNECT 169.254.169.254:80",
    "METADATA.GOOGLE.INTERNAL",
    "169.254.169.254.",
];

#[test]
fn every_part_the_crs_corpus_flags_passes_may_concern() {
    let texts = corpus_texts();
    assert!(texts.len() > 300, "the corpus was read");
    let mut flagged = 0;
    for text in &texts {
        flagged += usize::from(!flagged_parts(text).is_empty());
        assert_covered(text);
        // As an access log line holds it: request line, then the value as the referer.
        assert_covered(&format!("GET /index.html HTTP/1.1\" 200 12 \"{text}\" \"curl/8\""));
    }
    assert!(flagged > 40, "the corpus holds targets ({flagged} texts flagged)");
}

#[test]
fn every_disguise_passes_may_concern() {
    for d in DISGUISES {
        assert!(!flagged_parts(d).is_empty(), "{d} is a target");
        assert!(may_concern(d), "{d}");
        assert_covered(&format!("GET /fetch?url={d}&x=1 HTTP/1.1"));
        assert_covered(&format!("POST {d} HTTP/1.1"));
    }
}

#[test]
fn ordinary_requests_fail_may_concern() {
    // What makes the pre-filter worth having: common access-log fields hold none of its marks.
    for text in [
        "GET /health HTTP/1.1",
        "GET /gallery/4820 HTTP/1.1",
        "https://media.northwind.example/",
        "GET /api/v1/orders?page=2&limit=50 HTTP/1.1",
        "POST /login HTTP/2.0",
    ] {
        assert!(!may_concern(text), "{text}");
        assert!(flagged_parts(text).is_empty(), "{text}");
    }
    // Paths the proxy rule reads as the metadata service are its own test, not this one.
    assert!(!may_concern("GET /latest/api/token HTTP/1.1"));
    assert!(metadata_path_host("/latest/api/token").is_some());
}

/// Pieces that disguises are made of, and ordinary text around them.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(DISGUISES).prop_map(str::to_owned),
        prop::sample::select(vec![
            "169",
            "254",
            "16689662",
            "43518",
            "2852039166",
            "7147006462",
            "0251",
            "0376",
            "0xA9",
            "0x",
            "a9fe",
            "A9FE",
            "fd00",
            "c000",
            "6464",
            "100",
            "200",
            "192",
            "0",
            "40342",
            "040342",
            "127",
            "1",
            ".",
            "-",
            ":",
            "/",
            "?",
            "#",
            "@",
            "[",
            "]",
            "%",
            "%2e",
            "%3A",
            "%25",
            "&",
            "&#",
            "&#46;",
            ";",
            "\\",
            "\\u002e",
            "meta",
            "data",
            "metadata",
            "instance-",
            "nip.io",
            "http://",
            "latest",
            " ",
            "=",
            "１",
            "．",
            "。",
            "①",
            "\u{200B}",
            "x",
            "abc",
            "GET ",
            " HTTP/1.1",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9./:?&=%-]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_part_that_holds_a_target_is_seen_by_may_concern(pieces in prop::collection::vec(piece(), 1..8)) {
        let text: String = pieces.concat();
        if let Some(part) = flagged_parts(&text).first() {
            prop_assert!(may_concern(&text), "{:?} holds a target but may_concern({:?}) is false", part, text);
        }
    }
}
