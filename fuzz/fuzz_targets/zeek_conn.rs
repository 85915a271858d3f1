#![no_main]
//! Any bytes through the Zeek conn.log parser (TSV and JSON) and sniffer: no panic, and no more
//! events and diagnostics than records (records of other Zeek logs are read and skipped).

use credtrail_event::FileId;
use credtrail_ingest::formats::{ParsedFile, ZeekConn};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ZeekConn.sniff(data);
    let mut out = ParsedFile::default();
    ZeekConn.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
