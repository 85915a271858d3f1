//! Helpers shared by the golden tests of the plain HTTP request logs (web-access, zeek-http):
//! every record is a request with neither a WAF verdict nor a body, so both reduce a parse to
//! the same digest (one block per request, one line per diagnostic) for `insta`.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
pub mod common;

use credtrail_event::{Body, HttpRequest};
use credtrail_ingest::ParsedFile;

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
    common::write_counts(&mut out, p);
    for (e, r) in p.events.iter().zip(requests(p)) {
        common::write_request(&mut out, e, r);
        assert!(r.waf.is_none() && r.body.is_none());
    }
    common::write_diagnostics(&mut out, p);
    out
}
