//! credtrail's event model.
//!
//! Every input format parses into [`Event`]s (things that happened, at an event time) and
//! [`Fact`]s (inventory: what the estate looks like). Detectors read only these types, so a new
//! log family needs a new parser and nothing else. This crate does no I/O, reads no clock and
//! knows no serialisation format.

pub mod cloud_api;
pub mod fact;
pub mod host;
pub mod http;
pub mod iam;
pub mod ip_ranges;
pub mod metadata;
pub mod origin;
pub mod time;
pub mod workload;

pub use cloud_api::{
    purpose_of, vm_cloud_purpose, CloudApiCall, Identity, IdentityKind, IssuedCredential, MetadataOptionsChange,
    Purpose, SourceAddress, MANAGED_IDENTITY_SIGN_IN,
};
pub use fact::{Fact, Inventory, ManagedPolicy, ResolvedRole, RoleDetail};
pub use host::{ConnectHttp, FlowSensor, HostSensor, NetFlow, Process, ProcessConnect, ProcessStart};
pub use http::{HttpRequest, HttpSensor, WafDecision, WafRuleMatch};
pub use ip_ranges::{CloudRanges, Provider, RangeMatch};
pub use metadata::{MetadataGrade, MetadataProvider, MetadataTarget};
pub use origin::{FileId, Origin};
pub use time::Timestamp;
pub use workload::{Workload, WorkloadKind};

/// One normalised record: when it happened, where it was read, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub time: Timestamp,
    pub origin: Origin,
    pub body: Body,
}

/// The closed set of things credtrail understands. New log families add a variant here only when
/// no existing one fits (a cloud API call is a cloud API call, whichever cloud wrote it).
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    CloudApiCall(Box<CloudApiCall>),
    HttpRequest(Box<HttpRequest>),
    ProcessStart(Box<ProcessStart>),
    ProcessConnect(Box<ProcessConnect>),
    NetFlow(Box<NetFlow>),
}
