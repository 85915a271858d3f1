#![no_main]
//! Any bytes through the Azure Activity log / Entra managed-identity sign-in parser: no panic, every record accounted for.

use credtrail_event::FileId;
use credtrail_ingest::formats::{AzureActivity, ParsedFile};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = ParsedFile::default();
    AzureActivity.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.facts.len() as u64 + out.diagnostics.len() as u64 >= out.records);
});
