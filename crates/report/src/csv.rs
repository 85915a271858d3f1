//! `--format csv`: one row per alert, with its incident and the incident's decision, for a
//! spreadsheet. Every cell that a spreadsheet would read as a formula (starting with `=`, `+`,
//! `-`, `@`, a tab or a carriage return: OWASP "CSV injection") is prefixed with `'`, so a
//! hostile user agent or URI in a log cannot run in the analyst's spreadsheet.

use std::io::{self, Write};

use crate::Report;

const HEADER: [&str; 19] = [
    "incident",
    "decision",
    "alert",
    "severity",
    "rule",
    "variant",
    "first_seen",
    "last_seen",
    "title",
    "account",
    "instance",
    "role",
    "access_key",
    "source_ip",
    "user_agent",
    "host",
    "process",
    "reasons",
    "evidence",
];

/// A cell a spreadsheet will show as text.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut incident_of = vec![None; report.alerts.len()];
    for inc in report.incidents {
        for &i in &inc.alerts {
            if let Some(slot) = incident_of.get_mut(i) {
                *slot = Some(inc);
            }
        }
    }
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER).map_err(io::Error::other)?;
    for (alert, inc) in report.alerts.iter().zip(incident_of) {
        let e = &alert.entities;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let evidence: Vec<String> = alert
            .evidence
            .iter()
            .map(|o| format!("{}:{}#{}", report.source(o.file), o.line, o.index))
            .collect();
        let row = [
            inc.map(|i| i.id.clone()).unwrap_or_default(),
            inc.map(|i| i.escalation.decision.as_str().to_string())
                .unwrap_or_default(),
            alert.id(),
            alert.severity.as_str().to_string(),
            alert.rule.to_string(),
            alert.variant.unwrap_or("").to_string(),
            alert.first_seen.to_string(),
            alert.last_seen.to_string(),
            alert.title.clone(),
            text(&e.account),
            text(&e.instance),
            text(&e.role),
            text(&e.access_key),
            text(&e.source_ip),
            text(&e.user_agent),
            text(&e.host),
            text(&e.process),
            alert.reasons.join(" | "),
            evidence.join(" "),
        ];
        w.write_record(row.iter().map(|c| neutralise(c)))
            .map_err(io::Error::other)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_become_text() {
        for hostile in ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"] {
            let safe = neutralise(hostile);
            assert!(safe.starts_with('\''), "{safe}");
        }
        assert_eq!(neutralise("curl/8.5.0"), "curl/8.5.0");
        assert_eq!(neutralise(""), "");
    }
}
