//! credtrail's ingest: turns bytes into [`credtrail_event::Event`]s and [`credtrail_event::Fact`]s.
//!
//! - [`input`] finds the files to read (directories walked, S3 layouts understood, stdin).
//! - [`decode`] reads a file and decompresses gzip (multi-member) or zstd, capped so that a
//!   decompression bomb cannot exhaust memory.
//! - [`json_stream`] frames JSON: concatenated or line-delimited values and array elements, each
//!   with the line it starts on, so one bad record never hides its neighbours.
//! - [`formats`] holds one file per log format and the registry that sniffs them by content.
//!
//! Nothing here panics on input: every failure becomes a [`Diagnostic`] with file, line and
//! reason, and parsing goes on.

pub mod decode;
pub mod diagnostic;
pub mod formats;
pub mod input;
pub mod ip_ranges;
pub mod json_stream;

pub use diagnostic::{Diagnostic, Reason};
pub use formats::{parse_file, scan_file, Format, ParsedFile, Window, FORMATS};
pub use input::{discover, InputFile, InputSource};
