#![no_main]
//! Any bytes through the auditd audit.log parser (RAW and ENRICHED) and sniffer: no panic, and no
//! more events and diagnostics than records (events credtrail does not use are read and skipped).

use credtrail_event::FileId;
use credtrail_ingest::formats::{Auditd, ParsedFile};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Auditd.sniff(data);
    let mut out = ParsedFile::default();
    Auditd.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
