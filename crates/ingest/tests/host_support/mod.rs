//! Helpers shared by the golden tests of the host sensor formats (laurel, Sysmon for Linux,
//! Falco): parse a fixture through `parse_file` as a scan would (sniffed, not forced), reduce
//! the result to a readable digest (one block per process event, one line per diagnostic) for
//! `insta`, and check sniffing across every fixture of every format.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
pub mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use credtrail_event::{Body, Process, ProcessConnect, ProcessStart};
use credtrail_ingest::{Format, ParsedFile, FORMATS};

#[allow(unused_imports)] // for the tests that glob-import this module; each uses a few
pub use common::{
    diagnostic_positions, event_positions, fixture, ip, parse, parse_as, parse_bytes, parse_fixture, repo,
};
use common::{opt, quoted};

pub fn connects(p: &ParsedFile) -> Vec<&ProcessConnect> {
    p.events
        .iter()
        .filter_map(|e| match &e.body {
            Body::ProcessConnect(c) => Some(&**c),
            _ => None,
        })
        .collect()
}

pub fn starts(p: &ParsedFile) -> Vec<&ProcessStart> {
    p.events
        .iter()
        .filter_map(|e| match &e.body {
            Body::ProcessStart(s) => Some(&**s),
            _ => None,
        })
        .collect()
}

fn write_process(out: &mut String, p: &Process) {
    writeln!(
        out,
        "  process   pid={} ppid={} uid={} auid={} ses={} tty={} user={}",
        opt(&p.pid),
        opt(&p.ppid),
        opt(&p.uid),
        opt(&p.login_uid),
        opt(&p.session),
        opt(&p.tty),
        quoted(&p.user_name)
    )
    .unwrap();
    writeln!(out, "            exe={} comm={}", quoted(&p.exe), quoted(&p.comm)).unwrap();
    writeln!(out, "            argv0={} cwd={}", quoted(&p.argv0), quoted(&p.cwd)).unwrap();
    writeln!(out, "            command_line={}", quoted(&p.command_line)).unwrap();
    writeln!(
        out,
        "            subj={} container={}",
        quoted(&p.security_context),
        quoted(&p.container)
    )
    .unwrap();
}

/// One stable, readable block per event and one line per diagnostic (with its excerpt's start).
pub fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    common::write_counts(&mut out, p);
    for e in &p.events {
        writeln!(
            out,
            "event line={} index={} time={}",
            e.origin.line, e.origin.index, e.time
        )
        .unwrap();
        match &e.body {
            Body::ProcessStart(s) => {
                writeln!(out, "  start     sensor={} host={}", s.sensor.as_str(), opt(&s.host)).unwrap();
                write_process(&mut out, &s.process);
            }
            Body::ProcessConnect(c) => {
                writeln!(
                    out,
                    "  connect   sensor={} host={} destination={} port={} failed={} result={}",
                    c.sensor.as_str(),
                    opt(&c.host),
                    c.destination,
                    opt(&c.port),
                    c.failed,
                    opt(&c.result)
                )
                .unwrap();
                write_process(&mut out, &c.process);
            }
            other => panic!("expected a process event, got {other:?}"),
        }
    }
    for d in &p.diagnostics {
        let excerpt: String = d.excerpt.as_deref().unwrap_or("-").chars().take(60).collect();
        writeln!(
            out,
            "diagnostic line={} index={} reason={} format={} detail={:?}\n  excerpt={:?}",
            d.line,
            d.index.map_or("-".to_string(), |i| i.to_string()),
            d.reason.key(),
            d.format,
            d.detail,
            excerpt
        )
        .unwrap();
    }
    out
}

/// Every fixture under `testdata/formats/`, relative to it, with its head.
pub fn every_fixture() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = repo().join("testdata/formats");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.truncate(64 * 1024);
            (rel, bytes)
        })
        .collect()
}

/// `format` sniffs exactly the (uncompressed) fixtures under its own directory, and sniffing
/// through the registry gives them to it: no format ahead of it takes them, and CloudTrail (the
/// catch-all JSON format, last) does not take them either.
pub fn sniffs_only_its_own(format: &dyn Format) {
    let mut ours = 0;
    for (rel, head) in every_fixture() {
        let mine = rel.starts_with(&format!("{}/", format.name()));
        let compressed = rel.ends_with(".gz") || rel.ends_with(".zst");
        if compressed {
            continue;
        }
        assert_eq!(format.sniff(&head), mine, "{} sniff of {rel}", format.name());
        if mine {
            ours += 1;
            let first = FORMATS.iter().find(|f| f.sniff(&head)).map(|f| f.name());
            assert_eq!(first, Some(format.name()), "{rel}");
            let cloudtrail = credtrail_ingest::formats::CloudTrail;
            assert!(!cloudtrail.sniff(&head), "CloudTrail's sniff takes {rel}");
        }
    }
    assert!(ours >= 2, "{} has fixtures", format.name());
}
