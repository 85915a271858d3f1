#![no_main]
//! Any bytes through the laurel JSON-lines parser and sniffer: no panic, and no more events and
//! diagnostics than records (one record per line; events credtrail does not use yield nothing).

use credtrail_event::FileId;
use credtrail_ingest::formats::{Laurel, ParsedFile};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Laurel.sniff(data);
    let mut out = ParsedFile::default();
    Laurel.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
