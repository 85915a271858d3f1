//! Bad input is data: a diagnostic names the file, the line and the reason.

use credtrail_event::FileId;

/// Why a record or file could not be read. The `key` is stable: summaries count by it and users
/// filter quarantine files by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The file could not be opened or read.
    Unreadable,
    /// The compressed stream ended early or is corrupt; what came before it was kept.
    CorruptCompression,
    /// Decompressed output reached the size cap; the rest of the file was not read.
    SizeCapExceeded,
    /// Bytes that are not UTF-8 where JSON requires it.
    InvalidUtf8,
    /// Not valid JSON.
    InvalidJson,
    /// Valid JSON that is not a record of the format (a required field is missing or mistyped).
    MissingField,
    /// The record's time could not be read.
    BadTimestamp,
    /// No format recognised the content.
    UnrecognisedFormat,
}

impl Reason {
    pub fn key(self) -> &'static str {
        match self {
            Reason::Unreadable => "unreadable",
            Reason::CorruptCompression => "corrupt_compression",
            Reason::SizeCapExceeded => "size_cap_exceeded",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::InvalidJson => "invalid_json",
            Reason::MissingField => "missing_field",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::UnrecognisedFormat => "unrecognised_format",
        }
    }
}

/// One problem with the input, positioned like evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: FileId,
    /// 1-based line where the bad record starts; 0 when the problem concerns the whole file.
    pub line: u64,
    /// 1-based ordinal of the record in the file, when there is one.
    pub index: Option<u64>,
    pub format: &'static str,
    pub reason: Reason,
    pub detail: String,
    /// The offending bytes (lossily decoded, truncated) for the quarantine file.
    pub excerpt: Option<String>,
}

/// Longest excerpt kept in a diagnostic: enough to recognise the record, bounded so that a
/// corrupt multi-gigabyte line does not end up in memory twice.
pub const EXCERPT_LIMIT: usize = 16 * 1024;

pub fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(EXCERPT_LIMIT)];
    String::from_utf8_lossy(cut).into_owned()
}
