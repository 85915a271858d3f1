#![no_main]
//! Any bytes through the Kubernetes audit parser (JSON lines, EventList, CloudWatch Logs exports
//! and envelopes) and sniffer: no panic, and no more events and diagnostics than records (each
//! exec request is one event at most; other audit events are read and skipped).

use credtrail_event::FileId;
use credtrail_ingest::formats::{KubernetesAudit, ParsedFile};
use credtrail_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = KubernetesAudit.sniff(data);
    let mut out = ParsedFile::default();
    KubernetesAudit.parse(data, FileId(0), &mut out);
    assert!(out.events.len() as u64 + out.diagnostics.len() as u64 <= out.records);
});
