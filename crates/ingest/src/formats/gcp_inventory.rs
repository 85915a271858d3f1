//! Compute Engine inventory as `gcloud compute instances list --format=json` prints it: an array
//! of `compute#instance` resources
//! (https://cloud.google.com/compute/docs/reference/rest/v1/instances). Tells the GCP detector
//! which service accounts are attached to which VM (`serviceAccounts[].email`) and which addresses
//! are the VM's own (`networkInterfaces[].networkIP`, `accessConfigs[].natIP`,
//! `ipv6AccessConfigs[].externalIpv6`).

use std::net::IpAddr;

use credtrail_event::{Fact, FileId, Provider};
use serde_json::Value;

use super::json_records::{for_each_record, items, text, Failure};
use super::{Format, ParsedFile};
use crate::diagnostic::Reason;

pub struct GcpInventory;

const NAME: &str = "gcp-inventory";

impl Format for GcpInventory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Google Cloud inventory JSON from `gcloud compute instances list --format=json`"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let i = crate::json_stream::skip_ws(head, 0);
        head.get(i) == Some(&b'[') && memchr::memmem::find(head, b"\"compute#instance\"").is_some()
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        for_each_record(buf, file, NAME, &[b"items"], out, |value, _, out| {
            out.facts.push(vm(value)?);
            Ok(())
        });
    }
}

fn vm(v: &Value) -> Result<Fact, Failure> {
    if text(v, "kind").is_some_and(|k| k != "compute#instance") {
        return Err((Reason::MissingField, "not a compute#instance".into()));
    }
    // `selfLink` is `https://www.googleapis.com/compute/v1/projects/P/zones/Z/instances/NAME`.
    let id = text(v, "selfLink")
        .and_then(|link| link.find("projects/").map(|at| link[at..].to_string()))
        .or_else(|| {
            let zone = text(v, "zone")?.rsplit('/').next()?;
            let project = text(v, "zone")?.split("projects/").nth(1)?.split('/').next()?;
            Some(format!(
                "projects/{project}/zones/{zone}/instances/{}",
                text(v, "name")?
            ))
        })
        .ok_or((
            Reason::MissingField,
            "instance has no selfLink, or no zone and name".to_string(),
        ))?;
    let account = id
        .strip_prefix("projects/")
        .and_then(|r| r.split('/').next())
        .map(str::to_string);
    let ip = |v: &Value, key: &str| text(v, key).and_then(|s| s.parse::<IpAddr>().ok());
    let mut private_ips = Vec::new();
    let mut public_ips = Vec::new();
    for nic in items(v, "networkInterfaces") {
        private_ips.extend(ip(nic, "networkIP"));
        for access in items(nic, "accessConfigs") {
            public_ips.extend(ip(access, "natIP"));
        }
        for access in items(nic, "ipv6AccessConfigs") {
            public_ips.extend(ip(access, "externalIpv6"));
        }
    }
    private_ips.sort();
    private_ips.dedup();
    public_ips.sort();
    public_ips.dedup();
    let mut identities: Vec<String> = items(v, "serviceAccounts")
        .filter_map(|sa| text(sa, "email"))
        .map(str::to_ascii_lowercase)
        .collect();
    identities.sort();
    identities.dedup();
    Ok(Fact::CloudVm {
        provider: Provider::Gcp,
        id,
        account,
        identities,
        private_ips,
        public_ips,
    })
}
