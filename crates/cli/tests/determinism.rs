//! Output does not depend on thread count, on the order inputs are named, or on how the input is
//! split between workers: detector states merge like sets and decisions run on event time.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod support;

use std::process::Command;

use credtrail_detect::Engine;
use credtrail_event::{Event, FileId};
use credtrail_ingest::{discover, parse_file};
use proptest::prelude::*;
use support::{repo, shared};

fn inputs() -> Vec<String> {
    vec![
        repo().join("testdata/sample").display().to_string(),
        repo().join("testdata/scenarios").display().to_string(),
        shared().join("corpora/stratus-detonation-logs").display().to_string(),
    ]
}

/// Runs a scan; the quarantine path is fixed because the summary names it.
fn run(paths: &[String], threads: usize, quarantine: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_credtrail"))
        .args([
            "scan",
            "--format",
            "jsonl",
            "--no-progress",
            "--threads",
            &threads.to_string(),
            "--quarantine",
        ])
        .arg(quarantine)
        .args(paths)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn jsonl_is_byte_identical_for_any_thread_count_and_argument_order(threads in 1usize..5, order in Just(inputs()).prop_shuffle()) {
        let dir = tempfile::tempdir().unwrap();
        let quarantine = dir.path().join("q.jsonl");
        let baseline = run(&inputs(), 1, &quarantine);
        let baseline_rejects = std::fs::read(&quarantine).unwrap();
        prop_assert!(baseline.len() > 1000);
        prop_assert_eq!(run(&order, threads, &quarantine), baseline);
        prop_assert_eq!(std::fs::read(&quarantine).unwrap(), baseline_rejects);
    }
}

fn all_events() -> Vec<Event> {
    let files = discover(&inputs());
    files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| parse_file(f, FileId(i as u32), None, 1 << 30).events)
        .collect()
}

fn alerts_of(parts: Vec<Vec<&Event>>) -> Vec<String> {
    let mut engines: Vec<Engine> = parts
        .into_iter()
        .map(|part| {
            let mut engine = Engine::default();
            for e in part {
                engine.observe(e);
            }
            engine
        })
        .collect();
    let mut merged = engines.pop().unwrap_or_default();
    while let Some(next) = engines.pop() {
        let mut next = next;
        next.merge(merged);
        merged = next;
    }
    support::decisions(merged)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Events dealt to workers at random, in random order, merged in reverse: the same alerts and
    /// the same incidents.
    #[test]
    fn any_partition_of_events_merges_to_the_same_alerts_and_incidents(seed in any::<u64>(), workers in 1usize..6) {
        let events = all_events();
        let whole = alerts_of(vec![events.iter().collect()]);
        prop_assert!(!whole.is_empty());
        // The split-sensitive state of the rubric is exercised: write tallies and the networks'
        // first sightings (a min-map capped by key) reach the incidents compared below.
        prop_assert!(whole.iter().any(|l| l.contains("NetworkSighting") && l.contains("new: true")));
        prop_assert!(whole
            .iter()
            .any(|l| l.split("writes: ").skip(1).any(|n| !n.starts_with('0'))));
        let mut rng = seed;
        let mut parts: Vec<Vec<&Event>> = vec![Vec::new(); workers];
        let mut shuffled: Vec<&Event> = events.iter().collect();
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (rng >> 33) as usize % (i + 1));
        }
        for (i, e) in shuffled.into_iter().enumerate() {
            parts[(i * 7 + (seed as usize)) % workers].push(e);
        }
        prop_assert_eq!(alerts_of(parts), whole);
    }
}
