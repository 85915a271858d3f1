//! What workload credentials did and what was done to instances, kept while events stream by, so
//! that an incident can list every call its stolen credential made (not only the calls an alert
//! cites), what it read, which privileges it tried to change, how the credential was taken (a
//! command sent to the instance) and what the instance's metadata posture became. Not a
//! detector: it raises nothing.
//!
//! GCP and Azure VM identities have no key: the calls a VM's metadata-service token made (as each
//! cloud's VM-identity rule recognises them, `vm_identity::token_identity`) are tallied under the
//! identity itself (a service account's email, a managed identity), with the cloud's own method
//! and operation names and purposes (`credtrail_event::vm_cloud_purpose`).
//!
//! Memory: one record per workload access key (a tally per source and action, which stays small
//! for a workload: a few addresses, tens of actions) and per instance that was sent a command or
//! had its metadata options changed. Lists of individual calls are capped at [`LIST_CAP`], keeping
//! the earliest, so the result does not depend on how events were split between threads.
//!
//! It also keeps, for every network (IPv4 /24, IPv6 /48) a CloudTrail call, a web request (its
//! original client) or a flow came from, the earliest event time it was seen: triage asks whether an attacker's network
//! is new. That map is capped at [`NETWORK_CAP`] networks, keeping the smallest keys (not the
//! earliest sightings): a network is dropped only when that many smaller ones were seen, which
//! holds on every shard and after any merge, so the kept networks and their times do not depend
//! on the split. A network past the cap is unknown, never "new".

use std::collections::BTreeMap;
use std::net::IpAddr;

use credtrail_event::{Body, CloudApiCall, Event, Origin, Purpose, SourceAddress, Timestamp};

use crate::engine::{EntityMap, Merge};

/// Calls of one kind kept per credential and source, or per instance. An attacker's S3 sweep can read thousands of
/// objects; the first fifty and the totals tell the story.
pub const LIST_CAP: usize = 50;

/// Networks whose first sighting is kept: about 40 bytes each in a B-tree, trimmed back to the cap
/// once twice as many are held, so 8 MB per worker at most; a day of a large estate's web and API
/// traffic comes from fewer client networks.
pub const NETWORK_CAP: usize = 100_000;

/// The network an address belongs to for "first seen": IPv4 /24, IPv6 /48, the blocks an ISP or
/// hosting provider assigns to one customer or site.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0])
        }
    }
}

/// `198.51.100.0/24`, `2001:db8:1::/48`.
pub fn network_label(network: IpAddr) -> String {
    match network {
        IpAddr::V4(_) => format!("{network}/24"),
        IpAddr::V6(_) => format!("{network}/48"),
    }
}

/// The earliest event time of each network, the [`NETWORK_CAP`] smallest networks kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstSeen {
    networks: BTreeMap<IpAddr, Timestamp>,
    /// [`NETWORK_CAP`]; smaller in tests.
    cap: usize,
    /// Once the map has been trimmed: its largest kept network. Anything larger may have been
    /// dropped with its earliest time, so it is never kept again.
    ceiling: Option<IpAddr>,
}

impl Default for FirstSeen {
    fn default() -> FirstSeen {
        FirstSeen {
            networks: BTreeMap::new(),
            cap: NETWORK_CAP,
            ceiling: None,
        }
    }
}

impl FirstSeen {
    fn observe(&mut self, ip: IpAddr, time: Timestamp) {
        let network = network_of(ip);
        if self.ceiling.is_some_and(|c| network > c) {
            return;
        }
        match self.networks.get_mut(&network) {
            Some(t) => *t = (*t).min(time),
            None => {
                self.networks.insert(network, time);
                // Trimmed now and then rather than on every insert.
                if self.networks.len() >= 2 * self.cap {
                    self.trim();
                }
            }
        }
    }

    fn trim(&mut self) {
        if let Some(ceiling) = self.ceiling {
            self.networks.retain(|n, _| *n <= ceiling);
        }
        if let Some(&first_dropped) = self.networks.keys().nth(self.cap) {
            drop(self.networks.split_off(&first_dropped));
            self.ceiling = self.networks.keys().next_back().copied();
        }
    }

    fn merge(&mut self, other: FirstSeen) {
        self.ceiling = match (self.ceiling, other.ceiling) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (network, time) in other.networks {
            self.networks
                .entry(network)
                .and_modify(|t| *t = (*t).min(time))
                .or_insert(time);
        }
        self.trim();
    }

    /// When the address's network was first seen; `None` when it never was, or was past the cap.
    pub fn get(&self, ip: IpAddr) -> Option<Timestamp> {
        self.networks.get(&network_of(ip)).copied()
    }

    pub fn len(&self) -> usize {
        self.networks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

/// One call worth naming in a timeline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FollowedCall {
    pub time: Timestamp,
    /// `iam:CreateAccessKey`.
    pub action: String,
    pub target: Option<String>,
    pub source: SourceAddress,
    /// The caller's ARN.
    pub actor: Option<String>,
    pub access_key: Option<String>,
    pub error: Option<String>,
    pub bytes: Option<u64>,
    pub origin: Origin,
}

impl FollowedCall {
    fn of(event: &Event, call: &CloudApiCall) -> FollowedCall {
        FollowedCall {
            time: event.time,
            action: call.action_name(),
            target: call.target.clone(),
            source: call.source.clone().unwrap_or(SourceAddress::Missing),
            actor: call.identity.arn.clone(),
            access_key: call.identity.access_key.clone(),
            error: call.error_code.clone(),
            bytes: call.bytes_out,
            origin: event.origin,
        }
    }
}

/// The earliest [`LIST_CAP`] calls of a list, and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capped {
    items: Vec<FollowedCall>,
    total: u64,
    /// Once the list has been full: the time of its latest kept item. Anything later can never
    /// be kept, so it is counted without being built (a workload's own S3 reads are most calls).
    floor: Option<Timestamp>,
}

impl Capped {
    /// Counts a call, and keeps it if it may be among the earliest: `build` runs only then.
    fn push_call(&mut self, time: Timestamp, build: impl FnOnce() -> FollowedCall) {
        self.total += 1;
        if self.floor.is_some_and(|floor| time > floor) {
            return;
        }
        self.items.push(build());
        // Trimmed now and then rather than on every push; an item dropped here has LIST_CAP
        // smaller ones already, so it cannot be among the earliest of the whole input.
        if self.items.len() >= 2 * LIST_CAP {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.items.sort();
        self.items.dedup();
        self.items.truncate(LIST_CAP);
        if self.items.len() == LIST_CAP {
            self.floor = self.items.last().map(|c| c.time);
        }
    }

    fn merge(&mut self, other: Capped) {
        self.total += other.total;
        self.items.extend(other.items);
        self.trim();
    }

    /// The kept items, earliest first.
    pub fn items(&self) -> &[FollowedCall] {
        &self.items
    }

    /// How many there were, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn finish(&mut self) {
        self.trim();
    }
}

/// Calls of one action from one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub denied: u64,
    /// Calls CloudTrail marks `readOnly: false` (they change something); a call without the
    /// field is not counted (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).
    pub writes: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.count += other.count;
        self.denied += other.denied;
        self.writes += other.writes;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

/// The data reads from one place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    pub calls: Capped,
    /// S3 bytes read in all, over every read (kept or not).
    pub bytes: u64,
}

/// Everything one workload credential (an access key; a GCP or Azure VM identity) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialActivity {
    pub first: Timestamp,
    pub last: Timestamp,
    /// `sessionContext.ec2RoleDelivery` as logged ("1.0" = IMDSv1).
    pub delivery: Option<String>,
    /// Calls by source, then action.
    pub calls: BTreeMap<SourceAddress, BTreeMap<String, Tally>>,
    /// Data reads by source: kept apart so that the workload's own reads cannot crowd an
    /// attacker's out of the capped list.
    pub reads: BTreeMap<SourceAddress, Reads>,
    pub privilege_changes: Capped,
    /// Commands the credential sent to instances (lateral movement) and deployments it made.
    pub commands: Capped,
}

impl CredentialActivity {
    fn new(time: Timestamp) -> CredentialActivity {
        CredentialActivity {
            first: time,
            last: time,
            delivery: None,
            calls: BTreeMap::new(),
            reads: BTreeMap::new(),
            privilege_changes: Capped::default(),
            commands: Capped::default(),
        }
    }

    fn merge(&mut self, other: CredentialActivity) {
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        // The smallest of what was logged: any choice made the same way on every shard will do.
        self.delivery = match (self.delivery.take(), other.delivery) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (source, actions) in other.calls {
            let mine = self.calls.entry(source).or_default();
            for (action, tally) in actions {
                mine.entry(action).and_modify(|t| t.add(&tally)).or_insert(tally);
            }
        }
        for (source, reads) in other.reads {
            let mine = self.reads.entry(source).or_default();
            mine.calls.merge(reads.calls);
            mine.bytes += reads.bytes;
        }
        self.privilege_changes.merge(other.privilege_changes);
        self.commands.merge(other.commands);
    }
}

/// What was done to one instance from the control plane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceActivity {
    /// SSM Run Command, Session Manager and EC2 Instance Connect calls naming the instance.
    pub commands: Capped,
    /// Metadata options set on the instance (`ModifyInstanceMetadataOptions`, `RunInstances`).
    pub metadata_changes: Capped,
}

/// The activity state: built by [`Activity::observe`], merged across threads, read by triage.
#[derive(Debug, Default)]
pub struct Activity {
    credentials: EntityMap<String, CredentialActivity>,
    /// Access key → when EC2 or ECS issued it (`sts:AssumeRole` invoked by the service).
    issued: EntityMap<String, Timestamp>,
    /// Instance id in lower case (CloudTrail keeps the case the caller typed) → activity.
    instances: EntityMap<String, InstanceActivity>,
    deployments: Capped,
    /// Every client network's first sighting (CloudTrail source, web client, flow client).
    networks: FirstSeen,
    /// Scratch for the qualified action name, so that tallying a call does not allocate.
    scratch: String,
}

impl Activity {
    /// A client seen at `time` in an event that was not built (see `Engine::sight`).
    pub fn sight(&mut self, client: IpAddr, time: Timestamp) {
        self.networks.observe(client, time);
    }

    pub fn observe(&mut self, event: &Event) {
        let call = match &event.body {
            Body::CloudApiCall(call) => call,
            Body::HttpRequest(request) => {
                // The original client, as the web detectors name it (first `X-Forwarded-For`).
                if let Some(ip) = request.original_client() {
                    self.networks.observe(ip, event.time);
                }
                return;
            }
            Body::NetFlow(flow) => {
                self.networks.observe(flow.client, event.time);
                return;
            }
            Body::ProcessStart(_) | Body::ProcessConnect(_) => return,
        };
        if let Some(ip) = call.source.as_ref().and_then(SourceAddress::ip) {
            self.networks.observe(ip, event.time);
        }
        if call.provider != credtrail_event::Provider::Aws {
            // A GCP or Azure VM identity's token has no key: the identity is the credential.
            if let Some(identity) = crate::vm_identity::token_identity(call) {
                self.tally(&identity, event, call, call.purpose());
            }
            return;
        }
        if let Some(issued) = &call.issued_credential {
            self.issued
                .entry(issued.access_key.clone())
                .and_modify(|t| *t = (*t).min(event.time))
                .or_insert(event.time);
        }
        let purpose = call.purpose();
        if let Some(change) = &call.metadata_options {
            for instance in change.target.iter().flat_map(|t| t.split(',')) {
                if instance.starts_with("i-") || instance.starts_with("I-") {
                    self.instance(instance)
                        .metadata_changes
                        .push_call(event.time, || FollowedCall::of(event, call));
                }
            }
        }
        match purpose {
            Some(Purpose::RemoteCommand) => {
                for instance in call.target.iter().flat_map(|t| t.split(',')) {
                    if instance.starts_with("i-") || instance.starts_with("mi-") {
                        self.instance(instance)
                            .commands
                            .push_call(event.time, || FollowedCall::of(event, call));
                    }
                }
            }
            Some(Purpose::Deployment) => self.deployments.push_call(event.time, || FollowedCall::of(event, call)),
            _ => {}
        }
        if call.workload.is_none() {
            return;
        }
        let Some(key) = call.identity.access_key.as_deref() else {
            return;
        };
        self.tally(key, event, call, purpose);
    }

    /// Counts one call of the workload credential `key` (an access key; a GCP or Azure VM
    /// identity) and keeps what it read, changed and commanded.
    fn tally(&mut self, key: &str, event: &Event, call: &CloudApiCall, purpose: Option<Purpose>) {
        let record = match self.credentials.get_mut(key) {
            Some(record) => record,
            None => self
                .credentials
                .entry(key.to_string())
                .or_insert_with(|| CredentialActivity::new(event.time)),
        };
        record.first = record.first.min(event.time);
        record.last = record.last.max(event.time);
        if let Some(delivery) = &call.identity.role_delivery {
            if record.delivery.as_ref().is_none_or(|d| delivery < d) {
                record.delivery = Some(delivery.clone());
            }
        }
        let source = call.source.as_ref().unwrap_or(&SourceAddress::Missing);
        let actions = match record.calls.get_mut(source) {
            Some(actions) => actions,
            None => record.calls.entry(source.clone()).or_default(),
        };
        let action = call.action_name_in(&mut self.scratch);
        let denied = u64::from(call.is_access_denied());
        let writes = u64::from(call.read_only == Some(false));
        match actions.get_mut(action) {
            Some(tally) => tally.add(&Tally {
                count: 1,
                denied,
                writes,
                first: event.time,
                last: event.time,
            }),
            None => {
                actions.insert(
                    action.to_string(),
                    Tally {
                        count: 1,
                        denied,
                        writes,
                        first: event.time,
                        last: event.time,
                    },
                );
            }
        }
        match purpose {
            Some(Purpose::DataRead) => {
                let reads = record.reads.entry(source.clone()).or_default();
                reads.bytes += call.bytes_out.unwrap_or(0);
                reads.calls.push_call(event.time, || FollowedCall::of(event, call));
            }
            Some(Purpose::PrivilegeChange) => record
                .privilege_changes
                .push_call(event.time, || FollowedCall::of(event, call)),
            Some(Purpose::RemoteCommand | Purpose::Deployment) => {
                record.commands.push_call(event.time, || FollowedCall::of(event, call))
            }
            None => {}
        }
    }

    fn instance(&mut self, id: &str) -> &mut InstanceActivity {
        self.instances.entry(id.to_ascii_lowercase()).or_default()
    }

    /// Puts every capped list in its final order; called once, after the last merge.
    pub fn finish(&mut self) {
        for record in self.credentials.values_mut() {
            record.reads.values_mut().for_each(|r| r.calls.finish());
            record.privilege_changes.finish();
            record.commands.finish();
        }
        for record in self.instances.values_mut() {
            record.commands.finish();
            record.metadata_changes.finish();
        }
        self.deployments.finish();
        self.networks.trim();
    }

    pub fn credential(&self, access_key: &str) -> Option<&CredentialActivity> {
        self.credentials.get(access_key)
    }

    /// When EC2 or ECS issued the credential, if the trail holds its `AssumeRole`.
    pub fn issued(&self, access_key: &str) -> Option<Timestamp> {
        self.issued.get(access_key).copied()
    }

    /// When the network (IPv4 /24, IPv6 /48) of an address was first seen in the logs scanned.
    pub fn network_first_seen(&self, ip: IpAddr) -> Option<Timestamp> {
        self.networks.get(ip)
    }

    pub fn instance_activity(&self, instance: &str) -> Option<&InstanceActivity> {
        self.instances.get(&instance.to_ascii_lowercase())
    }

    /// Deployments seen in the trail (CodeDeploy, ECS, RunInstances, stacks, instance refreshes),
    /// earliest first.
    pub fn deployments(&self) -> &[FollowedCall] {
        self.deployments.items()
    }
}

impl Merge for Activity {
    fn merge(&mut self, other: Activity) {
        for (key, record) in other.credentials {
            match self.credentials.get_mut(&key) {
                Some(mine) => mine.merge(record),
                None => {
                    self.credentials.insert(key, record);
                }
            }
        }
        for (key, time) in other.issued {
            self.issued
                .entry(key)
                .and_modify(|t| *t = (*t).min(time))
                .or_insert(time);
        }
        for (key, record) in other.instances {
            let mine = self.instances.entry(key).or_default();
            mine.commands.merge(record.commands);
            mine.metadata_changes.merge(record.metadata_changes);
        }
        self.deployments.merge(other.deployments);
        self.networks.merge(other.networks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_event::{FileId, Identity, IdentityKind, Workload, WorkloadKind};

    fn call(minute: i64, action: &str, key: &str, source: &str, target: Option<&str>) -> Event {
        let (service, action) = action.split_once(':').unwrap_or(("s3", action));
        event(
            minute,
            0,
            Body::CloudApiCall(Box::new(CloudApiCall {
                service: format!("{service}.amazonaws.com"),
                action: action.to_string(),
                identity: Identity {
                    kind: Some(IdentityKind::AssumedRole),
                    access_key: Some(key.to_string()),
                    role_delivery: Some("1.0".into()),
                    ..Default::default()
                },
                workload: Some(Workload {
                    kind: WorkloadKind::Ec2Instance,
                    id: "i-0123456789abcdef0".into(),
                    role: "web".into(),
                }),
                source: Some(SourceAddress::classify(source)),
                target: target.map(str::to_string),
                bytes_out: target.map(|_| 100),
                error_code: (action == "CreateUser").then(|| "AccessDenied".to_string()),
                read_only: Some(!matches!(action, "CreateUser" | "SendCommand")),
                ..Default::default()
            })),
        )
    }

    /// An event at `minute` from file `file`.
    fn event(minute: i64, file: u32, body: Body) -> Event {
        Event {
            time: at(minute),
            origin: Origin {
                file: FileId(file),
                line: minute as u64 + 1,
                index: minute as u64 + 1,
            },
            body,
        }
    }

    fn gcp_call(minute: i64, method: &str, kind: Option<IdentityKind>, who: &str) -> Event {
        event(
            minute,
            0,
            Body::CloudApiCall(Box::new(CloudApiCall {
                provider: credtrail_event::Provider::Gcp,
                service: "storage.googleapis.com".into(),
                action: method.into(),
                identity: Identity {
                    kind,
                    arn: Some(who.into()),
                    ..Default::default()
                },
                source: Some(SourceAddress::classify("198.51.100.77")),
                target: Some("projects/_/buckets/exports/objects/customers.csv".into()),
                ..Default::default()
            })),
        )
    }

    /// A GCP VM's service account token has no key: its calls are tallied under the account, with
    /// GCP's own method names, so an incident's T2 facts list what the stolen token read. A
    /// person's calls are not a workload credential's.
    #[test]
    fn a_gcp_vm_tokens_calls_are_tallied_under_its_service_account() {
        let sa = "123456789012-compute@developer.gserviceaccount.com";
        let mut activity = Activity::default();
        activity.observe(&gcp_call(
            0,
            "storage.objects.get",
            Some(IdentityKind::GcpServiceAccount),
            sa,
        ));
        activity.observe(&gcp_call(
            1,
            "storage.objects.list",
            Some(IdentityKind::GcpServiceAccount),
            sa,
        ));
        activity.observe(&gcp_call(2, "storage.objects.get", None, "alice@example.com"));
        activity.finish();
        let record = activity.credential(sa).expect("the service account's tally");
        let actions: Vec<&str> = record
            .calls
            .values()
            .flat_map(|a| a.keys())
            .map(String::as_str)
            .collect();
        assert_eq!(actions, ["storage.objects.get", "storage.objects.list"]);
        let reads: Vec<&FollowedCall> = record.reads.values().flat_map(|r| r.calls.items()).collect();
        assert_eq!(reads.len(), 1);
        assert_eq!(reads[0].action, "storage.objects.get");
        assert!(activity.credential("alice@example.com").is_none());
    }

    fn events() -> Vec<Event> {
        let mut events = vec![
            call(0, "sts:GetCallerIdentity", "ASIA1", "198.51.100.7", None),
            call(1, "iam:CreateUser", "ASIA1", "198.51.100.7", Some("eve")),
            call(2, "ssm:SendCommand", "ASIA1", "198.51.100.7", Some("i-0AAA,i-0bbb")),
        ];
        for minute in 3..(3 + 3 * LIST_CAP as i64) {
            events.push(call(minute, "s3:GetObject", "ASIA1", "198.51.100.7", Some("s3://b/k")));
        }
        events.push(call(5, "s3:ListBuckets", "ASIA2", "10.0.0.1", None));
        events.push(call(9, "s3:ListBuckets", "ASIA2", "2001:db8:7:1::5", None));
        events.push(call(4, "s3:ListBuckets", "ASIA2", "2001:db8:7:ffff::9", None));
        events.push(web(2, "203.0.113.200"));
        events.push(web(1, "203.0.113.9"));
        events
    }

    fn web(minute: i64, client: &str) -> Event {
        event(
            minute,
            1,
            Body::HttpRequest(Box::new(credtrail_event::HttpRequest {
                client: client.parse().ok(),
                ..credtrail_event::HttpRequest::new(credtrail_event::HttpSensor::WebServer, "/")
            })),
        )
    }

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_millis(1_788_000_000_000 + minute * 60_000)
    }

    /// The events, observed by one worker.
    fn observed() -> Activity {
        let mut activity = Activity::default();
        for e in events() {
            activity.observe(&e);
        }
        activity.finish();
        activity
    }

    fn summary(activity: &Activity) -> String {
        let mut keys: Vec<_> = activity.credentials.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let mut instances: Vec<_> = activity.instances.iter().collect();
        instances.sort_by(|a, b| a.0.cmp(b.0));
        format!(
            "{keys:?} {instances:?} {:?} {:?}",
            activity.deployments, activity.networks
        )
    }

    #[test]
    fn a_credentials_calls_are_tallied_and_its_reads_capped_to_the_earliest() {
        let activity = observed();
        let record = activity.credential("ASIA1").expect("ASIA1 is a workload credential");
        let from: SourceAddress = SourceAddress::classify("198.51.100.7");
        let tally = record.calls[&from]["s3:GetObject"];
        assert_eq!(tally.count, 3 * LIST_CAP as u64);
        assert_eq!(record.calls[&from]["iam:CreateUser"].denied, 1);
        // Writes are the calls CloudTrail marks readOnly false, counted per source and action.
        assert_eq!(record.calls[&from]["iam:CreateUser"].writes, 1);
        assert_eq!(record.calls[&from]["ssm:SendCommand"].writes, 1);
        assert_eq!(record.calls[&from]["s3:GetObject"].writes, 0);
        let reads = &record.reads[&from];
        assert_eq!(reads.calls.total(), 3 * LIST_CAP as u64);
        assert_eq!(reads.calls.items().len(), LIST_CAP);
        assert_eq!(reads.calls.items()[0].time, tally.first, "the earliest reads are kept");
        assert_eq!(reads.bytes, 300 * LIST_CAP as u64);
        assert_eq!(record.privilege_changes.items()[0].target.as_deref(), Some("eve"));
        assert_eq!(record.delivery.as_deref(), Some("1.0"));
        // Instance ids are matched whatever case the caller typed.
        assert_eq!(
            activity.instance_activity("i-0aaa").map(|i| i.commands.total()),
            Some(1)
        );
        assert_eq!(
            activity.instance_activity("i-0BBB").map(|i| i.commands.total()),
            Some(1)
        );
        assert!(activity.credential("ASIA2").is_some());
    }

    #[test]
    fn each_network_keeps_its_earliest_sighting_from_any_kind_of_event() {
        let activity = observed();
        let seen = |ip: &str| activity.network_first_seen(ip.parse().ok()?);
        // Web clients: one /24, the earlier of its two addresses.
        assert_eq!(seen("203.0.113.77"), Some(at(1)));
        // CloudTrail sources.
        assert_eq!(seen("198.51.100.1"), Some(at(0)));
        assert_eq!(seen("10.0.0.200"), Some(at(5)));
        // IPv6: one /48.
        assert_eq!(seen("2001:db8:7:abcd::1"), Some(at(4)));
        assert_eq!(seen("2001:db8:8::1"), None);
        assert_eq!(seen("192.0.2.1"), None);
        assert_eq!(
            network_label(network_of(
                "2001:db8:7:abcd::1".parse().unwrap_or(IpAddr::from([0u8; 4]))
            )),
            "2001:db8:7::/48"
        );
    }

    #[test]
    fn the_network_cap_keeps_the_smallest_networks_whatever_the_split() {
        // Networks 10.0.0.0/24 .. 10.0.19.0/24, each seen at minute 100 - n and again later.
        let sightings: Vec<(IpAddr, Timestamp)> = (0..20u8)
            .flat_map(|n| {
                [
                    (IpAddr::from([10, 0, n, 1]), at(100 - i64::from(n))),
                    (IpAddr::from([10, 0, n, 2]), at(200)),
                ]
            })
            .collect();
        let fresh = || FirstSeen {
            cap: 5,
            ..FirstSeen::default()
        };
        let mut whole = fresh();
        sightings.iter().for_each(|&(ip, t)| whole.observe(ip, t));
        whole.trim();
        assert_eq!(whole.len(), 5);
        assert_eq!(whole.get(IpAddr::from([10, 0, 4, 9])), Some(at(96)));
        assert_eq!(whole.get(IpAddr::from([10, 0, 5, 9])), None, "past the cap: unknown");
        for parts in [2, 3, 7] {
            let mut shards: Vec<FirstSeen> = (0..parts).map(|_| fresh()).collect();
            for (i, &(ip, t)) in sightings.iter().enumerate().rev() {
                shards[(i * 5) % parts].observe(ip, t);
            }
            let mut merged = shards.pop().unwrap_or_default();
            while let Some(mut next) = shards.pop() {
                next.merge(merged);
                merged = next;
            }
            merged.trim();
            assert_eq!(merged, whole, "{parts} shards");
        }
    }

    #[test]
    fn any_split_and_merge_order_gives_the_same_activity() {
        let events = events();
        let mut whole = Activity::default();
        for e in &events {
            whole.observe(e);
        }
        whole.finish();
        for parts in [2, 3, 7] {
            let mut shards: Vec<Activity> = (0..parts).map(|_| Activity::default()).collect();
            for (i, e) in events.iter().enumerate().rev() {
                shards[(i * 5) % parts].observe(e);
            }
            let mut merged = shards.pop().unwrap_or_default();
            while let Some(mut next) = shards.pop() {
                next.merge(merged);
                merged = next;
            }
            merged.finish();
            assert_eq!(summary(&merged), summary(&whole), "{parts} shards");
        }
    }

    #[test]
    fn calls_by_people_are_not_credential_activity_but_their_commands_to_instances_are_kept() {
        let mut e = call(
            0,
            "ssm:SendCommand",
            "AKIAUSER",
            "198.51.100.9",
            Some("i-786a3A8B5C0d92eF4"),
        );
        if let Body::CloudApiCall(c) = &mut e.body {
            c.workload = None;
            c.identity.kind = Some(IdentityKind::IamUser);
        }
        let mut activity = Activity::default();
        activity.observe(&e);
        assert!(activity.credential("AKIAUSER").is_none());
        let sent = activity
            .instance_activity("i-786a3a8b5c0d92ef4")
            .map(|i| i.commands.items().to_vec())
            .unwrap_or_default();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].action, "ssm:SendCommand");
    }
}
