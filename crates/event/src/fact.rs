//! Inventory facts: what the estate looks like, from `aws ec2 describe-*`, `gcloud compute
//! instances list` and `az vm list -d` output. Facts have no event time; they tell detectors which
//! addresses belong to which instance.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::ip_ranges::Provider;

/// One inventory record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Instance {
        id: String,
        account: Option<String>,
        vpc: Option<String>,
        subnet: Option<String>,
        private_ips: Vec<IpAddr>,
        public_ips: Vec<IpAddr>,
        /// `MetadataOptions.HttpTokens`: `required` or `optional`.
        http_tokens: Option<String>,
        hop_limit: Option<i64>,
    },
    NatGateway {
        id: String,
        vpc: Option<String>,
        subnet: Option<String>,
        public_ips: Vec<IpAddr>,
    },
    RouteTable {
        id: String,
        vpc: Option<String>,
        /// Subnets explicitly associated with the table.
        subnets: Vec<String>,
        /// The VPC's main table applies to subnets with no explicit association.
        main: bool,
        nat_gateways: Vec<String>,
    },
    VpcEndpoint {
        id: String,
        vpc: Option<String>,
        owner_account: Option<String>,
        service: Option<String>,
    },
    /// A Google Cloud or Azure VM and the identities attached to it.
    CloudVm {
        provider: Provider,
        /// GCP `projects/P/zones/Z/instances/NAME`; the Azure resource id in lower case.
        id: String,
        /// The GCP project, the Azure subscription.
        account: Option<String>,
        /// Lower case: the attached service accounts' emails (GCP); the managed identities'
        /// resource ids, principal ids and client ids (Azure; the VM's own id when its
        /// system-assigned identity is on).
        identities: Vec<String>,
        private_ips: Vec<IpAddr>,
        public_ips: Vec<IpAddr>,
    },
}

/// Inventory facts merged and indexed. Built once after ingest; read by detectors in `finish`.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    instances: BTreeMap<String, InstanceRecord>,
    nat_public_ips: BTreeMap<String, Vec<IpAddr>>,
    subnet_routes: BTreeMap<String, Vec<String>>,
    main_routes: BTreeMap<String, Vec<String>>,
    endpoints: BTreeMap<String, EndpointRecord>,
    owners: BTreeMap<IpAddr, BTreeSet<String>>,
    /// GCP and Azure VMs, apart from EC2 instances so that AWS decisions never see them.
    vms: BTreeMap<String, VmRecord>,
    vm_owners: BTreeMap<IpAddr, BTreeSet<String>>,
    identity_vms: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, Default)]
struct VmRecord {
    provider: Option<Provider>,
    account: Option<String>,
    identities: BTreeSet<String>,
    addresses: BTreeSet<IpAddr>,
}

#[derive(Debug, Clone, Default)]
struct InstanceRecord {
    account: Option<String>,
    vpc: Option<String>,
    subnet: Option<String>,
    addresses: BTreeSet<IpAddr>,
    http_tokens: Option<String>,
    hop_limit: Option<i64>,
}

/// A VPC endpoint as inventory describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointRecord {
    pub vpc: Option<String>,
    pub owner_account: Option<String>,
}

/// The instance metadata posture inventory reports for an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPosture {
    pub http_tokens: Option<String>,
    pub hop_limit: Option<i64>,
}

impl Inventory {
    pub fn from_facts<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> Inventory {
        let mut inv = Inventory::default();
        for fact in facts {
            inv.add(fact);
        }
        inv.resolve();
        inv
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.endpoints.is_empty() && self.nat_public_ips.is_empty() && self.vms.is_empty()
    }

    fn add(&mut self, fact: &Fact) {
        match fact {
            Fact::Instance {
                id,
                account,
                vpc,
                subnet,
                private_ips,
                public_ips,
                http_tokens,
                hop_limit,
            } => {
                let rec = self.instances.entry(id.to_ascii_lowercase()).or_default();
                rec.account = rec.account.take().or_else(|| account.clone());
                rec.vpc = rec.vpc.take().or_else(|| vpc.clone());
                rec.subnet = rec.subnet.take().or_else(|| subnet.clone());
                rec.addresses.extend(private_ips.iter().chain(public_ips));
                rec.http_tokens = rec.http_tokens.take().or_else(|| http_tokens.clone());
                rec.hop_limit = rec.hop_limit.or(*hop_limit);
            }
            Fact::NatGateway { id, public_ips, .. } => {
                self.nat_public_ips.entry(id.clone()).or_default().extend(public_ips);
            }
            Fact::RouteTable {
                vpc,
                subnets,
                main,
                nat_gateways,
                ..
            } => {
                for subnet in subnets {
                    self.subnet_routes
                        .entry(subnet.clone())
                        .or_default()
                        .extend(nat_gateways.iter().cloned());
                }
                if let (true, Some(vpc)) = (*main, vpc) {
                    self.main_routes
                        .entry(vpc.clone())
                        .or_default()
                        .extend(nat_gateways.iter().cloned());
                }
            }
            Fact::VpcEndpoint {
                id, vpc, owner_account, ..
            } => {
                self.endpoints.insert(
                    id.clone(),
                    EndpointRecord {
                        vpc: vpc.clone(),
                        owner_account: owner_account.clone(),
                    },
                );
            }
            Fact::CloudVm {
                provider,
                id,
                account,
                identities,
                private_ips,
                public_ips,
            } => {
                let id = id.to_ascii_lowercase();
                let rec = self.vms.entry(id.clone()).or_default();
                rec.provider = rec.provider.or(Some(*provider));
                rec.account = rec.account.take().or_else(|| account.clone());
                rec.addresses.extend(private_ips.iter().chain(public_ips));
                for identity in identities {
                    let identity = identity.to_ascii_lowercase();
                    rec.identities.insert(identity.clone());
                    self.identity_vms.entry(identity).or_default().insert(id.clone());
                }
            }
        }
    }

    /// Adds each instance's NAT egress addresses (subnet route table, else the VPC's main table)
    /// and indexes addresses by owner.
    fn resolve(&mut self) {
        for rec in self.instances.values_mut() {
            let nats = rec
                .subnet
                .as_ref()
                .and_then(|s| self.subnet_routes.get(s))
                .or_else(|| rec.vpc.as_ref().and_then(|v| self.main_routes.get(v)));
            for nat in nats.into_iter().flatten() {
                if let Some(ips) = self.nat_public_ips.get(nat) {
                    rec.addresses.extend(ips);
                }
            }
        }
        for (id, rec) in &self.instances {
            for ip in &rec.addresses {
                self.owners.entry(*ip).or_default().insert(id.clone());
            }
        }
        for (id, rec) in &self.vms {
            for ip in &rec.addresses {
                self.vm_owners.entry(*ip).or_default().insert(id.clone());
            }
        }
    }

    /// The GCP or Azure VMs an identity (service account email, managed identity resource,
    /// principal or client id; any letter case) is attached to.
    pub fn vms_with_identity(&self, identity: &str) -> Option<&BTreeSet<String>> {
        self.identity_vms.get(&identity.to_ascii_lowercase())
    }

    /// A GCP or Azure VM's private and public addresses.
    pub fn vm_addresses(&self, vm: &str) -> Option<&BTreeSet<IpAddr>> {
        self.vms.get(&vm.to_ascii_lowercase()).map(|r| &r.addresses)
    }

    /// The identities attached to a GCP or Azure VM (lower case).
    pub fn vm_identities(&self, vm: &str) -> Option<&BTreeSet<String>> {
        self.vms.get(&vm.to_ascii_lowercase()).map(|r| &r.identities)
    }

    pub fn vm_account(&self, vm: &str) -> Option<&str> {
        self.vms
            .get(&vm.to_ascii_lowercase())
            .and_then(|r| r.account.as_deref())
    }

    /// GCP or Azure VMs of `provider` whose addresses include `ip`.
    pub fn vm_owners_of(&self, ip: &IpAddr, provider: Provider) -> Vec<&str> {
        self.vm_owners
            .get(ip)
            .into_iter()
            .flatten()
            .filter(|id| self.vms.get(*id).and_then(|r| r.provider) == Some(provider))
            .map(String::as_str)
            .collect()
    }

    pub fn knows_instance(&self, instance: &str) -> bool {
        self.instances.contains_key(&instance.to_ascii_lowercase())
    }

    /// The addresses an instance's traffic to AWS normally carries: its private and public
    /// addresses and the public addresses of the NAT gateways its subnet routes through.
    pub fn instance_addresses(&self, instance: &str) -> Option<&BTreeSet<IpAddr>> {
        self.instances.get(&instance.to_ascii_lowercase()).map(|r| &r.addresses)
    }

    pub fn instance_account(&self, instance: &str) -> Option<&str> {
        self.instances
            .get(&instance.to_ascii_lowercase())
            .and_then(|r| r.account.as_deref())
    }

    pub fn instance_vpc(&self, instance: &str) -> Option<&str> {
        self.instances
            .get(&instance.to_ascii_lowercase())
            .and_then(|r| r.vpc.as_deref())
    }

    pub fn metadata_posture(&self, instance: &str) -> Option<MetadataPosture> {
        self.instances
            .get(&instance.to_ascii_lowercase())
            .map(|r| MetadataPosture {
                http_tokens: r.http_tokens.clone(),
                hop_limit: r.hop_limit,
            })
    }

    /// Instances whose addresses include `ip` (a NAT address is shared by many).
    pub fn owners_of(&self, ip: &IpAddr) -> Option<&BTreeSet<String>> {
        self.owners.get(ip)
    }

    pub fn endpoint(&self, id: &str) -> Option<&EndpointRecord> {
        self.endpoints.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_instance_owns_its_addresses_and_its_subnets_nat() {
        let facts = vec![
            Fact::Instance {
                id: "i-0A".into(),
                account: Some("1".into()),
                vpc: Some("vpc-1".into()),
                subnet: Some("subnet-a".into()),
                private_ips: vec![ip("10.0.0.5")],
                public_ips: vec![],
                http_tokens: Some("optional".into()),
                hop_limit: Some(1),
            },
            Fact::NatGateway {
                id: "nat-1".into(),
                vpc: Some("vpc-1".into()),
                subnet: None,
                public_ips: vec![ip("54.1.1.1")],
            },
            Fact::RouteTable {
                id: "rtb-1".into(),
                vpc: Some("vpc-1".into()),
                subnets: vec!["subnet-a".into()],
                main: false,
                nat_gateways: vec!["nat-1".into()],
            },
        ];
        let inv = Inventory::from_facts(&facts);
        let own = inv.instance_addresses("i-0a").unwrap();
        assert!(own.contains(&ip("10.0.0.5")) && own.contains(&ip("54.1.1.1")));
        assert!(inv.owners_of(&ip("54.1.1.1")).unwrap().contains("i-0a"));
        assert_eq!(
            inv.metadata_posture("I-0A").unwrap().http_tokens.as_deref(),
            Some("optional")
        );
    }

    #[test]
    fn main_route_table_applies_to_unassociated_subnets() {
        let facts = vec![
            Fact::Instance {
                id: "i-1".into(),
                account: None,
                vpc: Some("vpc-1".into()),
                subnet: Some("subnet-z".into()),
                private_ips: vec![],
                public_ips: vec![],
                http_tokens: None,
                hop_limit: None,
            },
            Fact::NatGateway {
                id: "nat-9".into(),
                vpc: None,
                subnet: None,
                public_ips: vec![ip("3.3.3.3")],
            },
            Fact::RouteTable {
                id: "rtb-m".into(),
                vpc: Some("vpc-1".into()),
                subnets: vec![],
                main: true,
                nat_gateways: vec!["nat-9".into()],
            },
        ];
        let inv = Inventory::from_facts(&facts);
        assert!(inv.instance_addresses("i-1").unwrap().contains(&ip("3.3.3.3")));
    }

    #[test]
    fn a_cloud_vm_owns_its_addresses_and_is_found_by_its_identities() {
        let facts = vec![Fact::CloudVm {
            provider: Provider::Azure,
            id: "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/web-1".into(),
            account: Some("S".into()),
            identities: vec![
                "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/WEB-1".into(),
            ],
            private_ips: vec![ip("10.1.0.4")],
            public_ips: vec![ip("4.175.10.20")],
        }];
        let inv = Inventory::from_facts(&facts);
        let vm = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/web-1";
        assert!(inv.vms_with_identity(vm).unwrap().contains(vm));
        assert_eq!(inv.vm_owners_of(&ip("4.175.10.20"), Provider::Azure), [vm]);
        assert!(inv.vm_owners_of(&ip("4.175.10.20"), Provider::Gcp).is_empty());
        // An EC2 decision never sees a VM of another cloud.
        assert!(inv.owners_of(&ip("4.175.10.20")).is_none());
        assert!(!inv.is_empty());
    }
}
