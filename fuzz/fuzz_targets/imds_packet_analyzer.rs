#![no_main]
//! Any bytes through the ImdsPacketAnalyzer `imds-trace.log` parser and sniffer: no panic; each
//! line is at most one call (plus a start per ancestor, at most three) or one diagnostic.

use credtrail_event::{Body, FileId};
use credtrail_ingest::formats::{ImdsPacketAnalyzer, ParsedFile};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ImdsPacketAnalyzer.sniff(data);
    let mut out = ParsedFile::default();
    ImdsPacketAnalyzer.parse(data, FileId(0), &mut out);
    let calls = out
        .events
        .iter()
        .filter(|e| matches!(e.body, Body::ProcessConnect(_)))
        .count() as u64;
    assert!(calls + out.diagnostics.len() as u64 <= out.records);
    assert!(out.events.len() as u64 <= 4 * out.records);
});
