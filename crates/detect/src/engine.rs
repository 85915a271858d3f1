//! The detector contract and the engine that runs every detector over a stream of events.

use std::any::Any;

use credtrail_event::{CloudRanges, Event, Inventory};

use crate::activity::Activity;
use crate::alert::{Alert, Severity};
use crate::footprint::Footprint;
use crate::policy::Policy;
use crate::rules;

/// A map keyed by entity (credential, instance, address, place), for detector states. Hashed
/// with FxHash: observing runs for every event on every core, and SipHash was a visible part of it.
/// Output never depends on a map's order: `finish` sorts.
pub type EntityMap<K, V> = hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>;

/// States that combine: associative and commutative, so partial states built on different
/// threads or shards merge to the same result in any order.
pub trait Merge {
    fn merge(&mut self, other: Self);
}

/// A rule's public description. `explain` is the detector's documentation (its `.md` file, also
/// the detector's doc comment) with the fixed headings What it detects, Why it matters, Data
/// required, Known false positives, Example.
#[derive(Debug)]
pub struct RuleMeta {
    pub id: &'static str,
    pub title: &'static str,
    /// The severity the rule usually produces; each alert states its own.
    pub default_severity: Severity,
    pub attack: &'static [&'static str],
    pub data: &'static str,
    pub explain: &'static str,
}

/// What detectors know besides the events: published cloud ranges, inventory, and the user's
/// policy. Read only in `finish`.
#[derive(Debug, Default)]
pub struct Knowledge {
    pub ranges: CloudRanges,
    pub inventory: Inventory,
    pub policy: Policy,
}

/// A detector: observations in `observe`, decisions in `finish`. `finish` also gets the scan's
/// [`Footprint`] (where each workload's credentials were used from), which the engine observes
/// once for every detector that must tell "the instance" from "somewhere else": observed per
/// detector it was an eighth of a CloudTrail scan each time.
pub trait Detector: Sync {
    type State: Default + Merge + Send + 'static;
    fn meta(&self) -> &'static RuleMeta;
    fn observe(&self, state: &mut Self::State, event: &Event);
    fn finish(&self, state: Self::State, footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>);
}

/// Object-safe face of [`Detector`], so the registry can be a plain list.
pub trait AnyDetector: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn new_state(&self) -> Box<dyn Any + Send>;
    fn observe(&self, state: &mut (dyn Any + Send), event: &Event);
    fn merge(&self, into: &mut (dyn Any + Send), other: Box<dyn Any + Send>);
    fn finish(&self, state: Box<dyn Any + Send>, footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>);
}

impl<D: Detector> AnyDetector for D {
    fn meta(&self) -> &'static RuleMeta {
        Detector::meta(self)
    }

    fn new_state(&self) -> Box<dyn Any + Send> {
        Box::new(D::State::default())
    }

    fn observe(&self, state: &mut (dyn Any + Send), event: &Event) {
        // The engine pairs each state with the detector that made it; a mismatch cannot happen.
        if let Some(state) = state.downcast_mut::<D::State>() {
            Detector::observe(self, state, event);
        }
    }

    fn merge(&self, into: &mut (dyn Any + Send), other: Box<dyn Any + Send>) {
        if let (Some(into), Ok(other)) = (into.downcast_mut::<D::State>(), other.downcast::<D::State>()) {
            into.merge(*other);
        }
    }

    fn finish(&self, state: Box<dyn Any + Send>, footprint: &Footprint, knowledge: &Knowledge, out: &mut Vec<Alert>) {
        if let Ok(state) = state.downcast::<D::State>() {
            Detector::finish(self, *state, footprint, knowledge, out);
        }
    }
}

/// Every detector. One line per detector.
pub static DETECTORS: &[&dyn AnyDetector] = &[
    &rules::instance_credential_exfiltration::InstanceCredentialExfiltration,
    &rules::imdsv1_credential_delivery::Imdsv1CredentialDelivery,
    &rules::imds_hardening_downgrade::ImdsHardeningDowngrade,
    &rules::instance_credential_recon::InstanceCredentialRecon,
    &rules::instance_credential_access_denied_burst::InstanceCredentialAccessDeniedBurst,
    &rules::ssrf_metadata_request::SsrfMetadataRequest,
    &rules::metadata_proxy_abuse::MetadataProxyAbuse,
    &rules::imds_credential_read_unexpected_process::ImdsCredentialReadUnexpectedProcess,
    &rules::imds_access_from_container::ImdsAccessFromContainer,
    &rules::imds_access_volume_anomaly::ImdsAccessVolumeAnomaly,
    &rules::imds_access_failures::ImdsAccessFailures,
    &rules::gcp_vm_service_account_token_misuse::DETECTOR,
    &rules::azure_managed_identity_token_misuse::DETECTOR,
];

/// All detectors' partial states for one shard of the input, and the credential activity that
/// incidents report.
pub struct Engine {
    states: Vec<Box<dyn Any + Send>>,
    footprint: Footprint,
    activity: Activity,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            states: DETECTORS.iter().map(|d| d.new_state()).collect(),
            footprint: Footprint::default(),
            activity: Activity::default(),
        }
    }
}

/// What a scan decided: alerts in output order, and what the credentials did.
pub struct Findings {
    pub alerts: Vec<Alert>,
    pub activity: Activity,
}

impl Engine {
    pub fn observe(&mut self, event: &Event) {
        for (detector, state) in DETECTORS.iter().zip(self.states.iter_mut()) {
            detector.observe(state.as_mut(), event);
        }
        self.footprint.observe(event);
        self.activity.observe(event);
    }

    /// A client seen in an event no detector reads (a left-out access-log line): it still
    /// counts for when its network was first seen.
    pub fn sight(&mut self, client: std::net::IpAddr, time: credtrail_event::Timestamp) {
        self.activity.sight(client, time);
    }

    pub fn merge(&mut self, other: Engine) {
        for ((detector, state), theirs) in DETECTORS.iter().zip(self.states.iter_mut()).zip(other.states) {
            detector.merge(state.as_mut(), theirs);
        }
        self.footprint.merge(other.footprint);
        self.activity.merge(other.activity);
    }

    /// Runs every detector's decision.
    pub fn finish(self, knowledge: &Knowledge) -> Findings {
        let mut alerts = Vec::new();
        for (detector, state) in DETECTORS.iter().zip(self.states) {
            detector.finish(state, &self.footprint, knowledge, &mut alerts);
        }
        alerts.sort_by_cached_key(|a| a.sort_key());
        // One finding made twice from copies of the same records (one log under two paths) is
        // one alert with the evidence of both: two alerts would share an id.
        let mut kept: Vec<Alert> = Vec::with_capacity(alerts.len());
        for alert in alerts {
            match kept.last_mut() {
                Some(last) if last.same_finding(&alert) => last.absorb(alert),
                _ => kept.push(alert),
            }
        }
        let alerts = kept;
        let mut activity = self.activity;
        activity.finish();
        Findings { alerts, activity }
    }
}
