//! The OWASP CRS 934 SSRF regression rows (rules 934110, 934120, 934190: see
//! `../shared/corpora/crs-ssrf-regression/PROVENANCE.md`) written as the log records each supported
//! web format would hold for the request, scanned by the real binary in one run.
//!
//! Every row becomes one record per layout below, with its own outside client (evidence maps back
//! to rows by `(source, index)` and the alert's `source_ip` must be the row's client). A payload
//! in the request target is carried by every layout, escaped as the writer of that log escapes
//! it; a payload in a cookie or a body is carried only where the log keeps cookies or bodies,
//! and the rows that are not carried somewhere are listed in [`NOT_CARRIED`] (the request is still
//! logged, without the payload, and must raise nothing).
//!
//! What must be found is the review of `crates/event/tests/crs_corpus.rs` (CRS's `match` means
//! "the CRS rule fires", not "metadata access"): the `match` rows that target a metadata endpoint
//! raise `ssrf-metadata-request` in every layout that carries them; the `match` rows that target
//! something else (loopback, Docker, Kubernetes, other hosts) raise nothing; each `no_match` row
//! raises an alert exactly where `find_targets` reports it. Differences between that and what
//! the binary does are [`KNOWN_GAPS`], each with its reason; a gap that closes fails the test so
//! that the list stays honest.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde_json::{json, Value};
use support::{evidence, repo, scan, shared};

const SSRF: &str = "ssrf-metadata-request";
const PROXY: &str = "metadata-proxy-abuse";

/// `match` rows that do not target a cloud metadata endpoint: (rule, test). Copied from
/// `MATCH_NOT_METADATA` in `crates/event/tests/crs_corpus.rs`, where each has its reason (the
/// test crate's tables are not exposed); `tables_agree_with_crs_corpus_rs` keeps the two equal.
const MATCH_NOT_METADATA: &[(&str, u64)] = &[
    ("934110", 9),
    ("934120", 20),
    ("934120", 23),
    ("934120", 25),
    ("934120", 26),
    ("934120", 27),
    ("934120", 28),
    ("934120", 29),
    ("934120", 30),
    ("934120", 31),
    ("934120", 32),
    ("934120", 33),
    ("934120", 34),
    ("934120", 37),
    ("934120", 38),
    ("934120", 40),
    ("934120", 41),
    ("934120", 42),
    ("934120", 50),
    ("934190", 1),
    ("934190", 2),
    ("934190", 3),
    ("934190", 4),
    ("934190", 5),
    ("934190", 6),
    ("934190", 7),
    ("934190", 8),
    ("934190", 9),
    ("934190", 10),
    ("934190", 11),
    ("934190", 12),
    ("934190", 13),
    ("934190", 14),
    ("934190", 15),
    ("934190", 16),
    ("934190", 17),
    ("934190", 21),
];

/// Every `no_match` row: (rule, test, is metadata access, reported by `find_targets`). Copied from
/// `NO_MATCH_REVIEW` in `crates/event/tests/crs_corpus.rs` (reasons there). A row is expected to
/// raise an alert exactly when `find_targets` reports it: 934120 test 14
/// (`0x41414141A9FEA9FE` alone) is metadata access that was deliberately left unreported.
const NO_MATCH_REVIEW: &[(&str, u64, bool, bool)] = &[
    ("934110", 6, true, true),
    ("934110", 7, true, true),
    ("934110", 8, true, true),
    ("934120", 12, true, true),
    ("934120", 13, true, true),
    ("934120", 14, true, false),
    ("934120", 15, true, true),
    ("934120", 16, true, true),
    ("934120", 17, true, true),
    ("934120", 18, true, true),
    ("934120", 19, true, true),
    ("934120", 51, false, false),
    ("934120", 52, false, false),
    ("934190", 18, false, false),
    ("934190", 19, false, false),
    ("934190", 20, false, false),
];

/// Where a row's payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    /// The request target (path and query): every layout logs it.
    Target,
    Cookie,
    Body,
}

/// Rows whose payload is not in the request target, and the layouts that do not log where it is
/// (each layout's reason is [`Layout::misses`]): (rule, test, stage, place, layouts, payload
/// excerpt). The request is still logged in those layouts, without the payload, and must raise
/// nothing. No layout logs request bodies, so a body payload is carried nowhere: AWS WAF inspects
/// bodies but does not log them, and a Suricata `http` event has no body (only alerts do, with
/// `http-body-printable`, which credtrail does not read). Three of these rows are not metadata
/// anyway (934190 15, 16, 21).
const NOT_CARRIED: &[NotCarried] = &[
    (
        "934110",
        10,
        0,
        Place::Body,
        &Layout::ALL,
        r#"probe="http://169.254.169.254/computeMetadata/v1/""#,
    ),
    ("934120", 43, 0, Place::Cookie, &NO_COOKIES, "ssrf=http://2852039166/"),
    ("934120", 43, 1, Place::Cookie, &NO_COOKIES, "http://2852039166/"),
    (
        "934120",
        43,
        2,
        Place::Body,
        &Layout::ALL,
        r#"filename="http://2852039166/?.txt""#,
    ),
    (
        "934120",
        43,
        5,
        Place::Body,
        &Layout::ALL,
        "<ssrf>http://2852039166/</ssrf>",
    ),
    (
        "934120",
        53,
        0,
        Place::Body,
        &Layout::ALL,
        r#"probe="http://2852039166/""#,
    ),
    ("934190", 15, 0, Place::Body, &Layout::ALL, "url=localhost%2F"),
    (
        "934190",
        16,
        0,
        Place::Cookie,
        &NO_COOKIES,
        "redirect=host.docker.internal/",
    ),
    ("934190", 21, 0, Place::Body, &Layout::ALL, r#"probe="localhost/""#),
];

/// (rule, test, stage, place, layouts that do not log it, payload excerpt).
type NotCarried = (&'static str, u64, u64, Place, &'static [Layout], &'static str);

/// The layouts that do not log the `Cookie` header.
const NO_COOKIES: [Layout; 4] = [Layout::Alb, Layout::NginxCombined, Layout::NginxMain, Layout::Zeek];

/// (rule, test, stage, layout, what happens): records where the binary does not do what the
/// review expects. Empty: every layout carries every target payload and every verdict holds. Add
/// an entry (with the file and the reason) rather than weakening an assertion; an entry that
/// starts passing fails the test.
const KNOWN_GAPS: &[(&str, u64, u64, Layout, &str)] = &[];

/// One log layout of a supported format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layout {
    /// AWS WAF web ACL log (JSON lines), attached to the ALB; every header logged.
    Waf,
    /// Application Load Balancer access log.
    Alb,
    /// CloudFront standard log (legacy, 33 fields, cookie logging on).
    CloudFront,
    /// nginx `combined`, the server facing clients.
    NginxCombined,
    /// nginx `main` (combined + `"$http_x_forwarded_for"`) behind the ALB.
    NginxMain,
    /// Zeek `http.log` (TSV) on the ALB → instance leg (TLS ends at the ALB).
    Zeek,
    /// Suricata `eve.json` `http` events, `dump-all-headers: request`, XFF `extra-data`, on the
    /// ALB → instance leg.
    Suricata,
}

impl Layout {
    const ALL: [Layout; 7] = [
        Layout::Waf,
        Layout::Alb,
        Layout::CloudFront,
        Layout::NginxCombined,
        Layout::NginxMain,
        Layout::Zeek,
        Layout::Suricata,
    ];

    fn name(self) -> &'static str {
        match self {
            Layout::Waf => "aws-waf",
            Layout::Alb => "aws-elb (ALB)",
            Layout::CloudFront => "aws-cloudfront (legacy)",
            Layout::NginxCombined => "web-access (nginx combined)",
            Layout::NginxMain => "web-access (nginx main, behind the ALB)",
            Layout::Zeek => "zeek-http (TSV)",
            Layout::Suricata => "suricata-eve (http)",
        }
    }

    /// The format `credtrail` must sniff the file as.
    fn format(self) -> &'static str {
        match self {
            Layout::Waf => "aws-waf",
            Layout::Alb => "aws-elb",
            Layout::CloudFront => "aws-cloudfront",
            Layout::NginxCombined | Layout::NginxMain => "web-access",
            Layout::Zeek => "zeek-http",
            Layout::Suricata => "suricata-eve",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Layout::Waf => "aws-waf-logs-shop.log",
            Layout::Alb => "111122223333_elasticloadbalancing_us-east-1_app.shop-prod.50dc6c495c0c9188_20240320T1000Z_10.0.0.23_crs.log",
            Layout::CloudFront => "E2EXAMPLE1CRS.2024-03-20-10.crs.log",
            Layout::NginxCombined => "edge-access.log",
            Layout::NginxMain => "app-access.log",
            Layout::Zeek => "http.log",
            Layout::Suricata => "eve.json",
        }
    }

    /// Why this layout does not log a place, or `None` when it does.
    fn misses(self, place: Place) -> Option<&'static str> {
        match (self, place) {
            (_, Place::Target) => None,
            (Layout::Waf | Layout::CloudFront | Layout::Suricata, Place::Cookie) => None,
            (Layout::Alb, Place::Cookie) => {
                Some("ALB access logs keep the request line and user agent, no other header")
            }
            (Layout::NginxCombined | Layout::NginxMain, Place::Cookie) => {
                Some("nginx combined/main log the referer, user agent and X-Forwarded-For, not $http_cookie")
            }
            (Layout::Zeek, Place::Cookie) => Some("Zeek http.log has no cookie field"),
            (Layout::Waf, Place::Body) => Some("AWS WAF inspects bodies but does not log them"),
            (Layout::Suricata, Place::Body) => Some("Suricata http events carry no request body"),
            (_, Place::Body) => Some("access logs and http.log do not hold request bodies"),
        }
    }

    fn header(self) -> &'static str {
        match self {
            Layout::CloudFront => concat!(
                "#Version: 1.0\n",
                "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status ",
                "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id ",
                "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher ",
                "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port ",
                "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start ",
                "sc-range-end\n",
            ),
            Layout::Zeek => concat!(
                "#separator \\x09\n",
                "#set_separator\t,\n",
                "#empty_field\t(empty)\n",
                "#unset_field\t-\n",
                "#path\thttp\n",
                "#open\t2024-03-20-10-00-00\n",
                "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\turi\t",
                "referrer\tversion\tuser_agent\torigin\trequest_body_len\tresponse_body_len\tstatus_code\t",
                "status_msg\tinfo_code\tinfo_msg\ttags\tusername\tpassword\tproxied\torig_fuids\t",
                "orig_filenames\torig_mime_types\tresp_fuids\tresp_filenames\tresp_mime_types\n",
                "#types\ttime\tstring\taddr\tport\taddr\tport\tcount\tstring\tstring\tstring\tstring\tstring\t",
                "string\tstring\tcount\tcount\tcount\tstring\tcount\tstring\tset[enum]\tstring\tstring\t",
                "set[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\tvector[string]\t",
                "vector[string]\n",
            ),
            _ => "",
        }
    }

    fn footer(self) -> &'static str {
        match self {
            Layout::Zeek => "#close\t2024-03-20-11-00-00\n",
            _ => "",
        }
    }

    /// The log record of `row`, the `i`-th request, with its newline.
    fn record(self, row: &Row, i: usize) -> String {
        let r = Request::new(i);
        match self {
            Layout::Waf => waf(row, &r),
            Layout::Alb => alb(row, &r),
            Layout::CloudFront => cloudfront(row, &r),
            Layout::NginxCombined => nginx(row, &r, false),
            Layout::NginxMain => nginx(row, &r, true),
            Layout::Zeek => zeek(row, &r),
            Layout::Suricata => suricata(row, &r),
        }
    }
}

/// The site's own name, in place of CRS's `Host: localhost` (the payload is never in `Host`).
const SITE: &str = "shop.example.com";
/// The instance behind the ALB.
const TARGET: &str = "10.0.1.17";
/// 2024-03-20T10:00:00Z.
const BASE_EPOCH: u64 = 1_710_928_800;

struct Row {
    rule_id: String,
    test_id: u64,
    stage: u64,
    desc: String,
    expected: String,
    method: String,
    uri: String,
    data: Option<String>,
    headers: Vec<(String, String)>,
}

impl Row {
    fn key(&self) -> (&str, u64, u64) {
        (&self.rule_id, self.test_id, self.stage)
    }

    fn id(&self) -> String {
        format!(
            "{} test {} stage {} ({})",
            self.rule_id, self.test_id, self.stage, self.desc
        )
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn place(&self) -> Place {
        if self.uri.contains('?') {
            Place::Target
        } else if self.header("Cookie").is_some() {
            Place::Cookie
        } else {
            assert!(self.data.is_some(), "{}: no payload anywhere", self.id());
            Place::Body
        }
    }

    /// Path and query (without `?`), as sent.
    fn path_query(&self) -> (&str, Option<&str>) {
        match self.uri.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (&self.uri, None),
        }
    }

    fn user_agent(&self) -> &str {
        self.header("User-Agent").unwrap_or("Go-http-client/1.1")
    }

    /// The headers as the application sees them: the site's `Host`, `Content-Length` for a body.
    fn sent_headers(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let v = if n.eq_ignore_ascii_case("Host") {
                    SITE
                } else {
                    v.as_str()
                };
                (n.clone(), v.to_string())
            })
            .collect();
        if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case("Host")) {
            out.insert(0, ("Host".into(), SITE.into()));
        }
        if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case("User-Agent")) {
            out.push(("User-Agent".into(), self.user_agent().into()));
        }
        if let Some(data) = &self.data {
            out.push(("Content-Length".into(), data.len().to_string()));
        }
        out
    }
}

fn rows() -> Vec<Row> {
    let path = shared().join("corpora/crs-ssrf-regression/crs_934_flat.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            Row {
                rule_id: s("rule_id"),
                test_id: v["test_id"].as_u64().unwrap(),
                stage: v["stage"].as_u64().unwrap(),
                desc: s("desc"),
                expected: s("expected"),
                method: s("method"),
                uri: s("uri"),
                data: v["data"].as_str().map(str::to_string),
                headers: v["headers"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect(),
            }
        })
        .collect()
}

/// What the request of the `i`-th row looked like on the wire and to the server.
struct Request {
    client: Ipv4Addr,
    port: u16,
    /// The ALB node that forwarded it to the instance (for the layouts behind the ALB).
    alb_node: Ipv4Addr,
    /// Seconds since the epoch, and microseconds.
    secs: u64,
    micros: u64,
    status: u16,
    bytes: u64,
    i: usize,
}

impl Request {
    fn new(i: usize) -> Request {
        let n = u8::try_from(i + 10).expect("fewer than 246 rows");
        // A 4xx for every third request: outcomes must not change whether a request is reported.
        let status = if i % 3 == 2 { 404 } else { 200 };
        Request {
            client: Ipv4Addr::new(203, 0, 113, n),
            port: 40_000 + i as u16 * 7,
            alb_node: Ipv4Addr::new(10, 0, 0, 23 + (i % 2) as u8 * 18),
            secs: BASE_EPOCH + i as u64 * 7,
            micros: (i as u64 * 104_729) % 1_000_000,
            status,
            bytes: if status == 200 { 1432 } else { 162 },
            i,
        }
    }

    fn millis(&self) -> u64 {
        self.secs * 1000 + self.micros / 1000
    }

    /// (hh, mm, ss) of the day, UTC (every request is on 2024-03-20).
    fn clock(&self) -> (u64, u64, u64) {
        let day = self.secs % 86_400;
        (day / 3600, day % 3600 / 60, day % 60)
    }

    fn rfc3339_micros(&self) -> String {
        let (h, m, s) = self.clock();
        format!("2024-03-20T{h:02}:{m:02}:{s:02}.{:06}Z", self.micros)
    }

    fn status_text(&self) -> &'static str {
        if self.status == 200 {
            "OK"
        } else {
            "Not Found"
        }
    }

    fn trace_id(&self) -> String {
        format!("Root=1-{:08x}-{:024x}", self.secs, 0xc0ffee_u64 * (self.i as u64 + 1))
    }
}

// ---------------------------------------------------------------------------------------------
// Writers, each escaping as the real one does.

/// AWS WAF: JSON (serde escaping); `uri` and `args` (the query without `?`) separate, every
/// header logged. The web ACL's default action allowed the request, so no rule is named and no
/// status is logged (WAF fills `responseCodeSent` only for custom responses).
fn waf(row: &Row, r: &Request) -> String {
    let (path, query) = row.path_query();
    let headers: Vec<Value> = row
        .sent_headers()
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let record = json!({
        "timestamp": r.millis(),
        "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/shop-acl/6c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6",
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": "ALLOW",
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": "111122223333-app/shop-prod/50dc6c495c0c9188",
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "requestHeadersInserted": null,
        "responseCodeSent": null,
        "httpRequest": {
            "clientIp": r.client.to_string(),
            "country": "NL",
            "headers": headers,
            "uri": path,
            "args": query.unwrap_or(""),
            "httpVersion": "HTTP/1.1",
            "httpMethod": row.method,
            "requestId": format!("1-{:08x}-{:024x}", r.secs, 0xbeef_u64 * (r.i as u64 + 1)),
        },
    });
    format!("{record}\n")
}

/// A quoted ALB field: `"` and `\` backslash-escaped (the rule `formats/alb.rs` reads; other
/// bytes, UTF-8 included, as received).
fn alb_quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// ALB: the request field is `METHOD https://host:443/path?query HTTP/1.1` (ELB rebuilds the
/// absolute URL from the listener and the `Host` header), the client is the peer.
fn alb(row: &Row, r: &Request) -> String {
    let time = r.rfc3339_micros();
    let received = row.uri.len() + 180 + row.data.as_ref().map_or(0, String::len);
    format!(
        "https {time} app/shop-prod/50dc6c495c0c9188 {client}:{port} {TARGET}:80 0.001 0.012 0.000 {status} {status} \
         {received} {sent} \"{method} https://{SITE}:443{uri} HTTP/1.1\" \"{ua}\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 \
         arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/shop-web/73e2d6bc24d8a067 \"{trace}\" \
         \"{SITE}\" \"arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012\" 0 {time} \
         \"forward\" \"-\" \"-\" \"{TARGET}:80\" \"{status}\" \"-\" \"-\" TID_{tid:016x}\n",
        client = r.client,
        port = r.port,
        status = r.status,
        sent = r.bytes + 240,
        method = row.method,
        uri = alb_quoted(&row.uri),
        ua = alb_quoted(row.user_agent()),
        trace = r.trace_id(),
        tid = 0x1a2b_3c4d_u64 * (r.i as u64 + 1),
    )
}

/// CloudFront percent-encodes what it logs in `cs-uri-stem`, `cs-uri-query` and header fields
/// (the user agent's spaces are `%20`). Modelled here as: bytes outside printable ASCII, space and
/// RFC 1738's unsafe characters, `%` included, so a client's `%2F` is logged `%252F` (the harder
/// case for the reader; the test also passes with `%` and brackets left as sent). A tab cannot
/// reach the TSV unencoded.
fn cloudfront_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b <= b' ' || b >= 0x7f || b"\"#%<>[\\]^`{|}".contains(&b) {
            write!(out, "%{b:02X}").unwrap();
        } else {
            out.push(b as char);
        }
    }
    out
}

/// CloudFront legacy standard log, cookie logging on; `-` for an empty value.
fn cloudfront(row: &Row, r: &Request) -> String {
    let (path, query) = row.path_query();
    let dash = |v: Option<&str>| v.filter(|v| !v.is_empty()).map_or("-".to_string(), cloudfront_encoded);
    let (h, m, s) = r.clock();
    let result = if r.status == 200 { "Miss" } else { "Error" };
    let fields = [
        "2024-03-20".to_string(),
        format!("{h:02}:{m:02}:{s:02}"),
        "AMS1-C1".into(),
        (r.bytes + 310).to_string(),
        r.client.to_string(),
        row.method.clone(),
        "d111111abcdef8.cloudfront.net".into(),
        cloudfront_encoded(path),
        r.status.to_string(),
        "-".into(),
        cloudfront_encoded(row.user_agent()),
        dash(query),
        dash(row.header("Cookie")),
        result.into(),
        format!("CRS{:050}==", r.i),
        SITE.into(),
        "https".into(),
        (row.uri.len() + 180).to_string(),
        "0.012".into(),
        "-".into(),
        "TLSv1.3".into(),
        "TLS_AES_128_GCM_SHA256".into(),
        result.into(),
        "HTTP/1.1".into(),
        "-".into(),
        "-".into(),
        r.port.to_string(),
        "0.011".into(),
        result.into(),
        "text/html".into(),
        r.bytes.to_string(),
        "-".into(),
        "-".into(),
    ];
    format!("{}\n", fields.join("\t"))
}

/// nginx escapes `"`, `\` and bytes outside printable ASCII in a logged variable as `\xHH`.
fn nginx_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            write!(out, "\\x{b:02X}").unwrap();
        } else {
            out.push(b as char);
        }
    }
    out
}

/// nginx `combined` facing clients, or `main` on the instance behind the ALB (the peer is an ALB
/// node, the client is in `X-Forwarded-For`).
fn nginx(row: &Row, r: &Request, main: bool) -> String {
    let (h, m, s) = r.clock();
    let remote = if main { r.alb_node } else { r.client };
    let mut line = format!(
        "{remote} - - [20/Mar/2024:{h:02}:{m:02}:{s:02} +0000] \"{} {} HTTP/1.1\" {} {} \"-\" \"{}\"",
        row.method,
        nginx_escaped(&row.uri),
        r.status,
        r.bytes,
        nginx_escaped(row.user_agent()),
    );
    if main {
        write!(line, " \"{}\"", r.client).unwrap();
    }
    line.push('\n');
    line
}

/// Zeek's ASCII writer: `\` doubled, bytes outside printable ASCII (the separator among them)
/// as `\xhh` (`LogAscii::enable_utf_8` off; the test also passes with UTF-8 kept raw); an empty
/// string is `(empty)`.
fn zeek_escaped(s: &str) -> String {
    if s.is_empty() {
        return "(empty)".into();
    }
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => write!(out, "\\x{b:02x}").unwrap(),
        }
    }
    out
}

/// Zeek http.log on the ALB → instance leg: `uri` as sent, the client in `proxied`.
fn zeek(row: &Row, r: &Request) -> String {
    let body = row.data.as_ref().map_or(0, String::len);
    let (orig_fuids, orig_mime) = match (&row.data, row.header("Content-Type")) {
        (Some(_), Some(ct)) => (
            format!("Fcrs{:014}", r.i),
            ct.split(';').next().unwrap_or(ct).to_string(),
        ),
        (Some(_), None) => (format!("Fcrs{:014}", r.i), "text/plain".into()),
        _ => ("-".into(), "-".into()),
    };
    let fields = [
        format!("{}.{:06}", r.secs, r.micros),
        format!("Ccrs{:014}", r.i),
        r.alb_node.to_string(),
        r.port.to_string(),
        TARGET.into(),
        "80".into(),
        "1".into(),
        row.method.clone(),
        SITE.into(),
        zeek_escaped(&row.uri),
        "-".into(),
        "1.1".into(),
        zeek_escaped(row.user_agent()),
        "-".into(),
        body.to_string(),
        r.bytes.to_string(),
        r.status.to_string(),
        r.status_text().into(),
        "-".into(),
        "-".into(),
        "(empty)".into(),
        "-".into(),
        "-".into(),
        format!("X-FORWARDED-FOR -> {}", r.client),
        orig_fuids,
        "-".into(),
        orig_mime,
        format!("Frsp{:014}", r.i),
        "-".into(),
        "text/html".into(),
    ];
    format!("{}\n", fields.join("\t"))
}

/// Suricata `http` event on the ALB → instance leg (JSON escaping): `url` as sent, every request
/// header (`dump-all-headers: request`) with those the ALB adds, the client in `xff`.
fn suricata(row: &Row, r: &Request) -> String {
    let mut headers: Vec<Value> = row
        .sent_headers()
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    for (name, value) in [
        ("X-Forwarded-For", r.client.to_string()),
        ("X-Forwarded-Proto", "https".to_string()),
        ("X-Forwarded-Port", "443".to_string()),
        ("X-Amzn-Trace-Id", r.trace_id()),
    ] {
        headers.push(json!({"name": name, "value": value}));
    }
    let (h, m, s) = r.clock();
    let record = json!({
        "timestamp": format!("2024-03-20T{h:02}:{m:02}:{s:02}.{:06}+0000", r.micros),
        "flow_id": 1_234_567_000_000_u64 + r.i as u64,
        "in_iface": "ens5",
        "event_type": "http",
        "src_ip": r.alb_node.to_string(),
        "src_port": r.port,
        "dest_ip": TARGET,
        "dest_port": 80,
        "proto": "TCP",
        "tx_id": 0,
        "host": "sensor-use1-a",
        "http": {
            "hostname": SITE,
            "url": row.uri,
            "http_user_agent": row.user_agent(),
            "xff": r.client.to_string(),
            "http_content_type": "text/html",
            "http_method": row.method,
            "protocol": "HTTP/1.1",
            "status": r.status,
            "length": r.bytes,
            "request_headers": headers,
            "response_headers": [{"name": "Content-Type", "value": "text/html"}],
        },
    });
    format!("{record}\n")
}

// ---------------------------------------------------------------------------------------------

/// Whether the review expects `row` reported where its payload is carried, and why.
fn verdict(row: &Row) -> (bool, &'static str) {
    let key = (row.rule_id.as_str(), row.test_id);
    if row.expected == "match" {
        if MATCH_NOT_METADATA.contains(&key) {
            (false, "match row reviewed as not metadata")
        } else {
            (true, "match row that targets a metadata endpoint")
        }
    } else {
        let Some(&(_, _, metadata, found)) = NO_MATCH_REVIEW.iter().find(|r| (r.0, r.1) == key) else {
            panic!("{} is a no_match row nobody reviewed", row.id());
        };
        match (metadata, found) {
            (true, true) => (true, "no_match row reviewed as metadata access"),
            (true, false) => (false, "no_match row: metadata access left unreported by review"),
            (false, _) => (false, "no_match row reviewed as not metadata"),
        }
    }
}

#[derive(Default)]
struct Counts {
    /// Reported, as the review expects.
    caught: usize,
    /// Metadata rows whose payload this layout does not log: nothing reported, as expected.
    not_carried: usize,
    known_gaps: usize,
    /// Rows the review does not want reported (not metadata, or 934120 test 14), and nothing was.
    silent: usize,
    /// Records the review expects reported (carried metadata rows).
    expected: usize,
}

#[test]
fn crs_rows_in_every_web_format_raise_ssrf_exactly_where_the_review_says() {
    let rows = rows();
    assert_eq!(rows.len(), 89, "PROVENANCE.md: 73 match + 16 no_match rows");
    let dir = tempfile::tempdir().unwrap();
    // CRS_FORMATS_KEEP=DIR keeps a copy of the generated logs for whoever fixes a gap.
    let keep = std::env::var_os("CRS_FORMATS_KEEP").map(std::path::PathBuf::from);
    for layout in Layout::ALL {
        let mut text = layout.header().to_string();
        for (i, row) in rows.iter().enumerate() {
            text.push_str(&layout.record(row, i));
        }
        text.push_str(layout.footer());
        if let Some(keep) = &keep {
            std::fs::create_dir_all(keep).unwrap();
            std::fs::write(keep.join(layout.file()), &text).unwrap();
        }
        std::fs::write(dir.path().join(layout.file()), text).unwrap();
    }
    let root = dir.path().to_str().unwrap().to_string();
    let result = scan(&[&root]);

    // Every record read, each file as its format.
    let records = &result.summary["records"];
    assert_eq!(records["rejected_total"], 0, "{}", result.summary);
    assert_eq!(
        records["read"].as_u64(),
        Some((rows.len() * Layout::ALL.len()) as u64),
        "{records}"
    );
    let mut formats: BTreeMap<&str, u64> = BTreeMap::new();
    for layout in Layout::ALL {
        *formats.entry(layout.format()).or_default() += 1;
    }
    for (format, files) in &formats {
        assert_eq!(
            result.summary["inputs"]["formats"][format].as_u64(),
            Some(*files),
            "{format}: {}",
            result.summary["inputs"]
        );
    }

    // (layout, record index) → the alerts that cite it.
    let by_file: BTreeMap<&str, Layout> = Layout::ALL.iter().map(|l| (l.file(), *l)).collect();
    let mut cited: BTreeMap<(Layout, usize), Vec<&Value>> = BTreeMap::new();
    for alert in &result.alerts {
        for (source, index) in evidence(alert) {
            let name = std::path::Path::new(&source).file_name().and_then(|n| n.to_str());
            let layout = name
                .and_then(|n| by_file.get(n))
                .unwrap_or_else(|| panic!("evidence from an unknown file {source}"));
            let i = usize::try_from(index).unwrap() - 1;
            assert!(i < rows.len(), "{source}#{index} is past the last row");
            cited.entry((*layout, i)).or_default().push(alert);
        }
    }
    // The targets are all origin-form and the Host header is the site's: nothing for the proxy
    // rule, so no row needs it accepted in place of the SSRF rule.
    assert!(result.of_rule(PROXY).is_empty(), "{:#?}", result.of_rule(PROXY));
    for alert in &result.alerts {
        assert_eq!(alert["rule"], SSRF, "only SSRF alerts expected: {alert}");
    }

    let mut failures = Vec::new();
    let mut counts: BTreeMap<Layout, Counts> = BTreeMap::new();
    let mut report = String::new();
    for (i, row) in rows.iter().enumerate() {
        let (wanted, why) = verdict(row);
        let place = row.place();
        let client = Request::new(i).client.to_string();
        for layout in Layout::ALL {
            let alerts = cited.get(&(layout, i)).map(Vec::as_slice).unwrap_or_default();
            for alert in alerts {
                if alert["entities"]["source_ip"] != client.as_str() {
                    failures.push(format!(
                        "{} in {}: alert from {} cites the record of client {client}",
                        row.id(),
                        layout.name(),
                        alert["entities"]["source_ip"]
                    ));
                }
            }
            let reported = !alerts.is_empty();
            let carried = layout.misses(place).is_none();
            let expected = wanted && carried;
            let gap = KNOWN_GAPS
                .iter()
                .find(|g| (g.0, g.1, g.2) == row.key() && g.3 == layout);
            let c = counts.entry(layout).or_default();
            c.expected += usize::from(expected);
            match (reported == expected, gap) {
                (true, None) => {
                    if expected {
                        c.caught += 1;
                    } else if wanted {
                        c.not_carried += 1;
                    } else {
                        c.silent += 1;
                    }
                }
                (false, Some(g)) => {
                    c.known_gaps += 1;
                    writeln!(report, "known gap: {} in {}: {}", row.id(), layout.name(), g.4).unwrap();
                }
                (true, Some(g)) => failures.push(format!(
                    "{} in {}: known gap ({}) now behaves as reviewed: remove it from KNOWN_GAPS",
                    row.id(),
                    layout.name(),
                    g.4
                )),
                (false, None) => failures.push(format!(
                    "{} in {} ({why}, payload in {place:?}{}): expected {}, got {}",
                    row.id(),
                    layout.name(),
                    layout
                        .misses(place)
                        .map(|m| format!(", not carried: {m}"))
                        .unwrap_or_default(),
                    if expected {
                        "an ssrf-metadata-request alert"
                    } else {
                        "no alert"
                    },
                    if reported {
                        format!("{} alert(s)", alerts.len())
                    } else {
                        "none".into()
                    },
                )),
            }
        }
    }
    for gap in KNOWN_GAPS {
        if !rows.iter().any(|r| r.key() == (gap.0, gap.1, gap.2)) {
            failures.push(format!("KNOWN_GAPS entry {gap:?} names no row of the corpus"));
        }
    }

    writeln!(
        report,
        "{:<42} {:>6} {:>12} {:>10} {:>7}",
        "layout", "caught", "not carried", "known gaps", "silent"
    )
    .unwrap();
    for (layout, c) in &counts {
        writeln!(
            report,
            "{:<42} {:>6} {:>12} {:>10} {:>7}",
            layout.name(),
            c.caught,
            c.not_carried,
            c.known_gaps,
            c.silent
        )
        .unwrap();
    }
    println!("{report}");
    assert!(
        failures.is_empty(),
        "{} record(s) differ from the review:\n{report}\n{}",
        failures.len(),
        failures.join("\n")
    );

    // 36 metadata-targeting match rows (crs_corpus.rs) + 10 no_match rows reviewed as reported;
    // 4 of the 36 are in bodies (carried nowhere), 2 in cookies (WAF, CloudFront, Suricata only).
    for (layout, c) in &counts {
        let cookies = if NO_COOKIES.contains(layout) { 0 } else { 2 };
        assert_eq!(
            c.expected,
            30 + cookies + 10,
            "{}: metadata rows carried",
            layout.name()
        );
    }
}

/// The not-carried table says, row by row, what the layouts' own limits imply.
#[test]
fn not_carried_table_is_what_each_layout_logs() {
    let rows = rows();
    let mut computed: BTreeSet<(&str, u64, u64, Place, Vec<Layout>)> = BTreeSet::new();
    for row in &rows {
        let place = row.place();
        let missing: Vec<Layout> = Layout::ALL.into_iter().filter(|l| l.misses(place).is_some()).collect();
        if !missing.is_empty() {
            computed.insert((&row.rule_id, row.test_id, row.stage, place, missing));
        }
    }
    let table: BTreeSet<(&str, u64, u64, Place, Vec<Layout>)> = NOT_CARRIED
        .iter()
        .map(|(rule, test, stage, place, layouts, _)| (*rule, *test, *stage, *place, layouts.to_vec()))
        .collect();
    assert_eq!(computed, table);
    for (rule, test, stage, place, _, excerpt) in NOT_CARRIED {
        let row = rows
            .iter()
            .find(|r| r.key() == (*rule, *test, *stage))
            .unwrap_or_else(|| panic!("{rule} {test} {stage} is not a row"));
        let logged = match place {
            Place::Cookie => row.header("Cookie").unwrap_or_default(),
            _ => row.data.as_deref().unwrap_or_default(),
        };
        assert!(logged.contains(excerpt), "{}: {place:?} is {logged:?}", row.id());
    }
}

/// The ids copied from `crates/event/tests/crs_corpus.rs` are still the ones there.
#[test]
fn tables_agree_with_crs_corpus_rs() {
    let source = std::fs::read_to_string(repo().join("crates/event/tests/crs_corpus.rs")).unwrap();
    let table = |name: &str| -> String {
        let start = source
            .find(&format!("const {name}"))
            .unwrap_or_else(|| panic!("crs_corpus.rs has no {name}"));
        let body = &source[start..];
        let open = body.find("= &[").unwrap();
        let end = body.find("\n];").unwrap();
        body[open + 4..end].to_string()
    };
    // Tuples as `("934120", 20, …)`, however rustfmt wraps them.
    let tuples = |text: &str| -> Vec<Vec<String>> {
        let flat = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("( \"", "(\"");
        let tuples: Vec<Vec<String>> = flat
            .split("(\"")
            .skip(1)
            .map(|part| {
                part.splitn(5, ',')
                    .map(|f| f.trim().trim_matches('"').to_string())
                    .collect()
            })
            .collect();
        assert!(tuples.len() > 10, "cannot read the table: {flat}");
        tuples
    };
    let match_not: BTreeSet<(String, u64)> = tuples(&table("MATCH_NOT_METADATA"))
        .into_iter()
        .map(|f| (f[0].clone(), f[1].parse().unwrap()))
        .collect();
    let ours: BTreeSet<(String, u64)> = MATCH_NOT_METADATA.iter().map(|(r, t)| (r.to_string(), *t)).collect();
    assert_eq!(match_not, ours, "MATCH_NOT_METADATA differs from crs_corpus.rs");

    let no_match: BTreeSet<(String, u64, bool, bool)> = tuples(&table("NO_MATCH_REVIEW"))
        .into_iter()
        .map(|f| (f[0].clone(), f[1].parse().unwrap(), f[2] == "true", f[3] == "true"))
        .collect();
    let ours: BTreeSet<(String, u64, bool, bool)> = NO_MATCH_REVIEW
        .iter()
        .map(|(r, t, m, f)| (r.to_string(), *t, *m, *f))
        .collect();
    assert_eq!(no_match, ours, "NO_MATCH_REVIEW differs from crs_corpus.rs");
}
