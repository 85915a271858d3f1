//! The containment plan, in order, with commands that name the incident's real ids and what
//! each step breaks (runbook "Containment and Further Analysis"; ATT&CK M1054 mitigations).

use std::collections::BTreeSet;

use credtrail_detect::Alert;
use credtrail_event::workload::classify_assumed_role_arn;
use credtrail_event::{Inventory, WorkloadKind};

use crate::facts::Facts;
use crate::{ATTACKER_RULES, VM_IDENTITY_RULES};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: String,
    /// A ready-to-run command (AWS CLI), when one exists.
    pub command: Option<String>,
    /// What the step breaks, so that nobody is surprised.
    pub breaks: String,
}

/// Quotes a log-derived value for a POSIX shell, so that a hostile role name cannot run code
/// when the analyst pastes the command.
pub(crate) fn sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

pub fn plan(group: &[&Alert], facts: &Facts, inventory: Option<&Inventory>) -> Vec<Step> {
    let set = |f: &dyn Fn(&Alert) -> Option<&str>| -> BTreeSet<String> {
        group.iter().filter_map(|a| f(a)).map(str::to_string).collect()
    };
    let roles = set(&|a| a.entities.role.as_deref());
    let instances = set(&|a| a.entities.instance.as_deref().filter(|i| i.starts_with("i-")));
    let vm_identity_addresses: BTreeSet<&str> = group
        .iter()
        .filter(|a| VM_IDENTITY_RULES.contains(&a.rule))
        .filter_map(|a| a.entities.source_ip.as_deref())
        .collect();
    // Only the addresses that used the credential or attacked the service: an administrator's
    // address on a configuration change is context, not an attacker to block. GCP and Azure
    // alerts' addresses are blocked by their own steps below.
    let outside: BTreeSet<String> = set(&|a| {
        a.entities
            .source_ip
            .as_deref()
            .filter(|_| ATTACKER_RULES.contains(&a.rule) && !VM_IDENTITY_RULES.contains(&a.rule))
    })
    .into_iter()
    .filter(|ip| blockable(ip))
    // An address a GCP or Azure token was used from is blocked by that cloud's step: the SSRF
    // that took the token hit that cloud's VM, not an AWS edge.
    .filter(|ip| !vm_identity_addresses.contains(ip.as_str()))
    .collect();
    // Every token issued before the attacker's last sign is suspect (a stolen credential was
    // issued before it was stolen); the workload simply fetches a new one. Running the command
    // later with the current time instead is what AWS's "revoke active sessions" does.
    let last = group
        .iter()
        .map(|a| a.last_seen)
        .chain(facts.credentials.iter().map(|c| c.last_use))
        .max()
        .unwrap_or_default();
    let credential_used = group.iter().any(|a| a.rule == "instance-credential-exfiltration");
    let mut steps = Vec::new();
    if credential_used {
        for role in &roles {
            let renews = match role_workload(group, role) {
                Some(WorkloadKind::EcsTask) => {
                    "the task's current session: the ECS agent hands the task new credentials from 169.254.170.2 within minutes"
                }
                Some(WorkloadKind::EksPod) => {
                    "the pod's current session: the EKS Pod Identity agent hands it new credentials within minutes"
                }
                _ => "the workload's current session: the instance fetches a new one from IMDS within minutes",
            };
            steps.push(Step {
                action: format!(
                    "Revoke every session of role {role} issued before {last} (the last evidence): stolen temporary credentials stay valid until they expire"
                ),
                command: Some(format!(
                    "aws iam put-role-policy --role-name {} --policy-name credtrail-revoke-older-sessions --policy-document '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{{\"DateLessThan\":{{\"aws:TokenIssueTime\":\"{last}\"}}}}}}]}}'",
                    sh(role)
                )),
                breaks: renews.into(),
            });
        }
    }
    if credential_used {
        steps.extend(escalation_path_steps(facts));
    }
    steps.extend(persistence_steps(facts));
    for instance in &instances {
        steps.push(Step {
            action: format!("Require IMDSv2 with a hop limit of 1 on {instance}: SSRF and containers can no longer read its role"),
            command: Some(format!(
                "aws ec2 modify-instance-metadata-options --instance-id {} --http-tokens required --http-put-response-hop-limit 1 --http-endpoint enabled",
                sh(instance)
            )),
            breaks: "software that only speaks IMDSv1 (old SDKs and CLIs) and containers on bridge networks that read the instance role".into(),
        });
    }
    if credential_used {
        let network = inventory.map(|inv| own_network(inv, &instances)).unwrap_or_default();
        for role in &roles {
            match role_workload(group, role) {
                Some(kind @ (WorkloadKind::EcsTask | WorkloadKind::EksPod)) => {
                    steps.push(bind_container_role_to_network(role, kind))
                }
                _ => steps.push(bind_to_network(role, &network)),
            }
        }
    }
    for ip in &outside {
        steps.push(edge_block(ip, attacked_cloud(group, ip)));
    }
    for instance in &instances {
        steps.push(Step {
            action: format!(
                "Snapshot the volumes of {instance} for forensics, then isolate it with a quarantine security group"
            ),
            command: Some(format!(
                "aws ec2 create-snapshots --instance-specification InstanceId={} --description credtrail-forensics",
                sh(instance)
            )),
            breaks:
                "isolation cuts the instance off its clients: do it after the snapshot, when the service can fail over"
                    .into(),
        });
    }
    steps.extend(gcp_steps(group, inventory));
    steps.extend(azure_steps(group));
    steps
}

/// Where the incident's instances legitimately call AWS from, as inventory knows it: their VPCs
/// (calls through VPC endpoints carry `aws:SourceVpc`) and their public and NAT addresses
/// (calls to public endpoints carry `aws:SourceIp`).
#[derive(Debug, Default, PartialEq, Eq)]
struct OwnNetwork {
    vpcs: BTreeSet<String>,
    public_ips: BTreeSet<String>,
}

fn own_network(inventory: &Inventory, instances: &BTreeSet<String>) -> OwnNetwork {
    let mut network = OwnNetwork::default();
    for instance in instances {
        // Only a well-formed VPC id goes into the policy document: inventory is input too.
        let vpc = inventory.instance_vpc(instance).filter(|v| {
            v.strip_prefix("vpc-")
                .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        });
        network.vpcs.extend(vpc.map(str::to_string));
        for ip in inventory.instance_addresses(instance).into_iter().flatten() {
            if !credtrail_event::ip_ranges::is_non_routable(*ip) {
                network.public_ips.insert(host_range(&ip.to_string()));
            }
        }
    }
    network
}

/// A deny on the role for instance credentials used from anywhere but the instances' own network
/// (AWS's data-perimeter pattern: `ec2:SourceInstanceARN` is present only on EC2 instance
/// credentials, so other principals that assume the role are untouched; AWS services acting for
/// the role are exempt through `aws:ViaAWSService`). Without inventory the network is unknown
/// and the step says what to fill in rather than guessing.
fn bind_to_network(role: &str, network: &OwnNetwork) -> Step {
    let action = format!(
        "Bind role {role} to its network so a copied credential is useless elsewhere (deny instance credentials whose aws:SourceVpc and aws:SourceIp are not the instances' own)"
    );
    if network.vpcs.is_empty() && network.public_ips.is_empty() {
        return Step {
            action: format!("{action}; inventory (describe-instances, describe-nat-gateways) names no VPC or egress address for this incident's instances, so list them yourself"),
            command: None,
            breaks: "nothing the workload does from the networks you list; calls from anywhere else with an instance credential of this role are denied".into(),
        };
    }
    let list = |items: &BTreeSet<String>| items.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(",");
    let mut condition = Vec::new();
    if !network.vpcs.is_empty() {
        condition.push(format!(
            "\"StringNotEqualsIfExists\":{{\"aws:SourceVpc\":[{}]}}",
            list(&network.vpcs)
        ));
    }
    if !network.public_ips.is_empty() {
        condition.push(format!(
            "\"NotIpAddressIfExists\":{{\"aws:SourceIp\":[{}]}}",
            list(&network.public_ips)
        ));
    }
    condition.push("\"Null\":{\"ec2:SourceInstanceARN\":\"false\"}".into());
    condition.push("\"BoolIfExists\":{\"aws:ViaAWSService\":\"false\"}".into());
    let document = format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"CredtrailBindToNetwork\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{{{}}}}}]}}",
        condition.join(",")
    );
    let (vpcs, ips) = (
        network.vpcs.iter().cloned().collect::<Vec<_>>(),
        network.public_ips.iter().cloned().collect::<Vec<_>>(),
    );
    Step {
        action,
        command: Some(format!(
            "aws iam put-role-policy --role-name {} --policy-name credtrail-bind-to-network --policy-document {}",
            sh(role),
            sh(&document)
        )),
        breaks: format!(
            "calls with this role's instance credentials from anywhere but {}{}{}: another egress path (a new NAT gateway, a proxy outside the VPC, another VPC) is denied until added",
            if vpcs.is_empty() { String::new() } else { format!("VPC {}", vpcs.join(", ")) },
            if vpcs.is_empty() || ips.is_empty() { "" } else { " and " },
            if ips.is_empty() { String::new() } else { format!("addresses {}", ips.join(", ")) },
        ),
    }
}

/// The one cloud whose metadata service every attacker alert from `ip` aimed at (`gcp`, `azure`),
/// or `None`: AWS, several clouds, or alerts that do not say. An SSRF that reached Google's
/// metadata server ran on a Google VM, so its edge is Google's.
fn attacked_cloud<'a>(group: &[&'a Alert], ip: &str) -> Option<&'a str> {
    let mut clouds = group
        .iter()
        .filter(|a| ATTACKER_RULES.contains(&a.rule) && a.entities.source_ip.as_deref() == Some(ip))
        .map(|a| a.entities.cloud.as_deref());
    let first = clouds.next()??;
    clouds.all(|c| c == Some(first)).then_some(first)
}

/// Blocking an attacker's address at the edge of the cloud it attacked (AWS unless the alerts
/// name only Google Cloud or only Azure).
fn edge_block(ip: &str, cloud: Option<&str>) -> Step {
    let name = sh(&format!("credtrail-block-{}", ip.replace([':', '.'], "-")));
    let range = sh(&host_range(ip));
    let (action, command) = match cloud {
        Some("gcp") => (
            format!("Block {ip} at the edge (Cloud Armor security policy of the load balancer, or a VPC firewall rule)"),
            format!("gcloud compute security-policies rules create 1000 --security-policy <policy> --src-ip-ranges {range} --action deny-403 --description {name}"),
        ),
        Some("azure") => (
            format!("Block {ip} at the edge (network security group of the web tier, or a WAF custom rule)"),
            format!("az network nsg rule create --resource-group <resource-group> --nsg-name <nsg> --name {name} --priority 100 --direction Inbound --access Deny --protocol '*' --destination-port-ranges '*' --source-address-prefixes {range}"),
        ),
        _ => (
            format!("Block {ip} at the edge (WAF IP set or network ACL)"),
            format!("aws wafv2 update-ip-set --name credtrail-blocked --scope REGIONAL --id <ip-set-id> --lock-token <token> --addresses {range}"),
        ),
    };
    Step {
        action,
        command: Some(command),
        breaks: "every request from that address, including any legitimate user behind it".into(),
    }
}

/// The kind of workload whose sessions of `role` the alerts name, when they agree (a role used
/// both as an instance profile and as a task role keeps the instance wording).
fn role_workload(group: &[&Alert], role: &str) -> Option<WorkloadKind> {
    let mut kinds = group
        .iter()
        .filter(|a| a.entities.role.as_deref() == Some(role))
        .filter_map(|a| a.entities.principal.as_deref())
        .filter_map(classify_assumed_role_arn)
        .map(|w| w.kind);
    let first = kinds.next()?;
    kinds.all(|k| k == first).then_some(first)
}

/// [`bind_to_network`] for an ECS task role or an EKS Pod Identity role. Their sessions carry
/// no `ec2:SourceInstanceARN`, and only the tasks or pods assume these roles (their trust
/// policies name `ecs-tasks.amazonaws.com` or `pods.eks.amazonaws.com`), so the deny is on the
/// role's every call from outside its network. Inventory of instances does not say where tasks
/// and pods run: the command holds placeholders for the cluster's VPC and NAT egress addresses.
fn bind_container_role_to_network(role: &str, kind: WorkloadKind) -> Step {
    let (who, network) = match kind {
        WorkloadKind::EksPod => ("pods", "the cluster's VPC and NAT gateway addresses"),
        _ => ("tasks", "the cluster's or service's VPC and NAT gateway addresses"),
    };
    let document = concat!(
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"CredtrailBindToNetwork\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",",
        "\"Condition\":{\"StringNotEqualsIfExists\":{\"aws:SourceVpc\":[\"<vpc-id>\"]},",
        "\"NotIpAddressIfExists\":{\"aws:SourceIp\":[\"<nat-egress-ip>/32\"]},",
        "\"BoolIfExists\":{\"aws:ViaAWSService\":\"false\"}}}]}"
    );
    Step {
        action: format!(
            "Bind role {role} to its network so a copied credential is useless elsewhere: deny its calls whose aws:SourceVpc and aws:SourceIp are not {network} (fill in <vpc-id> and <nat-egress-ip>; the {who}' sessions carry no instance ARN to narrow the deny to)"
        ),
        command: Some(format!(
            "aws iam put-role-policy --role-name {} --policy-name credtrail-bind-to-network --policy-document {}",
            sh(role),
            sh(document)
        )),
        breaks: format!(
            "every call with this role from anywhere but the networks you list, the {who}' own included if they reach AWS another way (a proxy, another VPC); anything else that assumes the role is denied too"
        ),
    }
}

/// One address as a prefix a firewall takes: `/32` for IPv4, `/128` for IPv6 (an IPv6 `/32`
/// would block a whole provider).
fn host_range(ip: &str) -> String {
    if ip.contains(':') {
        format!("{ip}/128")
    } else {
        format!("{ip}/32")
    }
}

/// A public address an alert names: what a firewall or NSG rule can block.
fn blockable(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| !credtrail_event::ip_ranges::is_non_routable(ip) && !ip.is_loopback())
}

/// The `(service account, VM, address)` of each GCP token alert, in order.
fn vm_identity_uses<'a>(group: &[&'a Alert], rule: &str) -> BTreeSet<(&'a str, Option<&'a str>, Option<&'a str>)> {
    group
        .iter()
        .filter(|a| a.rule == rule)
        .filter_map(|a| {
            let e = &a.entities;
            Some((
                e.principal.as_deref()?,
                e.instance.as_deref(),
                e.source_ip.as_deref().filter(|ip| blockable(ip)),
            ))
        })
        .collect()
}

/// GCP: disable the service account (its tokens stop working), remove its project roles, take it
/// off the VM, block the address at the VPC firewall, snapshot and stop the VM. Google does not
/// let one revoke a single access token; disabling the account is what ends the stolen one.
fn gcp_steps(group: &[&Alert], inventory: Option<&Inventory>) -> Vec<Step> {
    let uses = vm_identity_uses(group, "gcp-vm-service-account-token-misuse");
    let mut steps = Vec::new();
    let accounts: BTreeSet<&str> = uses.iter().map(|u| u.0).collect();
    // `projects/P/zones/Z/instances/NAME` as `gcloud` flags want it.
    let vms: BTreeSet<(&str, &str, &str)> = uses
        .iter()
        .filter_map(|u| {
            let mut parts = u.1?.split('/');
            match (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) {
                (Some("projects"), Some(project), Some("zones"), Some(zone), Some("instances"), Some(name)) => {
                    Some((project, zone, name))
                }
                _ => None,
            }
        })
        .collect();
    // The project the VMs run in, else the one the alert names.
    let project = vms
        .iter()
        .map(|v| v.0)
        .chain(
            group
                .iter()
                .filter(|a| a.rule == "gcp-vm-service-account-token-misuse")
                .filter_map(|a| a.entities.account.as_deref()),
        )
        .next()
        .map_or_else(|| "<project>".to_string(), sh);
    for account in &accounts {
        steps.push(Step {
            action: format!(
                "Disable service account {account}: its access tokens, the stolen one included, stop working at once"
            ),
            command: Some(format!("gcloud iam service-accounts disable {}", sh(account))),
            breaks: "every VM and job that runs as this account, until it is re-enabled or they move to a new account"
                .into(),
        });
        steps.push(Step {
            action: format!(
                "Remove the project roles of {account} that the VM does not need (list them first), then re-enable it"
            ),
            command: Some(format!(
                "gcloud projects get-iam-policy {project} --flatten=bindings --filter={} --format='value(bindings.role)' && gcloud projects remove-iam-policy-binding {project} --member={} --role=<role>",
                sh(&format!("bindings.members:serviceAccount:{account}")),
                sh(&format!("serviceAccount:{account}"))
            )),
            breaks: "whatever the VM did with the removed roles".into(),
        });
    }
    for (project, zone, name) in &vms {
        let at = format!("--zone {} --project {}", sh(zone), sh(project));
        steps.push(Step {
            action: format!("Take the service account off VM {name} (the VM must be stopped to change it): the metadata server then hands out no token"),
            command: Some(format!(
                "gcloud compute instances set-service-account {} {at} --no-service-account --no-scopes",
                sh(name)
            )),
            breaks: "every program on the VM that calls Google APIs with its default credentials".into(),
        });
    }
    // A firewall rule belongs to one network: the VMs' networks from inventory, one rule each.
    let networks: BTreeSet<&str> = uses
        .iter()
        .filter_map(|u| u.1)
        .filter_map(|vm| inventory.and_then(|inv| inv.vm_networks(vm)))
        .flatten()
        .map(String::as_str)
        .collect();
    for ip in uses.iter().filter_map(|u| u.2).collect::<BTreeSet<_>>() {
        let rule = |network: Option<&str>| {
            let mut name = format!("credtrail-block-{}", ip.replace([':', '.'], "-"));
            if let Some(network) = network.filter(|_| networks.len() > 1) {
                name.push('-');
                name.push_str(network);
            }
            // Compute Engine names: at most 63 characters, not ending in `-`.
            name.truncate(63);
            let name = name.trim_end_matches('-');
            format!(
                "gcloud compute firewall-rules create {} --project {project} --network {} --direction INGRESS --action DENY --rules all --priority 100 --source-ranges {}",
                sh(name),
                network.map_or_else(|| "<network>".to_string(), sh),
                sh(&host_range(ip))
            )
        };
        let command = if networks.is_empty() {
            rule(None)
        } else {
            networks.iter().map(|n| rule(Some(n))).collect::<Vec<_>>().join(" && ")
        };
        steps.push(Step {
            action: format!("Block {ip} at the VPC firewall (it stops requests to the VMs, such as the SSRF that took the token; not its use of Google APIs, which only disabling the account does)"),
            command: Some(command),
            breaks: "every request from that address, including any legitimate user behind it".into(),
        });
    }
    for (project, zone, name) in &vms {
        let at = format!("--zone {} --project {}", sh(zone), sh(project));
        steps.push(Step {
            action: format!("Snapshot the boot disk of {name} for forensics (named like the VM unless it was renamed), then stop the VM"),
            command: Some(format!(
                "gcloud compute disks snapshot {0} {at} --snapshot-names {1} && gcloud compute instances stop {0} {at}",
                sh(name),
                sh(&format!("credtrail-forensics-{name}"))
            )),
            breaks: "the VM's service until it is restarted or replaced: do it after the snapshot, when the service can fail over".into(),
        });
    }
    steps
}

/// Azure: delete the identity's role assignments (Azure Resource Manager checks them on every
/// call, so the stolen token, valid up to 24 hours, loses its rights), take the identity off the
/// VM, deny the address in the VM's NSG, snapshot the OS disk and deallocate the VM.
/// A shell expression for the principal (object) id of an Azure managed identity named by its
/// resource id: a VM's (system-assigned) or a user-assigned identity's. Role assignments are
/// made to that id, not to the resource.
pub(crate) fn azure_principal_id(identity: &str) -> String {
    if identity.contains("/providers/microsoft.compute/virtualmachines/") {
        format!(
            "$(az vm show --ids {} --query identity.principalId -o tsv)",
            sh(identity)
        )
    } else {
        format!("$(az identity show --ids {} --query principalId -o tsv)", sh(identity))
    }
}

fn azure_steps(group: &[&Alert]) -> Vec<Step> {
    let uses = vm_identity_uses(group, "azure-managed-identity-token-misuse");
    let mut steps = Vec::new();
    let pairs: BTreeSet<(&str, Option<&str>)> = uses.iter().map(|u| (u.0, u.1)).collect();
    for (identity, _) in &pairs {
        let principal = azure_principal_id(identity);
        steps.push(Step {
            action: format!("Delete the role assignments of managed identity {identity}: the stolen token keeps working until it expires, but without roles it can do nothing"),
            command: Some(format!("az role assignment delete --assignee \"{principal}\"")),
            breaks: "everything the VM does on Azure with this identity, until roles are granted again (narrower)".into(),
        });
    }
    for (identity, vm) in &pairs {
        let Some(vm) = vm else { continue };
        let which = if identity == vm {
            "[system]".to_string()
        } else {
            sh(identity)
        };
        steps.push(Step {
            action: format!("Remove the managed identity from VM {vm}: IMDS then hands out no token for it"),
            command: Some(format!("az vm identity remove --ids {} --identities {which}", sh(vm))),
            breaks: "every program on the VM that authenticates with its managed identity".into(),
        });
    }
    for (_, vm, ip) in &uses {
        let (Some(vm), Some(ip)) = (vm, ip) else { continue };
        let group_name = vm.split('/').nth(4).unwrap_or("<resource-group>");
        steps.push(Step {
            action: format!("Deny {ip} in the network security group of {vm} (it stops requests to the VM, such as the SSRF that took the token; not its use of Azure APIs)"),
            command: Some(format!(
                "az network nsg rule create --resource-group {} --nsg-name <nsg> --name {} --priority 100 --direction Inbound --access Deny --protocol '*' --destination-port-ranges '*' --source-address-prefixes {}",
                sh(group_name),
                sh(&format!("credtrail-block-{}", ip.replace([':', '.'], "-"))),
                sh(&host_range(ip))
            )),
            breaks: "every request from that address, including any legitimate user behind it".into(),
        });
    }
    for vm in pairs.iter().filter_map(|p| p.1).collect::<BTreeSet<_>>() {
        let group_name = vm.split('/').nth(4).unwrap_or("<resource-group>");
        let name = vm.rsplit('/').next().unwrap_or(vm);
        steps.push(Step {
            action: format!("Snapshot the OS disk of {vm} for forensics, then deallocate it"),
            command: Some(format!(
                "az snapshot create --resource-group {} --name {} --source \"$(az vm show --ids {} --query storageProfile.osDisk.managedDisk.id -o tsv)\" && az vm deallocate --ids {}",
                sh(group_name),
                sh(&format!("credtrail-forensics-{name}")),
                sh(vm),
                sh(vm)
            )),
            breaks: "the VM's service until it is started again: do it after the snapshot, when the service can fail over".into(),
        });
    }
    steps
}

/// Undo what the attacker made with the credential and got away with (the call succeeded): keys,
/// users and policies are how a stolen session outlives its expiry.
fn persistence_steps(facts: &Facts) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut done = BTreeSet::new();
    for change in facts.privilege_changes().filter(|c| c.error.is_none()) {
        let Some(target) = change.target.as_deref() else {
            continue;
        };
        let mut words = target.split(' ');
        let subject = words.next().unwrap_or(target);
        let policy = words.next();
        if !done.insert((change.action.clone(), target.to_string())) {
            continue;
        }
        let step = match change.action.as_str() {
            "iam:CreateAccessKey" => Step {
                action: format!("Deactivate the access key created for {subject} at {} with the stolen credential, then delete it", change.time),
                command: Some(format!(
                    "aws iam list-access-keys --user-name {0} && aws iam update-access-key --user-name {0} --status Inactive --access-key-id <the key created at {1}>",
                    sh(subject),
                    change.time
                )),
                breaks: "whatever legitimately uses that key, if anything: a key made by an attacker has no legitimate user".into(),
            },
            "iam:CreateUser" | "iam:CreateLoginProfile" | "iam:UpdateLoginProfile" => Step {
                action: format!("Remove console access of user {subject} ({} with the stolen credential at {})", change.action, change.time),
                command: Some(format!("aws iam delete-login-profile --user-name {}", sh(subject))),
                breaks: "console sign-in for that user".into(),
            },
            "iam:AttachUserPolicy" | "iam:AttachRolePolicy" | "iam:AttachGroupPolicy" => {
                let (flag, kind) = principal_of(&change.action);
                Step {
                    action: format!(
                        "Detach {} from {subject}: attached with the stolen credential at {}",
                        policy.unwrap_or("the policy"),
                        change.time
                    ),
                    command: policy.map(|p| {
                        format!("aws iam detach-{kind}-policy {flag} {} --policy-arn {}", sh(subject), sh(p))
                    }),
                    breaks: "nothing that predates the incident".into(),
                }
            }
            "iam:PutUserPolicy" | "iam:PutRolePolicy" | "iam:PutGroupPolicy" => {
                let (flag, kind) = principal_of(&change.action);
                Step {
                    action: format!(
                        "Delete inline policy {} of {subject}: written with the stolen credential at {}",
                        policy.unwrap_or("?"),
                        change.time
                    ),
                    command: policy.map(|p| {
                        format!("aws iam delete-{kind}-policy {flag} {} --policy-name {}", sh(subject), sh(p))
                    }),
                    breaks: "nothing that predates the incident".into(),
                }
            }
            _ => Step {
                action: format!("Review and undo {} {target} made with the stolen credential at {}", change.action, change.time),
                command: None,
                breaks: "depends on the change: compare with the resource's state before the incident".into(),
            },
        };
        steps.push(step);
    }
    steps
}

/// The IAM principal kind an `Attach…Policy` / `Put…Policy` call names, as its CLI flag and the
/// word in the undoing command (`detach-role-policy --role-name`).
fn principal_of(action: &str) -> (&'static str, &'static str) {
    if action.contains("User") {
        ("--user-name", "user")
    } else if action.contains("Role") {
        ("--role-name", "role")
    } else {
        ("--group-name", "group")
    }
}

/// A stolen credential whose role can escalate may already have: look for what its paths make
/// (policy versions, attached policies, keys, instances or functions launched with another
/// role), then take the paths away. The role itself stays: the workload needs it.
fn escalation_path_steps(facts: &Facts) -> Vec<Step> {
    facts
        .roles
        .iter()
        .flatten()
        .filter_map(|r| Some((r, r.found.as_ref().filter(|p| p.can_escalate())?)))
        .map(|(role, permissions)| Step {
            action: format!(
                "Check what role {} could have made through its privilege-escalation paths ({}), then remove those permissions the workload does not need; its blast radius: {}",
                role.role,
                permissions.analysis.describe_paths(),
                permissions.analysis.describe_blast()
            ),
            command: Some(format!(
                "aws iam list-attached-role-policies --role-name {} && aws iam list-role-policies --role-name {}",
                sh(&role.role),
                sh(&role.role)
            )),
            breaks: "nothing until a permission is removed; then whatever the workload did with it".into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_event::Fact;

    fn instance(vpc: &str, public: &str) -> Inventory {
        Inventory::from_facts(&[Fact::Instance {
            id: "i-0a1b2c3d4e5f60718".into(),
            account: Some("111122223333".into()),
            vpc: Some(vpc.into()),
            subnet: None,
            private_ips: vec!["10.0.1.5".parse().unwrap()],
            public_ips: vec![public.parse().unwrap()],
            http_tokens: None,
            hop_limit: None,
        }])
    }

    fn instances() -> BTreeSet<String> {
        BTreeSet::from(["i-0a1b2c3d4e5f60718".to_string()])
    }

    #[test]
    fn binding_the_role_names_its_vpc_and_public_addresses_in_a_valid_policy() {
        let network = own_network(&instance("vpc-0abc123", "54.10.20.30"), &instances());
        let step = bind_to_network("shop-web-role", &network);
        let command = step.command.unwrap();
        assert!(command.starts_with("aws iam put-role-policy --role-name 'shop-web-role' --policy-name credtrail-bind-to-network --policy-document '"), "{command}");
        let document = command
            .split_once("--policy-document '")
            .unwrap()
            .1
            .trim_end_matches('\'');
        let policy: serde_json::Value = serde_json::from_str(document).unwrap();
        let condition = &policy["Statement"][0]["Condition"];
        assert_eq!(condition["StringNotEqualsIfExists"]["aws:SourceVpc"][0], "vpc-0abc123");
        // The private address is no egress address: only the public one is listed.
        assert_eq!(
            condition["NotIpAddressIfExists"]["aws:SourceIp"],
            serde_json::json!(["54.10.20.30/32"])
        );
        assert_eq!(condition["Null"]["ec2:SourceInstanceARN"], "false");
        assert!(
            step.breaks.contains("vpc-0abc123") && step.breaks.contains("54.10.20.30/32"),
            "{}",
            step.breaks
        );
    }

    fn ssrf_from(ip: &str, cloud: &str) -> Alert {
        Alert {
            rule: "ssrf-metadata-request",
            variant: Some("credential"),
            severity: credtrail_detect::Severity::High,
            first_seen: credtrail_event::Timestamp::from_millis(0),
            last_seen: credtrail_event::Timestamp::from_millis(0),
            title: "ssrf".into(),
            entities: credtrail_detect::Entities {
                cloud: Some(cloud.into()),
                source_ip: Some(ip.into()),
                ..Default::default()
            },
            reasons: vec!["test".into()],
            evidence: Vec::new(),
            evidence_total: 0,
        }
    }

    /// An SSRF that reached Google's or Azure's metadata service ran on that cloud's VM: its
    /// attacker is blocked at that cloud's edge. Several clouds (a scanner spraying every
    /// endpoint) or AWS keep the AWS step.
    #[test]
    fn the_edge_block_is_the_attacked_clouds() {
        let command = |alerts: &[Alert]| {
            let group: Vec<&Alert> = alerts.iter().collect();
            let steps = plan(&group, &Facts::default(), None);
            let step = steps
                .iter()
                .find(|s| s.action.starts_with("Block 198.51.100.23"))
                .unwrap();
            step.command.clone().unwrap()
        };
        let gcp = command(&[ssrf_from("198.51.100.23", "gcp")]);
        assert!(
            gcp.starts_with("gcloud compute security-policies rules create"),
            "{gcp}"
        );
        assert!(gcp.contains("--src-ip-ranges '198.51.100.23/32'"), "{gcp}");
        let azure = command(&[ssrf_from("198.51.100.23", "azure")]);
        assert!(azure.starts_with("az network nsg rule create"), "{azure}");
        for clouds in [&["aws"][..], &["gcp", "azure"], &["alibaba,aws,azure"]] {
            let alerts: Vec<Alert> = clouds.iter().map(|c| ssrf_from("198.51.100.23", c)).collect();
            let aws = command(&alerts);
            assert!(aws.starts_with("aws wafv2 update-ip-set"), "{clouds:?}: {aws}");
        }
    }

    /// The firewall step names the VM's network from inventory (one rule per network), and keeps
    /// the placeholder without inventory.
    #[test]
    fn the_gcp_firewall_rule_is_created_in_the_vms_networks() {
        let vm = "projects/shop-prod/zones/europe-west1-b/instances/web-1";
        let mut alert = ssrf_from("198.51.100.77", "gcp");
        alert.rule = "gcp-vm-service-account-token-misuse";
        alert.entities.principal = Some("sa@shop-prod.iam.gserviceaccount.com".into());
        alert.entities.instance = Some(vm.into());
        let command = |networks: &[&str]| {
            let inventory = Inventory::from_facts(&[Fact::CloudVm {
                provider: credtrail_event::Provider::Gcp,
                id: vm.into(),
                account: Some("shop-prod".into()),
                identities: vec!["sa@shop-prod.iam.gserviceaccount.com".into()],
                private_ips: Vec::new(),
                public_ips: Vec::new(),
                networks: networks.iter().map(|n| n.to_string()).collect(),
            }]);
            let steps = plan(&[&alert], &Facts::default(), Some(&inventory));
            let step = steps.iter().find(|s| s.action.contains("VPC firewall")).unwrap();
            step.command.clone().unwrap()
        };
        let one = command(&["default"]);
        assert!(one.contains("--network 'default'") && !one.contains("&&"), "{one}");
        let two = command(&["default", "prod-vpc"]);
        assert_eq!(two.matches("gcloud compute firewall-rules create").count(), 2, "{two}");
        assert!(
            two.contains("'credtrail-block-198-51-100-77-prod-vpc' --project 'shop-prod' --network 'prod-vpc'"),
            "{two}"
        );
        let none = command(&[]);
        assert!(none.contains("--network <network>"), "{none}");
    }

    fn exfiltration(principal: &str, role: &str) -> Alert {
        let mut alert = ssrf_from("45.134.26.9", "aws");
        alert.rule = "instance-credential-exfiltration";
        alert.entities.principal = Some(principal.into());
        alert.entities.role = Some(role.into());
        alert
    }

    /// An ECS task or EKS pod role gets a ready policy that does not lean on
    /// `ec2:SourceInstanceARN` (its sessions have none, so the EC2 policy would deny nothing),
    /// with placeholders for the network inventory cannot name; its revocation says who renews
    /// the session.
    #[test]
    fn container_roles_are_bound_and_revoked_in_their_own_terms() {
        for (principal, renewer) in [
            (
                "arn:aws:sts::111122223333:assumed-role/orders-task-role/0e67a410398abff4d9db9d283c742ca1",
                "ECS agent",
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/orders-task-role/eks-prod-payments-api-5f2c9a1b",
                "EKS Pod Identity agent",
            ),
        ] {
            let alert = exfiltration(principal, "orders-task-role");
            let steps = plan(&[&alert], &Facts::default(), None);
            let revoke = steps.iter().find(|s| s.action.starts_with("Revoke")).unwrap();
            assert!(revoke.breaks.contains(renewer), "{}", revoke.breaks);
            let bind = steps.iter().find(|s| s.action.starts_with("Bind")).unwrap();
            let command = bind.command.clone().expect("a ready command");
            assert!(!command.contains("SourceInstanceARN"), "{command}");
            let document = command
                .split_once("--policy-document '")
                .unwrap()
                .1
                .trim_end_matches('\'')
                .replace("<vpc-id>", "vpc-0abc")
                .replace("<nat-egress-ip>", "52.1.2.3");
            let policy: serde_json::Value = serde_json::from_str(&document).unwrap();
            assert_eq!(
                policy["Statement"][0]["Condition"]["StringNotEqualsIfExists"]["aws:SourceVpc"][0],
                "vpc-0abc"
            );
        }
        // An instance profile keeps the EC2 wording.
        let alert = exfiltration("arn:aws:sts::111122223333:assumed-role/web/i-0a1b2c3d4e5f60718", "web");
        let steps = plan(&[&alert], &Facts::default(), None);
        let revoke = steps.iter().find(|s| s.action.starts_with("Revoke")).unwrap();
        assert!(revoke.breaks.contains("IMDS"), "{}", revoke.breaks);
    }

    /// Regression: an IPv6 attacker was blocked as `ADDR/32`, a prefix of 2^96 addresses.
    #[test]
    fn an_ipv6_attacker_is_blocked_as_one_address() {
        for cloud in ["aws", "gcp", "azure"] {
            let alert = ssrf_from("2001:db8:7::66", cloud);
            let steps = plan(&[&alert], &Facts::default(), None);
            let step = steps
                .iter()
                .find(|s| s.action.starts_with("Block 2001:db8:7::66"))
                .unwrap();
            let command = step.command.clone().unwrap();
            assert!(command.contains("'2001:db8:7::66/128'"), "{cloud}: {command}");
        }
    }

    #[test]
    fn without_inventory_the_binding_step_asks_for_the_network_instead_of_guessing() {
        let step = bind_to_network("shop-web-role", &OwnNetwork::default());
        assert!(step.command.is_none());
        assert!(step.action.contains("list them yourself"), "{}", step.action);
    }

    #[test]
    fn a_hostile_vpc_id_from_inventory_never_reaches_the_policy() {
        let network = own_network(&instance("vpc-1\"}]}' ; rm -rf / ; '", "54.10.20.30"), &instances());
        assert!(network.vpcs.is_empty());
        let command = bind_to_network("shop-web-role", &network).command.unwrap();
        assert!(!command.contains("rm -rf"), "{command}");
    }
}
