#![no_main]
//! Any bytes through the AWS inventory parser: no panic.

use credtrail_event::FileId;
use credtrail_ingest::formats::{AwsInventory, ParsedFile};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = ParsedFile::default();
    AwsInventory.parse(data, FileId(0), &mut out);
});
