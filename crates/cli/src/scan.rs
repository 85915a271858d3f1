//! The scan pipeline: inputs → (parallel) parse + observe → merge → decide → policy → report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use credtrail_detect::{Activity, Alert, Engine, Knowledge, Severity, Suppressed};
use credtrail_event::{Fact, FileId, Inventory, Timestamp};
use credtrail_ingest::{discover, scan_file, Diagnostic, Format, InputSource};
use credtrail_report::Summary;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Everything the scan needs, resolved once from flags and config.
pub struct ScanConfig {
    pub paths: Vec<String>,
    pub input_format: Option<&'static dyn Format>,
    pub knowledge: Knowledge,
    /// Load the bundled IP range snapshot into `knowledge.ranges`, on a thread of its own while the
    /// files are read: only `finish` needs it.
    pub bundled_ranges: bool,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub min_severity: Severity,
    pub threads: usize,
    pub max_file_size: u64,
    pub progress: bool,
}

/// What a scan produced.
pub struct ScanResult {
    pub alerts: Vec<Alert>,
    /// What the workload credentials did, and what was done to instances: the incidents' facts.
    pub activity: Activity,
    pub inventory: Inventory,
    pub suppressed: Vec<Suppressed>,
    pub sources: Vec<String>,
    pub summary: Summary,
    pub diagnostics: Vec<Diagnostic>,
    /// Nothing could be read at all.
    pub nothing_read: bool,
}

/// One worker's share: detector states plus bookkeeping, merged pairwise.
#[derive(Default)]
struct Partial {
    engine: Engine,
    /// Facts with the file they came from, put back in file order after the workers finish.
    facts: Vec<(FileId, Fact)>,
    diagnostics: Vec<Diagnostic>,
    summary: Summary,
}

impl Partial {
    fn merge(mut self, other: Partial) -> Partial {
        self.engine.merge(other.engine);
        self.facts.extend(other.facts);
        self.diagnostics.extend(other.diagnostics);
        let (a, b) = (&mut self.summary, other.summary);
        a.files += b.files;
        a.files_unreadable += b.files_unreadable;
        a.bytes += b.bytes;
        a.records += b.records;
        a.events += b.events;
        a.facts += b.facts;
        for (k, v) in b.rejected {
            *a.rejected.entry(k).or_default() += v;
        }
        for (k, v) in b.formats {
            *a.formats.entry(k).or_default() += v;
        }
        self
    }
}

fn progress_bar(enabled: bool, total_bytes: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    // Drawn on stderr only when it is a terminal: indicatif hides itself otherwise.
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} scanning [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub fn run(config: ScanConfig) -> Result<ScanResult> {
    let ranges = config
        .bundled_ranges
        .then(|| std::thread::spawn(credtrail_ingest::ip_ranges::bundled));
    let files = discover(&config.paths);
    let sources: Vec<String> = files.iter().map(|f| f.display.clone()).collect();
    // Sizes are only for the progress bar: without one, two `stat`s per file are saved.
    let size = |input: &credtrail_ingest::InputFile| match &input.source {
        InputSource::Path(p) if config.progress => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        _ => 0,
    };
    let total_bytes: u64 = files.iter().map(size).sum();
    let bar = progress_bar(config.progress, total_bytes);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build()
        .context("cannot start worker threads")?;
    let since = config.since.unwrap_or(Timestamp::MIN);
    let until = config.until.unwrap_or(Timestamp::MAX);

    // Each worker takes the next file from a shared counter until none is left, and merges once
    // at the end. Rayon's fold over `par_iter` split the files into a few large pieces up front:
    // on two cores one worker often ran out 0.5 s before the other on the 1 GB CloudTrail set.
    // Output does not depend on which worker read which file: detector states merge like sets,
    // facts are put back in file order, diagnostics are sorted below.
    let next = AtomicUsize::new(0);
    let partials = pool.broadcast(|_| {
        let mut acc = Partial::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = files.get(i) else {
                break;
            };
            let file = FileId(i as u32);
            let parsed = scan_file(input, file, config.input_format, config.max_file_size, &(since..=until));
            if config.progress {
                bar.inc(size(input));
            }
            let s = &mut acc.summary;
            s.files += 1;
            s.bytes += parsed.bytes;
            s.records += parsed.records;
            if let Some(format) = parsed.format {
                *s.formats.entry(format.to_string()).or_default() += 1;
            }
            for d in &parsed.diagnostics {
                if d.reason == credtrail_ingest::Reason::Unreadable {
                    s.files_unreadable += 1;
                }
                *s.rejected.entry(d.reason.key().to_string()).or_default() += 1;
            }
            s.facts += parsed.facts.len() as u64;
            acc.summary.events += parsed.quiet;
            for (&client, &time) in &parsed.sightings {
                acc.engine.sight(client, time);
            }
            for event in &parsed.events {
                if event.time < since || event.time > until {
                    continue;
                }
                acc.summary.events += 1;
                acc.engine.observe(event);
            }
            acc.facts.extend(parsed.facts.into_iter().map(|f| (file, f)));
            acc.diagnostics.extend(parsed.diagnostics);
        }
        acc
    });
    // The first worker's state takes in the others': folding into an empty default moved every
    // entry of the first one too, doubling the one merge that runs on a single core.
    let mut partial = partials.into_iter().reduce(Partial::merge).unwrap_or_default();
    // Inventory keeps the first of two disagreeing records: first in file order, as one thread
    // would have read them (a stable sort keeps each file's own order).
    partial.facts.sort_by_key(|(file, _)| *file);
    bar.finish_and_clear();

    let Partial {
        engine,
        facts,
        mut diagnostics,
        mut summary,
    } = partial;
    let mut knowledge = config.knowledge;
    if let Some(ranges) = ranges {
        knowledge.ranges = ranges
            .join()
            .map_err(|_| anyhow::anyhow!("loading the bundled IP ranges failed"))?;
    }
    knowledge.inventory = Inventory::from_facts(facts.iter().map(|(_, f)| f));
    let findings = engine.finish(&knowledge);
    let alerts: Vec<Alert> = findings
        .alerts
        .into_iter()
        .filter(|a| a.severity >= config.min_severity)
        .collect();
    let (alerts, suppressed) = knowledge.policy.apply(alerts);
    summary.count_alerts(&alerts, &suppressed);
    summary.ip_ranges = knowledge
        .ranges
        .snapshots
        .iter()
        .map(|(p, date)| (p.name().to_string(), date.clone()))
        .collect::<BTreeMap<_, _>>();
    diagnostics.sort_by_key(|d| (d.file, d.line, d.index, d.reason));
    let readable = summary.files > summary.files_unreadable;
    let nothing_read = !readable || (summary.records == 0 && summary.rejected_total() > 0);
    Ok(ScanResult {
        alerts,
        activity: findings.activity,
        inventory: std::mem::take(&mut knowledge.inventory),
        suppressed,
        sources,
        summary,
        diagnostics,
        nothing_read,
    })
}

/// Writes rejected records, one JSON object per line, for the analyst to inspect or replay.
pub fn write_quarantine(path: &PathBuf, result: &ScanResult) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create quarantine file {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for d in &result.diagnostics {
        let line = serde_json::json!({
            "source": result.sources.get(d.file.0 as usize),
            "line": d.line,
            "index": d.index,
            "format": d.format,
            "reason": d.reason.key(),
            "detail": d.detail,
            "record": d.excerpt,
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
