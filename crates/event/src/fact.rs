//! Inventory facts: what the estate looks like, from `aws ec2 describe-*`,
//! `aws iam get-account-authorization-details`, `gcloud compute instances list` and
//! `az vm list -d` output. Facts have no event time; they tell detectors which addresses belong to
//! which instance or VM, and triage what a role may do.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::iam::Statement;
use crate::ip_ranges::Provider;
use crate::Origin;

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
    /// An IAM role as `get-account-authorization-details` lists it (`RoleDetailList`).
    Role(Box<RoleDetail>),
    /// A managed policy's default version (`Policies`), which roles attach by ARN.
    ManagedPolicy(Box<ManagedPolicy>),
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
        /// The VPC networks of the VM's interfaces, by name (GCP; what a firewall rule is
        /// created in). Empty when the inventory does not say (Azure's VM listing names no NSG).
        networks: Vec<String>,
    },
}

/// An IAM role and its policies. Attached managed policies are named by ARN and resolved against
/// the [`ManagedPolicy`] facts of every file, since a paginated listing may put the role and
/// the policy in different pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDetail {
    pub name: String,
    pub arn: String,
    /// From the ARN.
    pub account: Option<String>,
    /// Instance profile names: the way an EC2 instance carries the role.
    pub instance_profiles: Vec<String>,
    /// `(PolicyName, PolicyArn)` of each attached managed policy.
    pub attached: Vec<(String, String)>,
    /// Each inline policy's name and statements.
    pub inline: Vec<(String, Vec<Statement>)>,
    /// Inline policies whose document could not be read (a diagnostic says why).
    pub unreadable: Vec<String>,
    /// Who may assume the role: `Service:ec2.amazonaws.com`, `AWS:arn:…`, `Federated:…`, `*`.
    pub trust_principals: Vec<String>,
    /// The record in the details file, cited by the check that uses it.
    pub origin: Origin,
}

/// A managed policy's default version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    pub statements: Vec<Statement>,
    pub origin: Origin,
}

/// A role found in the authorization details, with each policy's statements resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRole<'a> {
    pub role: &'a RoleDetail,
    /// Every statement of its inline and resolved managed policies.
    pub statements: Vec<&'a Statement>,
    /// Policy names, inline and managed.
    pub policies: Vec<&'a str>,
    /// Policies whose permissions are unknown: attached managed policies whose document is not
    /// in the details given (an AWS managed policy when the listing was filtered, say), and
    /// inline policies that could not be read.
    pub unresolved: Vec<&'a str>,
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
    /// Roles by lower-cased name (IAM role names are unique per account whatever their case),
    /// then by account.
    roles: BTreeMap<String, BTreeMap<Option<String>, RoleDetail>>,
    policies: BTreeMap<String, ManagedPolicy>,
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
    networks: BTreeSet<String>,
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

    /// Whether any IAM authorization details were given.
    pub fn has_authorization_details(&self) -> bool {
        !self.roles.is_empty() || !self.policies.is_empty()
    }

    /// The role named `name` in `account`. Without an account, the name must be unique across
    /// the accounts given; a role whose ARN has no account matches any.
    pub fn role(&self, account: Option<&str>, name: &str) -> Option<ResolvedRole<'_>> {
        let by_account = self.roles.get(&name.to_ascii_lowercase())?;
        let role = match account {
            Some(account) => by_account
                .get(&Some(account.to_string()))
                .or_else(|| by_account.get(&None))?,
            None if by_account.len() == 1 => by_account.values().next()?,
            None => return None,
        };
        let mut statements: Vec<&Statement> = Vec::new();
        let mut policies: Vec<&str> = Vec::new();
        let mut unresolved: Vec<&str> = Vec::new();
        for (name, doc) in &role.inline {
            policies.push(name);
            statements.extend(doc);
        }
        for name in &role.unreadable {
            policies.push(name);
            unresolved.push(name);
        }
        for (name, arn) in &role.attached {
            policies.push(name);
            match self.policies.get(arn) {
                Some(policy) => statements.extend(&policy.statements),
                None => unresolved.push(name),
            }
        }
        Some(ResolvedRole {
            role,
            statements,
            policies,
            unresolved,
        })
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
            // The same role or policy in two snapshots: the earliest record (by file, then line)
            // wins, whatever order the files were read in.
            Fact::Role(role) => {
                let slot = self
                    .roles
                    .entry(role.name.to_ascii_lowercase())
                    .or_default()
                    .entry(role.account.clone());
                match slot {
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert((**role).clone());
                    }
                    std::collections::btree_map::Entry::Occupied(mut o) if role.origin < o.get().origin => {
                        o.insert((**role).clone());
                    }
                    std::collections::btree_map::Entry::Occupied(_) => {}
                }
            }
            Fact::ManagedPolicy(policy) => match self.policies.get(&policy.arn) {
                Some(known) if known.origin <= policy.origin => {}
                _ => {
                    self.policies.insert(policy.arn.clone(), (**policy).clone());
                }
            },
            Fact::CloudVm {
                provider,
                id,
                account,
                identities,
                private_ips,
                public_ips,
                networks,
            } => {
                let id = id.to_ascii_lowercase();
                let rec = self.vms.entry(id.clone()).or_default();
                rec.provider = rec.provider.or(Some(*provider));
                rec.account = rec.account.take().or_else(|| account.clone());
                rec.addresses.extend(private_ips.iter().chain(public_ips));
                rec.networks.extend(networks.iter().cloned());
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

    /// The VPC networks of a GCP VM's interfaces, by name.
    pub fn vm_networks(&self, vm: &str) -> Option<&BTreeSet<String>> {
        self.vms.get(&vm.to_ascii_lowercase()).map(|r| &r.networks)
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

    fn statement(action: &str) -> Statement {
        Statement::allow_everywhere(&[action])
    }

    fn role(account: Option<&str>, file: u32) -> Fact {
        Fact::Role(Box::new(RoleDetail {
            name: "Shop-Web-Role".into(),
            arn: format!("arn:aws:iam::{}:role/Shop-Web-Role", account.unwrap_or("")),
            account: account.map(str::to_string),
            instance_profiles: vec!["shop-web".into()],
            attached: vec![
                (
                    "ShopDeploy".into(),
                    "arn:aws:iam::111122223333:policy/ShopDeploy".into(),
                ),
                ("ReadOnlyAccess".into(), "arn:aws:iam::aws:policy/ReadOnlyAccess".into()),
            ],
            inline: vec![("logs".into(), vec![statement("logs:PutLogEvents")])],
            unreadable: Vec::new(),
            trust_principals: vec!["Service:ec2.amazonaws.com".into()],
            origin: crate::Origin {
                file: crate::FileId(file),
                line: 1,
                index: 1,
            },
        }))
    }

    #[test]
    fn a_role_resolves_managed_policies_from_any_file_and_joins_on_name_and_account() {
        let policy = Fact::ManagedPolicy(Box::new(ManagedPolicy {
            arn: "arn:aws:iam::111122223333:policy/ShopDeploy".into(),
            name: "ShopDeploy".into(),
            statements: vec![statement("iam:PassRole")],
            origin: crate::Origin {
                file: crate::FileId(2),
                line: 9,
                index: 1,
            },
        }));
        let inv = Inventory::from_facts(&[role(Some("111122223333"), 0), policy]);
        assert!(inv.has_authorization_details());
        let found = inv.role(Some("111122223333"), "shop-web-role").unwrap();
        assert_eq!(found.policies, ["logs", "ShopDeploy", "ReadOnlyAccess"]);
        assert_eq!(found.unresolved, ["ReadOnlyAccess"]);
        let actions: Vec<&str> = found.statements.iter().map(|s| s.actions[0].as_str()).collect();
        assert_eq!(actions, ["logs:PutLogEvents", "iam:PassRole"]);
        assert!(inv.role(Some("444455556666"), "shop-web-role").is_none());
        // Without an account the name must be unique.
        assert!(inv.role(None, "shop-web-role").is_some());
        let two = Inventory::from_facts(&[role(Some("111122223333"), 0), role(Some("444455556666"), 1)]);
        assert!(two.role(None, "shop-web-role").is_none());
        assert!(!Inventory::default().has_authorization_details());
    }

    #[test]
    fn the_same_role_twice_keeps_the_earliest_record_whatever_the_order() {
        let a = role(Some("111122223333"), 3);
        let b = role(Some("111122223333"), 1);
        let one = Inventory::from_facts(&[a.clone(), b.clone()]);
        let other = Inventory::from_facts(&[b, a]);
        let origin = |inv: &Inventory| inv.role(Some("111122223333"), "Shop-Web-Role").unwrap().role.origin;
        assert_eq!(origin(&one), origin(&other));
        assert_eq!(origin(&one).file, crate::FileId(1));
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
            networks: Vec::new(),
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
