//! Helpers shared by the golden tests of the plain HTTP request logs (web-access, zeek-http):
//! every record is a request with neither a WAF verdict nor a body, so both reduce a parse to
//! the same digest (one block per request, one line per diagnostic) for `insta`.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
pub mod common;

use std::fmt::Write as _;

use credtrail_event::{Body, HttpRequest};
use credtrail_ingest::ParsedFile;

use common::opt;

pub fn requests(p: &ParsedFile) -> Vec<&HttpRequest> {
    p.events
        .iter()
        .map(|e| match &e.body {
            Body::HttpRequest(r) => r.as_ref(),
            _ => panic!("expected an HTTP request"),
        })
        .collect()
}

/// One stable, readable block per event and one line per diagnostic.
pub fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "format={} records={} events={} diagnostics={} bytes={}",
        p.format.unwrap_or("-"),
        p.records,
        p.events.len(),
        p.diagnostics.len(),
        p.bytes
    )
    .unwrap();
    for (e, r) in p.events.iter().zip(requests(p)) {
        writeln!(
            out,
            "event line={} index={} time={}",
            e.origin.line, e.origin.index, e.time
        )
        .unwrap();
        writeln!(
            out,
            "  request   sensor={} method={} target={:?} host={}",
            r.sensor.as_str(),
            opt(&r.method),
            r.target,
            opt(&r.host)
        )
        .unwrap();
        writeln!(
            out,
            "  peers     client={} xff={} server={} port={} observer={}",
            opt(&r.client),
            r.forwarded_for.as_deref().map_or("-".to_string(), |x| format!("{x:?}")),
            opt(&r.server),
            opt(&r.server_port),
            opt(&r.observer)
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
        for (k, v) in &r.headers {
            writeln!(out, "  header    {k}: {v:?}").unwrap();
        }
        assert!(r.waf.is_none() && r.body.is_none());
    }
    for d in &p.diagnostics {
        writeln!(
            out,
            "diagnostic line={} index={} reason={} format={} detail={:?}",
            d.line,
            d.index.map_or("-".to_string(), |i| i.to_string()),
            d.reason.key(),
            d.format,
            d.detail
        )
        .unwrap();
    }
    out
}
