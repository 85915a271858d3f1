//! `--format markdown`: incidents with their answers and plan, then the alerts, for a ticket or a
//! wiki page. Every log-derived value is escaped: Markdown's punctuation is backslash-escaped (a
//! hostile principal cannot become a link, emphasis or a table cell break), `<`, `>` and `&`
//! become entities (no raw HTML reaches a renderer that allows it), line breaks become spaces.

use std::io::{self, Write};

use crate::Report;

/// A log-derived value as inert Markdown text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() || crate::is_bidi_control(c) => out.extend(c.escape_default()),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.' | '!' | '|' | '~'
            | '"' | '\'' | ':' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# credtrail report\n")?;
    writeln!(
        out,
        "{} incident(s), {} alert(s), {} record(s) read from {} file(s).\n",
        report.incidents.len(),
        report.alerts.len(),
        report.summary.records,
        report.summary.files
    )?;
    for inc in report.incidents {
        writeln!(
            out,
            "## {} — {} ({})\n",
            inc.id,
            inc.escalation.decision.as_str(),
            inc.severity.as_str()
        )?;
        writeln!(out, "Evidence from {} to {}.\n", inc.first_evidence, inc.last_evidence)?;
        writeln!(out, "**Why this decision**\n")?;
        for r in &inc.escalation.reasons {
            writeln!(out, "- {}", escape(r))?;
        }
        writeln!(out, "\n**Runbook questions**\n")?;
        for (n, a) in inc.answers.iter().enumerate() {
            writeln!(out, "{}. {}  \n   {}", n + 1, escape(a.question), escape(&a.answer))?;
        }
        writeln!(out, "\n**Checks done**\n")?;
        for check in &inc.checks {
            writeln!(
                out,
                "- {}: {}{}",
                escape(check.name),
                escape(&check.outcome),
                escape(&report.cited(&check.evidence))
            )?;
        }
        if !inc.facts.timeline.is_empty() {
            writeln!(
                out,
                "\n**Timeline** ({})\n",
                credtrail_triage::facts::human_duration(inc.facts.duration_seconds())
            )?;
            writeln!(out, "| time | what |")?;
            writeln!(out, "|---|---|")?;
            for m in &inc.facts.timeline {
                writeln!(out, "| {} | {} |", m.time, escape(&m.what))?;
            }
        }
        if !inc.facts.data.is_empty() {
            writeln!(
                out,
                "\n**Data read with the stolen credential**: {}",
                escape(&inc.facts.data.describe())
            )?;
        }
        for (source, actions) in inc.facts.attacker_writes() {
            writeln!(
                out,
                "\n**Write calls with the stolen credential from {}**: {}",
                escape(source),
                escape(&actions.join(", "))
            )?;
        }
        if !inc.containment.is_empty() {
            writeln!(out, "\n**Containment, in order**\n")?;
            for (n, step) in inc.containment.iter().enumerate() {
                writeln!(
                    out,
                    "{}. {}  \n   Breaks: {}",
                    n + 1,
                    escape(&step.action),
                    escape(&step.breaks)
                )?;
                if let Some(cmd) = &step.command {
                    // An indented code block: nothing inside is interpreted, and no fence a
                    // value could close.
                    writeln!(out, "\n        {}\n", cmd.replace(['\n', '\r'], " "))?;
                }
            }
        }
        writeln!(
            out,
            "\n| severity | rule | variant | instance | source | first seen | alert |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|")?;
        for a in inc.alerts.iter().filter_map(|&i| report.alerts.get(i)) {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                a.severity.as_str(),
                a.rule,
                a.variant.unwrap_or("-"),
                escape(a.entities.instance.as_deref().unwrap_or("-")),
                escape(a.entities.source_ip.as_deref().unwrap_or("-")),
                a.first_seen,
                a.id()
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out, "## Alerts\n")?;
    for a in report.alerts {
        writeln!(out, "### {} {} — {}\n", a.severity.as_str(), a.rule, escape(&a.title))?;
        for r in &a.reasons {
            writeln!(out, "- {}", escape(r))?;
        }
        for o in a.evidence.iter().take(5) {
            writeln!(
                out,
                "- evidence: {}:{} (record {})",
                escape(report.source(o.file)),
                o.line,
                o.index
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_html_and_table_breaks_are_inert() {
        let hostile = "[click](javascript:alert(1)) <script>alert(1)</script> a|b **bold** `code`\n# heading";
        let safe = escape(hostile);
        assert!(!safe.contains("<script"), "{safe}");
        assert!(!safe.contains("](") && !safe.contains('\n'), "{safe}");
        assert!(
            safe.contains(r"\|") && safe.contains(r"\*\*") && safe.contains(r"\`"),
            "{safe}"
        );
    }

    #[test]
    fn bug_a_right_to_left_override_reached_markdown_unescaped() {
        let safe = escape("invoice\u{202e}fdp.exe \u{2066}x\u{2069}");
        assert!(!safe.chars().any(crate::is_bidi_control), "{safe}");
        assert!(safe.contains("\\u{202e}"), "{safe}");
    }
}
