//! Helpers shared by the golden tests of the flow formats (Zeek conn.log, Suricata flow events,
//! VPC Flow Logs): parse a fixture through `parse_file` as a scan would, and reduce the result
//! to a readable digest (one block per flow, one line per diagnostic) for `insta`.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
pub mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use credtrail_event::{Body, Event, NetFlow};
use credtrail_ingest::{Format, ParsedFile};

use common::opt;
#[allow(unused_imports)] // for the tests that glob-import this module; each uses a few
pub use common::{diagnostic_positions, event_positions, parse, repo, shared};

pub fn fixture(rel: &str) -> PathBuf {
    common::formats_dir().join(rel)
}

pub fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

/// The fixture read as `format` whatever sniffing would say.
pub fn parse_forced(format: &dyn Format, rel: &str) -> ParsedFile {
    common::parse_bytes(format, &std::fs::read(fixture(rel)).unwrap())
}

pub fn flows(p: &ParsedFile) -> Vec<&NetFlow> {
    p.events
        .iter()
        .filter_map(|e| match &e.body {
            Body::NetFlow(f) => Some(f.as_ref()),
            _ => None,
        })
        .collect()
}

/// One block per flow.
pub fn flow_block(out: &mut String, e: &Event, f: &NetFlow) {
    writeln!(
        out,
        "event line={} index={} time={} end={}",
        e.origin.line,
        e.origin.index,
        e.time,
        opt(&f.end)
    )
    .unwrap();
    writeln!(
        out,
        "  flow      sensor={} proto={} state={} rejected={} observer={}",
        f.sensor.as_str(),
        opt(&f.protocol),
        opt(&f.state),
        f.rejected,
        opt(&f.observer)
    )
    .unwrap();
    writeln!(
        out,
        "  peers     client={} port={} server={} port={}",
        f.client,
        opt(&f.client_port),
        f.server,
        opt(&f.server_port)
    )
    .unwrap();
    writeln!(
        out,
        "  volume    to_server={} to_client={} packets={}",
        opt(&f.bytes_to_server),
        opt(&f.bytes_to_client),
        opt(&f.packets)
    )
    .unwrap();
    if f.account.is_some()
        || f.interface.is_some()
        || f.instance.is_some()
        || f.packet_client.is_some()
        || f.packet_server.is_some()
    {
        writeln!(
            out,
            "  vpc       account={} interface={} instance={} pkt_client={} pkt_server={}",
            opt(&f.account),
            opt(&f.interface),
            opt(&f.instance),
            opt(&f.packet_client),
            opt(&f.packet_server)
        )
        .unwrap();
    }
}

/// One stable, readable block per flow and one line per diagnostic.
pub fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "format={} records={} events={} diagnostics={} bytes={}",
        p.format.unwrap_or("-"),
        p.records,
        p.events.len(),
        p.diagnostics.len(),
        p.bytes
    )
    .unwrap();
    for e in &p.events {
        let Body::NetFlow(f) = &e.body else {
            panic!("expected a flow, got {:?}", e.body)
        };
        flow_block(&mut out, e, f);
    }
    diagnostics(&mut out, p);
    out
}

pub fn diagnostics(out: &mut String, p: &ParsedFile) {
    for d in &p.diagnostics {
        writeln!(
            out,
            "diagnostic line={} index={} reason={} format={} detail={:?}",
            d.line,
            d.index.map_or("-".to_string(), |i| i.to_string()),
            d.reason.key(),
            d.format,
            d.detail
        )
        .unwrap();
    }
}

/// Every record is an event or a diagnostic (formats whose every record yields one).
pub fn accounted(p: &ParsedFile) -> bool {
    p.events.len() as u64 + p.diagnostics.len() as u64 == p.records
}

/// Every file under `dir` (recursively), sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Writes the generated corpus of `../shared/bench/gen_logs.py` (the 5M preset) into a fresh
/// temporary directory.
pub fn generated_corpus() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .arg(shared("bench/gen_logs.py"))
        .arg(out.path())
        .args(["--size", "5M", "--force", "--jobs", "2"])
        .output()
        .expect("python3 runs gen_logs.py");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    out
}
