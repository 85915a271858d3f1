//! The Azure Activity log and Entra managed-identity sign-in logs, as diagnostic settings write
//! them to a storage account or event hub (`{"records":[…]}` blobs, or one record per line), and
//! the Activity log as `az monitor activity-log list` prints it (an array).
//!
//! Field meanings, from the Activity log schema
//! (https://learn.microsoft.com/azure/azure-monitor/essentials/activity-log-schema) and the
//! Entra sign-in log schema (https://learn.microsoft.com/graph/api/resources/signin,
//! `managedServiceIdentity`: https://learn.microsoft.com/graph/api/resources/managedidentity):
//! - `time` (diagnostic settings) or `eventTimestamp` (REST / CLI);
//! - `operationName` (a string, or `{"value": …}`): `MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION`;
//! - `callerIpAddress` (diagnostic settings) or `httpRequest.clientIpAddress` (REST / CLI);
//! - `identity.claims` (diagnostic settings) or `claims` (REST / CLI): the caller's token. A
//!   managed identity's token has `idtyp` `app`, `appid` its client id, `oid` its principal id
//!   and `xms_mirid` its resource id: the VM itself
//!   (`/subscriptions/…/providers/Microsoft.Compute/virtualMachines/VM`) for a system-assigned
//!   identity, `…/Microsoft.ManagedIdentity/userAssignedIdentities/NAME` for a user-assigned one;
//! - `resultType` (`Success`, `Failure`, `Start`…) and `properties.statusCode` (`Forbidden`…);
//! - category `ManagedIdentitySignInLogs`: one record per token Entra issued to a managed identity
//!   (`properties.appId`, `servicePrincipalId`, `resourceDisplayName`: the resource the token is
//!   for, `managedServiceIdentity.msiType` and `associatedResourceId`, `status.errorCode`).

use credtrail_event::{
    Body, CloudApiCall, Event, FileId, Identity, IdentityKind, Provider, SourceAddress, Timestamp, Workload,
    WorkloadKind, MANAGED_IDENTITY_SIGN_IN,
};
use serde_json::Value;

use super::json_records::{at, capped, for_each_record, owned, text, Failure};
use super::{Format, ParsedFile};
use crate::diagnostic::Reason;

pub struct AzureActivity;

const NAME: &str = "azure-activity";

impl Format for AzureActivity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Azure Activity log and Entra ManagedIdentitySignInLogs: diagnostic-settings JSON lines and {\"records\":[…]} blobs, `az monitor activity-log list` arrays"
    }

    fn explain(&self) -> &'static str {
        "Azure Activity log and Entra ManagedIdentitySignInLogs: diagnostic-settings JSON lines and {\"records\":[…]} blobs, `az monitor activity-log list` arrays.\n\
         An Activity log record is a control-plane call (Azure Resource Manager): the operation, the resource, \
         the caller's address (callerIpAddress) and token claims: a managed identity's token carries idtyp=app, \
         appid, oid and xms_mirid (its resource id; the VM's own id when system-assigned).\n\
         A ManagedIdentitySignInLogs record is a token Entra issued to a managed identity: Azure logs \
         managed-identity sign-ins at token issuance, from Azure's side of IMDS, so it says when a VM got a \
         token, never where the token was then used.\n\
         What it cannot show: data-plane reads (storage blobs, Key Vault secrets) are in each resource's own \
         diagnostic logs, not the Activity log; read (GET) operations are not in the Activity log at all; \
         Activity log claims are absent from some records (the caller is then an object id only)."
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
        has(b"\"operationName\"")
            && (has(b"\"resourceId\"") || has(b"\"resourceProviderName\""))
            && (has(b"\"callerIpAddress\"")
                || has(b"\"claims\"")
                || has(b"\"caller\"")
                || has(b"ManagedIdentitySignInLogs"))
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        for_each_record(buf, file, NAME, &[b"records", b"value"], out, |value, origin, out| {
            let (time, call) = record(value)?;
            out.events.push(Event {
                time,
                origin,
                body: Body::CloudApiCall(Box::new(call)),
            });
            Ok(())
        });
    }
}

/// A string field, or the `value` of an object field (the REST schema's localizable strings).
fn value_text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    text(v, key).or_else(|| v.get(key).and_then(|o| text(o, "value")))
}

fn record(v: &Value) -> Result<(Timestamp, CloudApiCall), Failure> {
    let time_text = text(v, "time")
        .or_else(|| text(v, "eventTimestamp"))
        .ok_or((Reason::MissingField, "record has no time or eventTimestamp".to_string()))?;
    let time = Timestamp::parse_rfc3339(time_text)
        .ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;
    let operation =
        value_text(v, "operationName").ok_or((Reason::MissingField, "record has no operationName".to_string()))?;
    if value_text(v, "category").is_some_and(|c| c.eq_ignore_ascii_case("ManagedIdentitySignInLogs")) {
        return Ok((time, sign_in(v)?));
    }
    let claims = at(v, &["identity", "claims"])
        .or_else(|| v.get("claims"))
        .filter(|c| c.is_object());
    let claim = |names: &[&str]| claims.and_then(|c| names.iter().find_map(|n| owned(c, n)));
    let mirid = claim(&["xms_mirid"]).map(|m| m.to_ascii_lowercase());
    let mut identity = Identity {
        arn: mirid.clone().or_else(|| owned(v, "caller")),
        principal_id: claim(&["oid", "http://schemas.microsoft.com/identity/claims/objectidentifier"]),
        client_id: claim(&["appid", "azp"]),
        user_name: claim(&["upn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"]),
        ..Identity::default()
    };
    if mirid.is_some() && claim(&["idtyp"]).is_none_or(|t| t.eq_ignore_ascii_case("app")) {
        identity.kind = Some(IdentityKind::AzureManagedIdentity);
    }
    let resource_id = text(v, "resourceId");
    let subscription = resource_id
        .and_then(subscription_of)
        .or_else(|| mirid.as_deref().and_then(subscription_of));
    identity.account = mirid.as_deref().and_then(subscription_of);
    let failed = value_text(v, "resultType").is_some_and(|r| r.eq_ignore_ascii_case("Failure"));
    let status = at(v, &["properties", "statusCode"])
        .and_then(Value::as_str)
        .or_else(|| value_text(v, "resultSignature"));
    let address =
        text(v, "callerIpAddress").or_else(|| at(v, &["httpRequest", "clientIpAddress"]).and_then(Value::as_str));
    let call = CloudApiCall {
        provider: Provider::Azure,
        service: value_text(v, "resourceProviderName")
            .unwrap_or_else(|| operation.split('/').next().unwrap_or(operation))
            .to_string(),
        action: operation.to_string(),
        region: owned(v, "location"),
        recipient_account: subscription,
        workload: mirid.as_deref().and_then(vm_workload),
        identity,
        source: address.map(classify),
        error_code: failed.then(|| status.unwrap_or("Failure").to_string()),
        event_type: value_text(v, "category").map(str::to_string),
        target: resource_id.map(capped),
        ..CloudApiCall::default()
    };
    Ok((time, call))
}

/// An Entra managed-identity sign-in: a token issued, recorded as a call of its own so that the
/// detector can say when the identity last got a token.
fn sign_in(v: &Value) -> Result<CloudApiCall, Failure> {
    let p = v
        .get("properties")
        .filter(|p| p.is_object())
        .ok_or((Reason::MissingField, "sign-in record has no properties".to_string()))?;
    let msi = p.get("managedServiceIdentity");
    let system = msi
        .and_then(|m| text(m, "msiType"))
        .is_some_and(|t| t.eq_ignore_ascii_case("systemAssigned"));
    let associated = msi
        .and_then(|m| owned(m, "associatedResourceId"))
        .map(|r| r.to_ascii_lowercase());
    let identity = Identity {
        kind: Some(IdentityKind::AzureManagedIdentity),
        // A system-assigned identity is named by its VM, as `xms_mirid` names it.
        arn: associated.clone().filter(|_| system),
        principal_id: owned(p, "servicePrincipalId"),
        client_id: owned(p, "appId"),
        user_name: owned(p, "servicePrincipalName"),
        account: associated.as_deref().and_then(subscription_of),
        ..Identity::default()
    };
    let error = at(p, &["status", "errorCode"]).and_then(Value::as_i64).unwrap_or(0);
    Ok(CloudApiCall {
        provider: Provider::Azure,
        service: "login.microsoftonline.com".into(),
        action: MANAGED_IDENTITY_SIGN_IN.into(),
        recipient_account: identity.account.clone(),
        workload: associated.as_deref().and_then(vm_workload),
        identity,
        source: text(p, "ipAddress")
            .or_else(|| text(v, "callerIpAddress"))
            .map(classify),
        error_code: (error != 0).then(|| error.to_string()),
        event_type: Some("ManagedIdentitySignInLogs".into()),
        target: text(p, "resourceDisplayName")
            .or_else(|| text(p, "resourceId"))
            .map(capped),
        ..CloudApiCall::default()
    })
}

fn classify(address: &str) -> SourceAddress {
    match address.trim().parse() {
        Ok(ip) => SourceAddress::Ip(ip),
        Err(_) if address.trim().is_empty() => SourceAddress::Missing,
        Err(_) => SourceAddress::Other(address.trim().to_string()),
    }
}

/// `/subscriptions/S/…` → `S`.
fn subscription_of(resource: &str) -> Option<String> {
    let mut parts = resource.split('/').filter(|p| !p.is_empty());
    parts
        .next()
        .filter(|p| p.eq_ignore_ascii_case("subscriptions"))
        .and(parts.next())
        .map(str::to_ascii_lowercase)
}

/// The VM a resource id names (`…/providers/microsoft.compute/virtualmachines/NAME`), as the
/// workload whose system-assigned identity it is.
fn vm_workload(resource: &str) -> Option<Workload> {
    let lower = resource.to_ascii_lowercase();
    let at = lower.find("/providers/microsoft.compute/virtualmachines/")?;
    let name_end = lower[at..]
        .match_indices('/')
        .nth(4)
        .map_or(lower.len(), |(i, _)| at + i);
    let vm = lower[..name_end].to_string();
    Some(Workload {
        kind: WorkloadKind::AzureVm,
        id: vm.clone(),
        role: vm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_name_their_subscription_and_vm() {
        let id = "/SUBSCRIPTIONS/0B1F6471-1BF0-4DDA-AEC3-CB9272F09590/RESOURCEGROUPS/SHOP/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/WEB-1/extensions/x";
        assert_eq!(
            subscription_of(id).as_deref(),
            Some("0b1f6471-1bf0-4dda-aec3-cb9272f09590")
        );
        assert_eq!(
            vm_workload(id).unwrap().id,
            "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/shop/providers/microsoft.compute/virtualmachines/web-1"
        );
        assert!(vm_workload(
            "/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/etl"
        )
        .is_none());
    }
}
