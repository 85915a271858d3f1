#![doc = include_str!("imds_hardening_downgrade.md")]

use credtrail_event::{Body, Event};

use crate::alert::{Alert, Entities, Severity};
use crate::engine::{Detector, Knowledge, Merge, RuleMeta};
use crate::footprint::Footprint;

pub struct ImdsHardeningDowngrade;

pub static META: RuleMeta = RuleMeta {
    id: "imds-hardening-downgrade",
    title: "Instance metadata service protection weakened",
    default_severity: Severity::Medium,
    attack: &["T1552.005", "T1562"],
    data: "AWS CloudTrail",
    explain: include_str!("imds_hardening_downgrade.md"),
};

/// Each downgrading call is its own finding; the state is the list of them.
#[derive(Default)]
pub struct State(Vec<Alert>);

impl Merge for State {
    fn merge(&mut self, other: State) {
        self.0.extend(other.0);
    }
}

impl Detector for ImdsHardeningDowngrade {
    type State = State;

    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn observe(&self, state: &mut State, event: &Event) {
        let Body::CloudApiCall(call) = &event.body else {
            return;
        };
        if call.provider != credtrail_event::Provider::Aws {
            return;
        }
        let Some(change) = &call.metadata_options else { return };
        if call.error_code.is_some() {
            return;
        }
        let optional = change.http_tokens.as_deref() == Some("optional");
        let hop = change.hop_limit.unwrap_or(1);
        let endpoint_on = change.http_endpoint.as_deref() == Some("enabled");
        let mut reasons = Vec::new();
        if optional {
            reasons.push(format!(
                "{} set HttpTokens optional: IMDSv1 allowed, readable by SSRF with a plain GET",
                call.action
            ));
        }
        if hop > 1 && optional || hop > 2 {
            reasons.push(format!(
                "PUT response hop limit {hop}: containers and forwarded requests can reach the metadata service"
            ));
        }
        if endpoint_on && optional {
            reasons.push("metadata endpoint enabled together with optional tokens".into());
        }
        let severity = if optional && (hop > 1 || endpoint_on) {
            Severity::High
        } else if optional {
            Severity::Medium
        } else if hop > 2 {
            Severity::Low
        } else {
            return;
        };
        let target = change.target.clone().unwrap_or_else(|| "account default".into());
        reasons.push(format!(
            "changed by {} from {}",
            call.identity.arn.as_deref().unwrap_or("an unknown principal"),
            call.source
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into())
        ));
        let variant = match call.action.as_str() {
            "RunInstances" => "run_instances",
            "CreateLaunchTemplate" | "CreateLaunchTemplateVersion" => "launch_template",
            "ModifyInstanceMetadataDefaults" => "account_default",
            _ if endpoint_on => "endpoint_reenabled",
            _ => "modify",
        };
        state.0.push(Alert {
            rule: META.id,
            variant: Some(variant),
            severity,
            first_seen: event.time,
            last_seen: event.time,
            title: format!("IMDS protection weakened on {target} by {}", call.action),
            entities: Entities {
                cloud: Some("aws".into()),
                account: call.recipient_account.clone().or_else(|| call.identity.account.clone()),
                principal: call.identity.arn.clone(),
                role: None,
                access_key: call.identity.access_key.clone(),
                instance: Some(target),
                source_ip: call.source.as_ref().map(|s| s.to_string()),
                user_agent: call.user_agent.clone(),
                ..Default::default()
            },
            reasons,
            evidence: vec![event.origin],
            evidence_total: 1,
        });
    }

    fn finish(&self, state: State, _footprint: &Footprint, _knowledge: &Knowledge, out: &mut Vec<Alert>) {
        out.extend(state.0);
    }
}
