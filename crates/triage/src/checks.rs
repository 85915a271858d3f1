//! The L1 checks done for the analyst (issue #5 item 4), each with its outcome in words: the
//! allow-list and learned baselines behind the alerts, deployment windows (declared in the config
//! or seen in the trail), the instance's metadata posture, and the role's permissions (blast
//! radius and privilege-escalation paths, from IAM authorization details when given).

use std::collections::BTreeSet;

use credtrail_detect::activity::FollowedCall;
use credtrail_detect::{Activity, Alert};
use credtrail_event::{Origin, Timestamp};

use crate::facts::Facts;
use crate::{DeploymentWindow, HOST_RULES};

/// A launch this recent explains a bootstrap's metadata reads (cloud-init, configuration agents
/// that are not on the allow-list yet).
const LAUNCH_GRACE_SECONDS: i64 = 3600;

/// A deployment this close to the first alert is worth naming.
const DEPLOYMENT_NEAR_SECONDS: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: String,
    /// The records the outcome rests on, when they are inventory rather than alerts (the role's
    /// entry in the authorization details).
    pub evidence: Vec<Origin>,
}

/// Whether every alert falls inside a change the organisation expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// A `[[deployment]]` window of the config covers every alert.
    Declared(String),
    /// The instance was launched (`RunInstances`) shortly before every alert.
    Launch(String),
    None,
}

fn covers(window: &DeploymentWindow, alert: &Alert) -> bool {
    let in_time = alert.first_seen >= window.start && alert.last_seen <= window.end;
    let instance = alert.entities.instance.as_deref().or(alert.entities.host.as_deref());
    let scoped = (window.instances.is_empty() && window.roles.is_empty())
        || instance.is_some_and(|i| window.instances.iter().any(|w| w.eq_ignore_ascii_case(i)))
        || alert
            .entities
            .role
            .as_deref()
            .is_some_and(|r| window.roles.iter().any(|w| w == r));
    in_time && scoped
}

fn launched<'a>(deployments: &'a [FollowedCall], instance: &str, by: Timestamp) -> Option<&'a FollowedCall> {
    deployments.iter().find(|d| {
        d.action == "ec2:RunInstances"
            && d.error.is_none()
            && d.target
                .as_deref()
                .is_some_and(|t| t.split(',').any(|i| i.eq_ignore_ascii_case(instance)))
            && d.time <= by
            && by.millis() - d.time.millis() <= LAUNCH_GRACE_SECONDS * 1000
    })
}

pub fn window(group: &[&Alert], windows: &[DeploymentWindow], activity: Option<&Activity>) -> Window {
    if group.is_empty() {
        return Window::None;
    }
    if let Some(w) = windows.iter().find(|w| group.iter().all(|a| covers(w, a))) {
        return Window::Declared(format!("{} ({} .. {})", w.name, w.start, w.end));
    }
    let deployments = activity.map(Activity::deployments).unwrap_or_default();
    let launches: Vec<&FollowedCall> = group
        .iter()
        .filter_map(|a| {
            let instance = a.entities.instance.as_deref().or(a.entities.host.as_deref())?;
            launched(deployments, instance, a.first_seen)
        })
        .collect();
    if launches.len() == group.len() {
        if let Some(first) = launches.iter().min() {
            return Window::Launch(format!(
                "{} launched {} at {} by {}",
                first.target.as_deref().unwrap_or("?"),
                first.action,
                first.time,
                first.actor.as_deref().unwrap_or("?")
            ));
        }
    }
    Window::None
}

pub fn run(
    group: &[&Alert],
    facts: &Facts,
    windows: &[DeploymentWindow],
    activity: Option<&Activity>,
    window: &Window,
) -> Vec<Check> {
    let mut checks = Vec::new();

    let host: Vec<&&Alert> = group.iter().filter(|a| HOST_RULES.contains(&a.rule)).collect();
    let readers: BTreeSet<String> = host
        .iter()
        .filter(|a| {
            matches!(
                a.rule,
                "imds-credential-read-unexpected-process" | "imds-access-from-container"
            )
        })
        .filter_map(|a| a.entities.process.clone().or_else(|| a.entities.container.clone()))
        .collect();
    checks.push(Check {
        name: "allow-list",
        evidence: Vec::new(),
        outcome: if host.is_empty() {
            "no host telemetry for these instances: no reader to compare with the allow-list".into()
        } else if readers.is_empty() {
            "every metadata reader in the host telemetry is on the shipped allow-list or the config's [[allow.software]]"
                .into()
        } else {
            format!(
                "not on the shipped allow-list nor the config's [[allow.software]]: {}",
                readers.into_iter().collect::<Vec<_>>().join("; ")
            )
        },
    });

    let exfil: Vec<&&Alert> = group
        .iter()
        .filter(|a| a.rule == "instance-credential-exfiltration")
        .collect();
    let volume = group.iter().any(|a| a.rule == "imds-access-volume-anomaly");
    checks.push(Check {
        name: "baseline",
        evidence: Vec::new(),
        outcome: match (exfil.is_empty(), volume) {
            (true, false) => "no use of the credential outside the network learned for its workload, no metadata volume above the host's baseline".into(),
            (true, true) => "metadata access volume above the host's learned baseline (median and MAD of its episodes)".into(),
            (false, _) => {
                let places: BTreeSet<&str> = exfil.iter().filter_map(|a| a.entities.source_ip.as_deref()).collect();
                format!(
                    "used outside the network learned for its workload (its own calls, VPC endpoints, instance identity, inventory): {}",
                    places.into_iter().collect::<Vec<_>>().join(", ")
                )
            }
        },
    });

    let deployments = activity.map(Activity::deployments).unwrap_or_default();
    let first = group.iter().map(|a| a.first_seen).min().unwrap_or_default();
    let near: Vec<String> = deployments
        .iter()
        .filter(|d| (first.millis() - d.time.millis()).abs() <= DEPLOYMENT_NEAR_SECONDS * 1000)
        .map(|d| {
            format!(
                "{} {} at {} by {}",
                d.action,
                d.target.as_deref().unwrap_or("-"),
                d.time,
                d.actor.as_deref().unwrap_or("?")
            )
        })
        .collect();
    checks.push(Check {
        name: "deployment window",
        evidence: Vec::new(),
        outcome: match window {
            Window::Declared(w) => format!("inside the declared deployment window {w}"),
            Window::Launch(l) => format!("within an hour of the instance's launch: {l}"),
            Window::None => {
                let declared = if windows.is_empty() {
                    "no deployment windows declared ([[deployment]] in the config)".to_string()
                } else {
                    format!("outside the {} declared deployment window(s)", windows.len())
                };
                if near.is_empty() {
                    format!("{declared}; no deployment in the trail within an hour of the first alert")
                } else {
                    format!(
                        "{declared}; deployments in the trail within an hour of the first alert (they do not cover the alerts' instances): {}",
                        near.join("; ")
                    )
                }
            }
        },
    });

    let postures: Vec<String> = facts
        .instances
        .iter()
        .map(|i| {
            let inventory = match (&i.http_tokens, i.hop_limit) {
                (None, None) => "not in the inventory given".to_string(),
                (tokens, hop) => format!(
                    "HttpTokens {}, hop limit {} (inventory)",
                    tokens.as_deref().unwrap_or("?"),
                    hop.map(|h| h.to_string()).unwrap_or_else(|| "?".into())
                ),
            };
            let changes = if i.metadata_changes.is_empty() {
                String::new()
            } else {
                format!(
                    "; metadata options set {} time(s) in the trail, last by {} at {}",
                    i.metadata_changes.len(),
                    i.metadata_changes
                        .last()
                        .and_then(|c| c.actor.as_deref())
                        .unwrap_or("?"),
                    i.metadata_changes.last().map(|c| c.time).unwrap_or_default()
                )
            };
            format!("{}: {inventory}{changes}", i.instance)
        })
        .collect();
    let delivered: BTreeSet<&str> = facts.credentials.iter().filter_map(|c| c.delivery).collect();
    checks.push(Check {
        name: "metadata posture",
        evidence: Vec::new(),
        outcome: if postures.is_empty() {
            "no instance named".into()
        } else {
            let delivery = if delivered.is_empty() {
                String::new()
            } else {
                format!(
                    "; the credential was delivered by {}",
                    delivered.into_iter().collect::<Vec<_>>().join(" and ")
                )
            };
            format!("{}{delivery}", postures.join("; "))
        },
    });
    checks.push(role_permissions(facts, group));
    checks
}

/// The clouds the group's alerts name (`entities.cloud`, several for a spraying scanner).
fn clouds_named<'a>(group: &[&'a Alert]) -> BTreeSet<&'a str> {
    group
        .iter()
        .filter_map(|a| a.entities.cloud.as_deref())
        .flat_map(|c| c.split(','))
        .collect()
}

/// "Verify the roles and permissions associated with any detected credential usages" (runbook
/// L1 steps): what each role named by the alerts may do, from the authorization details.
fn role_permissions(facts: &Facts, group: &[&Alert]) -> Check {
    let clouds = clouds_named(group);
    if facts.roles.is_none() && !clouds.is_empty() && !clouds.contains("aws") {
        // AWS authorization details say nothing about a Google service account or an Azure
        // managed identity: say where their permissions are read instead.
        // The alerts' own project and identity when they name them, quoted for a shell (they
        // come from the logs), as the containment steps write them.
        let named = |cloud: &str, field: fn(&Alert) -> Option<&str>| {
            group
                .iter()
                .filter(|a| a.entities.cloud.as_deref() == Some(cloud))
                .find_map(|a| field(a))
        };
        let how: Vec<String> = clouds
            .iter()
            .map(|cloud| match *cloud {
                "gcp" => {
                    let project = named("gcp", |a| a.entities.account.as_deref())
                        .map_or_else(|| "PROJECT".to_string(), crate::containment::sh);
                    let email = named("gcp", |a| a.entities.principal.as_deref()).unwrap_or("EMAIL");
                    format!(
                        "Google Cloud: the service account's roles (gcloud projects get-iam-policy {project} --flatten=bindings --filter={} --format='value(bindings.role)')",
                        crate::containment::sh(&format!("bindings.members:serviceAccount:{email}"))
                    )
                }
                "azure" => format!(
                    "Azure: the managed identity's role assignments (az role assignment list --all --assignee \"{}\")",
                    named("azure", |a| a.entities.principal.as_deref())
                        .map_or_else(|| "PRINCIPAL_ID".to_string(), crate::containment::azure_principal_id)
                ),
                other => format!("{other}: its console's roles for the instance's identity"),
            })
            .collect();
        return Check {
            name: "role permissions",
            outcome: format!(
                "not checked by credtrail, which reads AWS authorization details only; read them for {}",
                how.join("; ")
            ),
            evidence: Vec::new(),
        };
    }
    let Some(roles) = &facts.roles else {
        return Check {
            name: "role permissions",
            outcome: "not checked: no authorization details given (aws iam get-account-authorization-details)".into(),
            evidence: Vec::new(),
        };
    };
    if roles.is_empty() {
        return Check {
            name: "role permissions",
            outcome: "no role named by the alerts".into(),
            evidence: Vec::new(),
        };
    }
    let mut evidence = Vec::new();
    let outcomes: Vec<String> = roles
        .iter()
        .map(|r| {
            let Some(p) = &r.found else {
                return format!(
                    "{} (account {}): not in the authorization details given",
                    r.role,
                    r.account.as_deref().unwrap_or("unknown")
                );
            };
            evidence.push(p.origin);
            let unresolved = if p.unresolved.is_empty() {
                String::new()
            } else {
                format!(
                    "; permissions unknown for {} (document not in the details or unreadable)",
                    p.unresolved.join(", ")
                )
            };
            format!(
                "{} ({}): blast radius {}; privilege-escalation paths: {}; policies {}; instance profiles {}; trusted by {}{unresolved}",
                r.role,
                p.arn,
                p.analysis.describe_blast(),
                p.analysis.describe_paths(),
                list_or_none(&p.policies),
                list_or_none(&p.instance_profiles),
                list_or_none(&p.trust),
            )
        })
        .collect();
    Check {
        name: "role permissions",
        outcome: outcomes.join("; "),
        evidence,
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
