//! `--format html`: one self-contained page for an analyst's browser or a ticket attachment
//! (issue #5 item 7). The scan summary, the incidents (decision and the rubric rules that fired,
//! the runbook's four answers, the T2 facts, the L1 checks, the containment plan), then every
//! alert; two inline-SVG charts: each incident's timeline on an event-time axis, and how many
//! metadata-service requests each requester made.
//!
//! Nothing is fetched: inline `<style>`, no `<script>` at all, no URL anywhere, and a
//! Content-Security-Policy that forbids everything else, so a page opened from a ticket cannot
//! call out. Every log-derived value (user agents, URIs, principal and role names, file names)
//! goes through [`escape`], the one escaping function, in text, attribute and SVG contexts
//! alike; maud escapes the remaining splices (our own numbers and names) by construction.
//! Times are event times: the page holds no wall clock, so the same scan gives the same bytes.

use std::collections::BTreeMap;
use std::io::{self, Write};

use credtrail_detect::activity::FollowedCall;
use credtrail_detect::{Alert, Severity};
use credtrail_event::{Origin, Timestamp};
use credtrail_triage::facts::{human_bytes, human_duration};
use credtrail_triage::{Decision, Incident};
use maud::{html, Markup, Render, DOCTYPE};

use crate::Report;

/// No fetch of any kind, styles only inline, images only as data (there are none).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Alerts drawn as lanes of an incident's timeline; the table below it lists them all.
const LANES_SHOWN: usize = 24;

/// Requesters drawn in the volume chart; the rest are summed into one bar.
const SOURCES_SHOWN: usize = 20;

/// Evidence records listed per alert; jsonl lists them all.
const EVIDENCE_SHOWN: usize = 10;

/// Rules whose records are requests made to the metadata service (a web or proxy request
/// carrying it, a process connecting to it, a rejected attempt). CloudTrail rules are not among
/// them: they record what a credential did, not how it was read.
const METADATA_REQUEST_RULES: &[&str] = &[
    "ssrf-metadata-request",
    "metadata-proxy-abuse",
    "imds-credential-read-unexpected-process",
    "imds-access-from-container",
    "imds-access-volume-anomaly",
    "imds-access-failures",
];

/// A log-derived value as inert HTML, for text and for (double- or single-quoted) attribute
/// values: `&`, `<`, `>`, `"` and `'` become entities. Control characters and bidi overrides
/// become visible escapes first ([`crate::terminal_safe`]), so a value cannot reorder or hide
/// the text around it.
pub fn escape(text: &str) -> String {
    let visible = crate::terminal_safe(text);
    let mut out = String::with_capacity(visible.len() + visible.len() / 8);
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A log-derived value in a template: rendered only through [`escape`].
struct Text<'a>(&'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str(&escape(self.0));
    }
}

fn t(text: &str) -> Text<'_> {
    Text(text)
}

fn opt(value: &Option<String>) -> Text<'_> {
    Text(value.as_deref().unwrap_or("-"))
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(page(report).into_string().as_bytes())
}

/// The whole page.
pub fn page(report: &Report<'_>) -> Markup {
    let first = report.alerts.iter().map(|a| a.first_seen).min();
    let last = report.alerts.iter().map(|a| a.last_seen).max();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CONTENT_SECURITY_POLICY);
                meta name="referrer" content="no-referrer";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "credtrail report" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "credtrail report" }
                    p.lead {
                        (report.incidents.len()) " incident(s), " (report.alerts.len()) " alert(s), "
                        (report.summary.records) " record(s) read from " (report.summary.files) " file(s)"
                        @if let (Some(first), Some(last)) = (first, last) {
                            "; evidence from " (first.to_string()) " to " (last.to_string()) " (event time, UTC)"
                        }
                        "."
                    }
                    nav {
                        a href="#summary" { "Summary" } " · "
                        a href="#incidents" { "Incidents" } " · "
                        a href="#alerts" { "Alerts" }
                    }
                }
                (summary(report))
                (incidents(report))
                (alerts(report))
            }
        }
    }
}

fn summary(report: &Report<'_>) -> Markup {
    let s = report.summary;
    let total: u64 = s.alerts.values().sum();
    html! {
        section #summary {
            h2 { "Scan summary" }
            table.kv {
                tr { th { "inputs" } td { (s.files) " file(s), " (human_bytes(s.bytes)) ", " (s.records) " record(s), "
                    (s.events) " event(s), " (s.facts) " inventory fact(s)" } }
                tr { th { "formats" } td {
                    @if s.formats.is_empty() { "none recognised" }
                    @for (i, (format, files)) in s.formats.iter().enumerate() {
                        @if i > 0 { ", " }
                        (t(format)) " " (files)
                    }
                } }
                tr { th { "alerts" } td {
                    (total)
                    @for sev in Severity::ALL.iter().rev() {
                        @if let Some(n) = s.alerts.get(sev) {
                            " · " span class={"sev " (sev.as_str())} { (n) " " (sev.as_str()) }
                        }
                    }
                } }
                tr { th { "diagnostics" } td {
                    @if s.rejected.is_empty() && s.files_unreadable == 0 { "none: every record was read" }
                    @else {
                        (s.rejected_total()) " rejected record(s) or file(s), " (s.files_unreadable) " unreadable file(s)"
                        @if let Some(q) = &s.quarantine { "; written with file, line and reason to " code { (t(q)) } }
                    }
                } }
                @if !s.ip_ranges.is_empty() {
                    tr { th { "cloud ranges" } td {
                        @for (i, (provider, date)) in s.ip_ranges.iter().enumerate() {
                            @if i > 0 { ", " }
                            (t(provider)) " " (t(date))
                        }
                    } }
                }
            }
            @if !s.rejected.is_empty() {
                h3 { "Diagnostics by reason" }
                table {
                    thead { tr { th { "reason" } th.num { "count" } } }
                    tbody { @for (reason, n) in &s.rejected { tr { td { code { (t(reason)) } } td.num { (n) } } } }
                }
            }
            h3 { "Suppressed and allow-listed (" (report.suppressed.len()) ")" }
            @if report.suppressed.is_empty() {
                p { "None." }
            } @else {
                table {
                    thead { tr { th { "alert" } th { "rule" } th { "title" } th { "reason" } } }
                    tbody {
                        @for x in report.suppressed {
                            tr { td { code { (x.alert.id()) } } td { (x.alert.rule) } td { (t(&x.alert.title)) } td { (t(&x.reason)) } }
                        }
                    }
                }
            }
            (volume_chart(report.alerts))
        }
    }
}

fn decision_class(decision: Decision) -> &'static str {
    match decision {
        Decision::EscalateT2 => "decision escalate",
        Decision::Monitor => "decision monitor",
        Decision::CloseBenign => "decision benign",
    }
}

fn incidents(report: &Report<'_>) -> Markup {
    html! {
        section #incidents {
            h2 { "Incidents (" (report.incidents.len()) ")" }
            @if report.incidents.is_empty() { p { "No incidents." } }
            @if report.incidents.len() > 1 { (overview(report)) }
            @for inc in report.incidents { (incident(report, inc)) }
        }
    }
}

/// The distinct values of one entity over an incident's alerts, joined.
fn distinct(alerts: &[&Alert], field: fn(&Alert) -> Option<&String>) -> String {
    let set: std::collections::BTreeSet<&str> = alerts.iter().filter_map(|a| field(a)).map(String::as_str).collect();
    if set.is_empty() {
        "-".into()
    } else {
        set.into_iter().collect::<Vec<_>>().join(", ")
    }
}

/// One line per incident, most urgent first, each linking to its section.
fn overview(report: &Report<'_>) -> Markup {
    html! {
        table {
            thead { tr { th { "decision" } th { "incident" } th { "severity" } th.num { "alerts" } th { "first evidence" } th { "lasted" } th { "instances or hosts" } th { "sources" } } }
            tbody {
                @for inc in report.incidents {
                    @let members: Vec<&Alert> = inc.alerts.iter().filter_map(|&i| report.alerts.get(i)).collect();
                    tr {
                        td { span class=(decision_class(inc.escalation.decision)) { (inc.escalation.decision.as_str()) } }
                        td { a href={"#" (inc.id)} { code { (inc.id) } } }
                        td { span class={"sev " (inc.severity.as_str())} { (inc.severity.as_str()) } }
                        td.num { (members.len()) }
                        td.time { (inc.first_evidence.to_string()) }
                        td { (human_duration((inc.last_evidence.millis() - inc.first_evidence.millis()) / 1000)) }
                        td.long { (t(&distinct(&members, |a| a.entities.instance.as_ref().or(a.entities.host.as_ref())))) }
                        td.long { (t(&distinct(&members, |a| a.entities.source_ip.as_ref()))) }
                    }
                }
            }
        }
    }
}

fn incident(report: &Report<'_>, inc: &Incident) -> Markup {
    let members: Vec<&Alert> = inc.alerts.iter().filter_map(|&i| report.alerts.get(i)).collect();
    html! {
        article.incident id=(inc.id) {
            h3 {
                span class=(decision_class(inc.escalation.decision)) { (inc.escalation.decision.as_str()) }
                " " code { (inc.id) } " "
                span class={"sev " (inc.severity.as_str())} { (inc.severity.as_str()) }
            }
            p { (members.len()) " alert(s), evidence from " (inc.first_evidence.to_string()) " to "
                (inc.last_evidence.to_string()) " (" (human_duration((inc.last_evidence.millis() - inc.first_evidence.millis()) / 1000)) ")." }
            h4 { "Why this decision (rubric rules that fired)" }
            ul { @for r in &inc.escalation.reasons { li { (t(r)) } } }
            h4 { "Runbook questions" }
            ol.answers {
                @for a in &inc.answers {
                    li {
                        strong { (t(a.question)) } br;
                        (t(&a.answer))
                        @if !a.alerts.is_empty() {
                            br; span.muted { "alerts: " }
                            @for id in &a.alerts { a href={"#" (id)} { code { (id) } } " " }
                        }
                    }
                }
            }
            (timeline_chart(inc, &members))
            (facts(report, inc))
            h4 { "L1 checks done" }
            table.kv { @for c in &inc.checks { tr { th { (t(c.name)) } td { (t(&c.outcome)) } } } }
            h4 { "Containment, in order" }
            @if inc.containment.is_empty() { p { "No step proposed." } }
            ol.plan {
                @for step in &inc.containment {
                    li {
                        strong { (t(&step.action)) }
                        @if let Some(cmd) = &step.command { pre { code { (t(cmd)) } } }
                        p { span.muted { "Breaks: " } (t(&step.breaks)) }
                    }
                }
            }
            h4 { "Alerts in this incident" }
            (alert_rows(&members))
        }
    }
}

fn alert_rows(alerts: &[&Alert]) -> Markup {
    html! {
        table {
            thead { tr { th { "severity" } th { "rule" } th { "variant" } th { "instance" } th { "source" } th { "first seen" } th { "alert" } } }
            tbody {
                @for a in alerts {
                    tr {
                        td { span class={"sev " (a.severity.as_str())} { (a.severity.as_str()) } }
                        td { (a.rule) } td { (a.variant.unwrap_or("-")) }
                        td { (opt(&a.entities.instance)) } td { (opt(&a.entities.source_ip)) }
                        td.time { (a.first_seen.to_string()) }
                        td { a href={"#" (a.id())} { code { (a.id()) } } }
                    }
                }
            }
        }
    }
}

/// Where a record came from: `file:line (record n)`.
fn origin(report: &Report<'_>, o: &Origin) -> Markup {
    html! { code.path { (t(report.source(o.file))) ":" (o.line) } " (record " (o.index) ")" }
}

/// A list of calls an investigation follows (data reads, privilege changes, commands, metadata
/// changes), one row each with its evidence.
fn calls_table(report: &Report<'_>, calls: &[FollowedCall]) -> Markup {
    html! {
        table {
            thead { tr { th { "time" } th { "action" } th { "target" } th { "by" } th { "from" } th { "outcome" } th { "record" } } }
            tbody {
                @for c in calls {
                    tr {
                        td.time { (c.time.to_string()) } td { (t(&c.action)) } td.long { (opt(&c.target)) }
                        td.long { (opt(&c.actor)) } td { (t(&c.source.to_string())) }
                        td {
                            @match (&c.error, c.bytes) {
                                (Some(e), _) => span.bad { (t(e)) },
                                (None, Some(b)) => { "ok, " (human_bytes(b)) },
                                (None, None) => "ok",
                            }
                        }
                        td { (origin(report, &c.origin)) }
                    }
                }
            }
        }
    }
}

/// The T2 facts: timeline, the stolen credential's calls by source, data read, privilege
/// changes, instance posture.
fn facts(report: &Report<'_>, inc: &Incident) -> Markup {
    let f = &inc.facts;
    html! {
        h4 { "Timeline (" (f.timeline.len()) " entr(ies) over " (human_duration(f.duration_seconds())) ")" }
        @if f.timeline.is_empty() { p.muted { "No timeline: no activity of the incident's credentials in the inputs." } }
        @else {
            table {
                thead { tr { th { "time" } th { "what" } th { "from" } } }
                tbody {
                    @for m in &f.timeline {
                        tr {
                            td.time { (m.time.to_string()) } td.long { (t(&m.what)) }
                            td {
                                @if let Some(id) = &m.alert { a href={"#" (id)} { code { (id) } } }
                                @else if let Some(o) = &m.origin { (origin(report, o)) }
                            }
                        }
                    }
                }
            }
        }
        @for c in &f.credentials {
            h4 { "Calls of credential " code { (t(&c.access_key)) } " by source" }
            p {
                "Used from " (c.first_use.to_string()) " to " (c.last_use.to_string())
                @if let Some(issued) = c.issued { "; issued " (issued.to_string()) }
                @if let Some(d) = c.delivery { "; delivered by " (d) }
                "."
            }
            table {
                thead { tr { th { "source" } th { "attacker's" } th { "action" } th.num { "calls" } th.num { "denied" } th.num { "writes" } th { "first" } th { "last" } } }
                tbody {
                    @for call in &c.calls {
                        tr class=[call.attacker.then_some("attacker")] {
                            td { (t(&call.source)) } td { @if call.attacker { "yes" } @else { "no" } }
                            td { (t(&call.action)) } td.num { (call.count) } td.num { (call.denied) } td.num { (call.writes) }
                            td.time { (call.first.to_string()) } td.time { (call.last.to_string()) }
                        }
                    }
                }
            }
            @if !c.reads.is_empty() {
                // Sizes only where the trail logs them (S3's `bytesTransferredOut`): "0 B" would
                // read as "nothing came back".
                h4 {
                    "Data read with " code { (t(&c.access_key)) } " (" (c.reads_total) " read(s)"
                    @if c.bytes_read > 0 { ", " (human_bytes(c.bytes_read)) }
                    ")"
                }
                (calls_table(report, &c.reads))
            }
            @if !c.privilege_changes.is_empty() {
                h4 { "Privilege changes tried with " code { (t(&c.access_key)) } }
                (calls_table(report, &c.privilege_changes))
            }
            @if !c.commands.is_empty() {
                h4 { "Commands and deployments made with " code { (t(&c.access_key)) } }
                (calls_table(report, &c.commands))
            }
        }
        @if !f.data.is_empty() {
            p { strong { "Data read with the stolen credential: " } (t(&f.data.describe())) }
        }
        @for i in &f.instances {
            h4 { "Posture of " code { (t(&i.instance)) } }
            p {
                @if i.http_tokens.is_none() && i.hop_limit.is_none() { "Not in the inventory given." }
                @else {
                    "Metadata tokens: " (opt(&i.http_tokens)) "; hop limit: "
                    @if let Some(h) = i.hop_limit { (h) } @else { "-" }
                    " (inventory)."
                }
            }
            @if !i.metadata_changes.is_empty() {
                p.muted { "Metadata options set on it:" }
                (calls_table(report, &i.metadata_changes))
            }
            @if !i.commands.is_empty() {
                p.muted { "Commands sent to it:" }
                (calls_table(report, &i.commands))
            }
        }
    }
}

fn alerts(report: &Report<'_>) -> Markup {
    let mut incident_of: Vec<Option<&str>> = vec![None; report.alerts.len()];
    for inc in report.incidents {
        for &i in &inc.alerts {
            if let Some(slot) = incident_of.get_mut(i) {
                *slot = Some(inc.id.as_str());
            }
        }
    }
    html! {
        section #alerts {
            h2 { "Alerts (" (report.alerts.len()) ")" }
            @if report.alerts.is_empty() { p { "No alerts." } }
            @for (a, inc) in report.alerts.iter().zip(incident_of) {
                article.alert id=(a.id()) {
                    h3 {
                        span class={"sev " (a.severity.as_str())} { (a.severity.as_str()) } " "
                        (a.rule) @if let Some(v) = a.variant { " (" (v) ")" } " "
                        code.muted { (a.id()) }
                    }
                    p.title { (t(&a.title)) }
                    table.kv {
                        tr { th { "when" } td { (a.first_seen.to_string()) " .. " (a.last_seen.to_string()) } }
                        @if let Some(inc) = inc { tr { th { "incident" } td { a href={"#" (inc)} { code { (inc) } } } } }
                        @for (name, value) in entities(a) { tr { th { (name) } td { (t(value)) } } }
                    }
                    ul { @for r in &a.reasons { li { (t(r)) } } }
                    p.muted { "Evidence (" (a.evidence_total) " record(s)):" }
                    ul.evidence {
                        @for o in a.evidence.iter().take(EVIDENCE_SHOWN) { li { (origin(report, o)) } }
                        @let more = a.evidence_total.saturating_sub(EVIDENCE_SHOWN.min(a.evidence.len()) as u64);
                        @if more > 0 { li.muted { "… and " (more) " more (--format jsonl lists them)" } }
                    }
                }
            }
        }
    }
}

/// The alert's entities that are set: its workload and source, then who else it names.
fn entities(a: &Alert) -> Vec<(&'static str, &str)> {
    let e = &a.entities;
    [("instance", &e.instance), ("source", &e.source_ip)]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .chain(crate::who(e))
        .collect()
}

/// `123.4`: SVG coordinates with one decimal, so the bytes do not depend on float printing.
fn px(value: f64) -> String {
    format!("{value:.1}")
}

/// One incident's alerts and timeline moments on an event-time axis: the first lane holds the
/// timeline's moments (records and alerts), one lane per alert below it spans its first to last
/// evidence.
fn timeline_chart(inc: &Incident, members: &[&Alert]) -> Markup {
    const LEFT: f64 = 340.0;
    const WIDTH: f64 = 1000.0;
    const PLOT: f64 = WIDTH - LEFT - 20.0;
    const ROW: f64 = 20.0;
    const TOP: f64 = 10.0;
    let start = inc.first_evidence.millis();
    let span = (inc.last_evidence.millis() - start).max(1) as f64;
    let x = |time: Timestamp| LEFT + (time.millis() - start) as f64 / span * PLOT;
    let lanes: Vec<&&Alert> = members.iter().take(LANES_SHOWN).collect();
    let axis_y = TOP + ROW * (lanes.len() as f64 + 1.0) + 4.0;
    let height = axis_y + 40.0;
    // Four ticks on whole seconds; the outer ones align inwards so their labels stay inside.
    let ticks: Vec<(f64, &str, String)> = (0..=3)
        .map(|k| {
            let ms = start + (span * f64::from(k) / 3.0) as i64;
            let at = Timestamp::from_millis(ms - ms.rem_euclid(1000));
            let anchor = match k {
                0 => "start",
                3 => "end",
                _ => "middle",
            };
            (x(at).max(LEFT), anchor, at.to_string())
        })
        .collect();
    html! {
        figure.chart {
            svg viewBox={"0 0 " (WIDTH) " " (px(height))} width="100%" role="img" aria-label="incident timeline" {
                title { "Timeline of " (inc.id) ": moments and alerts by event time" }
                text x=(px(LEFT - 8.0)) y=(px(TOP + 13.0)) text-anchor="end" class="lane" { "timeline" }
                line x1=(px(LEFT)) x2=(px(LEFT + PLOT)) y1=(px(TOP + 9.0)) y2=(px(TOP + 9.0)) class="grid" {}
                @for m in &inc.facts.timeline {
                    circle cx=(px(x(m.time))) cy=(px(TOP + 9.0)) r="4"
                        class=(if m.alert.is_some() { "moment alert-moment" } else { "moment" }) {
                        title { (m.time.to_string()) " " (t(&m.what)) }
                    }
                }
                @for (n, a) in lanes.iter().enumerate() {
                    @let y = TOP + ROW * (n as f64 + 1.0);
                    text x=(px(LEFT - 8.0)) y=(px(y + 13.0)) text-anchor="end" class="lane" {
                        (a.rule) @if let Some(v) = a.variant { " (" (v) ")" }
                    }
                    rect x=(px(x(a.first_seen) - 2.0)) y=(px(y + 4.0))
                        width=(px((x(a.last_seen) - x(a.first_seen)).max(0.0) + 4.0)) height="10" rx="2"
                        class={"bar " (a.severity.as_str())} {
                        title { (a.severity.as_str()) " " (a.rule) ": " (t(&a.title)) " (" (a.first_seen.to_string()) " .. " (a.last_seen.to_string()) ")" }
                    }
                }
                line x1=(px(LEFT)) x2=(px(LEFT + PLOT)) y1=(px(axis_y)) y2=(px(axis_y)) class="axis" {}
                @for (tx, anchor, label) in &ticks {
                    line x1=(px(*tx)) x2=(px(*tx)) y1=(px(axis_y)) y2=(px(axis_y + 5.0)) class="axis" {}
                    text x=(px(*tx)) y=(px(axis_y + 18.0)) text-anchor=(anchor) class="tick" { (label) }
                }
            }
            figcaption {
                "Event time, UTC. Top lane: the timeline's moments (filled: an alert; hollow: a log record). "
                "One lane per alert, from its first to its last evidence"
                @if members.len() > LANES_SHOWN { " (the first " (LANES_SHOWN) " of " (members.len()) " alerts)" }
                ". Hover for details."
            }
        }
    }
}

/// Who asked the metadata service, and how often.
struct Requester {
    records: u64,
    by_rule: BTreeMap<&'static str, u64>,
    worst: Severity,
}

/// The requester of an alert's metadata requests: the client address for web, proxy and network
/// records, the process (and its host) for host telemetry.
fn requester(a: &Alert) -> String {
    let e = &a.entities;
    match (&e.source_ip, &e.process) {
        (Some(ip), _) => ip.clone(),
        (None, Some(process)) => {
            let host = e.host.as_ref().or(e.instance.as_ref());
            format!("{process} on {}", host.map(String::as_str).unwrap_or("an unknown host"))
        }
        (None, None) => e.instance.clone().unwrap_or_else(|| "unknown requester".into()),
    }
}

/// Metadata access volume per source: the records behind the metadata-request rules' alerts
/// (each record is one request to the service, or one connection to it), summed per requester.
fn volume_chart(alerts: &[Alert]) -> Markup {
    const LEFT: f64 = 360.0;
    const WIDTH: f64 = 1000.0;
    const PLOT: f64 = WIDTH - LEFT - 80.0;
    const ROW: f64 = 22.0;
    let mut by_source: BTreeMap<String, Requester> = BTreeMap::new();
    for a in alerts.iter().filter(|a| METADATA_REQUEST_RULES.contains(&a.rule)) {
        let entry = by_source.entry(requester(a)).or_insert(Requester {
            records: 0,
            by_rule: BTreeMap::new(),
            worst: Severity::Info,
        });
        let records = a.evidence_total.max(a.evidence.len() as u64);
        entry.records += records;
        *entry.by_rule.entry(a.rule).or_default() += records;
        entry.worst = entry.worst.max(a.severity);
    }
    let mut rows: Vec<(String, Requester)> = by_source.into_iter().collect();
    rows.sort_by(|a, b| b.1.records.cmp(&a.1.records).then_with(|| a.0.cmp(&b.0)));
    if rows.len() > SOURCES_SHOWN {
        let rest = rows.split_off(SOURCES_SHOWN - 1);
        let mut other = Requester {
            records: 0,
            by_rule: BTreeMap::new(),
            worst: Severity::Info,
        };
        for (_, r) in &rest {
            other.records += r.records;
            other.worst = other.worst.max(r.worst);
            for (rule, n) in &r.by_rule {
                *other.by_rule.entry(rule).or_default() += n;
            }
        }
        rows.push((format!("{} other requesters", rest.len()), other));
    }
    let max = rows.iter().map(|r| r.1.records).max().unwrap_or(1).max(1) as f64;
    let height = ROW * rows.len() as f64 + 10.0;
    html! {
        h3 { "Metadata access volume per source" }
        @if rows.is_empty() {
            p.muted { "No metadata-service requests among the alerts." }
        } @else {
            figure.chart {
                svg viewBox={"0 0 " (WIDTH) " " (px(height))} width="100%" role="img" aria-label="metadata access volume per source" {
                    title { "Records of metadata-service requests per requester" }
                    @for (n, (label, r)) in rows.iter().enumerate() {
                        @let y = 5.0 + ROW * n as f64;
                        @let w = (r.records as f64 / max * PLOT).max(2.0);
                        text x=(px(LEFT - 8.0)) y=(px(y + 14.0)) text-anchor="end" class="lane" { (t(&shorten(label, 52))) }
                        rect x=(px(LEFT)) y=(px(y + 3.0)) width=(px(w)) height="14" rx="2" class={"bar " (r.worst.as_str())} {
                            title {
                                (t(label)) ": " (r.records) " record(s)"
                                @for (rule, k) in &r.by_rule { "; " (rule) " " (k) }
                            }
                        }
                        text x=(px(LEFT + w + 6.0)) y=(px(y + 14.0)) class="count" { (r.records) }
                    }
                }
                figcaption {
                    "Records behind the alerts of the rules that see requests to the metadata service ("
                    @for (i, rule) in METADATA_REQUEST_RULES.iter().enumerate() { @if i > 0 { ", " } (rule) }
                    "), summed per requester: the client address for web, proxy and network logs, the process "
                    "and its host for host telemetry. Colour: the worst severity among its alerts. Hover for the rules."
                }
            }
        }
    }
}

/// At most `max` characters, with an ellipsis: a chart label must not run over the bars.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1b1f24; --muted: #5b6470; --line: #d0d7de; --bg2: #f6f8fa; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1200px; padding: 0 24px 48px; }
h1 { margin: 24px 0 4px; font-size: 24px; }
h2 { margin-top: 36px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { margin: 20px 0 8px; }
h4 { margin: 18px 0 6px; font-size: 14px; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; overflow-wrap: break-word; }
code.path { word-break: break-all; }
td code, td .decision, td .sev { white-space: nowrap; }
pre { background: #0d1117; color: #e6edf3; padding: 8px 10px; border-radius: 4px; white-space: pre-wrap; margin: 6px 0; }
table { border-collapse: collapse; margin: 6px 0 10px; width: 100%; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
thead th { background: var(--bg2); }
table.kv th { width: 170px; background: var(--bg2); font-weight: 600; }
td.num, th.num { text-align: right; }
td.time { white-space: nowrap; }
td.long, table.kv td { overflow-wrap: anywhere; }
tr.attacker td { background: #fff1f0; }
.lead { color: var(--muted); margin-top: 0; }
.muted { color: var(--muted); }
.bad { color: #b42318; font-weight: 600; }
article.incident { border: 1px solid var(--line); border-left: 6px solid #8c959f; border-radius: 6px; padding: 4px 16px 12px; margin: 16px 0; }
article.incident:has(.escalate) { border-left-color: #cf222e; }
article.incident:has(.monitor) { border-left-color: #bf8700; }
article.alert { border-top: 1px solid var(--line); padding-top: 4px; }
.title { font-weight: 600; overflow-wrap: anywhere; }
.sev, .decision { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; font-weight: 700; text-transform: uppercase; color: #fff; background: #57606a; }
.sev.critical { background: #a40e26; } .sev.high { background: #cf222e; } .sev.medium { background: #bf8700; }
.sev.low { background: #0969da; } .sev.info { background: #6e7781; }
.decision.escalate { background: #a40e26; } .decision.monitor { background: #9a6700; } .decision.benign { background: #1a7f37; }
ol.answers li, ol.plan li { margin-bottom: 8px; }
figure.chart { margin: 10px 0; }
figcaption { color: var(--muted); font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg text.tick, svg text.count { fill: var(--muted); }
svg .axis { stroke: #57606a; } svg .grid { stroke: var(--line); stroke-dasharray: 3 3; }
svg .moment { fill: #fff; stroke: #57606a; stroke-width: 1.5; } svg .alert-moment { fill: #57606a; }
svg .bar { fill: #6e7781; } svg .bar.critical { fill: #a40e26; } svg .bar.high { fill: #cf222e; }
svg .bar.medium { fill: #bf8700; } svg .bar.low { fill: #0969da; }
nav a { color: #0969da; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_becomes_an_entity() {
        assert_eq!(
            escape(r#"<img src=x onerror="alert('1')">&amp;"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;amp;"
        );
        assert_eq!(escape("curl/8.5.0 (x86_64)"), "curl/8.5.0 (x86_64)");
    }

    #[test]
    fn controls_and_bidi_overrides_are_made_visible() {
        let safe = escape("a\u{202e}txt.exe\u{1b}[2J\r\n<b>");
        assert!(!safe.chars().any(|c| c.is_control() || c == '\u{202e}'), "{safe}");
        assert!(safe.contains("\\u{202e}") && safe.ends_with("&lt;b&gt;"), "{safe}");
    }

    #[test]
    fn a_value_rendered_in_an_attribute_cannot_close_it() {
        let payload = r#"x" onmouseover='alert(1)' data-pwned="1"#;
        let markup = html! { span title=(t(payload)) { (t(payload)) } }.into_string();
        assert_eq!(markup.matches('"').count(), 2, "{markup}");
        assert!(!markup.contains('\''), "{markup}");
    }

    fn alert(rule: &'static str, minute: i64, source: Option<&str>, process: Option<&str>, records: u64) -> Alert {
        let t = Timestamp::from_millis(1_777_716_000_000 + minute * 60_000);
        Alert {
            rule,
            variant: None,
            severity: Severity::High,
            first_seen: t,
            last_seen: t,
            title: format!("{rule} at {minute}"),
            entities: credtrail_detect::Entities {
                instance: Some("i-0c0ffee0000000001".into()),
                source_ip: source.map(str::to_string),
                process: process.map(str::to_string),
                ..Default::default()
            },
            reasons: vec!["test".into()],
            evidence: Vec::new(),
            evidence_total: records,
        }
    }

    #[test]
    fn metadata_requests_are_summed_per_requester_and_cloudtrail_findings_are_not_requests() {
        let alerts = [
            alert("ssrf-metadata-request", 0, Some("198.51.100.7"), None, 3),
            alert("metadata-proxy-abuse", 1, Some("198.51.100.7"), None, 2),
            alert(
                "imds-credential-read-unexpected-process",
                2,
                None,
                Some("/usr/bin/python3 (pid 7)"),
                4,
            ),
            // Not a request to the service: a credential's use, from the same address.
            alert("instance-credential-exfiltration", 3, Some("198.51.100.7"), None, 50),
        ];
        let chart = volume_chart(&alerts).into_string();
        assert!(
            chart.contains("<title>198.51.100.7: 5 record(s); metadata-proxy-abuse 2; ssrf-metadata-request 3</title>"),
            "{chart}"
        );
        assert!(
            chart.contains("/usr/bin/python3 (pid 7) on i-0c0ffee0000000001: 4 record(s)"),
            "{chart}"
        );
        assert!(
            !chart.contains("instance-credential-exfiltration") && !chart.contains("55 record"),
            "{chart}"
        );
        // The largest requester first, its bar the full width.
        let first = chart.find("198.51.100.7").unwrap_or(usize::MAX);
        assert!(first < chart.find("/usr/bin/python3").unwrap_or(0), "{chart}");
        assert!(chart.contains(r#"width="560.0""#), "{chart}");
    }

    #[test]
    fn requesters_past_the_cap_are_one_bar() {
        let alerts: Vec<Alert> = (0..25)
            .map(|n| alert("ssrf-metadata-request", n, Some(&format!("192.0.2.{n}")), None, 1))
            .collect();
        let chart = volume_chart(&alerts).into_string();
        assert_eq!(chart.matches("<rect").count(), SOURCES_SHOWN, "{chart}");
        assert!(chart.contains("6 other requesters: 6 record(s)"), "{chart}");
    }

    fn report_of<'a>(alerts: &'a [Alert], incidents: &'a [Incident], summary: &'a crate::Summary) -> Report<'a> {
        Report {
            alerts,
            incidents,
            suppressed: &[],
            sources: &[],
            summary,
        }
    }

    #[test]
    fn an_incident_is_drawn_on_its_event_time_axis_even_when_it_lasts_no_time() {
        let alerts = [
            alert("ssrf-metadata-request", 0, Some("198.51.100.7"), None, 1),
            alert("instance-credential-exfiltration", 30, Some("198.51.100.7"), None, 1),
        ];
        let incidents = credtrail_triage::incidents(&alerts, &credtrail_triage::Context::default());
        let members: Vec<&Alert> = alerts.iter().collect();
        let chart = timeline_chart(&incidents[0], &members).into_string();
        // The first alert at the axis' start, the last at its end.
        assert!(
            chart.contains(r#"<rect x="338.0""#) && chart.contains(r#"<rect x="978.0""#),
            "{chart}"
        );
        assert!(
            chart.contains(">2026-05-02T10:00:00Z<") && chart.contains(">2026-05-02T10:30:00Z<"),
            "{chart}"
        );
        let instant = &alerts[..1];
        let incidents = credtrail_triage::incidents(instant, &credtrail_triage::Context::default());
        let chart = timeline_chart(&incidents[0], &[&instant[0]]).into_string();
        assert!(!chart.contains("NaN") && !chart.contains("inf"), "{chart}");
    }

    #[test]
    fn several_incidents_get_an_overview_linking_each() {
        let mut far = alert("ssrf-metadata-request", 3 * 24 * 60, Some("203.0.113.9"), None, 1);
        far.entities.instance = Some("i-0other".into());
        let alerts = [alert("ssrf-metadata-request", 0, Some("198.51.100.7"), None, 1), far];
        let incidents = credtrail_triage::incidents(&alerts, &credtrail_triage::Context::default());
        assert_eq!(incidents.len(), 2);
        let summary = crate::Summary::default();
        let page = page(&report_of(&alerts, &incidents, &summary)).into_string();
        for inc in &incidents {
            assert!(
                page.contains(&format!(r##"<td><a href="#{0}"><code>{0}</code></a></td>"##, inc.id)),
                "{page}"
            );
            assert_eq!(
                page.matches(&format!(r#"<article class="incident" id="{}">"#, inc.id))
                    .count(),
                1
            );
        }
        assert!(page.contains("<td class=\"long\">i-0other</td>"), "{page}");
    }

    #[test]
    fn an_empty_scan_says_so_and_draws_nothing() {
        let summary = crate::Summary::default();
        let page = page(&report_of(&[], &[], &summary)).into_string();
        for text in [
            "No incidents.",
            "No alerts.",
            "No metadata-service requests among the alerts.",
            "none: every record was read",
        ] {
            assert!(page.contains(text), "{text}: {page}");
        }
        assert!(!page.contains("<svg"), "{page}");
    }

    #[test]
    fn long_labels_are_cut_on_a_character_boundary() {
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
