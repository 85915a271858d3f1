//! The format registry. One file per format; adding a format is one file and one line in
//! [`FORMATS`].

mod alb;
mod auditd;
mod aws_iam_authorization_details;
mod aws_inventory;
mod aws_waf;
mod azure_activity;
mod azure_inventory;
mod cloudfront;
mod cloudtrail;
mod falco;
mod gcp_audit;
mod gcp_inventory;
mod imds_trace;
mod json_records;
mod kubernetes_audit;
mod laurel;
mod lenient;
mod suricata_eve;
mod sysmon_linux;
mod vpc_flow;
mod web_access;
mod zeek_conn;
mod zeek_http;

use credtrail_event::{Event, Fact, FileId};

use crate::decode::{decode, Compression};
use crate::diagnostic::{Diagnostic, Reason};
use crate::input::{InputFile, InputSource};

pub use alb::AwsElb;
pub use auditd::Auditd;
pub use aws_iam_authorization_details::AwsIamAuthorizationDetails;
pub use aws_inventory::AwsInventory;
pub use aws_waf::AwsWaf;
pub use azure_activity::AzureActivity;
pub use azure_inventory::AzureInventory;
pub use cloudfront::AwsCloudFront;
pub use cloudtrail::CloudTrail;
pub use falco::Falco;
pub use gcp_audit::GcpAudit;
pub use gcp_inventory::GcpInventory;
pub use imds_trace::ImdsPacketAnalyzer;
pub use kubernetes_audit::KubernetesAudit;
pub use laurel::Laurel;
pub use suricata_eve::SuricataEve;
pub use sysmon_linux::SysmonLinux;
pub use vpc_flow::VpcFlowLogs;
pub use web_access::WebAccess;
pub use zeek_conn::ZeekConn;
pub use zeek_http::ZeekHttp;

/// A log or inventory format.
pub trait Format: Sync {
    /// Stable name, used by `--format` and in summaries.
    fn name(&self) -> &'static str;
    /// One line for `credtrail formats`.
    fn description(&self) -> &'static str;
    /// What `credtrail explain FORMAT` prints: the description, and what the source can and
    /// cannot show when that needs saying.
    fn explain(&self) -> &'static str {
        self.description()
    }
    /// Whether the start of a (decompressed) file looks like this format. Decided by content,
    /// never by file name.
    fn sniff(&self, head: &[u8]) -> bool;
    /// Whether `head` opens the way only this format's files open (CloudTrail's S3 objects:
    /// `{"Records":[{"eventVersion":…`). Every format's claim is tested before any
    /// [`Format::sniff`]: the most common input then skips the twenty sniffers that turn it down
    /// (4 % of a CloudTrail scan), and a record that mentions another format's keys cannot make a
    /// more specific sniffer take the file. Decided by content, like `sniff`.
    fn claims(&self, _head: &[u8]) -> bool {
        false
    }
    /// Parses a whole decompressed file. Problems go to `out.diagnostics`; nothing panics.
    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile);
    /// [`Format::parse`] for a scan: a record no detector can act on may be only counted in
    /// [`ParsedFile::quiet`] (when its time is in `window`, the scan's `--since`/`--until`)
    /// instead of becoming an event. Everything else (records, diagnostics, the other events)
    /// is what `parse` yields.
    fn parse_for_detectors(&self, buf: &[u8], file: FileId, _window: &Window, out: &mut ParsedFile) {
        self.parse(buf, file, out);
    }
}

/// Every format, most specific first: sniffing takes the first that accepts.
pub static FORMATS: &[&dyn Format] = &[
    &AwsInventory,
    &AwsIamAuthorizationDetails,
    &GcpInventory,
    &AzureInventory,
    &GcpAudit,
    &AzureActivity,
    &AwsWaf,
    &AwsElb,
    &AwsCloudFront,
    &KubernetesAudit,
    &ImdsPacketAnalyzer,
    &VpcFlowLogs,
    &WebAccess,
    &ZeekHttp,
    &ZeekConn,
    &SuricataEve,
    &SysmonLinux,
    &Auditd,
    &Laurel,
    &Falco,
    &CloudTrail,
];

pub fn find_format(name: &str) -> Option<&'static dyn Format> {
    FORMATS.iter().copied().find(|f| f.name() == name)
}

/// What one input file yielded.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub format: Option<&'static str>,
    pub compression: Compression,
    pub events: Vec<Event>,
    /// Events left out because no detector acts on them, with a time in the scan's window (only
    /// from [`scan_file`]): counted as events, never observed. A count, not a list: a list of
    /// times was a fresh, page-faulted vector per file.
    pub quiet: u64,
    /// The earliest time each client of a left-out event was seen in this file (only from
    /// [`scan_file`]): what the scan's first-seen networks need of them. Per distinct address,
    /// so a file of one busy client costs one entry. A hash map: every left-out line of an access
    /// log looks its client up here (a `BTreeMap` was 8 % of a one-thread access-log scan), and
    /// its consumer keeps a minimum per network, so the order it is read in does not matter.
    pub sightings: rustc_hash::FxHashMap<std::net::IpAddr, credtrail_event::Timestamp>,
    pub facts: Vec<Fact>,
    pub diagnostics: Vec<Diagnostic>,
    /// Records seen, good or bad.
    pub records: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
}

impl ParsedFile {
    /// Records that `client` was seen at `time` in a left-out event.
    pub fn sight(&mut self, client: std::net::IpAddr, time: credtrail_event::Timestamp) {
        self.sightings
            .entry(client)
            .and_modify(|t| *t = (*t).min(time))
            .or_insert(time);
    }

    /// Records a problem; `at` is (file, line, record index).
    pub fn diagnose(
        &mut self,
        at: (FileId, u64, Option<u64>),
        format: &'static str,
        reason: Reason,
        detail: impl Into<String>,
        excerpt: Option<String>,
    ) {
        let (file, line, index) = at;
        self.diagnostics.push(Diagnostic {
            file,
            line,
            index,
            format,
            reason,
            detail: detail.into(),
            excerpt,
        });
    }
}

/// How many bytes sniffing looks at.
const SNIFF_LEN: usize = 64 * 1024;

/// Whether `head` holds `needle` anywhere: the cheap gate a sniffer puts before decoding JSON.
/// Every sniffer sees every file that an earlier one turned down, so a sniffer that parsed its
/// 64 KiB head on each of them (a CloudTrail object is one long line, which fails only at its
/// cut end) cost a quarter of a CloudTrail scan; a key a format always writes is a SIMD search.
pub(super) fn mentions(head: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(head, needle).is_some()
}

/// Reads, decompresses, sniffs and parses one input.
pub fn parse_file(input: &InputFile, file: FileId, forced: Option<&'static dyn Format>, cap: u64) -> ParsedFile {
    read_and_parse(input, file, forced, cap, None)
}

/// Event times a scan counts (`--since`/`--until`).
pub type Window = std::ops::RangeInclusive<credtrail_event::Timestamp>;

/// [`parse_file`] for a scan: events that no detector acts on are only counted, when their time
/// is in `window` ([`Format::parse_for_detectors`], [`ParsedFile::quiet`]), and their clients
/// kept for first-seen networks ([`ParsedFile::sightings`]).
pub fn scan_file(
    input: &InputFile,
    file: FileId,
    forced: Option<&'static dyn Format>,
    cap: u64,
    window: &Window,
) -> ParsedFile {
    read_and_parse(input, file, forced, cap, Some(window))
}

fn read_and_parse(
    input: &InputFile,
    file: FileId,
    forced: Option<&'static dyn Format>,
    cap: u64,
    for_detectors: Option<&Window>,
) -> ParsedFile {
    let mut out = ParsedFile::default();
    let raw = match &input.source {
        InputSource::Path(path) => crate::decode::read_file(path).map_err(|e| format!("cannot read: {e}")),
        InputSource::Stdin => read_stdin(cap),
        InputSource::Unreadable(why) => Err(why.clone()),
    };
    let raw = match raw {
        Ok(raw) => raw,
        Err(why) => {
            out.diagnose((file, 0, None), "-", Reason::Unreadable, why, None);
            return out;
        }
    };
    let decoded = decode(raw, cap);
    out.compression = decoded.compression;
    out.bytes = decoded.bytes.len() as u64;
    let buf = decoded.bytes;
    let format = forced.or_else(|| {
        let head = &buf[..buf.len().min(SNIFF_LEN)];
        FORMATS
            .iter()
            .copied()
            .find(|f| f.claims(head))
            .or_else(|| FORMATS.iter().copied().find(|f| f.sniff(head)))
    });
    match format {
        Some(format) => {
            out.format = Some(format.name());
            match for_detectors {
                Some(window) => format.parse_for_detectors(&buf, file, window, &mut out),
                None => format.parse(&buf, file, &mut out),
            }
            attribute_host_logs(&input.display, &mut out.events);
        }
        // Nothing to recognise: an empty file, or a compressed one cut before its first byte (the
        // cut is reported below, once).
        None if buf.iter().all(u8::is_ascii_whitespace) => {}
        None => {
            out.diagnose(
                (file, 1, None),
                "-",
                Reason::UnrecognisedFormat,
                "no known format recognised the content (see `credtrail formats`; `--input-format` forces one)",
                Some(crate::diagnostic::excerpt(&buf[..buf.len().min(512)])),
            );
        }
    }
    // Reported after parsing so that a truncated file's diagnostics read in file order.
    if let Some((reason, detail)) = decoded.problem {
        let line = 1 + memchr::memchr_iter(b'\n', &buf).count() as u64;
        out.diagnose((file, line, None), out.format.unwrap_or("-"), reason, detail, None);
    }
    crate::decode::recycle(buf);
    out
}

/// Host logs are usually shipped under a directory named after the instance
/// (`hosts/i-0d4c34ad7bfd4bc30/var/log/nginx/access.log`); a web server's own log line cannot
/// say which machine wrote it, so the path does.
fn attribute_host_logs(display: &str, events: &mut [credtrail_event::Event]) {
    let Some(instance) = display
        .split(['/', '\\'])
        .find(|c| credtrail_event::workload::is_instance_id(c))
    else {
        return;
    };
    let instance = instance.to_ascii_lowercase();
    for event in events {
        let slot = match &mut event.body {
            credtrail_event::Body::HttpRequest(request) if request.observer.is_none() => &mut request.observer,
            credtrail_event::Body::NetFlow(flow) if flow.observer.is_none() => &mut flow.observer,
            // A host name the sensor wrote (auditd `node=`) names the machine less usefully than
            // the instance id that correlation joins on.
            credtrail_event::Body::ProcessStart(start) => &mut start.host,
            credtrail_event::Body::ProcessConnect(connect) => &mut connect.host,
            _ => continue,
        };
        if slot
            .as_deref()
            .is_none_or(|h| !credtrail_event::workload::is_instance_id(h))
        {
            *slot = Some(instance.clone());
        }
    }
}

fn read_stdin(cap: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut raw = Vec::new();
    std::io::stdin()
        .lock()
        .take(cap.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    #[test]
    fn web_server_logs_under_an_instance_directory_are_attributed_to_it() {
        let input = InputFile {
            display: "../testdata/sample/hosts/i-0a1b2c3d4e5f60718/var/log/nginx/access.log".into(),
            source: InputSource::Path(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../testdata/sample/hosts/i-0a1b2c3d4e5f60718/var/log/nginx/access.log"
                )
                .into(),
            ),
        };
        let parsed = parse_file(&input, FileId(0), None, 1 << 20);
        assert!(!parsed.events.is_empty());
        for e in &parsed.events {
            let credtrail_event::Body::HttpRequest(r) = &e.body else {
                panic!("an HTTP request")
            };
            assert_eq!(r.observer.as_deref(), Some("i-0a1b2c3d4e5f60718"));
        }
    }

    use std::io::Write;

    use super::*;

    #[test]
    fn bug_gzip_cut_before_its_content_was_also_rejected_as_unrecognised_format() {
        // A gzip cut before its first decompressed byte (here, right after its 10-byte header) is
        // one corrupt file, not also a file of an unknown format.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"{"Records":[]}"#).unwrap();
        let raw = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.json.gz");
        std::fs::write(&path, &raw[..10]).unwrap();
        let input = InputFile {
            display: "cut.json.gz".into(),
            source: InputSource::Path(path),
        };
        let out = parse_file(&input, FileId(0), None, crate::decode::DEFAULT_CAP);
        let reasons: Vec<Reason> = out.diagnostics.iter().map(|d| d.reason).collect();
        assert_eq!(reasons, [Reason::CorruptCompression]);
        assert_eq!((out.format, out.records), (None, 0));
    }
}
