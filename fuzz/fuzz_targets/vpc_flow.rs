#![no_main]
//! Any bytes through the VPC Flow Logs parser and sniffer: no panic, and no more events and
//! diagnostics than records (NODATA and SKIPDATA records yield neither).

use credtrail_event::FileId;
use credtrail_ingest::formats::{ParsedFile, VpcFlowLogs};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = VpcFlowLogs.sniff(data);
    let mut out = ParsedFile::default();
    VpcFlowLogs.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
