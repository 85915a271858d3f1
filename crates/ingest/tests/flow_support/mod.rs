//! Helpers shared by the golden tests of the flow formats (Zeek conn.log, Suricata flow events,
//! VPC Flow Logs): parse a fixture through [`parse_file`] as a scan would, and reduce the result
//! to a readable digest (one block per flow, one line per diagnostic) for `insta`.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use credtrail_event::{Body, Event, FileId, NetFlow};
use credtrail_ingest::decode::DEFAULT_CAP;
use credtrail_ingest::{parse_file, Format, InputFile, InputSource, ParsedFile};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("testdata/formats").join(rel)
}

/// `../shared` beside the repository, as CI lays it out.
pub fn shared(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared").join(rel);
    assert!(
        path.exists(),
        "{} is missing: tests expect the shared corpora at ../shared beside the repository",
        path.display()
    );
    path
}

pub fn parse(path: &Path) -> ParsedFile {
    let input = InputFile {
        display: path.display().to_string(),
        source: InputSource::Path(path.to_path_buf()),
    };
    parse_file(&input, FileId(0), None, DEFAULT_CAP)
}

pub fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
}

/// The fixture read as `format` whatever sniffing would say.
pub fn parse_forced(format: &dyn Format, rel: &str) -> ParsedFile {
    let mut out = ParsedFile::default();
    format.parse(&std::fs::read(fixture(rel)).unwrap(), FileId(0), &mut out);
    out
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

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".to_string(), T::to_string)
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

pub fn event_positions(p: &ParsedFile) -> Vec<(u64, u64)> {
    p.events.iter().map(|e| (e.origin.line, e.origin.index)).collect()
}

pub fn diagnostic_positions(p: &ParsedFile) -> Vec<(u64, Option<u64>, &'static str)> {
    p.diagnostics
        .iter()
        .map(|d| (d.line, d.index, d.reason.key()))
        .collect()
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
