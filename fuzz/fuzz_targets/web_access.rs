#![no_main]
//! Any bytes through the nginx/Apache access log parser and sniffer: no panic, every non-blank
//! line exactly one event or one diagnostic.

use credtrail_event::FileId;
use credtrail_ingest::formats::{ParsedFile, WebAccess};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = WebAccess.sniff(data);
    let mut out = ParsedFile::default();
    WebAccess.parse(data, FileId(0), &mut out);
    assert_eq!(out.events.len() as u64 + out.diagnostics.len() as u64, out.records);
});
