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
use std::borrow::Cow;

use serde::de::{Deserialize, MapAccess};

use super::json_records::{capped, for_each_record_bytes, record_value, Failure};
use super::lenient::{next, owned, text, Field, Lenient, Object};
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
        for_each_record_bytes(buf, file, NAME, &[b"records", b"value"], out, |bytes, origin, out| {
            let (time, call) = match serde_json::from_slice::<Field<Record>>(bytes) {
                Ok(Field(v)) => record(&v.unwrap_or_default())?,
                // Not JSON: the tree parser says why, as every JSON format does. Should the
                // tree parse anyway, the record is read from the tree.
                Err(_) => {
                    let Some(tree) = record_value(bytes, origin, NAME, out) else {
                        return Ok(());
                    };
                    let Field(v) = Field::<Record>::deserialize(&tree)
                        .map_err(|e| (Reason::InvalidJson, format!("invalid JSON: {e}")))?;
                    record(&v.unwrap_or_default())?
                }
            };
            out.events.push(Event {
                time,
                origin,
                body: Body::CloudApiCall(Box::new(call)),
            });
            Ok(())
        });
    }
}

type Text<'a> = Option<Cow<'a, str>>;

/// The fields of an Activity log or sign-in record the event needs. Each `Option<Option<…>>` is
/// a field whose presence matters even when it is not an object.
#[derive(Default)]
struct Record<'a> {
    time: Text<'a>,
    event_timestamp: Text<'a>,
    operation_name: Option<Localized<'a>>,
    category: Option<Localized<'a>>,
    resource_provider_name: Option<Localized<'a>>,
    result_type: Option<Localized<'a>>,
    result_signature: Option<Localized<'a>>,
    identity: Option<IdentityField<'a>>,
    claims: Option<Option<Claims<'a>>>,
    caller: Text<'a>,
    resource_id: Text<'a>,
    caller_ip_address: Text<'a>,
    http_request: Option<HttpRequest<'a>>,
    location: Text<'a>,
    properties: Option<Properties<'a>>,
}

impl<'de> Object<'de> for Record<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "time" => self.time = next(map)?,
            "eventTimestamp" => self.event_timestamp = next(map)?,
            "operationName" => self.operation_name = next(map)?,
            "category" => self.category = next(map)?,
            "resourceProviderName" => self.resource_provider_name = next(map)?,
            "resultType" => self.result_type = next(map)?,
            "resultSignature" => self.result_signature = next(map)?,
            "identity" => self.identity = next(map)?,
            "claims" => self.claims = Some(next(map)?),
            "caller" => self.caller = next(map)?,
            "resourceId" => self.resource_id = next(map)?,
            "callerIpAddress" => self.caller_ip_address = next(map)?,
            "httpRequest" => self.http_request = next(map)?,
            "location" => self.location = next(map)?,
            "properties" => self.properties = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A string, or an object whose `value` is the string (the REST schema's localizable strings).
struct Localized<'a>(Text<'a>);

impl<'de> Lenient<'de> for Localized<'de> {
    fn from_str(text: Cow<'de, str>) -> Option<Self> {
        Some(Localized(Some(text)))
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        Ok(LocalizedObject::from_map(map)?.map(|o| Localized(o.value)))
    }
}

#[derive(Default)]
struct LocalizedObject<'a> {
    value: Text<'a>,
}

impl<'de> Object<'de> for LocalizedObject<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "value" => self.value = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A localizable string field as the tree reader read it: the string itself when it is one
/// (trimmed, absent when empty), else its object's `value`.
fn value_text<'s>(field: &'s Option<Localized<'_>>) -> Option<&'s str> {
    field.as_ref().and_then(|l| text(&l.0))
}

#[derive(Default)]
struct IdentityField<'a> {
    claims: Option<Option<Claims<'a>>>,
}

impl<'de> Object<'de> for IdentityField<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "claims" => self.claims = Some(next(map)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct Claims<'a> {
    xms_mirid: Text<'a>,
    oid: Text<'a>,
    object_identifier: Text<'a>,
    appid: Text<'a>,
    azp: Text<'a>,
    upn: Text<'a>,
    upn_uri: Text<'a>,
    idtyp: Text<'a>,
}

impl<'de> Object<'de> for Claims<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "xms_mirid" => self.xms_mirid = next(map)?,
            "oid" => self.oid = next(map)?,
            "http://schemas.microsoft.com/identity/claims/objectidentifier" => self.object_identifier = next(map)?,
            "appid" => self.appid = next(map)?,
            "azp" => self.azp = next(map)?,
            "upn" => self.upn = next(map)?,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn" => self.upn_uri = next(map)?,
            "idtyp" => self.idtyp = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct HttpRequest<'a> {
    client_ip_address: Text<'a>,
}

impl<'de> Object<'de> for HttpRequest<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "clientIpAddress" => self.client_ip_address = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct Properties<'a> {
    status_code: Text<'a>,
    managed_service_identity: Option<ManagedServiceIdentity<'a>>,
    service_principal_id: Text<'a>,
    app_id: Text<'a>,
    service_principal_name: Text<'a>,
    status: Option<SignInStatus>,
    ip_address: Text<'a>,
    resource_display_name: Text<'a>,
    resource_id: Text<'a>,
}

impl<'de> Object<'de> for Properties<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "statusCode" => self.status_code = next(map)?,
            "managedServiceIdentity" => self.managed_service_identity = next(map)?,
            "servicePrincipalId" => self.service_principal_id = next(map)?,
            "appId" => self.app_id = next(map)?,
            "servicePrincipalName" => self.service_principal_name = next(map)?,
            "status" => self.status = next(map)?,
            "ipAddress" => self.ip_address = next(map)?,
            "resourceDisplayName" => self.resource_display_name = next(map)?,
            "resourceId" => self.resource_id = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct ManagedServiceIdentity<'a> {
    msi_type: Text<'a>,
    associated_resource_id: Text<'a>,
}

impl<'de> Object<'de> for ManagedServiceIdentity<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "msiType" => self.msi_type = next(map)?,
            "associatedResourceId" => self.associated_resource_id = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct SignInStatus {
    error_code: Option<ErrorCode>,
}

impl<'de> Object<'de> for SignInStatus {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "errorCode" => self.error_code = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A number that is an `i64`, as `Value::as_i64` reads it; text is no code.
struct ErrorCode(i64);

impl Lenient<'_> for ErrorCode {
    fn from_i64(code: i64) -> Option<Self> {
        Some(ErrorCode(code))
    }

    fn from_u64(code: u64) -> Option<Self> {
        i64::try_from(code).ok().map(ErrorCode)
    }
}

fn record(v: &Record<'_>) -> Result<(Timestamp, CloudApiCall), Failure> {
    let time_text = text(&v.time)
        .or_else(|| text(&v.event_timestamp))
        .ok_or((Reason::MissingField, "record has no time or eventTimestamp".to_string()))?;
    let time = Timestamp::parse_rfc3339(time_text)
        .ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;
    let operation =
        value_text(&v.operation_name).ok_or((Reason::MissingField, "record has no operationName".to_string()))?;
    if value_text(&v.category).is_some_and(|c| c.eq_ignore_ascii_case("ManagedIdentitySignInLogs")) {
        return Ok((time, sign_in(v)?));
    }
    // `identity.claims` of any type hides a top-level `claims`, as it did in the tree.
    let claims = v
        .identity
        .as_ref()
        .and_then(|i| i.claims.as_ref())
        .or(v.claims.as_ref())
        .and_then(Option::as_ref);
    // The first of a claim's names that is there.
    let first = |names: &[&Text<'_>]| names.iter().find_map(|n| owned(n));
    let mirid = claims
        .and_then(|c| first(&[&c.xms_mirid]))
        .map(|m| m.to_ascii_lowercase());
    let mut identity = Identity {
        arn: mirid.clone().or_else(|| owned(&v.caller)),
        principal_id: claims.and_then(|c| first(&[&c.oid, &c.object_identifier])),
        client_id: claims.and_then(|c| first(&[&c.appid, &c.azp])),
        user_name: claims.and_then(|c| first(&[&c.upn, &c.upn_uri])),
        ..Identity::default()
    };
    if mirid.is_some()
        && claims
            .and_then(|c| owned(&c.idtyp))
            .is_none_or(|t| t.eq_ignore_ascii_case("app"))
    {
        identity.kind = Some(IdentityKind::AzureManagedIdentity);
    }
    let resource_id = text(&v.resource_id);
    let subscription = resource_id
        .and_then(subscription_of)
        .or_else(|| mirid.as_deref().and_then(subscription_of));
    identity.account = mirid.as_deref().and_then(subscription_of);
    let failed = value_text(&v.result_type).is_some_and(|r| r.eq_ignore_ascii_case("Failure"));
    let status = v
        .properties
        .as_ref()
        .and_then(|p| p.status_code.as_deref())
        .or_else(|| value_text(&v.result_signature));
    let address =
        text(&v.caller_ip_address).or_else(|| v.http_request.as_ref().and_then(|r| r.client_ip_address.as_deref()));
    let call = CloudApiCall {
        provider: Provider::Azure,
        service: value_text(&v.resource_provider_name)
            .unwrap_or_else(|| operation.split('/').next().unwrap_or(operation))
            .to_string(),
        action: operation.to_string(),
        region: owned(&v.location),
        recipient_account: subscription,
        workload: mirid.as_deref().and_then(vm_workload),
        identity,
        source: address.map(classify),
        error_code: failed.then(|| status.unwrap_or("Failure").to_string()),
        event_type: value_text(&v.category).map(str::to_string),
        target: resource_id.map(capped),
        ..CloudApiCall::default()
    };
    Ok((time, call))
}

/// An Entra managed-identity sign-in: a token issued, recorded as a call of its own so that the
/// detector can say when the identity last got a token.
fn sign_in(v: &Record<'_>) -> Result<CloudApiCall, Failure> {
    let p = v
        .properties
        .as_ref()
        .ok_or((Reason::MissingField, "sign-in record has no properties".to_string()))?;
    let msi = p.managed_service_identity.as_ref();
    let system = msi
        .and_then(|m| text(&m.msi_type))
        .is_some_and(|t| t.eq_ignore_ascii_case("systemAssigned"));
    let associated = msi
        .and_then(|m| owned(&m.associated_resource_id))
        .map(|r| r.to_ascii_lowercase());
    let identity = Identity {
        kind: Some(IdentityKind::AzureManagedIdentity),
        // A system-assigned identity is named by its VM, as `xms_mirid` names it.
        arn: associated.clone().filter(|_| system),
        principal_id: owned(&p.service_principal_id),
        client_id: owned(&p.app_id),
        user_name: owned(&p.service_principal_name),
        account: associated.as_deref().and_then(subscription_of),
        ..Identity::default()
    };
    let error = p.status.as_ref().and_then(|s| s.error_code.as_ref()).map_or(0, |c| c.0);
    Ok(CloudApiCall {
        provider: Provider::Azure,
        service: "login.microsoftonline.com".into(),
        action: MANAGED_IDENTITY_SIGN_IN.into(),
        recipient_account: identity.account.clone(),
        workload: associated.as_deref().and_then(vm_workload),
        identity,
        source: text(&p.ip_address).or_else(|| text(&v.caller_ip_address)).map(classify),
        error_code: (error != 0).then(|| error.to_string()),
        event_type: Some("ManagedIdentitySignInLogs".into()),
        target: text(&p.resource_display_name)
            .or_else(|| text(&p.resource_id))
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
