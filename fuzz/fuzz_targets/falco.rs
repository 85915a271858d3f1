#![no_main]
//! Any bytes through the Falco JSON alert parser and sniffer: no panic, and no more events and
//! diagnostics than records (one record per line; alerts without a process yield nothing).

use credtrail_event::FileId;
use credtrail_ingest::formats::{Falco, ParsedFile};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Falco.sniff(data);
    let mut out = ParsedFile::default();
    Falco.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
