//! The run's bookkeeping: what was read, what was rejected and why, what was found.

use std::collections::BTreeMap;

use credtrail_detect::{Alert, Severity, Suppressed};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: u64,
    pub files_unreadable: u64,
    pub bytes: u64,
    pub records: u64,
    pub events: u64,
    pub facts: u64,
    /// Rejected records (and unreadable files) by reason key.
    pub rejected: BTreeMap<String, u64>,
    /// Files per recognised format.
    pub formats: BTreeMap<String, u64>,
    pub alerts: BTreeMap<Severity, u64>,
    pub suppressed: u64,
    /// Where rejected records were written, if anywhere.
    pub quarantine: Option<String>,
    /// Published-range snapshot dates in use, per provider.
    pub ip_ranges: BTreeMap<String, String>,
}

impl Summary {
    pub fn count_alerts(&mut self, alerts: &[Alert], suppressed: &[Suppressed]) {
        self.alerts.clear();
        for a in alerts {
            *self.alerts.entry(a.severity).or_default() += 1;
        }
        self.suppressed = suppressed.len() as u64;
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}
