//! IAM authorization details: the output of `aws iam get-account-authorization-details`
//! (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html>).
//! Each role (`RoleDetailList`) becomes a [`Fact::Role`] with its instance profiles, inline
//! policies, attached managed policies and trust policy principals; each managed policy
//! (`Policies`) becomes a [`Fact::ManagedPolicy`] holding its default version's document. Roles
//! resolve their managed policies when inventory is built, so paginated output (pages
//! concatenated in one file, or one file per page) works like one listing.
//!
//! Policy documents come two ways: the AWS CLI decodes them into JSON objects; the raw API
//! response (and SDKs that do not decode) gives strings URL-encoded per RFC 3986, which are
//! percent-decoded here. The API's JSON envelope
//! (`GetAccountAuthorizationDetailsResponse.GetAccountAuthorizationDetailsResult`) is unwrapped.
//!
//! Records are the elements of the four lists; users and groups are counted but yield nothing:
//! an instance credential is a role's.

use credtrail_event::iam::{Effect, Statement};
use credtrail_event::{Fact, FileId, ManagedPolicy, Origin, RoleDetail};
use serde_json::Value;

use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};
use crate::json_stream::{
    array_elements, find_top_level_array, find_top_level_value, first_key_is, top_level_values, LineCounter, Span,
};

pub struct AwsIamAuthorizationDetails;

const NAME: &str = "aws-iam-authorization-details";
/// The response's lists, in the order the API returns them.
const LISTS: &[&str] = &["UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"];
const ENVELOPE: &str = "GetAccountAuthorizationDetailsResponse";
const RESULT: &str = "GetAccountAuthorizationDetailsResult";

impl Format for AwsIamAuthorizationDetails {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "IAM roles and managed policies from `aws iam get-account-authorization-details` (JSON; pages concatenated or one per file)"
    }

    fn explain(&self) -> &'static str {
        "IAM authorization details: the JSON output of `aws iam get-account-authorization-details` \
         (CLI output with policy documents as JSON objects, or the API's JSON response with \
         URL-encoded documents; pages concatenated in one file or one file per page).\n\n\
         What it gives: for each role, its name, ARN and account, instance profiles, inline \
         policies, attached managed policies (resolved to their default version from `Policies`, \
         in any file of the scan) and the principals its trust policy names. Incidents about a \
         credential of a listed role then carry the L1 check \"role permissions\": the role's blast \
         radius (admin, IAM write, secrets, data read, data write/delete, compute control, logging \
         tampering) and the known privilege-escalation paths it holds (Rhino Security Labs' list: \
         iam:CreatePolicyVersion, iam:PassRole with ec2:RunInstances, and so on), and a role with \
         such a path, or admin, used away from its workload escalates.\n\n\
         What it cannot show: permissions boundaries, service control policies, session and \
         resource policies are not applied; an Allow counts whatever its Resource and Condition, \
         and only a Deny on every resource without a Condition removes an action. The analysis \
         may therefore report more than the role can do, never less. An attached policy whose \
         document is not in the details (filtered listing) is named as unresolved. Users and \
         groups are counted, not analysed. It is a snapshot: it says what the role may do at the \
         time of the listing, not at the time of the incident."
    }

    fn sniff(&self, head: &[u8]) -> bool {
        first_key_is(head, LISTS) || first_key_is(head, &[ENVELOPE])
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut lines = LineCounter::new(buf);
        let mut index = 0u64;
        for top in top_level_values(buf) {
            // A page cut short still yields the records before the cut.
            let (span, cut) = crate::json_stream::span_or_cut(buf, top);
            let page = unwrap_envelope(buf, span);
            let mut arrays: Vec<(usize, &str)> = LISTS
                .iter()
                .filter_map(|&k| find_top_level_array(buf, page, k.as_bytes()).map(|open| (open, k)))
                .collect();
            // In file order, so that one line counter serves the whole file.
            arrays.sort();
            let before = index;
            for (open, list) in arrays {
                for element in array_elements(buf, open, &mut lines) {
                    index += 1;
                    out.records += 1;
                    match element {
                        Ok(element) => record(buf, element, list, (file, index), out),
                        Err(cut) => out.diagnose(
                            (file, cut.line, Some(index)),
                            NAME,
                            Reason::InvalidJson,
                            format!("{list} entry does not end (truncated?)"),
                            Some(excerpt(&buf[cut.start..])),
                        ),
                    }
                }
            }
            if index == before {
                index += 1;
                out.records += 1;
                let (reason, detail) = if cut {
                    (
                        Reason::InvalidJson,
                        "authorization details document does not end (truncated?)",
                    )
                } else if serde_json::from_slice::<Value>(&buf[span.start..span.end]).is_err() {
                    (Reason::InvalidJson, "invalid JSON")
                } else {
                    (
                        Reason::MissingField,
                        "no UserDetailList, GroupDetailList, RoleDetailList or Policies array",
                    )
                };
                out.diagnose(
                    (file, span.line, Some(index)),
                    NAME,
                    reason,
                    detail,
                    Some(excerpt(&buf[span.start..span.end])),
                );
            } else if cut {
                out.diagnose(
                    (file, span.line, None),
                    NAME,
                    Reason::InvalidJson,
                    "authorization details document does not end (truncated?); the entries before the cut were read",
                    None,
                );
            }
        }
    }
}

/// The page inside the API's JSON envelope, or the span itself (CLI output).
fn unwrap_envelope(buf: &[u8], span: Span) -> Span {
    find_top_level_value(buf, span, ENVELOPE.as_bytes())
        .and_then(|response| find_top_level_value(buf, response, RESULT.as_bytes()))
        .unwrap_or(span)
}

fn record(buf: &[u8], span: Span, list: &str, (file, index): (FileId, u64), out: &mut ParsedFile) {
    let what = format!("{list} entry: ");
    let Some(value) = super::json_records::parse_value(buf, span, (file, index), NAME, &what, out) else {
        return;
    };
    let origin = Origin {
        file,
        line: span.line,
        index,
    };
    let mut problems = Vec::new();
    let fact = match list {
        "RoleDetailList" => role(&value, origin, &mut problems),
        "Policies" => managed_policy(&value, origin, &mut problems),
        // Counted, not analysed: an instance credential is a role's.
        _ => None,
    };
    for (reason, detail) in problems {
        out.diagnose(
            (file, span.line, Some(index)),
            NAME,
            reason,
            detail,
            Some(excerpt(&buf[span.start..span.end])),
        );
    }
    out.facts.extend(fact);
}

type Problems = Vec<(Reason, String)>;

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// `arn:aws:iam::111122223333:role/path/name` → `111122223333`.
fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
}

fn role(v: &Value, origin: Origin, problems: &mut Problems) -> Option<Fact> {
    let (Some(name), Some(arn)) = (s(v, "RoleName"), s(v, "Arn")) else {
        problems.push((
            Reason::MissingField,
            "RoleDetailList entry without RoleName or Arn".into(),
        ));
        return None;
    };
    let mut inline = Vec::new();
    let mut unreadable = Vec::new();
    for policy in array(v, "RolePolicyList") {
        let policy_name = s(policy, "PolicyName").unwrap_or_else(|| "(unnamed)".into());
        match policy.get("PolicyDocument").map(statements) {
            Some(Ok(doc)) => inline.push((policy_name, doc)),
            Some(Err((reason, why))) => {
                problems.push((reason, format!("role {name}: inline policy {policy_name}: {why}")));
                unreadable.push(policy_name);
            }
            None => {
                problems.push((
                    Reason::MissingField,
                    format!("role {name}: inline policy {policy_name} has no PolicyDocument"),
                ));
                unreadable.push(policy_name);
            }
        }
    }
    let attached = array(v, "AttachedManagedPolicies")
        .filter_map(|p| {
            let arn = s(p, "PolicyArn")?;
            let name = s(p, "PolicyName").unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(&arn).to_string());
            Some((name, arn))
        })
        .collect();
    let trust_principals = match v.get("AssumeRolePolicyDocument").map(document) {
        Some(Ok(doc)) => principals(&doc),
        Some(Err((reason, why))) => {
            problems.push((reason, format!("role {name}: trust policy: {why}")));
            Vec::new()
        }
        None => Vec::new(),
    };
    Some(Fact::Role(Box::new(RoleDetail {
        account: account_of(&arn),
        name,
        arn,
        instance_profiles: array(v, "InstanceProfileList")
            .filter_map(|p| s(p, "InstanceProfileName"))
            .collect(),
        attached,
        inline,
        unreadable,
        trust_principals,
        origin,
    })))
}

fn managed_policy(v: &Value, origin: Origin, problems: &mut Problems) -> Option<Fact> {
    let Some(arn) = s(v, "Arn") else {
        problems.push((Reason::MissingField, "Policies entry without Arn".into()));
        return None;
    };
    let name = s(v, "PolicyName").unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(&arn).to_string());
    let default_id = s(v, "DefaultVersionId");
    let default = array(v, "PolicyVersionList").find(|version| {
        version.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true)
            || default_id.is_some() && s(version, "VersionId") == default_id
    });
    let Some(document) = default.and_then(|d| d.get("Document")) else {
        problems.push((
            Reason::MissingField,
            format!("managed policy {arn}: no default version document in PolicyVersionList"),
        ));
        return None;
    };
    match statements(document) {
        Ok(statements) => Some(Fact::ManagedPolicy(Box::new(ManagedPolicy {
            arn,
            name,
            statements,
            origin,
        }))),
        Err((reason, why)) => {
            problems.push((reason, format!("managed policy {arn}: {why}")));
            None
        }
    }
}

type Bad = (Reason, String);

/// A policy document as a JSON object: the CLI's decoded object, or a string holding JSON text,
/// URL-encoded (RFC 3986) or not.
fn document(v: &Value) -> Result<Value, Bad> {
    match v {
        Value::Object(_) => Ok(v.clone()),
        Value::String(text) => {
            let trimmed = text.trim_start();
            let decoded = if trimmed.starts_with('{') {
                std::borrow::Cow::Borrowed(trimmed)
            } else {
                percent_encoding::percent_decode_str(trimmed)
                    .decode_utf8()
                    .map_err(|e| (Reason::InvalidUtf8, format!("URL-decoded document is not UTF-8: {e}")))?
            };
            let doc: Value = serde_json::from_str(&decoded)
                .map_err(|e| (Reason::InvalidJson, format!("policy document is not JSON: {e}")))?;
            if doc.is_object() {
                Ok(doc)
            } else {
                Err((Reason::MissingField, "policy document is not a JSON object".into()))
            }
        }
        _ => Err((
            Reason::MissingField,
            "policy document is neither an object nor a string".into(),
        )),
    }
}

/// A string or a list of strings (`Action`, `Resource`).
fn strings(v: &Value) -> Result<Vec<String>, Bad> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| (Reason::MissingField, format!("not a string: {i}")))
            })
            .collect(),
        other => Err((Reason::MissingField, format!("not a string or a list: {other}"))),
    }
}

/// The statements of a policy document
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>).
fn statements(v: &Value) -> Result<Vec<Statement>, Bad> {
    let doc = document(v)?;
    let list: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err((Reason::MissingField, "policy document has no Statement".into())),
    };
    list.into_iter()
        .map(|st| {
            let effect = match st.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => {
                    return Err((
                        Reason::MissingField,
                        "statement Effect is neither Allow nor Deny".into(),
                    ))
                }
            };
            let (actions, not_action) = match (st.get("Action"), st.get("NotAction")) {
                (Some(a), None) => (strings(a)?, false),
                (None, Some(a)) => (strings(a)?, true),
                _ => {
                    return Err((
                        Reason::MissingField,
                        "statement needs exactly one of Action and NotAction".into(),
                    ))
                }
            };
            let (resources, not_resource) = match (st.get("Resource"), st.get("NotResource")) {
                (Some(r), None) => (strings(r)?, false),
                (None, Some(r)) => (strings(r)?, true),
                // Identity policies need one; without it nothing narrows the statement.
                _ => (vec!["*".to_string()], false),
            };
            Ok(Statement {
                effect,
                actions,
                not_action,
                resources,
                not_resource,
                conditional: st.get("Condition").is_some(),
            })
        })
        .collect()
}

/// Who a trust policy lets assume the role: `Service:ec2.amazonaws.com`, `AWS:arn:…`, `*`.
fn principals(doc: &Value) -> Vec<String> {
    let list: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for st in list {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        match st.get("Principal") {
            Some(Value::String(any)) => out.push(any.clone()),
            Some(Value::Object(kinds)) => {
                for (kind, who) in kinds {
                    for who in strings(who).unwrap_or_default() {
                        out.push(format!("{kind}:{who}"));
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}
