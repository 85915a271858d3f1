#![no_main]
//! Any bytes through the Sysmon for Linux parser (syslog lines, XML lines, whole XML files) and
//! sniffer: no panic, and no more events and diagnostics than records.

use credtrail_event::FileId;
use credtrail_ingest::formats::{ParsedFile, SysmonLinux};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = SysmonLinux.sniff(data);
    let mut out = ParsedFile::default();
    SysmonLinux.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
