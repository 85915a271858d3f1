//! What a detector reports.

use credtrail_event::{Origin, Timestamp};

/// Alert severity, ordered from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// One step up, capped at critical.
    pub fn raised(self) -> Severity {
        match self {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }
}

/// The entities an alert is about (PRODUCT.md §6), where known.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entities {
    pub cloud: Option<String>,
    pub account: Option<String>,
    pub principal: Option<String>,
    pub role: Option<String>,
    pub access_key: Option<String>,
    pub instance: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Host telemetry: the machine (instance id when known), the process (executable and pid),
    /// its container and its user (uid, and login uid when set).
    pub host: Option<String>,
    pub process: Option<String>,
    pub container: Option<String>,
    pub user: Option<String>,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub rule: &'static str,
    pub variant: Option<&'static str>,
    pub severity: Severity,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub title: String,
    pub entities: Entities,
    /// Why it fired and why it was not dismissed, in words an analyst can check.
    pub reasons: Vec<String>,
    /// The records behind it, sorted, possibly capped (see `evidence_total`).
    pub evidence: Vec<Origin>,
    /// How many records support the alert; more than `evidence.len()` when the list was capped.
    pub evidence_total: u64,
}

impl Alert {
    /// Stable id: the same alert gets the same id in every run, whatever the thread count or the
    /// order of input files. Built from what identifies the finding, not from its position.
    pub fn id(&self) -> String {
        let e = &self.entities;
        let key = [
            self.rule,
            self.variant.unwrap_or(""),
            e.account.as_deref().unwrap_or(""),
            e.instance.as_deref().unwrap_or(""),
            e.role.as_deref().unwrap_or(""),
            e.access_key.as_deref().unwrap_or(""),
            e.source_ip.as_deref().unwrap_or(""),
            e.principal.as_deref().unwrap_or(""),
            &self.first_seen.millis().to_string(),
        ]
        .join("\u{1f}");
        // Host alerts are told apart by host, process, container and user: two curls on one
        // host in the same second had one id. Named and appended only when present, so the ids
        // of cloud alerts (which have none of them) did not change.
        let mut key = key;
        for (name, value) in [
            ("host", &e.host),
            ("process", &e.process),
            ("container", &e.container),
            ("user", &e.user),
        ] {
            if let Some(value) = value {
                key.push('\u{1f}');
                key.push_str(name);
                key.push('=');
                key.push_str(value);
            }
        }
        format!("ct-{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
    }

    /// Whether `other` is this finding again, from other records (the same log shipped twice,
    /// under two paths): everything but the evidence is equal.
    pub fn same_finding(&self, other: &Alert) -> bool {
        let strip = |a: &Alert| Alert {
            evidence: Vec::new(),
            evidence_total: 0,
            ..a.clone()
        };
        self.id() == other.id() && strip(self) == strip(other)
    }

    /// Takes `other`'s evidence (see [`Alert::same_finding`]): the records of both in file
    /// order, as `Evidence::origins` lists them, at most [`crate::evidence::EVIDENCE_CAP`] (the
    /// first in file order: both lists were already the earliest of their records), and both
    /// counts.
    pub fn absorb(&mut self, other: Alert) {
        self.evidence.extend(other.evidence);
        self.evidence.sort();
        self.evidence.dedup();
        self.evidence.truncate(crate::evidence::EVIDENCE_CAP);
        self.evidence_total += other.evidence_total;
    }

    /// Output order: by time, then rule, then id.
    pub fn sort_key(&self) -> (crate::Timestamp, &'static str, String) {
        (self.first_seen, self.rule, self.id())
    }
}
