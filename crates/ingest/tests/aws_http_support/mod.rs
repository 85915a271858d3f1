//! Helpers shared by the golden tests of the AWS web formats (WAF, ELB, CloudFront): parse a
//! fixture through `parse_file` as a scan would, and reduce the result to a readable digest
//! (one block per HTTP request, one line per diagnostic) for `insta`.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
pub mod common;

use std::fmt::Write as _;

use credtrail_event::{Body, HttpRequest};
use credtrail_ingest::decode::Compression;
use credtrail_ingest::ParsedFile;

use common::opt;
#[allow(unused_imports)] // for the tests that glob-import this module; each uses a few
pub use common::{
    diagnostic_positions, event_positions, files_under, fixture, generated_corpus, parse, parse_fixture, repo, shared,
};

/// Every HTTP request of a parse, in order.
pub fn requests(p: &ParsedFile) -> Vec<&HttpRequest> {
    p.events
        .iter()
        .map(|e| match &e.body {
            Body::HttpRequest(r) => &**r,
            other => panic!("expected an HTTP request, got {other:?}"),
        })
        .collect()
}

/// Every record became an event of `format`: no diagnostics, and the record count matches.
pub fn assert_clean(p: &ParsedFile, format: &str, events: usize) {
    assert_eq!(p.format, Some(format));
    assert_eq!(p.diagnostics.len(), 0, "{:#?}", p.diagnostics);
    assert_eq!(p.events.len(), events);
    assert_eq!(p.records, events as u64);
}

/// One stable, readable block per event and one line per diagnostic.
pub fn digest(p: &ParsedFile) -> String {
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
    for e in &p.events {
        let Body::HttpRequest(r) = &e.body else {
            panic!("expected an HTTP request")
        };
        writeln!(
            out,
            "event line={} index={} time={} sensor={}",
            e.origin.line,
            e.origin.index,
            e.time,
            r.sensor.as_str()
        )
        .unwrap();
        writeln!(
            out,
            "  request   {} {:?} host={:?}",
            opt(&r.method),
            r.target,
            r.host.as_deref().unwrap_or("-")
        )
        .unwrap();
        writeln!(
            out,
            "  peers     client={} forwarded_for={:?} server={} port={} observer={}",
            opt(&r.client),
            r.forwarded_for.as_deref().unwrap_or("-"),
            opt(&r.server),
            opt(&r.server_port),
            opt(&r.observer),
        )
        .unwrap();
        writeln!(
            out,
            "  response  status={} bytes={} user_agent={:?}",
            opt(&r.status),
            opt(&r.response_bytes),
            r.user_agent.as_deref().unwrap_or("-")
        )
        .unwrap();
        for (name, value) in &r.headers {
            writeln!(out, "  header    {name}: {value:?}").unwrap();
        }
        if let Some(body) = &r.body {
            writeln!(out, "  body      {body:?}").unwrap();
        }
        if let Some(waf) = &r.waf {
            writeln!(
                out,
                "  waf       action={} terminating={} web_acl={}",
                waf.action,
                opt(&waf.terminating_rule),
                opt(&waf.web_acl)
            )
            .unwrap();
            for m in &waf.matches {
                writeln!(
                    out,
                    "  match     {} {} location={} data={:?}",
                    m.action,
                    m.rule,
                    opt(&m.location),
                    m.data.as_deref().unwrap_or("-")
                )
                .unwrap();
            }
        }
    }
    common::write_diagnostics(&mut out, p);
    out
}
