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
    let mut networks = Vec::new();
    for nic in items(v, "networkInterfaces") {
        private_ips.extend(ip(nic, "networkIP"));
        // `https://www.googleapis.com/compute/v1/projects/P/global/networks/NAME`; only a name
        // Compute Engine accepts goes on: it ends up in a command an analyst pastes.
        networks.extend(
            text(nic, "network")
                .and_then(|url| url.rsplit('/').next())
                .filter(|name| is_resource_name(name))
                .map(str::to_string),
        );
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
    networks.sort();
    networks.dedup();
    Ok(Fact::CloudVm {
        provider: Provider::Gcp,
        id,
        account,
        identities,
        private_ips,
        public_ips,
        networks,
    })
}

/// A Compute Engine resource name (RFC 1035 label: `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63).
fn is_resource_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::is_resource_name;

    /// A network name goes into a pasted command: only names Compute Engine itself accepts.
    #[test]
    fn only_compute_engine_names_are_network_names() {
        for good in ["default", "prod-vpc", "a", "vpc-2"] {
            assert!(is_resource_name(good), "{good}");
        }
        let long = "a".repeat(64);
        for bad in ["", "Default", "1net", "net-", "net work", "x';rm -rf /'", long.as_str()] {
            assert!(!is_resource_name(bad), "{bad}");
        }
    }
}
