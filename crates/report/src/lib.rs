//! credtrail's sinks. Wire types live here, not on the core types: the `jsonl` contract
//! (PRODUCT.md §6) and OCSF can evolve without touching detectors.
//!
//! Every log-derived string is hostile: the table strips control characters and escape
//! sequences before printing; JSON encoders escape by construction; HTML goes through one
//! escaping function (`html::escape`).

pub mod csv;
pub mod html;
pub mod jsonl;
pub mod markdown;
pub mod ocsf;
pub mod summary;
pub mod table;

use credtrail_detect::{Alert, Entities, Suppressed};

pub use summary::Summary;

/// Everything a sink needs.
pub struct Report<'a> {
    pub alerts: &'a [Alert],
    /// Incidents over `alerts` (their `alerts` index into it), most urgent first.
    pub incidents: &'a [credtrail_triage::Incident],
    pub suppressed: &'a [Suppressed],
    /// Display names of input files, indexed by `FileId`.
    pub sources: &'a [String],
    pub summary: &'a Summary,
}

impl Report<'_> {
    pub fn source(&self, file: credtrail_event::FileId) -> &str {
        self.sources.get(file.0 as usize).map(String::as_str).unwrap_or("?")
    }

    /// " (from PATH line N; …)" for records a check rests on, or nothing. Paths are as given on
    /// the command line: the caller escapes the result for its sink.
    pub fn cited(&self, evidence: &[credtrail_event::Origin]) -> String {
        if evidence.is_empty() {
            return String::new();
        }
        let places: Vec<String> = evidence
            .iter()
            .map(|o| format!("{} line {}", self.source(o.file), o.line))
            .collect();
        format!(" (from {})", places.join("; "))
    }
}

/// Who an alert is about beyond its workload and source, as the table and the HTML label it:
/// the entities that are set, in a fixed order. Values are raw log strings: escape them.
pub(crate) fn who(e: &Entities) -> Vec<(&'static str, &str)> {
    [
        ("account", &e.account),
        ("role", &e.role),
        ("key", &e.access_key),
        ("principal", &e.principal),
        ("agent", &e.user_agent),
        ("host", &e.host),
        ("process", &e.process),
        ("container", &e.container),
        ("user", &e.user),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    .collect()
}

/// Makes a log-derived string safe for a terminal: control characters (ESC sequences, carriage
/// returns that overwrite lines, bidi overrides) become visible escapes.
/// Unicode bidirectional embeddings, overrides, isolates and marks: they reorder the text around
/// them when displayed (`\u{202e}txt.exe` shows as `exe.txt`), so a log value must never carry
/// them into a report unescaped.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if is_bidi_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_and_bidi_overrides_are_neutralised() {
        let hostile = "curl\u{1b}[2J\u{1b}]0;pwned\u{7}\r\n\u{202e}txt.exe";
        let safe = terminal_safe(hostile);
        assert!(!safe.chars().any(|c| c.is_control() || c == '\u{202e}'), "{safe}");
        assert!(safe.contains("\\u{1b}[2J"));
    }
}
