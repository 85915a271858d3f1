//! Azure VM inventory as `az vm list -d` (`--show-details`) prints it: an array of virtual
//! machines (https://learn.microsoft.com/cli/azure/vm#az-vm-list). Tells the Azure detector which
//! managed identities a VM holds (`identity.type` `SystemAssigned` with `identity.principalId`,
//! `identity.userAssignedIdentities` keyed by resource id with `principalId` and `clientId`) and
//! which addresses are its own (`privateIps`, `publicIps`: comma-separated when several).

use std::net::IpAddr;

use credtrail_event::{Fact, FileId, Provider};
use serde_json::Value;

use super::json_records::{for_each_record, text, Failure};
use super::{Format, ParsedFile};
use crate::diagnostic::Reason;

pub struct AzureInventory;

const NAME: &str = "azure-inventory";

impl Format for AzureInventory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Azure inventory JSON from `az vm list -d`"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
        let i = crate::json_stream::skip_ws(head, 0);
        head.get(i) == Some(&b'[')
            && has(b"Microsoft.Compute/virtualMachines")
            && (has(b"\"vmId\"") || has(b"\"hardwareProfile\"") || has(b"\"privateIps\""))
            && !has(b"\"operationName\"")
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        for_each_record(buf, file, NAME, &[b"value"], out, |value, _, out| {
            out.facts.push(vm(value)?);
            Ok(())
        });
    }
}

fn vm(v: &Value) -> Result<Fact, Failure> {
    let id = text(v, "id")
        .filter(|id| {
            id.to_ascii_lowercase()
                .contains("/providers/microsoft.compute/virtualmachines/")
        })
        .ok_or((
            Reason::MissingField,
            "not a virtual machine: no Microsoft.Compute/virtualMachines id".to_string(),
        ))?
        .to_ascii_lowercase();
    let account = id.split('/').nth(2).map(str::to_string);
    let ips = |key: &str| -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = text(v, key)
            .into_iter()
            .flat_map(|s| s.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        ips.sort();
        ips.dedup();
        ips
    };
    let mut identities = Vec::new();
    if let Some(identity) = v.get("identity").filter(|i| i.is_object()) {
        if text(identity, "type").is_some_and(|t| t.to_ascii_lowercase().contains("systemassigned")) {
            identities.push(id.clone());
            identities.extend(text(identity, "principalId").map(str::to_ascii_lowercase));
        }
        if let Some(assigned) = identity.get("userAssignedIdentities").and_then(Value::as_object) {
            for (resource, ids) in assigned {
                identities.push(resource.to_ascii_lowercase());
                identities.extend(text(ids, "principalId").map(str::to_ascii_lowercase));
                identities.extend(text(ids, "clientId").map(str::to_ascii_lowercase));
            }
        }
    }
    identities.sort();
    identities.dedup();
    Ok(Fact::CloudVm {
        provider: Provider::Azure,
        id,
        account,
        identities,
        private_ips: ips("privateIps"),
        public_ips: ips("publicIps"),
        networks: Vec::new(),
    })
}
