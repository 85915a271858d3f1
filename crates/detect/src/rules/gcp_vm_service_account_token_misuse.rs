#![doc = include_str!("gcp_vm_service_account_token_misuse.md")]

use credtrail_event::{CloudApiCall, IdentityKind, Provider};

use crate::alert::Severity;
use crate::engine::RuleMeta;
use crate::vm_identity::{Spec, VmIdentityRule};

/// The detector, registered in `DETECTORS`.
pub const DETECTOR: VmIdentityRule = VmIdentityRule(&SPEC);

pub static META: RuleMeta = RuleMeta {
    id: "gcp-vm-service-account-token-misuse",
    title: "GCP VM service account token used away from its VM",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1078.004"],
    data: "Google Cloud Audit Logs; optional `gcloud compute instances list --format=json`",
    explain: include_str!("gcp_vm_service_account_token_misuse.md"),
};

pub(crate) static SPEC: Spec = Spec {
    provider: Provider::Gcp,
    meta: &META,
    token_use,
    person,
    vm_by_name: is_compute_default,
    issuance: |_| None,
    sensitive,
    noun: "service account",
};

/// A service account's OAuth token, not signed by a key, not impersonated or delegated, not a
/// Google-managed service agent: what the metadata server hands a VM.
fn token_use(call: &CloudApiCall) -> Option<String> {
    let id = &call.identity;
    if id.kind != Some(IdentityKind::GcpServiceAccount) || id.access_key.is_some() || !id.delegation.is_empty() {
        return None;
    }
    let email = id.arn.as_deref()?.to_ascii_lowercase();
    (!is_service_agent(&email)).then_some(email)
}

/// A principal that is not a service account: a person (or a workforce identity).
fn person(call: &CloudApiCall) -> Option<String> {
    let email = call.identity.arn.as_deref()?;
    (call.identity.kind.is_none() && email.contains('@')).then(|| email.to_ascii_lowercase())
}

/// Google-managed service agents act for a project's services (`service-NUMBER@…`,
/// `NUMBER@cloudservices.gserviceaccount.com`, `…@gcp-sa-*.iam.gserviceaccount.com`); they are
/// never attached to a VM by the customer.
fn is_service_agent(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    local.starts_with("service-")
        || domain == "cloudservices.gserviceaccount.com"
        || domain.starts_with("gcp-sa-")
        || domain.ends_with(".system.gserviceaccount.com")
        || domain == "system.gserviceaccount.com"
}

/// `PROJECT_NUMBER-compute@developer.gserviceaccount.com`: attached to every VM created without
/// another service account.
fn is_compute_default(email: &str) -> bool {
    email
        .strip_suffix("-compute@developer.gserviceaccount.com")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn sensitive(method: &str) -> bool {
    const MARKERS: &[&str] = &[
        "SetIamPolicy",
        "CreateServiceAccountKey",
        "GenerateAccessToken",
        "SignBlob",
        "SignJwt",
        "AccessSecretVersion",
        "CreateRole",
        "setMetadata",
        "setCommonInstanceMetadata",
    ];
    MARKERS.iter().any(|m| method.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_agents_and_the_compute_default_account_are_told_apart() {
        assert!(is_compute_default("123456789012-compute@developer.gserviceaccount.com"));
        assert!(!is_compute_default("x-compute@developer.gserviceaccount.com"));
        assert!(is_service_agent(
            "service-123456789012@compute-system.iam.gserviceaccount.com"
        ));
        assert!(is_service_agent("123456789012@cloudservices.gserviceaccount.com"));
        assert!(!is_service_agent("etl@shop-prod.iam.gserviceaccount.com"));
    }
}
