//! The terminal view: an overview table, then each alert with its reasons and evidence, then the
//! run summary. Colour only when asked (the CLI decides from NO_COLOR and the terminal).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use credtrail_detect::Severity;

use crate::{terminal_safe as safe, Report};

/// Evidence lines printed per alert; the rest is counted (jsonl lists it all).
const EVIDENCE_SHOWN: usize = 5;

fn severity_style(sev: Severity) -> Style {
    let color = match sev {
        Severity::Critical => AnsiColor::BrightRed,
        Severity::High => AnsiColor::Red,
        Severity::Medium => AnsiColor::Yellow,
        Severity::Low => AnsiColor::Cyan,
        Severity::Info => AnsiColor::White,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// Timeline entries printed per incident; jsonl and HTML have them all.
const TIMELINE_SHOWN: usize = 25;

/// Actions listed per source of a stolen credential.
const ACTIONS_SHOWN: usize = 12;

/// The T2 facts in brief: the timeline, what the stolen credential called from the attacker's
/// places, and what it read.
fn write_facts(facts: &credtrail_triage::Facts, out: &mut dyn Write) -> io::Result<()> {
    if facts.timeline.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "  timeline  {} entr(ies) over {}",
        facts.timeline.len(),
        credtrail_triage::facts::human_duration(facts.duration_seconds())
    )?;
    for moment in facts.timeline.iter().take(TIMELINE_SHOWN) {
        writeln!(out, "            {}  {}", moment.time, safe(&moment.what))?;
    }
    if facts.timeline.len() > TIMELINE_SHOWN {
        writeln!(
            out,
            "            … {} more (--format jsonl or html lists them all)",
            facts.timeline.len() - TIMELINE_SHOWN
        )?;
    }
    for credential in &facts.credentials {
        let mut by_source: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for call in credential.calls.iter().filter(|c| c.attacker) {
            let denied = if call.denied > 0 {
                format!(", {} denied", call.denied)
            } else {
                String::new()
            };
            let writes = if call.writes > 0 {
                format!(", {} write(s)", call.writes)
            } else {
                String::new()
            };
            by_source
                .entry(&call.source)
                .or_default()
                .push(format!("{} ×{}{denied}{writes}", call.action, call.count));
        }
        for (source, actions) in by_source {
            let more = actions.len().saturating_sub(ACTIONS_SHOWN);
            let mut text = actions.into_iter().take(ACTIONS_SHOWN).collect::<Vec<_>>().join(", ");
            if more > 0 {
                text.push_str(&format!(", … {more} more"));
            }
            writeln!(
                out,
                "  calls     {} from {}: {}",
                safe(&credential.access_key),
                safe(source),
                safe(&text)
            )?;
        }
    }
    if !facts.data.is_empty() {
        writeln!(out, "  data read {}", safe(&facts.data.describe()))?;
    }
    Ok(())
}

/// Incidents first: the decision, why, the runbook's answers and the plan, for the L1 analyst.
fn write_incidents(report: &Report<'_>, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let bold = Style::new().bold();
    if report.incidents.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{}",
        paint(color, bold, &format!("{} incident(s)", report.incidents.len()))
    )?;
    for inc in report.incidents {
        writeln!(out)?;
        let decision = inc.escalation.decision.as_str().to_uppercase();
        let style = match inc.escalation.decision {
            credtrail_triage::Decision::EscalateT2 => severity_style(Severity::Critical),
            credtrail_triage::Decision::Monitor => severity_style(Severity::Medium),
            credtrail_triage::Decision::CloseBenign => severity_style(Severity::Low),
        };
        writeln!(
            out,
            "{}  {}  {}  {} alert(s)  {} .. {}",
            paint(color, style, &decision),
            paint(color, bold, &inc.id),
            inc.severity.as_str(),
            inc.alerts.len(),
            inc.first_evidence,
            inc.last_evidence
        )?;
        for r in &inc.escalation.reasons {
            writeln!(out, "  because   {}", safe(r))?;
        }
        for (n, a) in inc.answers.iter().enumerate() {
            writeln!(out, "  Q{}        {}", n + 1, safe(a.question))?;
            writeln!(out, "            {}", safe(&a.answer))?;
        }
        for check in &inc.checks {
            writeln!(
                out,
                "  check     {}: {}{}",
                check.name,
                safe(&check.outcome),
                safe(&report.cited(&check.evidence))
            )?;
        }
        write_facts(&inc.facts, out)?;
        for (n, step) in inc.containment.iter().enumerate() {
            writeln!(out, "  step {}    {}", n + 1, safe(&step.action))?;
            if let Some(cmd) = &step.command {
                writeln!(out, "            $ {}", safe(cmd))?;
            }
            writeln!(out, "            breaks: {}", safe(&step.breaks))?;
        }
        let ids: Vec<String> = inc
            .alerts
            .iter()
            .filter_map(|&i| report.alerts.get(i))
            .map(|a| a.id())
            .collect();
        writeln!(out, "  alerts    {}", ids.join(" "))?;
    }
    writeln!(out)?;
    Ok(())
}

pub fn write(report: &Report<'_>, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let bold = Style::new().bold();
    // Most urgent first for the analyst; ties keep the report's (time, rule, id) order.
    let mut alerts: Vec<&credtrail_detect::Alert> = report.alerts.iter().collect();
    alerts.sort_by_key(|a| std::cmp::Reverse(a.severity));
    write_incidents(report, out, color)?;
    if alerts.is_empty() {
        writeln!(out, "{}", paint(color, bold, "No alerts."))?;
    } else {
        let mut table = Table::new();
        // No wrapping: ids, addresses and rule names must stay whole to be copied.
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled);
        table.set_header(["severity", "rule", "variant", "workload", "source", "first seen", "id"]);
        for a in &alerts {
            let e = &a.entities;
            table.add_row([
                a.severity.as_str().to_string(),
                a.rule.to_string(),
                a.variant.unwrap_or("-").to_string(),
                safe(e.instance.as_deref().unwrap_or("-")),
                safe(e.source_ip.as_deref().unwrap_or("-")),
                a.first_seen.to_string(),
                a.id(),
            ]);
        }
        writeln!(out, "{table}")?;
        for a in &alerts {
            writeln!(out)?;
            let sev = paint(color, severity_style(a.severity), &a.severity.as_str().to_uppercase());
            let variant = a.variant.map(|v| format!(" ({v})")).unwrap_or_default();
            writeln!(out, "{sev}  {}{variant}  {}", paint(color, bold, a.rule), a.id())?;
            writeln!(out, "  {}", safe(&a.title))?;
            writeln!(out, "  when      {} .. {}", a.first_seen, a.last_seen)?;
            let who: Vec<String> = crate::who(&a.entities)
                .into_iter()
                .map(|(k, v)| format!("{k} {}", safe(v)))
                .collect();
            if !who.is_empty() {
                writeln!(out, "  who       {}", who.join(" | "))?;
            }
            for (i, r) in a.reasons.iter().enumerate() {
                let label = if i == 0 { "why" } else { "" };
                writeln!(out, "  {label:<9} - {}", safe(r))?;
            }
            for (i, o) in a.evidence.iter().take(EVIDENCE_SHOWN).enumerate() {
                let label = if i == 0 { "evidence" } else { "" };
                writeln!(
                    out,
                    "  {label:<9} {}:{} (record {})",
                    safe(report.source(o.file)),
                    o.line,
                    o.index
                )?;
            }
            let more = a
                .evidence_total
                .saturating_sub(EVIDENCE_SHOWN.min(a.evidence.len()) as u64);
            if more > 0 {
                writeln!(
                    out,
                    "            … and {more} more record(s) (--format jsonl lists them)"
                )?;
            }
        }
    }
    write_summary(report, out, color)
}

fn write_summary(report: &Report<'_>, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let s = report.summary;
    writeln!(out)?;
    let sev: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter_map(|sev| s.alerts.get(sev).map(|n| format!("{n} {}", sev.as_str())))
        .collect();
    let total: u64 = s.alerts.values().sum();
    let head = format!(
        "Summary: {} file(s), {} record(s), {} event(s); {total} alert(s){}",
        s.files,
        s.records,
        s.events,
        if sev.is_empty() {
            String::new()
        } else {
            format!(" ({})", sev.join(", "))
        }
    );
    writeln!(out, "{}", paint(color, Style::new().bold(), &head))?;
    if !s.formats.is_empty() {
        let f: Vec<String> = s.formats.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "  formats     {}", f.join(", "))?;
    }
    if s.rejected_total() > 0 || s.files_unreadable > 0 {
        let r: Vec<String> = s.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let warn = Style::new().fg_color(Some(AnsiColor::Yellow.into()));
        writeln!(
            out,
            "  {}",
            paint(
                color,
                warn,
                &format!("rejected    {} ({})", s.rejected_total(), r.join(", "))
            )
        )?;
        if let Some(q) = &s.quarantine {
            writeln!(out, "  quarantine  {}", safe(q))?;
        }
    }
    if !report.suppressed.is_empty() {
        writeln!(out, "  suppressed  {}", report.suppressed.len())?;
        for x in report.suppressed {
            writeln!(
                out,
                "    - {} {} {}: {}",
                x.alert.id(),
                x.alert.rule,
                safe(&x.alert.title),
                safe(&x.reason)
            )?;
        }
    }
    Ok(())
}
