//! AWS WAF (v2) web ACL traffic logs, as WAF delivers them:
//!
//! - JSON lines, one record per line (S3 `aws-waf-logs-*` buckets, CloudWatch Logs, Firehose
//!   with newline delimiters), and records concatenated on one line (Firehose without them);
//! - a JSON array of records (exports, `aws logs` output reshaped, test corpora);
//! - CloudWatch Logs subscription envelopes (`{"messageType":"DATA_MESSAGE","logEvents":[…]}`,
//!   what a subscription filter hands to Firehose), each `logEvents[].message` a WAF record;
//! - records whose `timestamp` a data lake rewrote as RFC 3339 text (Panther's test events).
//!
//! Field meanings follow the WAF log fields reference
//! (<https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html>).
//!
//! Mapping to [`HttpRequest`]:
//!
//! - `target` is `httpRequest.uri`, plus `?` and `httpRequest.args` when the query is not empty;
//!   `host`, `user_agent` and `forwarded_for` are the `Host` (or HTTP/2 `:authority`),
//!   `User-Agent` and `X-Forwarded-For` headers; `headers` are every logged header, in order.
//! - `client` is `httpRequest.clientIp` (the peer WAF saw); `status` is `responseCodeSent`, which
//!   WAF fills only for custom responses (a default block's 403 is not logged, so not invented).
//! - `observer` is `httpSourceId` (the protected resource: `<account>-app/<name>/<id>` for an
//!   ALB, the distribution id for CloudFront), or `httpSourceName` (`ALB`, `CF`, `APIGW`, …)
//!   when the record has no id.
//! - `waf.action` is `action`. `waf.terminating_rule` is the rule that decided: the rule inside
//!   the terminating rule group when `ruleGroupList` names it, otherwise `terminatingRuleId`; none
//!   when the web ACL's default action decided (`Default_Action`).
//! - `waf.matches` holds every rule that matched, terminating or not: the terminating rule, each
//!   rule group's `terminatingRule` and `nonTerminatingMatchingRules`, and the web ACL's own
//!   `nonTerminatingMatchingRules`. A rule inside a rule group is written `<group>/<rule>`, the
//!   group being its `ruleGroupId` with `#` written `-` (AWS managed groups: `AWS#AWSManaged…`
//!   becomes `AWS-AWSManaged…`, the console's name for the web ACL rule that uses the group) or,
//!   for a customer rule group's ARN, the group's name. Each `ruleMatchDetails` entry (location
//!   and `matchedData` joined by spaces) is one match; a rule logged without details is one match
//!   without location or data. A rule counted rather than enforced (COUNT mode: `"action":"COUNT"`,
//!   `overriddenAction` the enforced action) keeps the action `COUNT` while the final action is
//!   usually `ALLOW`.

use std::borrow::Cow;
use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, HttpRequest, HttpSensor, Origin, Timestamp, WafDecision, WafRuleMatch};
use serde::Deserialize;

use super::cloudtrail::borrowed_str;
use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};
use crate::json_stream::{array_elements, skip_ws, top_level_values, value_end, LineCounter, Span};

pub struct AwsWaf;

const NAME: &str = "aws-waf";

impl Format for AwsWaf {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "AWS WAF (v2) web ACL logs: JSON lines (S3, CloudWatch Logs, Firehose), JSON arrays, CloudWatch Logs subscription envelopes; plain, .gz, .zst"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let start = skip_ws(head, 0);
        if !matches!(head.get(start), Some(b'{') | Some(b'[')) {
            return false;
        }
        let has = |m: &[u8]| memchr::memmem::find(head, m).is_some();
        // A WAF record names its web ACL, its request and the rule that decided; a CloudTrail
        // record of a WAF API call names at most one of these.
        let record = has(b"\"webaclId\"") && has(b"\"httpRequest\"") && has(b"\"terminatingRuleId\"");
        // WAF can only log to CloudWatch log groups named `aws-waf-logs-…`.
        let envelope = has(b"\"logEvents\"") && has(b"\"logGroup\"") && has(b"aws-waf-logs-");
        record || envelope
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut index = 0u64;
        let mut lines = LineCounter::new(buf);
        for top in top_level_values(buf) {
            match top {
                Err(cut) => {
                    index += 1;
                    out.records += 1;
                    out.diagnose(
                        (file, cut.line, Some(index)),
                        NAME,
                        Reason::InvalidJson,
                        "JSON value does not end (truncated file or unbalanced brackets)",
                        Some(excerpt(&buf[cut.start..])),
                    );
                }
                Ok(span) if buf[span.start] == b'[' => {
                    for element in array_elements(buf, span.start, &mut lines) {
                        match element {
                            Ok(el) => record(buf, el, &mut index, file, out),
                            Err(cut) => {
                                index += 1;
                                out.records += 1;
                                out.diagnose(
                                    (file, cut.line, Some(index)),
                                    NAME,
                                    Reason::InvalidJson,
                                    "record is cut off (truncated file or unbalanced brackets); the records before it were read",
                                    Some(excerpt(&buf[cut.start..])),
                                );
                            }
                        }
                    }
                }
                Ok(span) => {
                    for piece in concatenated(buf, span) {
                        record(buf, piece, &mut index, file, out);
                    }
                }
            }
        }
    }
}

/// The objects of one framed value that Firehose wrote back to back (`{…}{…}`); anything else
/// (one object, a corrupt line) is the one span.
fn concatenated(buf: &[u8], span: Span) -> Vec<Span> {
    let mut out = Vec::new();
    let mut i = span.start;
    while i < span.end {
        let end = match value_end(&buf[..span.end], i) {
            Some(end) if buf[i] == b'{' && skip_ws(&buf[..span.end], end) < span.end => {
                let next = skip_ws(&buf[..span.end], end);
                if buf[next] == b'{' {
                    end
                } else {
                    span.end
                }
            }
            _ => span.end,
        };
        out.push(Span {
            start: i,
            end,
            line: span.line,
        });
        i = skip_ws(&buf[..span.end], end);
    }
    out
}

/// Epoch milliseconds as WAF writes them, or text as data lakes rewrite them.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawTime {
    Int(i64),
    Float(f64),
    Text(String),
}

/// `responseCodeSent`: a number, or a string in some exports.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawCode {
    Int(u64),
    Text(String),
}

/// Fields that are only compared or reshaped borrow from the record (see [`borrowed_str`]);
/// fields the event keeps as they are stay `String`s.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRecord<'a> {
    timestamp: Option<RawTime>,
    action: Option<String>,
    webacl_id: Option<String>,
    terminating_rule_id: Option<String>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    terminating_rule_type: Option<Cow<'a, str>>,
    terminating_rule_match_details: Option<Vec<RawDetail>>,
    http_source_name: Option<String>,
    http_source_id: Option<String>,
    #[serde(borrow)]
    rule_group_list: Option<Vec<RawGroup<'a>>>,
    non_terminating_matching_rules: Option<Vec<RawRule>>,
    response_code_sent: Option<RawCode>,
    #[serde(borrow)]
    http_request: Option<RawHttp<'a>>,
    /// CloudWatch Logs subscription envelope.
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    message_type: Option<Cow<'a, str>>,
    log_events: Option<Vec<RawLogEvent>>,
}

#[derive(Deserialize)]
struct RawLogEvent {
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawGroup<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    rule_group_id: Option<Cow<'a, str>>,
    terminating_rule: Option<RawRule>,
    non_terminating_matching_rules: Option<Vec<RawRule>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    rule_id: Option<String>,
    action: Option<String>,
    rule_match_details: Option<Vec<RawDetail>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawDetail {
    location: Option<String>,
    matched_data: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawHttp<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    client_ip: Option<Cow<'a, str>>,
    headers: Option<Vec<RawHeader>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    args: Option<Cow<'a, str>>,
    http_method: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    name: Option<String>,
    value: Option<String>,
}

type Failure = (Reason, String);

/// Parses one framed value: a record, or an envelope of several; events or diagnostics go to
/// `out`, and `index` counts the records.
fn record(buf: &[u8], span: Span, index: &mut u64, file: FileId, out: &mut ParsedFile) {
    let bytes = &buf[span.start..span.end];
    let raw = match sonic_rs::from_slice::<RawRecord>(bytes) {
        Ok(raw) => raw,
        Err(e) => {
            *index += 1;
            out.records += 1;
            let (reason, detail) = json_failure(bytes, &e);
            out.diagnose(
                (file, span.line, Some(*index)),
                NAME,
                reason,
                detail,
                Some(excerpt(bytes)),
            );
            return;
        }
    };
    if raw.http_request.is_none() && (raw.log_events.is_some() || raw.message_type.is_some()) {
        envelope(raw, bytes, span.line, index, file, out);
        return;
    }
    *index += 1;
    out.records += 1;
    let origin = Origin {
        file,
        line: span.line,
        index: *index,
    };
    match build(raw, origin) {
        Ok(event) => out.events.push(event),
        Err((reason, detail)) => out.diagnose(
            (file, span.line, Some(*index)),
            NAME,
            reason,
            detail,
            Some(excerpt(bytes)),
        ),
    }
}

/// A CloudWatch Logs subscription envelope: every log event's message is one record, cited at
/// the envelope's line. Control messages (`CONTROL_MESSAGE`, Firehose health checks) hold no
/// records.
fn envelope(raw: RawRecord, bytes: &[u8], line: u64, index: &mut u64, file: FileId, out: &mut ParsedFile) {
    if raw.message_type.as_deref() == Some("CONTROL_MESSAGE") {
        return;
    }
    let Some(events) = raw.log_events else {
        *index += 1;
        out.records += 1;
        out.diagnose(
            (file, line, Some(*index)),
            NAME,
            Reason::MissingField,
            "CloudWatch Logs envelope without logEvents",
            Some(excerpt(bytes)),
        );
        return;
    };
    for event in events {
        *index += 1;
        out.records += 1;
        let message = event.message.unwrap_or_default();
        let origin = Origin {
            file,
            line,
            index: *index,
        };
        let parsed = sonic_rs::from_slice::<RawRecord>(message.as_bytes())
            .map_err(|e| json_failure(message.as_bytes(), &e))
            .and_then(|inner| build(inner, origin));
        match parsed {
            Ok(event) => out.events.push(event),
            Err((reason, detail)) => out.diagnose(
                (file, line, Some(*index)),
                NAME,
                reason,
                format!("CloudWatch Logs event: {detail}"),
                Some(excerpt(message.as_bytes())),
            ),
        }
    }
}

fn json_failure(bytes: &[u8], err: &sonic_rs::Error) -> Failure {
    let first_line = err.to_string().lines().next().unwrap_or_default().to_string();
    if std::str::from_utf8(bytes).is_err() {
        (
            Reason::InvalidUtf8,
            format!("record holds bytes that are not UTF-8: {first_line}"),
        )
    } else if err.is_syntax() || err.is_eof() {
        (Reason::InvalidJson, format!("invalid JSON: {first_line}"))
    } else {
        (Reason::MissingField, format!("not a WAF record: {first_line}"))
    }
}

/// Latest instant a WAF `timestamp` may name (9999-12-31T23:59:59.999Z): later, or negative, is a
/// corrupt field rather than a time.
const MAX_MILLIS: i64 = 253_402_300_799_999;

fn timestamp(raw: Option<&RawTime>) -> Result<Timestamp, Failure> {
    let bad = |what: String| (Reason::BadTimestamp, format!("cannot read timestamp {what}"));
    let millis = match raw {
        None => return Err((Reason::MissingField, "record has no timestamp".into())),
        Some(RawTime::Int(ms)) => *ms,
        Some(RawTime::Float(ms)) if ms.fract() == 0.0 && ms.abs() < 1e17 => *ms as i64,
        Some(RawTime::Float(ms)) => return Err(bad(ms.to_string())),
        Some(RawTime::Text(text)) => match text.trim().parse::<i64>() {
            Ok(ms) => ms,
            Err(_) => return Timestamp::parse_rfc3339(text).ok_or_else(|| bad(format!("{text:?}"))),
        },
    };
    if (0..=MAX_MILLIS).contains(&millis) {
        Ok(Timestamp::from_millis(millis))
    } else {
        Err(bad(millis.to_string()))
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// How a rule inside a group is named: see the module documentation.
fn group_name(id: &str) -> String {
    match id.split_once("/rulegroup/") {
        // arn:aws:wafv2:<region>:<account>:<scope>/rulegroup/<name>/<id>
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_string(),
        None => id.replace('#', "-"),
    }
}

/// One match per `ruleMatchDetails` entry, or one without details.
fn push_matches(rule: String, action: &str, details: Option<&[RawDetail]>, out: &mut Vec<WafRuleMatch>) {
    let details = details.unwrap_or_default();
    if details.is_empty() {
        out.push(WafRuleMatch {
            rule,
            action: action.to_string(),
            location: None,
            data: None,
        });
        return;
    }
    for d in details {
        out.push(WafRuleMatch {
            rule: rule.clone(),
            action: action.to_string(),
            location: d.location.clone().filter(|s| !s.is_empty()),
            data: d.matched_data.as_ref().filter(|m| !m.is_empty()).map(|m| m.join(" ")),
        });
    }
}

fn decision(raw: &mut RawRecord) -> Result<WafDecision, Failure> {
    let action = non_empty(raw.action.take()).ok_or((Reason::MissingField, "record has no action".to_string()))?;
    let top_details = raw.terminating_rule_match_details.take();
    let mut matches = Vec::new();
    // The rule group rule that ended evaluation; the last one listed, groups being listed in the
    // order the web ACL evaluated them.
    let mut group_terminating = None;
    let mut top_details_used = false;
    for group in raw.rule_group_list.take().unwrap_or_default() {
        let name = group.rule_group_id.as_deref().map(group_name).unwrap_or_default();
        let qualify = |rule: &str| {
            if name.is_empty() {
                rule.to_string()
            } else {
                format!("{name}/{rule}")
            }
        };
        if let Some(rule) = group.terminating_rule {
            if let Some(id) = rule.rule_id.as_deref().filter(|s| !s.is_empty()) {
                let qualified = qualify(id);
                let rule_action = rule.action.as_deref().unwrap_or(&action);
                // WAF puts the match details of a rule group's terminating rule at the top level.
                let details = match rule.rule_match_details.as_deref() {
                    Some(d) if !d.is_empty() => Some(d),
                    _ => {
                        top_details_used = true;
                        top_details.as_deref()
                    }
                };
                push_matches(qualified.clone(), rule_action, details, &mut matches);
                group_terminating = Some(qualified);
            }
        }
        for rule in group.non_terminating_matching_rules.unwrap_or_default() {
            if let Some(id) = rule.rule_id.as_deref().filter(|s| !s.is_empty()) {
                let rule_action = rule.action.as_deref().unwrap_or("COUNT");
                push_matches(
                    qualify(id),
                    rule_action,
                    rule.rule_match_details.as_deref(),
                    &mut matches,
                );
            }
        }
    }
    let terminating_id = non_empty(raw.terminating_rule_id.take()).filter(|id| id != "Default_Action");
    let group_type = raw
        .terminating_rule_type
        .as_deref()
        .is_none_or(|t| matches!(t, "MANAGED_RULE_GROUP" | "GROUP"));
    let terminating_rule = match terminating_id {
        None => None,
        Some(_) if group_type && group_terminating.is_some() => group_terminating,
        Some(id) => {
            // A rule of the web ACL itself (or a group the log does not detail) decided.
            let details = if top_details_used { None } else { top_details.as_deref() };
            let mut first = Vec::new();
            push_matches(id.clone(), &action, details, &mut first);
            matches.splice(0..0, first);
            Some(id)
        }
    };
    for rule in raw.non_terminating_matching_rules.take().unwrap_or_default() {
        if let Some(id) = rule.rule_id.filter(|s| !s.is_empty()) {
            let rule_action = rule.action.as_deref().unwrap_or("COUNT");
            push_matches(id, rule_action, rule.rule_match_details.as_deref(), &mut matches);
        }
    }
    Ok(WafDecision {
        action,
        terminating_rule,
        matches,
        web_acl: non_empty(raw.webacl_id.take()),
    })
}

fn build(mut raw: RawRecord, origin: Origin) -> Result<Event, Failure> {
    let time = timestamp(raw.timestamp.as_ref())?;
    let http = raw
        .http_request
        .take()
        .ok_or((Reason::MissingField, "record has no httpRequest".to_string()))?;
    let waf = decision(&mut raw)?;
    let client = match http.client_ip.as_deref().filter(|s| !s.is_empty() && *s != "-") {
        None => None,
        Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
            (
                Reason::MissingField,
                format!("httpRequest.clientIp {text:?} is not an IP address"),
            )
        })?),
    };
    let uri = http.uri.unwrap_or_default();
    let target = match http.args.as_deref().filter(|a| !a.is_empty()) {
        Some(args) => format!("{uri}?{args}"),
        None => uri.into_owned(),
    };
    let mut request = HttpRequest::new(HttpSensor::Waf, target);
    request.method = non_empty(http.http_method);
    request.headers = http
        .headers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|h| Some((h.name?, h.value.unwrap_or_default())))
        .collect();
    request.host = request
        .header("Host")
        .or_else(|| request.header(":authority"))
        .map(str::to_string);
    request.user_agent = request.header("User-Agent").map(str::to_string);
    request.forwarded_for = request.header("X-Forwarded-For").map(str::to_string);
    request.client = client;
    request.status = match raw.response_code_sent {
        Some(RawCode::Int(code)) => u16::try_from(code).ok(),
        Some(RawCode::Text(text)) => text.trim().parse().ok(),
        None => None,
    };
    request.observer = non_empty(raw.http_source_id).or(non_empty(raw.http_source_name));
    request.waf = Some(waf);
    Ok(Event {
        time,
        origin,
        body: Body::HttpRequest(Box::new(request)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ParsedFile {
        let mut out = ParsedFile::default();
        AwsWaf.parse(text.as_bytes(), FileId(0), &mut out);
        out
    }

    #[test]
    fn group_names_follow_the_console_and_customer_groups_keep_their_name() {
        assert_eq!(
            group_name("AWS#AWSManagedRulesCommonRuleSet"),
            "AWS-AWSManagedRulesCommonRuleSet"
        );
        assert_eq!(
            group_name("arn:aws:wafv2:us-east-1:123456789012:regional/rulegroup/ssrf-guard/0a1b2c3d"),
            "ssrf-guard"
        );
    }

    #[test]
    fn firehose_records_back_to_back_on_one_line_are_each_a_record() {
        let one = r#"{"timestamp":1700000000000,"action":"ALLOW","terminatingRuleId":"Default_Action","httpRequest":{"clientIp":"192.0.2.1","uri":"/"}}"#;
        let out = parse(&format!("{one}{one} {one}\n{one}\n"));
        assert_eq!((out.records, out.events.len()), (4, 4));
        let positions: Vec<(u64, u64)> = out.events.iter().map(|e| (e.origin.line, e.origin.index)).collect();
        assert_eq!(positions, [(1, 1), (1, 2), (1, 3), (2, 4)]);
    }

    #[test]
    fn a_corrupt_line_is_one_record_whatever_it_holds() {
        let out = parse("this is not json at all\n{\"a\":1} trailing\n");
        assert_eq!(out.records, 2);
        assert_eq!(out.diagnostics.len(), 2);
    }

    #[test]
    fn timestamps_are_epoch_millis_or_rfc3339_text() {
        assert_eq!(
            timestamp(Some(&RawTime::Int(1_700_000_000_123))).ok(),
            Some(Timestamp(1_700_000_000_123))
        );
        assert_eq!(
            timestamp(Some(&RawTime::Text("1700000000123".into()))).ok(),
            Some(Timestamp(1_700_000_000_123))
        );
        assert_eq!(
            timestamp(Some(&RawTime::Text("2024-03-20T10:30:00.000Z".into()))).ok(),
            Timestamp::parse_rfc3339("2024-03-20T10:30:00Z")
        );
        for bad in [
            RawTime::Int(-1),
            RawTime::Int(i64::MAX),
            RawTime::Float(1.5),
            RawTime::Text("soon".into()),
        ] {
            assert_eq!(timestamp(Some(&bad)).err().map(|e| e.0), Some(Reason::BadTimestamp));
        }
        assert_eq!(timestamp(None).err().map(|e| e.0), Some(Reason::MissingField));
    }
}
