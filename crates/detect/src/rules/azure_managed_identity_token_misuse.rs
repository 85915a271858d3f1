#![doc = include_str!("azure_managed_identity_token_misuse.md")]

use credtrail_event::{CloudApiCall, IdentityKind, Provider, MANAGED_IDENTITY_SIGN_IN};

use crate::alert::Severity;
use crate::engine::RuleMeta;
use crate::vm_identity::{Spec, VmIdentityRule};

/// The detector, registered in `DETECTORS`.
pub const DETECTOR: VmIdentityRule = VmIdentityRule(&SPEC);

pub static META: RuleMeta = RuleMeta {
    id: "azure-managed-identity-token-misuse",
    title: "Azure VM managed identity token used away from its VM",
    default_severity: Severity::High,
    attack: &["T1552.005", "T1078.004"],
    data: "Azure Activity log; optional Entra ManagedIdentitySignInLogs and `az vm list -d`",
    explain: include_str!("azure_managed_identity_token_misuse.md"),
};

pub(crate) static SPEC: Spec = Spec {
    provider: Provider::Azure,
    meta: &META,
    token_use,
    person,
    vm_by_name: is_vm,
    issuance,
    sensitive,
    noun: "managed identity",
};

/// A managed identity's token (`idtyp` `app` with `xms_mirid`) used on Azure Resource Manager.
fn token_use(call: &CloudApiCall) -> Option<String> {
    (call.identity.kind == Some(IdentityKind::AzureManagedIdentity) && call.action != MANAGED_IDENTITY_SIGN_IN)
        .then(|| call.identity.arn.as_deref().map(str::to_ascii_lowercase))
        .flatten()
}

/// A token Entra issued to a managed identity, system- or user-assigned: its principal id
/// (`servicePrincipalId`, the `oid` of the tokens).
fn issuance(call: &CloudApiCall) -> Option<String> {
    if call.action != MANAGED_IDENTITY_SIGN_IN {
        return None;
    }
    call.identity.principal_id.as_deref().map(str::to_ascii_lowercase)
}

/// A user (a `upn` claim) rather than an application.
fn person(call: &CloudApiCall) -> Option<String> {
    (call.identity.kind.is_none())
        .then(|| call.identity.user_name.as_deref().map(str::to_ascii_lowercase))
        .flatten()
}

/// A system-assigned identity is named by its VM.
fn is_vm(identity: &str) -> bool {
    identity.contains("/providers/microsoft.compute/virtualmachines/")
}

fn sensitive(operation: &str) -> bool {
    let op = operation.to_ascii_uppercase();
    const MARKERS: &[&str] = &[
        "/LISTKEYS/",
        "/LISTACCOUNTSAS/",
        "/LISTSERVICESAS/",
        "ROLEASSIGNMENTS/WRITE",
        "ROLEDEFINITIONS/WRITE",
        "/RUNCOMMAND/",
        "/RUNCOMMANDS/WRITE",
        "/SECRETS/",
        "/LISTCREDENTIALS/",
        "/EXTENSIONS/WRITE",
    ];
    MARKERS.iter().any(|m| op.contains(m))
}
