//! credtrail's detectors.
//!
//! A detector keeps time-stamped observations keyed by entity (credential, instance, address) in a
//! state that can be merged with another partial state, and decides only in `finish`, on event
//! time. Because merging is a union, the alerts do not depend on file order, shard count or
//! thread count. Adding a detector is one file in `rules/`, its `.md` documentation beside it,
//! and one line in [`DETECTORS`].

pub mod activity;
pub mod alert;
pub mod engine;
pub mod evidence;
pub mod footprint;
pub mod host;
pub mod policy;
pub mod rules;
pub mod vm_identity;
pub mod web;

pub use activity::Activity;
pub use alert::{Alert, Entities, Severity};
pub use credtrail_event::Timestamp;
pub use engine::{Detector, Engine, Findings, Knowledge, Merge, RuleMeta, DETECTORS};
pub use evidence::Evidence;
pub use policy::{Policy, Suppressed, Suppression};

/// Finds a detector by rule id.
pub fn rule(id: &str) -> Option<&'static RuleMeta> {
    DETECTORS.iter().map(|d| d.meta()).find(|m| m.id == id)
}
