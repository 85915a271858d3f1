//! Google Cloud Audit Logs: `LogEntry` records whose `protoPayload` is a
//! `type.googleapis.com/google.cloud.audit.AuditLog`, as a log sink exports them to Cloud Storage
//! (JSON lines, one entry per line), as `gcloud logging read --format=json` prints them (one
//! array), or as a BigQuery sink's table exports them (the payload under `protopayload_auditlog`,
//! times written `2026-09-14 10:00:00.123456 UTC`).
//!
//! Field meanings, from the `LogEntry` and `AuditLog` references
//! (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry,
//! https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog):
//! - `authenticationInfo.principalEmail`: who called; a service account ends in
//!   `.gserviceaccount.com` (the Compute Engine default one is
//!   `PROJECT_NUMBER-compute@developer.gserviceaccount.com`);
//! - `authenticationInfo.serviceAccountKeyName`: set when a service account *key* signed the
//!   credential (`//iam.googleapis.com/projects/P/serviceAccounts/SA/keys/KEY`): a key is not a
//!   metadata-server token;
//! - `authenticationInfo.serviceAccountDelegationInfo[]`: who the service account acted for or
//!   was impersonated through (`firstPartyPrincipal.principalEmail`, `principalSubject`);
//! - `requestMetadata.callerIp`: the caller's address, `private` for a call between Google
//!   services, `gce-internal-ip` for a VM without an external address calling another
//!   organisation's resource, the VM's internal address inside its own organisation;
//! - `requestMetadata.callerSuppliedUserAgent`: the client as it named itself;
//! - `status.code`: a `google.rpc.Code` (0 or absent is success, 7 `PERMISSION_DENIED`);
//! - `resource.labels`: the monitored resource (`project_id`, `zone`, `instance_id`, …).

use credtrail_event::{Body, CloudApiCall, Event, FileId, Identity, IdentityKind, Provider, SourceAddress, Timestamp};
use serde_json::Value;

use super::json_records::{at, capped, for_each_record, items, owned, text, Failure};
use super::{Format, ParsedFile};
use crate::diagnostic::Reason;

pub struct GcpAudit;

const NAME: &str = "gcp-audit";

impl Format for GcpAudit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Google Cloud Audit Logs: LogEntry JSON lines or arrays (Cloud Storage sink, gcloud logging read, BigQuery export)"
    }

    fn explain(&self) -> &'static str {
        "Google Cloud Audit Logs: LogEntry JSON lines or arrays (Cloud Storage sink, gcloud logging read, BigQuery export).\n\
         Each AuditLog entry is a cloud API call: the principal (authenticationInfo.principalEmail), the key \
         that signed it if any (serviceAccountKeyName), the principals it was delegated through \
         (serviceAccountDelegationInfo), the caller's address (requestMetadata.callerIp) and client \
         (callerSuppliedUserAgent), the method, the resource and the status.\n\
         What it cannot show: Admin Activity logs are always on, but Data Access logs (storage object reads, \
         secret accesses, most reads) are off by default for every service but BigQuery, so a stolen token \
         that only reads data may leave no entry; the metadata server logs no token issuance; callerIp is \
         `private` or `gce-internal-ip` where Google withholds the address."
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
        (has(b"\"protoPayload\"") || has(b"\"protopayload_auditlog\""))
            && (has(b"google.cloud.audit.AuditLog")
                || has(b"cloudaudit.googleapis.com")
                || has(b"\"authenticationInfo\""))
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        for_each_record(buf, file, NAME, &[b"entries"], out, |value, origin, out| {
            let (time, call) = entry(value)?;
            out.events.push(Event {
                time,
                origin,
                body: Body::CloudApiCall(Box::new(call)),
            });
            Ok(())
        });
    }
}

fn entry(v: &Value) -> Result<(Timestamp, CloudApiCall), Failure> {
    let payload = v
        .get("protoPayload")
        .or_else(|| v.get("protopayload_auditlog"))
        .filter(|p| p.is_object())
        .ok_or((
            Reason::MissingField,
            "no protoPayload: not an audit log entry".to_string(),
        ))?;
    if let Some(kind) = text(payload, "@type") {
        if !kind.ends_with("google.cloud.audit.AuditLog") {
            return Err((
                Reason::MissingField,
                format!("protoPayload is a {kind}, not an AuditLog"),
            ));
        }
    }
    let (Some(service), Some(method)) = (text(payload, "serviceName"), text(payload, "methodName")) else {
        return Err((Reason::MissingField, "AuditLog has no serviceName or methodName".into()));
    };
    let time_text = text(v, "timestamp")
        .or_else(|| text(v, "receiveTimestamp"))
        .ok_or((Reason::MissingField, "entry has no timestamp".to_string()))?;
    let time = parse_time(time_text).ok_or((Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;

    let auth = payload.get("authenticationInfo");
    let mut identity = Identity::default();
    if let Some(auth) = auth {
        // Without an email, `principalSubject` names the principal (`serviceAccount:EMAIL`,
        // `user:EMAIL`, `principal://…` for federated identities); the email is what inventory
        // and the other entries name.
        identity.arn = owned(auth, "principalEmail").or_else(|| {
            let subject = text(auth, "principalSubject")?;
            let email = subject
                .strip_prefix("serviceAccount:")
                .or_else(|| subject.strip_prefix("user:"))
                .unwrap_or(subject);
            Some(email.to_string())
        });
        identity.principal_id = owned(auth, "principalSubject");
        identity.access_key = owned(auth, "serviceAccountKeyName");
        identity.client_id = at(auth, &["oauthInfo", "oauthClientId"])
            .and_then(Value::as_str)
            .map(str::to_string);
        identity.delegation = items(auth, "serviceAccountDelegationInfo")
            .filter_map(|d| {
                at(d, &["firstPartyPrincipal", "principalEmail"])
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| owned(d, "principalSubject"))
                    .or_else(|| {
                        d.get("thirdPartyPrincipal")
                            .map(|_| "third-party principal".to_string())
                    })
            })
            .collect();
    }
    if let Some(email) = identity.arn.as_deref() {
        if is_service_account(email) {
            identity.kind = Some(IdentityKind::GcpServiceAccount);
            identity.account = service_account_project(email);
        }
    }
    let labels = at(v, &["resource", "labels"]);
    let project = labels
        .and_then(|l| owned(l, "project_id"))
        .or_else(|| project_of_log(text(v, "logName")?));
    let request = payload.get("requestMetadata");
    // A number in LogEntry JSON; a string in BigQuery JSON exports, which write INT64 as text.
    let status = payload
        .get("status")
        .and_then(|s| s.get("code"))
        .and_then(|c| c.as_i64().or_else(|| c.as_str()?.trim().parse().ok()))
        .unwrap_or(0);
    let call = CloudApiCall {
        provider: Provider::Gcp,
        service: service.to_string(),
        action: method.to_string(),
        region: labels.and_then(|l| {
            owned(l, "zone")
                .or_else(|| owned(l, "location"))
                .or_else(|| owned(l, "region"))
        }),
        recipient_account: project,
        identity,
        workload: None,
        source: request.map(|r| match text(r, "callerIp") {
            None => SourceAddress::Missing,
            Some(ip @ ("private" | "gce-internal-ip")) => SourceAddress::Redacted(ip.to_string()),
            Some(ip) => match ip.parse() {
                Ok(ip) => SourceAddress::Ip(ip),
                Err(_) => SourceAddress::Other(ip.to_string()),
            },
        }),
        user_agent: request.and_then(|r| owned(r, "callerSuppliedUserAgent")),
        error_code: (status != 0).then(|| rpc_code(status)),
        event_type: text(v, "logName").and_then(log_kind).map(str::to_string),
        target: text(payload, "resourceName").map(capped),
        ..CloudApiCall::default()
    };
    Ok((time, call))
}

/// RFC 3339, or BigQuery's `2026-09-14 10:00:00.123456 UTC`.
fn parse_time(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text).or_else(|| Timestamp::parse_rfc3339(text.strip_suffix(" UTC")?))
}

/// User-managed (`NAME@PROJECT.iam.gserviceaccount.com`), default (`…@developer`,
/// `…@appspot`) and Google-managed (`…@cloudservices`, `service-…@gcp-sa-….iam`) service accounts.
pub(crate) fn is_service_account(email: &str) -> bool {
    email.to_ascii_lowercase().ends_with(".gserviceaccount.com")
}

/// The project a service account belongs to, as its email names it: `PROJECT` for
/// `NAME@PROJECT.iam.gserviceaccount.com`, the project number for the Compute Engine default
/// `NUMBER-compute@developer.gserviceaccount.com`.
fn service_account_project(email: &str) -> Option<String> {
    let (local, domain) = email.split_once('@')?;
    if let Some(project) = domain.strip_suffix(".iam.gserviceaccount.com") {
        return Some(project.to_string());
    }
    local
        .strip_suffix("-compute")
        .filter(|n| domain == "developer.gserviceaccount.com" && n.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
}

/// `projects/PROJECT/logs/cloudaudit.googleapis.com%2Factivity` → `PROJECT`.
fn project_of_log(log: &str) -> Option<String> {
    let rest = log.strip_prefix("projects/")?;
    Some(rest.split('/').next()?.to_string()).filter(|p| !p.is_empty())
}

/// Which audit log: `activity`, `data_access`, `system_event` or `policy`.
fn log_kind(log: &str) -> Option<&str> {
    let (_, kind) = log.rsplit_once("cloudaudit.googleapis.com")?;
    let kind = kind
        .trim_start_matches("%2F")
        .trim_start_matches("%2f")
        .trim_start_matches('/');
    (!kind.is_empty()).then_some(kind)
}

/// The `google.rpc.Code` name of a status code
/// (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto).
fn rpc_code(code: i64) -> String {
    let name = match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => return code.to_string(),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_projects_come_from_the_email() {
        assert_eq!(
            service_account_project("123456789012-compute@developer.gserviceaccount.com").as_deref(),
            Some("123456789012")
        );
        assert_eq!(
            service_account_project("etl@shop-prod.iam.gserviceaccount.com").as_deref(),
            Some("shop-prod")
        );
        assert_eq!(service_account_project("alice@example.com"), None);
    }

    #[test]
    fn a_principal_subject_names_the_service_account_by_its_email() {
        let v: Value = serde_json::from_str(
            r#"{"timestamp":"2026-09-14T10:00:00Z","protoPayload":{"serviceName":"storage.googleapis.com","methodName":"storage.objects.get","authenticationInfo":{"principalSubject":"serviceAccount:etl@shop-prod.iam.gserviceaccount.com"}}}"#,
        )
        .unwrap_or_default();
        let (_, call) = entry(&v).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            call.identity.arn.as_deref(),
            Some("etl@shop-prod.iam.gserviceaccount.com")
        );
        assert_eq!(call.identity.kind, Some(IdentityKind::GcpServiceAccount));
        assert_eq!(call.identity.account.as_deref(), Some("shop-prod"));
    }

    #[test]
    fn log_names_say_which_audit_log() {
        assert_eq!(
            log_kind("projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"),
            Some("data_access")
        );
        assert_eq!(
            project_of_log("projects/shop-prod/logs/x").as_deref(),
            Some("shop-prod")
        );
        assert_eq!(
            parse_time("2026-09-14 10:00:00.123456 UTC")
                .map(|t| t.to_string())
                .as_deref(),
            Some("2026-09-14T10:00:00.123Z")
        );
    }
}
