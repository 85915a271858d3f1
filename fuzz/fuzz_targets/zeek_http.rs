#![no_main]
//! Any bytes through the Zeek http.log parser (TSV and JSON) and sniffer: no panic, and no more
//! events and diagnostics than records (records of other Zeek logs are read and skipped).

use credtrail_event::FileId;
use credtrail_ingest::formats::{ParsedFile, ZeekHttp};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ZeekHttp.sniff(data);
    let mut out = ParsedFile::default();
    ZeekHttp.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
