//! Helpers every golden test needs whatever its format: where the fixtures and the shared
//! corpora live, parsing a file as a scan would (sniffed, through [`parse_file`]) or bytes as
//! one format, and the positions and placeholders the digests and assertions are written in.
//!
//! Each test binary compiles its own copy of this module, so any one of them leaves some helpers
//! unused. The support modules (`host_support`, …) load it with `#[path]`; a test that declares
//! one of them takes `common` from it (`use flow_support::common`), since clippy rejects one file
//! loaded as two modules.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use credtrail_event::{Event, FileId, HttpRequest};
use credtrail_ingest::decode::DEFAULT_CAP;
use credtrail_ingest::{parse_file, Format, InputFile, InputSource, ParsedFile};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `testdata/formats/`, which holds one directory of fixtures per format.
pub fn formats_dir() -> PathBuf {
    repo().join("testdata/formats")
}

/// `rel` in the fixture directory of one format (`testdata/formats/<dir>/<rel>`).
pub fn formats_fixture(dir: &str, rel: &str) -> PathBuf {
    formats_dir().join(dir).join(rel)
}

/// `rel` under `testdata/formats/`, for the tests whose fixtures span several formats'
/// directories (`rel` starts with the format's directory).
pub fn fixture(rel: &str) -> PathBuf {
    formats_dir().join(rel)
}

pub fn parse_fixture(rel: &str) -> ParsedFile {
    parse(&fixture(rel))
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

/// `path` parsed as file `file` of a scan that names it `display`.
pub fn parse_as_file(path: &Path, display: &str, file: FileId) -> ParsedFile {
    let input = InputFile {
        display: display.to_string(),
        source: InputSource::Path(path.to_path_buf()),
    };
    parse_file(&input, file, None, DEFAULT_CAP)
}

/// `path` parsed as the only file of a scan that names it `display`.
pub fn parse_as(path: &Path, display: &str) -> ParsedFile {
    parse_as_file(path, display, FileId(0))
}

pub fn parse(path: &Path) -> ParsedFile {
    parse_as(path, &path.display().to_string())
}

/// `buf` read as `format` whatever sniffing would say.
pub fn parse_bytes(format: &dyn Format, buf: &[u8]) -> ParsedFile {
    let mut out = ParsedFile::default();
    format.parse(buf, FileId(0), &mut out);
    out
}

/// `-` for a value the record did not carry.
pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".to_string(), T::to_string)
}

/// Quoted and escaped, so that spaces and control characters in a value stay visible in a
/// digest; `-` for a value the record did not carry.
pub fn quoted(v: &Option<String>) -> String {
    v.as_ref().map_or("-".to_string(), |s| format!("{s:?}"))
}

/// (line, index) of every event.
pub fn event_positions(p: &ParsedFile) -> Vec<(u64, u64)> {
    p.events.iter().map(|e| (e.origin.line, e.origin.index)).collect()
}

/// (line, index, reason) of every diagnostic.
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

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
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

/// The first line of a digest: what the file was read as and how much it yielded.
pub fn write_counts(out: &mut String, p: &ParsedFile) {
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
}

/// The last lines of a digest: one per diagnostic, with its position, reason, format and detail.
pub fn write_diagnostics(out: &mut String, p: &ParsedFile) {
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

/// One HTTP request event as the request-log digests (web-access, zeek-http, suricata-eve) show
/// it: position, request, peers, response and headers; WAF verdicts and bodies are the caller's.
pub fn write_request(out: &mut String, e: &Event, r: &HttpRequest) {
    writeln!(
        out,
        "event line={} index={} time={}",
        e.origin.line, e.origin.index, e.time
    )
    .unwrap();
    writeln!(
        out,
        "  request   sensor={} method={} target={:?} host={}",
        r.sensor.as_str(),
        opt(&r.method),
        r.target,
        opt(&r.host)
    )
    .unwrap();
    writeln!(
        out,
        "  peers     client={} xff={} server={} port={} observer={}",
        opt(&r.client),
        r.forwarded_for.as_deref().map_or("-".to_string(), |x| format!("{x:?}")),
        opt(&r.server),
        opt(&r.server_port),
        opt(&r.observer)
    )
    .unwrap();
    writeln!(
        out,
        "  response  status={} bytes={} user_agent={:?}",
        opt(&r.status),
        opt(&r.response_bytes),
        r.user_agent.as_deref().unwrap_or("-")
    )
    .unwrap();
    for (k, v) in &r.headers {
        writeln!(out, "  header    {k}: {v:?}").unwrap();
    }
}
