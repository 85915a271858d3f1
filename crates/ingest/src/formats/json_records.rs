//! The records of a JSON log or inventory file, however it was exported: JSON lines, one array,
//! one document or concatenated documents, and wrapper objects holding the records in one array
//! key (Azure diagnostic settings write `{"records":[…]}` blobs). The GCP and Azure formats read
//! their records through this; each record comes with its start line and 1-based index, and a
//! record that is not JSON or is cut short becomes a diagnostic while the others are still read.

use credtrail_event::{Event, FileId, Origin};
use serde_json::Value;

use super::ParsedFile;
use crate::diagnostic::{excerpt, Reason};
use crate::json_stream::{
    array_elements, find_top_level_array, json_lines, skip_ws, top_level_values, LineCounter, Span, Unterminated,
};

/// Why a record was rejected: the reason and a detail naming the field.
pub(crate) type Failure = (Reason, String);

/// The loop of the host formats that write one JSON object per line (Laurel, Falco): each line
/// is a record; `record` makes its event, or none for a line of another kind, or a failure that
/// becomes the line's diagnostic.
pub(crate) fn json_line_events(
    buf: &[u8],
    file: FileId,
    format: &'static str,
    out: &mut ParsedFile,
    record: impl Fn(&[u8], Origin) -> Result<Option<Event>, Failure>,
) {
    let mut index = 0u64;
    for span in json_lines(buf, skip_ws(buf, 0)) {
        index += 1;
        out.records += 1;
        let bytes = &buf[span.start..span.end];
        let origin = Origin {
            file,
            line: span.line,
            index,
        };
        match record(bytes, origin) {
            Ok(Some(event)) => out.events.push(event),
            Ok(None) => {}
            Err((reason, detail)) => out.diagnose(
                (file, span.line, Some(index)),
                format,
                reason,
                detail,
                Some(excerpt(bytes)),
            ),
        }
    }
}

/// Calls `record` on every record of `buf` (see the module documentation). `wrappers` are the
/// keys whose array holds the records when a top-level value is an object (`records`); a
/// top-level array's elements are records; any other value is one record.
pub(crate) fn for_each_record(
    buf: &[u8],
    file: FileId,
    format: &'static str,
    wrappers: &[&[u8]],
    out: &mut ParsedFile,
    mut record: impl FnMut(&Value, Origin, &mut ParsedFile) -> Result<(), Failure>,
) {
    for_each_record_bytes(
        buf,
        file,
        format,
        wrappers,
        out,
        |bytes, origin, out| match record_value(bytes, origin, format, out) {
            Some(value) => record(&value, origin, out),
            None => Ok(()),
        },
    );
}

/// [`for_each_record`] handing `record` each record's text, for a format that parses it into
/// types of its own (building the tree costs more than the rest of the parse). A record it cannot
/// parse goes through [`record_value`], for the diagnostic every format gives.
pub(crate) fn for_each_record_bytes(
    buf: &[u8],
    file: FileId,
    format: &'static str,
    wrappers: &[&[u8]],
    out: &mut ParsedFile,
    mut record: impl FnMut(&[u8], Origin, &mut ParsedFile) -> Result<(), Failure>,
) {
    let mut lines = LineCounter::new(buf);
    let mut index = 0u64;
    let mut one = |item: Result<Span, Unterminated>, out: &mut ParsedFile| {
        index += 1;
        out.records += 1;
        let span = match item {
            Ok(span) => span,
            Err(cut) => {
                out.diagnose(
                    (file, cut.line, Some(index)),
                    format,
                    Reason::InvalidJson,
                    "record does not end (truncated?)",
                    Some(excerpt(&buf[cut.start..])),
                );
                return;
            }
        };
        let origin = Origin {
            file,
            line: span.line,
            index,
        };
        if let Err((reason, detail)) = record(&buf[span.start..span.end], origin, out) {
            out.diagnose(
                (file, span.line, Some(index)),
                format,
                reason,
                detail,
                Some(excerpt(&buf[span.start..span.end])),
            );
        }
    };
    for top in top_level_values(buf) {
        // A cut array or wrapper still yields the elements before the cut.
        let (span, cut_short) = crate::json_stream::span_or_cut(buf, top);
        let open = match buf.get(span.start) {
            Some(b'[') => Some(span.start),
            Some(b'{') => wrappers.iter().find_map(|key| find_top_level_array(buf, span, key)),
            _ => None,
        };
        match open {
            Some(open) => {
                for element in array_elements(buf, open, &mut lines) {
                    one(element, out);
                }
            }
            None if !cut_short => one(Ok(span), out),
            None => one(
                Err(Unterminated {
                    start: span.start,
                    line: span.line,
                }),
                out,
            ),
        }
    }
}

/// One framed JSON value as a tree, or a diagnostic (`InvalidUtf8` or `InvalidJson`, the
/// parser's message after `what`) and `None`.
pub(crate) fn parse_value(
    buf: &[u8],
    span: Span,
    (file, index): (FileId, u64),
    format: &'static str,
    what: &str,
    out: &mut ParsedFile,
) -> Option<Value> {
    let bytes = &buf[span.start..span.end];
    match serde_json::from_slice(bytes) {
        Ok(value) => Some(value),
        Err(e) => {
            diagnose_invalid(bytes, (file, span.line, index), format, what, &e, out);
            None
        }
    }
}

/// One record's text (from [`for_each_record_bytes`]) as a tree, or the diagnostic
/// [`parse_value`] gives and `None`.
pub(crate) fn record_value(bytes: &[u8], origin: Origin, format: &'static str, out: &mut ParsedFile) -> Option<Value> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Some(value),
        Err(e) => {
            diagnose_invalid(bytes, (origin.file, origin.line, origin.index), format, "", &e, out);
            None
        }
    }
}

fn diagnose_invalid(
    bytes: &[u8],
    (file, line, index): (FileId, u64, u64),
    format: &'static str,
    what: &str,
    e: &serde_json::Error,
    out: &mut ParsedFile,
) {
    let reason = if std::str::from_utf8(bytes).is_err() {
        Reason::InvalidUtf8
    } else {
        Reason::InvalidJson
    };
    out.diagnose(
        (file, line, Some(index)),
        format,
        reason,
        format!("{what}invalid JSON: {e}"),
        Some(excerpt(bytes)),
    );
}

/// A string field, trimmed, absent when empty.
pub(crate) fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The elements of an array field (none when absent or not an array).
pub(crate) fn items<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Longest resource name or target kept: a hostile record cannot make every alert huge.
pub(crate) const TARGET_CAP: usize = 512;

/// `text` cut to [`TARGET_CAP`] bytes on a character boundary.
pub(crate) fn capped(text: &str) -> String {
    let mut end = text.len().min(TARGET_CAP);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}
