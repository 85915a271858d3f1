//! Evidence lists that merge like sets and stay bounded.

use credtrail_event::{Origin, Timestamp};

/// Most records an alert cites. Beyond this the alert says how many more there were.
pub const EVIDENCE_CAP: usize = 512;

/// The records behind an observation, kept as the `EVIDENCE_CAP` earliest by (time, origin).
/// Keeping "the earliest N" is a function of the set, not of arrival order, so partial states
/// merge to the same result however the input was split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    items: Vec<(Timestamp, Origin)>,
    total: u64,
}

impl Evidence {
    pub fn push(&mut self, time: Timestamp, origin: Origin) {
        self.items.push((time, origin));
        self.total += 1;
        if self.items.len() >= 2 * EVIDENCE_CAP {
            self.compact();
        }
    }

    pub fn merge(&mut self, other: Evidence) {
        self.items.extend(other.items);
        self.total += other.total;
        if self.items.len() >= 2 * EVIDENCE_CAP {
            self.compact();
        }
    }

    fn compact(&mut self) {
        self.items.sort_unstable();
        self.items.dedup();
        self.items.truncate(EVIDENCE_CAP);
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept records in file order, as the report lists them.
    pub fn origins(&self) -> Vec<Origin> {
        let mut items = self.items.clone();
        items.sort_unstable();
        items.dedup();
        items.truncate(EVIDENCE_CAP);
        let mut origins: Vec<Origin> = items.into_iter().map(|(_, o)| o).collect();
        origins.sort_unstable();
        origins
    }

    pub fn first(&self) -> Option<(Timestamp, Origin)> {
        self.items.iter().min().copied()
    }

    /// The kept records cut into episodes wherever two consecutive records (in event time) are
    /// more than `gap_millis` apart, earliest episode first. Records beyond the cap are the
    /// latest, so their count goes to the last episode.
    pub fn episodes(&self, gap_millis: i64) -> Vec<Evidence> {
        let mut items = self.items.clone();
        items.sort_unstable();
        items.dedup();
        items.truncate(EVIDENCE_CAP);
        let mut out: Vec<Evidence> = Vec::new();
        let mut previous: Option<Timestamp> = None;
        for (time, origin) in items {
            if previous.is_none_or(|p| time.millis() - p.millis() > gap_millis) {
                out.push(Evidence::default());
            }
            if let Some(episode) = out.last_mut() {
                episode.items.push((time, origin));
                episode.total += 1;
            }
            previous = Some(time);
        }
        let kept: u64 = out.iter().map(|e| e.total).sum();
        if let Some(last) = out.last_mut() {
            last.total += self.total.saturating_sub(kept);
        }
        out
    }

    pub fn time_span(&self) -> Option<(Timestamp, Timestamp)> {
        let min = self.items.iter().map(|(t, _)| *t).min()?;
        let max = self.items.iter().map(|(t, _)| *t).max()?;
        Some((min, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_event::FileId;
    use proptest::prelude::*;

    fn o(i: u64) -> Origin {
        Origin {
            file: FileId(0),
            line: i,
            index: i,
        }
    }

    proptest! {
        #[test]
        fn merging_in_any_split_gives_the_same_evidence(items in proptest::collection::vec(0u64..3000, 0..2500), split in 0usize..2500) {
            let mut whole = Evidence::default();
            for &i in &items { whole.push(Timestamp(i as i64), o(i)); }
            let split = split.min(items.len());
            let (a, b) = items.split_at(split);
            let mut left = Evidence::default();
            let mut right = Evidence::default();
            for &i in b.iter().rev() { right.push(Timestamp(i as i64), o(i)); }
            for &i in a { left.push(Timestamp(i as i64), o(i)); }
            right.merge(left);
            prop_assert_eq!(whole.origins(), right.origins());
            prop_assert_eq!(whole.total(), right.total());
        }

        #[test]
        fn episodes_cover_every_record_once_and_are_apart_by_more_than_the_gap(items in proptest::collection::vec(0u64..3000, 0..600), gap in 0i64..200) {
            let mut whole = Evidence::default();
            for &i in &items { whole.push(Timestamp(i as i64), o(i)); }
            let episodes = whole.episodes(gap);
            let total: u64 = episodes.iter().map(Evidence::total).sum();
            prop_assert_eq!(total, whole.total());
            let joined: Vec<Origin> = episodes.iter().flat_map(Evidence::origins).collect();
            prop_assert_eq!(joined, whole.origins());
            for pair in episodes.windows(2) {
                let (_, end) = pair[0].time_span().expect("an episode holds a record");
                let (start, _) = pair[1].time_span().expect("an episode holds a record");
                prop_assert!(start.millis() - end.millis() > gap);
            }
        }
    }
}
