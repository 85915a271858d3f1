//! Helpers shared by the golden tests of the flow formats (Zeek conn.log, Suricata flow events,
//! VPC Flow Logs): parse a fixture through `parse_file` as a scan would, and reduce the result
//! to a readable digest (one block per flow, one line per diagnostic) for `insta`.

#![allow(clippy::unwrap_used, dead_code)] // test helpers: a failed unwrap is a failed test

#[path = "../common/mod.rs"]
pub mod common;

use std::fmt::Write as _;

use credtrail_event::{Body, Event, NetFlow};
use credtrail_ingest::{Format, ParsedFile};

use common::opt;
#[allow(unused_imports)] // for the tests that glob-import this module; each uses a few
pub use common::{
    accounted, diagnostic_positions, event_positions, files_under, fixture, generated_corpus, parse, parse_fixture,
    repo, shared,
};

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
    common::write_counts(&mut out, p);
    for e in &p.events {
        let Body::NetFlow(f) = &e.body else {
            panic!("expected a flow, got {:?}", e.body)
        };
        flow_block(&mut out, e, f);
    }
    common::write_diagnostics(&mut out, p);
    out
}
