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
use std::borrow::Cow;

use serde::de::{Deserialize, MapAccess};

use super::json_records::{capped, for_each_record_bytes, record_value, Failure};
use super::lenient::{next, owned, text, Field, Lenient, List, Object, Skip};
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
        for_each_record_bytes(buf, file, NAME, &[b"entries"], out, |bytes, origin, out| {
            let (time, call) = match serde_json::from_slice::<Field<LogEntry>>(bytes) {
                Ok(Field(v)) => entry(v.as_ref())?,
                // Not JSON: the tree parser says why, as every JSON format does. Should the
                // tree parse anyway, the entry is read from the tree.
                Err(_) => {
                    let Some(tree) = record_value(bytes, origin, NAME, out) else {
                        return Ok(());
                    };
                    let Field(v) = Field::<LogEntry>::deserialize(&tree)
                        .map_err(|e| (Reason::InvalidJson, format!("invalid JSON: {e}")))?;
                    entry(v.as_ref())?
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

/// The fields of a `LogEntry` the event needs. Each `Option<Option<…>>` is a field whose
/// presence matters even when it is not an object.
#[derive(Default)]
struct LogEntry<'a> {
    proto_payload: Option<Option<AuditLog<'a>>>,
    bigquery_payload: Option<Option<AuditLog<'a>>>,
    timestamp: Option<Cow<'a, str>>,
    receive_timestamp: Option<Cow<'a, str>>,
    log_name: Option<Cow<'a, str>>,
    resource: Option<Resource<'a>>,
}

impl<'a> LogEntry<'a> {
    /// A `protoPayload` that is not an object hides a `protopayload_auditlog`, as it did when
    /// the entry was read as a tree.
    fn payload(&self) -> Option<&AuditLog<'a>> {
        self.proto_payload.as_ref().or(self.bigquery_payload.as_ref())?.as_ref()
    }
}

impl<'de> Object<'de> for LogEntry<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "protoPayload" => self.proto_payload = Some(next(map)?),
            "protopayload_auditlog" => self.bigquery_payload = Some(next(map)?),
            "timestamp" => self.timestamp = next(map)?,
            "receiveTimestamp" => self.receive_timestamp = next(map)?,
            "logName" => self.log_name = next(map)?,
            "resource" => self.resource = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct Resource<'a> {
    labels: Option<Labels<'a>>,
}

impl<'de> Object<'de> for Resource<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "labels" => self.labels = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct Labels<'a> {
    project_id: Option<Cow<'a, str>>,
    zone: Option<Cow<'a, str>>,
    location: Option<Cow<'a, str>>,
    region: Option<Cow<'a, str>>,
}

impl<'de> Object<'de> for Labels<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "project_id" => self.project_id = next(map)?,
            "zone" => self.zone = next(map)?,
            "location" => self.location = next(map)?,
            "region" => self.region = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct AuditLog<'a> {
    kind: Option<Cow<'a, str>>,
    service_name: Option<Cow<'a, str>>,
    method_name: Option<Cow<'a, str>>,
    resource_name: Option<Cow<'a, str>>,
    authentication_info: Option<AuthenticationInfo<'a>>,
    request_metadata: Option<Option<RequestMetadata<'a>>>,
    status: Option<Status>,
}

impl<'de> Object<'de> for AuditLog<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "@type" => self.kind = next(map)?,
            "serviceName" => self.service_name = next(map)?,
            "methodName" => self.method_name = next(map)?,
            "resourceName" => self.resource_name = next(map)?,
            "authenticationInfo" => self.authentication_info = next(map)?,
            "requestMetadata" => self.request_metadata = Some(next(map)?),
            "status" => self.status = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct AuthenticationInfo<'a> {
    principal_email: Option<Cow<'a, str>>,
    principal_subject: Option<Cow<'a, str>>,
    service_account_key_name: Option<Cow<'a, str>>,
    oauth_info: Option<OauthInfo<'a>>,
    delegation: Option<List<Delegation<'a>>>,
}

impl<'de> Object<'de> for AuthenticationInfo<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "principalEmail" => self.principal_email = next(map)?,
            "principalSubject" => self.principal_subject = next(map)?,
            "serviceAccountKeyName" => self.service_account_key_name = next(map)?,
            "oauthInfo" => self.oauth_info = next(map)?,
            "serviceAccountDelegationInfo" => self.delegation = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct OauthInfo<'a> {
    oauth_client_id: Option<Cow<'a, str>>,
}

impl<'de> Object<'de> for OauthInfo<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "oauthClientId" => self.oauth_client_id = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct Delegation<'a> {
    first_party_principal: Option<Principal<'a>>,
    principal_subject: Option<Cow<'a, str>>,
    /// Present, whatever its value.
    third_party_principal: bool,
}

impl<'de> Object<'de> for Delegation<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "firstPartyPrincipal" => self.first_party_principal = next(map)?,
            "principalSubject" => self.principal_subject = next(map)?,
            "thirdPartyPrincipal" => {
                map.next_value::<Skip>()?;
                self.third_party_principal = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct Principal<'a> {
    principal_email: Option<Cow<'a, str>>,
}

impl<'de> Object<'de> for Principal<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "principalEmail" => self.principal_email = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct RequestMetadata<'a> {
    caller_ip: Option<Cow<'a, str>>,
    caller_supplied_user_agent: Option<Cow<'a, str>>,
}

impl<'de> Object<'de> for RequestMetadata<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "callerIp" => self.caller_ip = next(map)?,
            "callerSuppliedUserAgent" => self.caller_supplied_user_agent = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[derive(Default)]
struct Status {
    code: Option<Code>,
}

impl<'de> Object<'de> for Status {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "code" => self.code = next(map)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A status code: a number in LogEntry JSON; a string in BigQuery JSON exports, which write
/// INT64 as text. A number that is not an `i64` is no code, as it is to `Value::as_i64`.
struct Code(i64);

impl<'de> Lenient<'de> for Code {
    fn from_i64(code: i64) -> Option<Self> {
        Some(Code(code))
    }

    fn from_u64(code: u64) -> Option<Self> {
        i64::try_from(code).ok().map(Code)
    }

    fn from_str(code: Cow<'de, str>) -> Option<Self> {
        code.trim().parse().ok().map(Code)
    }
}

fn entry(v: Option<&LogEntry<'_>>) -> Result<(Timestamp, CloudApiCall), Failure> {
    let (v, payload) = v.and_then(|v| Some((v, v.payload()?))).ok_or((
        Reason::MissingField,
        "no protoPayload: not an audit log entry".to_string(),
    ))?;
    if let Some(kind) = text(&payload.kind) {
        if !kind.ends_with("google.cloud.audit.AuditLog") {
            return Err((
                Reason::MissingField,
                format!("protoPayload is a {kind}, not an AuditLog"),
            ));
        }
    }
    let (Some(service), Some(method)) = (text(&payload.service_name), text(&payload.method_name)) else {
        return Err((Reason::MissingField, "AuditLog has no serviceName or methodName".into()));
    };
    let time_text = text(&v.timestamp)
        .or_else(|| text(&v.receive_timestamp))
        .ok_or((Reason::MissingField, "entry has no timestamp".to_string()))?;
    let time = parse_time(time_text).ok_or((Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;

    let mut identity = Identity::default();
    if let Some(auth) = &payload.authentication_info {
        // Without an email, `principalSubject` names the principal (`serviceAccount:EMAIL`,
        // `user:EMAIL`, `principal://…` for federated identities); the email is what inventory
        // and the other entries name.
        identity.arn = owned(&auth.principal_email).or_else(|| {
            let subject = text(&auth.principal_subject)?;
            let email = subject
                .strip_prefix("serviceAccount:")
                .or_else(|| subject.strip_prefix("user:"))
                .unwrap_or(subject);
            Some(email.to_string())
        });
        identity.principal_id = owned(&auth.principal_subject);
        identity.access_key = owned(&auth.service_account_key_name);
        identity.client_id = auth
            .oauth_info
            .as_ref()
            .and_then(|o| o.oauth_client_id.as_deref())
            .map(str::to_string);
        identity.delegation = auth
            .delegation
            .iter()
            .flat_map(|l| &l.0)
            .filter_map(|d| {
                d.first_party_principal
                    .as_ref()
                    .and_then(|p| p.principal_email.as_deref())
                    .map(str::to_string)
                    .or_else(|| owned(&d.principal_subject))
                    .or_else(|| d.third_party_principal.then(|| "third-party principal".to_string()))
            })
            .collect();
    }
    if let Some(email) = identity.arn.as_deref() {
        if is_service_account(email) {
            identity.kind = Some(IdentityKind::GcpServiceAccount);
            identity.account = service_account_project(email);
        }
    }
    let labels = v.resource.as_ref().and_then(|r| r.labels.as_ref());
    let project = labels
        .and_then(|l| owned(&l.project_id))
        .or_else(|| project_of_log(text(&v.log_name)?));
    let request = payload.request_metadata.as_ref();
    let status = payload.status.as_ref().and_then(|s| s.code.as_ref()).map_or(0, |c| c.0);
    let call = CloudApiCall {
        provider: Provider::Gcp,
        service: service.to_string(),
        action: method.to_string(),
        region: labels.and_then(|l| {
            owned(&l.zone)
                .or_else(|| owned(&l.location))
                .or_else(|| owned(&l.region))
        }),
        recipient_account: project,
        identity,
        workload: None,
        source: request.map(|r| match r.as_ref().and_then(|r| text(&r.caller_ip)) {
            None => SourceAddress::Missing,
            Some(ip @ ("private" | "gce-internal-ip")) => SourceAddress::Redacted(ip.to_string()),
            Some(ip) => match ip.parse() {
                Ok(ip) => SourceAddress::Ip(ip),
                Err(_) => SourceAddress::Other(ip.to_string()),
            },
        }),
        user_agent: request
            .and_then(Option::as_ref)
            .and_then(|r| owned(&r.caller_supplied_user_agent)),
        error_code: (status != 0).then(|| rpc_code(status)),
        event_type: text(&v.log_name).and_then(log_kind).map(str::to_string),
        target: text(&payload.resource_name).map(capped),
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
        let Ok(Field(v)) = serde_json::from_str::<Field<LogEntry>>(
            r#"{"timestamp":"2026-09-14T10:00:00Z","protoPayload":{"serviceName":"storage.googleapis.com","methodName":"storage.objects.get","authenticationInfo":{"principalSubject":"serviceAccount:etl@shop-prod.iam.gserviceaccount.com"}}}"#,
        ) else {
            panic!("not JSON")
        };
        let (_, call) = entry(v.as_ref()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            call.identity.arn.as_deref(),
            Some("etl@shop-prod.iam.gserviceaccount.com")
        );
        assert_eq!(call.identity.kind, Some(IdentityKind::GcpServiceAccount));
        assert_eq!(call.identity.account.as_deref(), Some("shop-prod"));
    }

    #[test]
    fn a_record_the_tree_parser_rejects_is_rejected_the_same_way() {
        let record = |extra: &str| {
            format!(
                r#"{{"timestamp":"2026-09-14T10:00:00Z","protoPayload":{{"serviceName":"s","methodName":"m","x":{extra}}}}}"#
            )
            .into_bytes()
        };
        let mut bad_utf8 = record(r#""?""#);
        if let Some(at) = bad_utf8.iter().position(|&b| b == b'?') {
            bad_utf8[at] = 0xff;
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for (bytes, reason) in [
            (bad_utf8, Reason::InvalidUtf8),
            (record("1e400"), Reason::InvalidJson),
            (record(r#""\ud800""#), Reason::InvalidJson),
            (record(&deep), Reason::InvalidJson),
        ] {
            let mut out = ParsedFile::default();
            GcpAudit.parse(&bytes, FileId(0), &mut out);
            assert!(out.events.is_empty(), "{}", String::from_utf8_lossy(&bytes));
            assert_eq!(out.diagnostics.len(), 1);
            assert_eq!(out.diagnostics[0].reason, reason);
            assert!(out.diagnostics[0].detail.starts_with("invalid JSON: "));
        }
    }

    #[test]
    fn fields_of_the_wrong_type_are_absent_and_the_last_of_a_repeated_key_wins() {
        let Ok(Field(v)) = serde_json::from_str::<Field<LogEntry>>(
            r#"{"timestamp":"2026-09-14T10:00:00Z","protoPayload":{"serviceName":"s","methodName":"m","requestMetadata":null,"status":{"code":" 7 "},"authenticationInfo":{"principalEmail":5,"principalSubject":"user:a@b.c"}},"resource":{"labels":{"zone":"z"}},"resource":{"labels":{"zone":{}}}}"#,
        ) else {
            panic!("not JSON")
        };
        let (_, call) = entry(v.as_ref()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(call.identity.arn.as_deref(), Some("a@b.c"));
        assert_eq!(call.source, Some(SourceAddress::Missing));
        assert_eq!(call.error_code.as_deref(), Some("PERMISSION_DENIED"));
        assert_eq!(call.region, None);
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
