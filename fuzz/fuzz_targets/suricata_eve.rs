#![no_main]
//! Any bytes through the Suricata EVE parser and sniffer (http events, alerts and flow events):
//! no panic, and no more events and diagnostics than records (other event types are read and
//! skipped; an alert and its http event are one request).

use credtrail_event::FileId;
use credtrail_ingest::formats::{ParsedFile, SuricataEve};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = SuricataEve.sniff(data);
    let mut out = ParsedFile::default();
    SuricataEve.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
