//! The containment plan, in order, with commands that name the incident's real ids and what
//! each step breaks (runbook "Containment and Further Analysis"; ATT&CK M1054 mitigations).

use std::collections::BTreeSet;

use credtrail_detect::Alert;

use crate::facts::Facts;
use crate::ATTACKER_RULES;

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
fn sh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

pub fn plan(group: &[&Alert], facts: &Facts) -> Vec<Step> {
    let set = |f: &dyn Fn(&Alert) -> Option<&str>| -> BTreeSet<String> {
        group.iter().filter_map(|a| f(a)).map(str::to_string).collect()
    };
    let roles = set(&|a| a.entities.role.as_deref());
    let instances = set(&|a| a.entities.instance.as_deref().filter(|i| i.starts_with("i-")));
    // Only the addresses that used the credential or attacked the service: an administrator's
    // address on a configuration change is context, not an attacker to block.
    let outside: BTreeSet<String> = set(&|a| {
        a.entities
            .source_ip
            .as_deref()
            .filter(|_| ATTACKER_RULES.contains(&a.rule))
    })
    .into_iter()
    .filter(|ip| {
        ip.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| !credtrail_event::ip_ranges::is_non_routable(ip) && !ip.is_loopback())
    })
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
            steps.push(Step {
                action: format!(
                    "Revoke every session of role {role} issued before {last} (the last evidence): stolen temporary credentials stay valid until they expire"
                ),
                command: Some(format!(
                    "aws iam put-role-policy --role-name {} --policy-name credtrail-revoke-older-sessions --policy-document '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{{\"DateLessThan\":{{\"aws:TokenIssueTime\":\"{last}\"}}}}}}]}}'",
                    sh(role)
                )),
                breaks: "the workload's current session: the instance fetches a new one from IMDS within minutes".into(),
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
        for role in &roles {
            steps.push(Step {
                action: format!(
                    "Bind role {role} to its network so a copied credential is useless elsewhere (condition aws:ec2InstanceSourceVPC / aws:ec2InstanceSourcePrivateIPv4, or aws:SourceIp for the NAT addresses)"
                ),
                command: None,
                breaks: "nothing the workload does from its own VPC; calls through another network path (a proxy outside the VPC) are denied".into(),
            });
        }
    }
    for ip in &outside {
        steps.push(Step {
            action: format!("Block {ip} at the edge (WAF IP set or network ACL)"),
            command: Some(format!(
                "aws wafv2 update-ip-set --name credtrail-blocked --scope REGIONAL --id <ip-set-id> --lock-token <token> --addresses {}",
                sh(&format!("{ip}/32"))
            )),
            breaks: "every request from that address, including any legitimate user behind it".into(),
        });
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
