//! AWS CloudTrail, in every shape teams store it:
//!
//! - `{"Records":[…]}` documents as CloudTrail delivers them to S3 (one per file, usually on one
//!   line), and one such batch per line;
//! - JSON arrays of records (pretty-printed exports, Stratus Red Team detonation logs);
//! - JSON lines of single records (CloudTrail Lake and SIEM exports);
//! - EventBridge envelopes, the record under `detail`;
//! - records flattened by Logstash (CloudTrail names, `@timestamp`, often no `eventTime`) or by
//!   Filebeat's AWS module (ECS names: `event.action`, `source.address`,
//!   `aws.cloudtrail.user_identity.*`, nested or as dotted keys).
//!
//! Field meanings follow the CloudTrail record contents reference
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).

use std::borrow::Cow;

use credtrail_event::{
    workload::classify_assumed_role_arn, Body, CloudApiCall, Event, FileId, Identity, IdentityKind, IssuedCredential,
    MetadataOptionsChange, Origin, Purpose, SourceAddress, Timestamp,
};
use serde::de::{IgnoredAny, MapAccess, SeqAccess};
use serde::Deserialize;
use serde_json::Value;
use sonic_rs::LazyValue;

use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};
use crate::json_stream::{
    array_elements, find_top_level_array, find_top_level_value, json_lines, skip_ws, top_level_values_with_array,
    KnownArray, LineCounter, Span, Unterminated,
};

pub struct CloudTrail;

const NAME: &str = "cloudtrail";

impl Format for CloudTrail {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "AWS CloudTrail: {\"Records\":[…]} files (S3 layout), JSON arrays, JSON lines, EventBridge envelopes, Logstash/Filebeat-flattened records; plain, .gz, .zst"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        const MARKERS: &[&[u8]] = &[
            b"\"eventSource\"",
            b"\"eventName\"",
            b"\"eventVersion\"",
            b"\"Records\"",
            b"AWS API Call via CloudTrail",
            b"\"aws.cloudtrail.",
            b"\"cloudtrail\"",
        ];
        let trimmed = crate::json_stream::skip_ws(head, 0);
        matches!(head.get(trimmed), Some(b'{') | Some(b'['))
            && MARKERS.iter().any(|m| memchr::memmem::find(head, m).is_some())
    }

    fn claims(&self, head: &[u8]) -> bool {
        // `{"Records":[{"eventVersion":` with any whitespace between the tokens.
        let mut at = 0;
        let expect = |token: &[u8]| {
            at = crate::json_stream::skip_ws(head, at);
            let found = head.get(at..).is_some_and(|rest| rest.starts_with(token));
            at += token.len();
            found
        };
        [&b"{"[..], b"\"Records\"", b":", b"[", b"{", b"\"eventVersion\""]
            .into_iter()
            .all(expect)
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        if parse_batches(buf, file, out) {
            return;
        }
        let mut index = 0u64;
        let mut lines = LineCounter::new(buf);
        // The first value's record array is framed once, while the value itself is.
        let (tops, mut known) = top_level_values_with_array(buf, b"Records");
        for top in tops {
            top_value(buf, top, &mut known, &mut index, &mut lines, file, out);
        }
    }
}

/// One top-level value: a record array (bare, or under `Records`), each element a record; or a
/// single record.
fn top_value(
    buf: &[u8],
    top: Result<Span, Unterminated>,
    known: &mut Option<KnownArray>,
    index: &mut u64,
    lines: &mut LineCounter<'_>,
    file: FileId,
    out: &mut ParsedFile,
) {
    let (span, truncated) = crate::json_stream::span_or_cut(buf, top);
    let records = match buf[span.start] {
        b'[' => Some(span.start),
        b'{' => find_top_level_array(buf, span, b"Records"),
        _ => None,
    };
    match records {
        Some(open) => {
            let elements = match known.take() {
                Some(k) if k.open == open => {
                    // Leave the line counter where framing the array here would have.
                    if let Some(Ok(last)) = k.elements.last() {
                        lines.skip_to(last.start);
                    }
                    k.elements
                }
                _ => array_elements(buf, open, lines),
            };
            for element in elements {
                *index += 1;
                match element {
                    Ok(el) => record(buf, el, *index, file, out),
                    Err(cut) => {
                        out.records += 1;
                        out.diagnose(
                            (file, cut.line, Some(*index)),
                            NAME,
                            Reason::InvalidJson,
                            "record is cut off (truncated file or unbalanced brackets); the records before it were read",
                            Some(excerpt(&buf[cut.start..])),
                        );
                    }
                }
            }
        }
        None if truncated => {
            *index += 1;
            out.records += 1;
            out.diagnose(
                (file, span.line, Some(*index)),
                NAME,
                Reason::InvalidJson,
                "JSON value does not end (truncated file or unbalanced brackets)",
                Some(excerpt(&buf[span.start..])),
            );
        }
        None => {
            *index += 1;
            record(buf, span, *index, file, out);
        }
    }
}

/// CloudTrail's own shape, a `{"Records":[…]}` batch on one line (one per S3 object, or one per
/// line), read in one pass of the typed parser per batch instead of framing every record and then
/// parsing it. Answers whether it read the buffer; when it did not, it added nothing to `out`.
///
/// It yields exactly what framing each record would. It reads a batch only when the batch is
/// valid JSON on its line, so the general path would also read the buffer as JSON lines and cite
/// that line for every record of the batch. Anything that path reads in a way this one does not
/// reproduce (a key written with escapes, a duplicate key of interest, an EventBridge or Filebeat
/// record, a record that would be rejected) makes the whole batch go the general way, which alone
/// words diagnostics. A first line that is not such a batch leaves the whole buffer to it.
fn parse_batches(buf: &[u8], file: FileId, out: &mut ParsedFile) -> bool {
    let first = skip_ws(buf, 0);
    if buf.get(first) != Some(&b'{') {
        return false;
    }
    let mut values = json_lines(buf, first);
    let mut index = 0u64;
    match values.next() {
        Some(head) if batch(buf, head, &mut index, file, out) => {}
        _ => return false,
    }
    let mut lines = LineCounter::new(buf);
    let mut known = None;
    for span in values {
        // After a record array that ran on past its own line (a corrupt line), the general path
        // cites that array's last line for what follows: leave those lines to it.
        if lines.exact_from() > span.start || !batch(buf, span, &mut index, file, out) {
            top_value(buf, Ok(span), &mut known, &mut index, &mut lines, file, out);
        }
    }
    true
}

/// Reads one batch line into `out`; false, having added nothing, when it must go the general way.
fn batch(buf: &[u8], span: Span, index: &mut u64, file: FileId, out: &mut ParsedFile) -> bool {
    if buf[span.start] != b'{' {
        return false;
    }
    let Ok(Batch(mut events)) = sonic_rs::from_slice::<Batch>(&buf[span.start..span.end]) else {
        return false;
    };
    for event in &mut events {
        *index += 1;
        event.origin = Origin {
            file,
            line: span.line,
            index: *index,
        };
    }
    out.records += events.len() as u64;
    out.events.append(&mut events);
    true
}

/// An object key as written: `None` when it holds escapes (the general path compares keys byte
/// for byte, the typed parser after unescaping; such keys are left to the general path).
struct RawKey<'a>(Option<&'a str>);

impl<'de> Deserialize<'de> for RawKey<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawKey<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawKey(Some(v)))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(RawKey(None))
            }
        }
        d.deserialize_str(V)
    }
}

fn leave_to_general_path<E: serde::de::Error>() -> E {
    E::custom("left to the general path")
}

/// A `{"Records":[…]}` batch read into events (their origins still to be set).
struct Batch(Vec<Event>);

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Batch;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a CloudTrail batch")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Batch, A::Error> {
                let mut records = None;
                while let Some(RawKey(key)) = map.next_key()? {
                    match key {
                        Some("Records") if records.is_none() => records = Some(map.next_value::<BatchRecords>()?.0),
                        Some("Records") | None => return Err(leave_to_general_path()),
                        Some(_) => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                records.map(Batch).ok_or_else(leave_to_general_path)
            }
        }
        d.deserialize_map(V)
    }
}

struct BatchRecords(Vec<Event>);

impl<'de> Deserialize<'de> for BatchRecords {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = BatchRecords;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of CloudTrail records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchRecords, A::Error> {
                let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(BatchRecord(event)) = seq.next_element()? {
                    events.push(event);
                }
                Ok(BatchRecords(events))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A record of a batch, built into its event as soon as it is read (its origin still to be set).
/// It reads what [`RawRecord`]'s derived parse reads, the same way, plus the raw text of
/// `requestParameters` and `responseElements` (which the general path finds by framing). Keys
/// written with escapes, repeated keys of interest, and records the general path would not build
/// the same way are refused (see [`parse_batches`]).
struct BatchRecord(Event);

/// The value of a field read with [`borrowed_str`], as `RawRecord`'s fields are.
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        borrowed_str(d).map(Text)
    }
}

impl<'de> Deserialize<'de> for BatchRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = BatchRecord;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a CloudTrail record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BatchRecord, A::Error> {
                fn text<'de, A: MapAccess<'de>>(
                    map: &mut A,
                    slot: &mut Option<Cow<'de, str>>,
                    seen: &mut bool,
                ) -> Result<(), A::Error> {
                    if std::mem::replace(seen, true) {
                        return Err(leave_to_general_path());
                    }
                    *slot = map.next_value::<Text<'de>>()?.0;
                    Ok(())
                }
                fn value<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
                    map: &mut A,
                    slot: &mut Option<T>,
                    seen: &mut bool,
                ) -> Result<(), A::Error> {
                    if std::mem::replace(seen, true) {
                        return Err(leave_to_general_path());
                    }
                    *slot = map.next_value::<Option<T>>()?;
                    Ok(())
                }
                let mut r = RawRecord::default();
                let mut request = None;
                let mut response = None;
                let mut additional = None;
                // One flag per field below, in order: a repeated key is left to the general path.
                let mut seen = [false; 21];
                while let Some(RawKey(key)) = map.next_key()? {
                    let Some(key) = key else {
                        return Err(leave_to_general_path());
                    };
                    match key {
                        "eventTime" => text(&mut map, &mut r.event_time, &mut seen[0])?,
                        "@timestamp" => text(&mut map, &mut r.at_timestamp, &mut seen[1])?,
                        "eventSource" => text(&mut map, &mut r.event_source, &mut seen[2])?,
                        "eventName" => text(&mut map, &mut r.event_name, &mut seen[3])?,
                        "awsRegion" => text(&mut map, &mut r.aws_region, &mut seen[4])?,
                        "sourceIPAddress" => text(&mut map, &mut r.source_ip_address, &mut seen[5])?,
                        "userAgent" => text(&mut map, &mut r.user_agent, &mut seen[6])?,
                        "errorCode" => text(&mut map, &mut r.error_code, &mut seen[7])?,
                        "recipientAccountId" => text(&mut map, &mut r.recipient_account_id, &mut seen[8])?,
                        "vpcEndpointId" => text(&mut map, &mut r.vpc_endpoint_id, &mut seen[9])?,
                        "vpcEndpointAccountId" => text(&mut map, &mut r.vpc_endpoint_account_id, &mut seen[10])?,
                        "eventType" => text(&mut map, &mut r.event_type, &mut seen[11])?,
                        "readOnly" => value(&mut map, &mut r.read_only, &mut seen[12])?,
                        "userIdentity" => value(&mut map, &mut r.user_identity, &mut seen[13])?,
                        "detail" => value(&mut map, &mut r.detail, &mut seen[14])?,
                        "aws" => value(&mut map, &mut r.aws, &mut seen[15])?,
                        "aws.cloudtrail.event_version" => value(&mut map, &mut r.dotted_marker, &mut seen[16])?,
                        "event.action" => value(&mut map, &mut r.dotted_action, &mut seen[17])?,
                        // The general path parses the first of these by itself, `null` included.
                        "requestParameters" => raw_value(&mut map, &mut request, &mut seen[18])?,
                        "responseElements" => raw_value(&mut map, &mut response, &mut seen[19])?,
                        "additionalEventData" => raw_value(&mut map, &mut additional, &mut seen[20])?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if r.event_name.is_none()
                    && (r.detail.is_some() || r.aws.is_some() || r.dotted_marker.is_some() || r.dotted_action.is_some())
                {
                    // EventBridge or Filebeat: their records are found by framing.
                    return Err(leave_to_general_path());
                }
                let subs = Subs::Raw {
                    request: request.as_ref().map(LazyValue::as_raw_str),
                    response: response.as_ref().map(LazyValue::as_raw_str),
                    additional: additional.as_ref().map(LazyValue::as_raw_str),
                };
                let origin = Origin {
                    file: FileId(0),
                    line: 0,
                    index: 0,
                };
                build(&r, &subs, origin)
                    .map(BatchRecord)
                    .map_err(|_| leave_to_general_path())
            }
        }
        fn raw_value<'de, A: MapAccess<'de>>(
            map: &mut A,
            slot: &mut Option<LazyValue<'de>>,
            seen: &mut bool,
        ) -> Result<(), A::Error> {
            if std::mem::replace(seen, true) {
                return Err(leave_to_general_path());
            }
            *slot = Some(map.next_value::<LazyValue<'de>>()?);
            Ok(())
        }
        d.deserialize_map(V)
    }
}

/// A `true`/`false` that some pipelines write as a string.
#[derive(Debug, Clone, Copy)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Flag, E> {
                Ok(Flag(v.eq_ignore_ascii_case("true")))
            }
        }
        d.deserialize_any(V)
    }
}

/// An optional string field that borrows from the input when it can. serde's own `Cow<str>` only
/// borrows when it is not wrapped in an `Option`; wrapped, every field was copied into a `String`
/// that `build` then copied again. Accepts and rejects exactly what a `String` field does, with
/// the same messages.
pub(super) fn borrowed_str<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    struct Text<'a>(Cow<'a, str>);
    impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Cow<'de, str>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Cow::Borrowed(v))
                }
                fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Cow::Owned(v.to_owned()))
                }
                fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Cow::Owned(v))
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                    match std::str::from_utf8(v) {
                        Ok(s) => Ok(Cow::Owned(s.to_owned())),
                        Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(v), &self)),
                    }
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                    match String::from_utf8(v) {
                        Ok(s) => Ok(Cow::Owned(s)),
                        Err(e) => Err(E::invalid_value(serde::de::Unexpected::Bytes(&e.into_bytes()), &self)),
                    }
                }
            }
            d.deserialize_string(V).map(Text)
        }
    }
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRecord<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    event_time: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "@timestamp", default, deserialize_with = "borrowed_str")]
    at_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    event_source: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    event_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    aws_region: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "sourceIPAddress", default, deserialize_with = "borrowed_str")]
    source_ip_address: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    vpc_endpoint_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    vpc_endpoint_account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    event_type: Option<Cow<'a, str>>,
    read_only: Option<Flag>,
    #[serde(borrow)]
    user_identity: Option<RawIdentity<'a>>,
    /// EventBridge envelope: the CloudTrail record is under `detail`.
    detail: Option<IgnoredAny>,
    /// Filebeat's AWS module nests CloudTrail fields under `aws.cloudtrail` and ECS fields.
    aws: Option<IgnoredAny>,
    #[serde(rename = "aws.cloudtrail.event_version")]
    dotted_marker: Option<IgnoredAny>,
    #[serde(rename = "event.action")]
    dotted_action: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawIdentity<'a> {
    #[serde(borrow, rename = "type", default, deserialize_with = "borrowed_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    arn: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    principal_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    user_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    invoked_by: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_context: Option<RawSessionContext<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSessionContext<'a> {
    #[serde(borrow)]
    session_issuer: Option<RawIssuer<'a>>,
    #[serde(borrow, rename = "ec2RoleDelivery", default, deserialize_with = "borrowed_str")]
    ec2_role_delivery: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "ec2IssuedInVPC", default, deserialize_with = "borrowed_str")]
    ec2_issued_in_vpc: Option<Cow<'a, str>>,
    #[serde(borrow)]
    attributes: Option<RawAttributes<'a>>,
}

#[derive(Deserialize, Default)]
struct RawIssuer<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawAttributes<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    creation_date: Option<Cow<'a, str>>,
}

/// Parses one record span; the event or a diagnostic goes to `out`.
fn record(buf: &[u8], span: Span, index: u64, file: FileId, out: &mut ParsedFile) {
    out.records += 1;
    let origin = Origin {
        file,
        line: span.line,
        index,
    };
    let bytes = &buf[span.start..span.end];
    match parse_record(buf, span, origin) {
        Ok(event) => out.events.push(event),
        Err((reason, detail)) => out.diagnose(
            (file, span.line, Some(index)),
            NAME,
            reason,
            detail,
            Some(excerpt(bytes)),
        ),
    }
}

type Failure = (Reason, String);

fn parse_record(buf: &[u8], span: Span, origin: Origin) -> Result<Event, Failure> {
    let bytes = &buf[span.start..span.end];
    let raw: RawRecord<'_> = sonic_rs::from_slice(bytes).map_err(|e| json_failure(bytes, &e))?;
    if raw.detail.is_some() && raw.event_name.is_none() {
        let detail = find_top_level_value(buf, span, b"detail").ok_or((
            Reason::MissingField,
            "EventBridge envelope whose `detail` is not an object".to_string(),
        ))?;
        return parse_record(buf, detail, origin);
    }
    if raw.event_name.is_none() && (raw.aws.is_some() || raw.dotted_marker.is_some() || raw.dotted_action.is_some()) {
        return parse_filebeat(bytes, origin);
    }
    build(&raw, &Subs::Framed { buf, span }, origin)
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
        (Reason::MissingField, format!("not a CloudTrail record: {first_line}"))
    }
}

fn opt(s: &Option<Cow<'_, str>>) -> Option<String> {
    s.as_deref().filter(|s| !s.is_empty()).map(str::to_string)
}

fn build(raw: &RawRecord<'_>, subs: &Subs<'_>, origin: Origin) -> Result<Event, Failure> {
    let (Some(service), Some(action)) = (raw.event_source.as_deref(), raw.event_name.as_deref()) else {
        return Err((Reason::MissingField, "record has no eventSource or eventName".into()));
    };
    let time_text = raw.event_time.as_deref().or(raw.at_timestamp.as_deref()).ok_or((
        Reason::MissingField,
        "record has neither eventTime nor @timestamp".to_string(),
    ))?;
    let time = Timestamp::parse_rfc3339(time_text)
        .ok_or_else(|| (Reason::BadTimestamp, format!("cannot read time {time_text:?}")))?;

    let mut identity = Identity::default();
    if let Some(ui) = &raw.user_identity {
        identity.kind = ui.kind.as_deref().map(IdentityKind::parse);
        identity.arn = opt(&ui.arn);
        identity.account = opt(&ui.account_id);
        identity.access_key = opt(&ui.access_key_id);
        identity.principal_id = opt(&ui.principal_id);
        identity.user_name = opt(&ui.user_name);
        identity.invoked_by = opt(&ui.invoked_by);
        if let Some(sc) = &ui.session_context {
            identity.session_issuer_arn = sc.session_issuer.as_ref().and_then(|i| opt(&i.arn));
            identity.role_delivery = opt(&sc.ec2_role_delivery);
            identity.issued_in_vpc = opt(&sc.ec2_issued_in_vpc);
            identity.session_created = sc
                .attributes
                .as_ref()
                .and_then(|a| a.creation_date.as_deref())
                .and_then(Timestamp::parse_rfc3339);
        }
    }
    let workload = identity.arn.as_deref().and_then(classify_assumed_role_arn);

    let mut call = CloudApiCall {
        provider: credtrail_event::Provider::Aws,
        service: service.to_string(),
        action: action.to_string(),
        region: opt(&raw.aws_region),
        recipient_account: opt(&raw.recipient_account_id),
        workload,
        source: raw.source_ip_address.as_deref().map(SourceAddress::classify),
        user_agent: opt(&raw.user_agent),
        error_code: opt(&raw.error_code),
        vpc_endpoint: opt(&raw.vpc_endpoint_id),
        vpc_endpoint_account: opt(&raw.vpc_endpoint_account_id),
        read_only: raw.read_only.map(|f| f.0),
        event_type: opt(&raw.event_type),
        identity,
        issued_credential: None,
        metadata_options: None,
        target: None,
        bytes_out: None,
    };
    if action == "AssumeRole" && call.identity.kind == Some(IdentityKind::AwsService) {
        call.issued_credential = issued_credential(subs, call.identity.invoked_by.as_deref());
    }
    if is_metadata_options_action(action) {
        call.metadata_options = metadata_options(subs);
    }
    let prefix = service.split('.').next().unwrap_or(service);
    if let Some((purpose, keys)) = credtrail_event::purpose_of(prefix, action) {
        if purpose == Purpose::DataRead && prefix == "s3" {
            call.target = sub_parse::<S3Object>(subs, "requestParameters").and_then(|o| {
                let bucket = o.bucket_name?;
                Some(cap_target(match o.key {
                    Some(key) => format!("s3://{bucket}/{key}"),
                    None => format!("s3://{bucket}"),
                }))
            });
            call.bytes_out = sub_parse::<S3Transfer>(subs, "additionalEventData")
                .and_then(|t| t.bytes_transferred_out)
                .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                .filter(|b| b.is_finite() && *b >= 0.0)
                .map(|b| b as u64);
        } else {
            call.target = call_target(subs, prefix, action, keys);
        }
    }
    Ok(Event {
        time,
        origin,
        body: Body::CloudApiCall(Box::new(call)),
    })
}

/// Where a record's `requestParameters` and `responseElements` are.
enum Subs<'a> {
    /// Found by framing the record at `span` (the first of each key).
    Framed { buf: &'a [u8], span: Span },
    /// Their raw text, kept while the record was parsed (see [`BatchRecord`]).
    Raw {
        request: Option<&'a str>,
        response: Option<&'a str>,
        additional: Option<&'a str>,
    },
}

/// Sub-object of a record, parsed on demand: only the few events that need request or response
/// details pay for a full parse.
fn sub_value(subs: &Subs<'_>, key: &str) -> Option<Value> {
    sub_parse(subs, key)
}

/// [`sub_value`] into a type of the caller's: the frequent S3 data events read two fields
/// without building a JSON tree.
fn sub_parse<T: serde::de::DeserializeOwned>(subs: &Subs<'_>, key: &str) -> Option<T> {
    match subs {
        Subs::Framed { buf, span } => {
            let v = find_top_level_value(buf, *span, key.as_bytes())?;
            serde_json::from_slice(&buf[v.start..v.end]).ok()
        }
        Subs::Raw {
            request,
            response,
            additional,
        } => {
            let text = match key {
                "requestParameters" => request,
                "additionalEventData" => additional,
                _ => response,
            };
            serde_json::from_str((*text)?).ok()
        }
    }
}

/// `sts:AssumeRole` made by EC2 or ECS for a workload: the credential's birth.
fn issued_credential(subs: &Subs<'_>, invoked_by: Option<&str>) -> Option<IssuedCredential> {
    let issuer = invoked_by?;
    if !matches!(issuer, "ec2.amazonaws.com" | "ecs-tasks.amazonaws.com") {
        return None;
    }
    let response = sub_value(subs, "responseElements")?;
    let request = sub_value(subs, "requestParameters");
    let access_key = response.pointer("/credentials/accessKeyId")?.as_str()?.to_string();
    let request = request.as_ref();
    Some(IssuedCredential {
        access_key,
        role_arn: request
            .and_then(|r| r.get("roleArn"))
            .and_then(Value::as_str)
            .map(str::to_string),
        session_name: request
            .and_then(|r| r.get("roleSessionName"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        issuer: issuer.to_string(),
    })
}

/// `requestParameters` of an S3 object read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    bucket_name: Option<String>,
    key: Option<String>,
}

/// `additionalEventData` of an S3 data event: `bytesTransferredOut` is a number (CloudTrail
/// writes it as a float) or, after some pipelines, a string.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Transfer {
    bytes_transferred_out: Option<Value>,
}

/// Longest target kept: a `BatchGetSecretValue` of hundreds of ids is summarised, not copied.
const TARGET_CAP: usize = 512;

/// What a followed call acted on (see [`credtrail_event::Purpose`]): the values of `keys` in
/// `requestParameters`, S3 objects as `s3://bucket/key`, and the instances `RunInstances`
/// started (from `responseElements`, the request does not name them).
fn call_target(subs: &Subs<'_>, prefix: &str, action: &str, keys: &[&str]) -> Option<String> {
    if prefix == "ec2" && action == "RunInstances" {
        let response = sub_value(subs, "responseElements")?;
        let mut ids = Vec::new();
        visit_objects(&response, &mut |obj| {
            if let Some(id) = obj.get("instanceId").and_then(Value::as_str) {
                ids.push(id.to_string());
            }
        });
        return (!ids.is_empty()).then(|| cap_target(ids.join(",")));
    }
    let request = sub_value(subs, "requestParameters")?;
    let mut parts: Vec<String> = Vec::new();
    for key in keys {
        let Some(value) = request.get(*key) else { continue };
        let mut texts = Vec::new();
        target_texts(value, &mut texts);
        if !texts.is_empty() {
            parts.push(texts.join(","));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let text = if prefix == "s3" {
        format!("s3://{}", parts.join("/"))
    } else {
        parts.join(" ")
    };
    Some(cap_target(text))
}

/// Strings of a parameter value: a string, an array of strings, or SSM's
/// `targets: [{"key": "InstanceIds", "values": […]}]`.
fn target_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| target_texts(v, out)),
        Value::Object(obj) => {
            if let Some(values) = obj.get("values").or_else(|| obj.get("Values")) {
                target_texts(values, out);
            }
        }
        _ => {}
    }
}

fn cap_target(mut text: String) -> String {
    if text.len() > TARGET_CAP {
        let mut end = TARGET_CAP;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn is_metadata_options_action(action: &str) -> bool {
    matches!(
        action,
        "ModifyInstanceMetadataOptions"
            | "ModifyInstanceMetadataDefaults"
            | "RunInstances"
            | "CreateLaunchTemplate"
            | "CreateLaunchTemplateVersion"
    )
}

/// The metadata options a request sets, wherever the API nests them: directly in
/// `ModifyInstanceMetadataOptionsRequest`, under `MetadataOptions` in launch template data, or
/// `metadataOptions` in `RunInstances`. Keys are matched case-insensitively because the APIs
/// disagree on case.
fn metadata_options(subs: &Subs<'_>) -> Option<MetadataOptionsChange> {
    let request = sub_value(subs, "requestParameters")?;
    let mut change = MetadataOptionsChange::default();
    let mut found = false;
    visit_objects(&request, &mut |obj| {
        for (k, v) in obj {
            let key = k.to_ascii_lowercase();
            match key.as_str() {
                "httptokens" => {
                    change.http_tokens = v.as_str().map(str::to_ascii_lowercase);
                    found = true;
                }
                "httpputresponsehoplimit" => {
                    change.hop_limit = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
                    found = true;
                }
                "httpendpoint" => {
                    change.http_endpoint = v.as_str().map(str::to_ascii_lowercase);
                    found = true;
                }
                "instanceid" | "launchtemplateid" | "launchtemplatename" if change.target.is_none() => {
                    change.target = v.as_str().map(str::to_string);
                }
                _ => {}
            }
        }
    });
    if change.target.is_none() {
        change.target = sub_value(subs, "responseElements").and_then(|r| {
            let mut ids = Vec::new();
            visit_objects(&r, &mut |obj| {
                if let Some(id) = obj.get("instanceId").and_then(Value::as_str) {
                    ids.push(id.to_string());
                }
            });
            (!ids.is_empty()).then(|| ids.join(","))
        });
    }
    found.then_some(change)
}

fn visit_objects(v: &Value, f: &mut dyn FnMut(&serde_json::Map<String, Value>)) {
    match v {
        Value::Object(obj) => {
            f(obj);
            for child in obj.values() {
                visit_objects(child, f);
            }
        }
        Value::Array(items) => {
            for child in items {
                visit_objects(child, f);
            }
        }
        _ => {}
    }
}

/// Filebeat's AWS module output, mapped back to CloudTrail's names
/// (<https://www.elastic.co/guide/en/beats/filebeat/current/exported-fields-aws.html>).
fn parse_filebeat(bytes: &[u8], origin: Origin) -> Result<Event, Failure> {
    let flat: Value = serde_json::from_slice(bytes).map_err(|e| (Reason::InvalidJson, format!("invalid JSON: {e}")))?;
    let doc = unflatten(flat);
    let get = |path: &str| -> Option<Value> { doc.pointer(path).filter(|v| !v.is_null()).cloned() };
    let ct = "/aws/cloudtrail";
    let mut record = serde_json::Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            record.insert(key.to_string(), v);
        }
    };
    put("eventTime", get("/@timestamp"));
    put("eventSource", get("/event/provider"));
    put("eventName", get("/event/action"));
    put("awsRegion", get("/cloud/region"));
    put("sourceIPAddress", get("/source/address").or_else(|| get("/source/ip")));
    put("userAgent", get("/user_agent/original"));
    put("errorCode", get(&format!("{ct}/error_code")));
    put(
        "recipientAccountId",
        get(&format!("{ct}/recipient_account_id")).or_else(|| get("/cloud/account/id")),
    );
    put("vpcEndpointId", get(&format!("{ct}/vpc_endpoint_id")));
    put("eventType", get(&format!("{ct}/event_type")));
    put("readOnly", get(&format!("{ct}/read_only")));
    let ui = format!("{ct}/user_identity");
    let mut identity = serde_json::Map::new();
    for (from, to) in [
        ("type", "type"),
        ("arn", "arn"),
        ("access_key_id", "accessKeyId"),
        ("invoked_by", "invokedBy"),
    ] {
        if let Some(v) = get(&format!("{ui}/{from}")) {
            identity.insert(to.into(), v);
        }
    }
    if let Some(v) = get("/user/id").or_else(|| get(&format!("{ui}/principal_id"))) {
        identity.insert("principalId".into(), v);
    }
    if let Some(v) = get("/cloud/account/id") {
        identity.insert("accountId".into(), v);
    }
    let sc = format!("{ui}/session_context");
    let mut session = serde_json::Map::new();
    if let Some(v) = get(&format!("{sc}/creation_date")) {
        session.insert("attributes".into(), serde_json::json!({ "creationDate": v }));
    }
    if let Some(v) = get(&format!("{sc}/session_issuer/arn")) {
        session.insert("sessionIssuer".into(), serde_json::json!({ "arn": v }));
    }
    if let Some(v) = get(&format!("{sc}/ec2_role_delivery")) {
        session.insert("ec2RoleDelivery".into(), v);
    }
    if !session.is_empty() {
        identity.insert("sessionContext".into(), Value::Object(session));
    }
    record.insert("userIdentity".into(), Value::Object(identity));
    let text = serde_json::to_vec(&Value::Object(record)).map_err(|e| (Reason::InvalidJson, e.to_string()))?;
    let span = Span {
        start: 0,
        end: text.len(),
        line: origin.line,
    };
    let raw: RawRecord<'_> = sonic_rs::from_slice(&text).map_err(|e| json_failure(&text, &e))?;
    build(&raw, &Subs::Framed { buf: &text, span }, origin)
}

/// Turns `{"a.b": 1}` into `{"a": {"b": 1}}` (Elastic exports and Logstash `flatten` write dotted
/// keys); nested objects are merged.
fn unflatten(v: Value) -> Value {
    let Value::Object(obj) = v else { return v };
    let mut out = serde_json::Map::new();
    for (key, value) in obj {
        let value = unflatten(value);
        let mut parts = key.split('.').peekable();
        let mut cursor = &mut out;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                merge_into(cursor, part, value);
                break;
            }
            let entry = cursor
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if !entry.is_object() {
                *entry = Value::Object(Default::default());
            }
            let Value::Object(next) = entry else { break };
            cursor = next;
        }
    }
    Value::Object(out)
}

fn merge_into(map: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    match (map.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                merge_into(existing, &k, v);
            }
        }
        (_, value) => {
            map.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `borrowed_str` must accept, reject and word its errors exactly as a plain optional `Cow`.
    #[test]
    fn borrowed_fields_read_as_owned_ones_did() {
        #[derive(Deserialize, Debug)]
        struct Plain<'a> {
            #[serde(borrow)]
            a: Option<Cow<'a, str>>,
        }
        #[derive(Deserialize, Debug)]
        struct Fast<'a> {
            #[serde(borrow, default, deserialize_with = "borrowed_str")]
            a: Option<Cow<'a, str>>,
        }
        let inputs: &[&[u8]] = &[
            br#"{"a":"x"}"#,
            br#"{"a":"x\ny\u00e9"}"#,
            br#"{"a":null}"#,
            br#"{}"#,
            br#"{"a":5}"#,
            br#"{"a":-1.5}"#,
            br#"{"a":true}"#,
            br#"{"a":[1]}"#,
            br#"{"a":{"b":1}}"#,
            br#"{"a":"x","a":"y"}"#,
            br#"{"a":"\ud800"}"#,
            b"{\"a\":\"\xff\"}",
            br#"{"a":"x"#,
            br#"{"b":1,"a":"x"}"#,
        ];
        for input in inputs {
            let plain = sonic_rs::from_slice::<Plain<'_>>(input).map(|p| p.a.map(Cow::into_owned));
            let fast = sonic_rs::from_slice::<Fast<'_>>(input).map(|p| p.a.map(Cow::into_owned));
            assert_eq!(
                format!("{plain:?}"),
                format!("{fast:?}"),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let fast: Fast<'_> = sonic_rs::from_slice(br#"{"a":"plain"}"#).unwrap();
        assert!(matches!(fast.a, Some(Cow::Borrowed("plain"))));
    }

    /// The parse as it was before the first value's records were framed in one walk.
    fn reference_parse(buf: &[u8], file: FileId) -> ParsedFile {
        let mut out = ParsedFile::default();
        let mut index = 0u64;
        let mut lines = LineCounter::new(buf);
        for top in crate::json_stream::top_level_values(buf) {
            let (span, truncated) = crate::json_stream::span_or_cut(buf, top);
            let records = match buf[span.start] {
                b'[' => Some(span.start),
                b'{' => find_top_level_array(buf, span, b"Records"),
                _ => None,
            };
            match records {
                Some(open) => {
                    for element in array_elements(buf, open, &mut lines) {
                        index += 1;
                        match element {
                            Ok(el) => record(buf, el, index, file, &mut out),
                            Err(cut) => {
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
                None if truncated => {
                    index += 1;
                    out.records += 1;
                    out.diagnose(
                        (file, span.line, Some(index)),
                        NAME,
                        Reason::InvalidJson,
                        "JSON value does not end (truncated file or unbalanced brackets)",
                        Some(excerpt(&buf[span.start..])),
                    );
                }
                None => {
                    index += 1;
                    record(buf, span, index, file, &mut out);
                }
            }
        }
        out
    }

    fn pieces() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        const RECORD: &str = r#"{"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","sourceIPAddress":"198.51.100.7","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/r/i-0123456789abcdef0","accessKeyId":"ASIAEXAMPLE"}}"#;
        let piece = prop_oneof![
            Just(RECORD),
            Just(r#"{"Records":["#),
            Just(r#"{"x":1,"Records":["#),
            Just("]}"),
            Just("]"),
            Just("["),
            Just("{"),
            Just("}"),
            Just(","),
            Just("\n"),
            Just(" "),
            Just("\""),
            Just("1"),
            Just(r#"{"eventName":5}"#),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat().into_bytes())
    }

    /// Records that the one-pass batch read must read as the per-record parse does, or leave to it:
    /// escaped and repeated keys, sub-objects, EventBridge and Filebeat shapes, rejected records.
    const BATCH_RECORDS: &[&str] = &[
        r#"{"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","sourceIPAddress":"198.51.100.7","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/r/i-0123456789abcdef0","accessKeyId":"ASIAEXAMPLE","sessionContext":{"ec2RoleDelivery":"1.0","attributes":{"creationDate":"2024-01-02T01:00:00Z"}}},"vpcEndpointId":"vpce-1","readOnly":"true"}"#,
        r#"{"eventTime":"2024-01-02T03:04:06Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","sourceIPAddress":"ec2.amazonaws.com","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},"requestParameters":{"roleArn":"arn:aws:iam::1:role/r","roleSessionName":"i-0123456789abcdef0"},"responseElements":{"credentials":{"accessKeyId":"ASIANEW"}}}"#,
        r#"{"eventTime":"2024-01-02T03:04:06Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AWSService","invokedBy":"ecs-tasks.amazonaws.com"},"responseElements":{"credentials":{"accessKeyId":"ASIA\u0041"}},"requestParameters":null}"#,
        r#"{"eventTime":"2024-01-02T03:04:06Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},"responseElements":{"credentials":{"accessKeyId":"ASIA1"}},"responseElements":{"credentials":{"accessKeyId":"ASIA2"}}}"#,
        r#"{"eventTime":"2024-01-02T03:04:06Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},"responseElem\u0065nts":{"credentials":{"accessKeyId":"ASIA3"}}}"#,
        r#"{"eventTime":"2024-01-02T03:04:07Z","eventSource":"ec2.amazonaws.com","eventName":"ModifyInstanceMetadataOptions","requestParameters":{"ModifyInstanceMetadataOptionsRequest":{"InstanceId":"i-1","HttpTokens":"optional","HttpPutResponseHopLimit":"2"}},"responseElements":{"instanceId":"i-1"}}"#,
        r#"{"eventTime":"2024-01-02T03:04:07Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","requestParameters":{"metadataOptions":{"httpTokens":"optional"}},"responseElements":{"instancesSet":{"items":[{"instanceId":"i-2"},{"instanceId":"i-3"}]}}}"#,
        r#"{"eventTime":"2024-01-02T03:04:07Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","requestParameters":{"bucketName":"exports","key":"2026/customers.csv"},"additionalEventData":{"bytesTransferredOut":1048576.0}}"#,
        r#"{"eventTime":"2024-01-02T03:04:07Z","eventSource":"ssm.amazonaws.com","eventName":"SendCommand","requestParameters":{"documentName":"AWS-RunShellScript","instanceIds":["i-786a3A8B5C0d92eF4"]}}"#,
        r#"{"eventTime":"2024-01-02T03:04:07Z","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","requestParameters":{"userName":"svc-reporting","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"},"errorCode":"AccessDenied"}"#,
        r#"{"eventTime":"2024-01-02T03:04:08Z","event\u004eame":"GetObject","eventSource":"s3.amazonaws.com"}"#,
        r#"{"eventTime":"2024-01-02T03:04:08Z","eventName":"A","eventName":"B","eventSource":"s3.amazonaws.com"}"#,
        r#"{"eventTime":"2024-01-02T03:04:08Z","eventName":"GetObject","eventSource":"s3.amazonaws.com","x":1,"x":2,"errorCode":"AccessDenied"}"#,
        r#"{"eventTime":"2024-01-02T03:04:09Z","eventSource":"s3.amazonaws.com"}"#,
        r#"{"eventTime":"yesterday","eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#,
        r#"{"eventName":5}"#,
        r#"{"detail-type":"AWS API Call via CloudTrail","detail":{"eventTime":"2024-01-02T03:04:10Z","eventSource":"iam.amazonaws.com","eventName":"ListRoles"}}"#,
        r#"{"detail":null,"eventTime":"2024-01-02T03:04:10Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers"}"#,
        r#"{"@timestamp":"2024-01-02T03:04:11Z","event.action":"ListBuckets","event.provider":"s3.amazonaws.com"}"#,
        r#"{"@timestamp":"2024-01-02T03:04:11Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","readOnly":null,"userIdentity":null,"userAgent":null}"#,
        r#"{"eventTime":"2024-01-02T03:04:12Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","userAgent":"a\"b\u00e9"}"#,
        r#"["2024-01-02T03:04:12Z","s3.amazonaws.com","GetObject"]"#,
        "7",
    ];

    /// Mostly well-formed batches, one per line, with now and then a line that is not one.
    fn batches() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let record = proptest::sample::select(BATCH_RECORDS);
        let batch = (
            proptest::sample::select(
                &[
                    r#"{"Records":["#,
                    r#"{"x":[1,{"Records":2}],"Records":["#,
                    r#"{"Rec\u006frds":["#,
                    r#"{"Records":[], "Records":["#,
                    r#" {"Records" : [ "#,
                    r#"["#,
                ][..],
            ),
            proptest::collection::vec(record, 0..5),
            proptest::sample::select(&["]}", "]}", "]}", "]", "], \"y\":null}", "]} ", "],", ","][..]),
        )
            .prop_map(|(open, records, close)| format!("{open}{}{close}", records.join(",")));
        let line = prop_oneof![
            8 => batch,
            1 => proptest::sample::select(BATCH_RECORDS).prop_map(str::to_string),
            1 => Just(String::new()),
        ];
        proptest::collection::vec(line, 0..5).prop_map(|l| l.join("\n").into_bytes())
    }

    /// A first line cut after a record, read as JSON lines (see `json_stream`), whose record array
    /// still runs on over the later lines: the lines cited for the records of line 2 are the ones
    /// the two-walk parse cited.
    #[test]
    fn records_after_a_multi_line_first_value_cite_the_same_lines() {
        let rec = r#"{"eventTime":"2024-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}"#;
        let buf = format!("{{\"Records\":[{rec},\n{{\"Records\":[{rec}]}}\n,{rec}]}}\n");
        let mut fast = ParsedFile::default();
        CloudTrail.parse(buf.as_bytes(), FileId(0), &mut fast);
        let slow = reference_parse(buf.as_bytes(), FileId(0));
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        assert_eq!(fast.events.len(), 3);
    }

    /// Every batch record above, each alone in a batch: the ones the batch read takes yield what the
    /// per-record parse yields, and the others are left to it.
    #[test]
    fn batch_records_read_as_framed_records() {
        let mut batch_read = 0;
        for rec in BATCH_RECORDS {
            let buf = format!("{{\"Records\":[{rec}]}}\n");
            let mut fast = ParsedFile::default();
            let took = parse_batches(buf.as_bytes(), FileId(0), &mut fast);
            let slow = reference_parse(buf.as_bytes(), FileId(0));
            if took {
                batch_read += 1;
                assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{rec}");
            } else {
                assert_eq!(format!("{fast:?}"), format!("{:?}", ParsedFile::default()), "{rec}");
            }
            let mut all = ParsedFile::default();
            CloudTrail.parse(buf.as_bytes(), FileId(0), &mut all);
            assert_eq!(format!("{all:?}"), format!("{slow:?}"), "{rec}");
        }
        // The ordinary records, sub-objects and `null`s are read in one pass.
        assert_eq!(batch_read, 12);
    }

    /// A corrupt line whose record array runs on over the next lines: the general path cites the
    /// line it stopped on for a good batch among them, and so must this one.
    #[test]
    fn a_batch_inside_a_runaway_array_cites_what_the_general_path_cites() {
        let rec = BATCH_RECORDS[0];
        let buf = format!("{{\"Records\":[{rec}]}}\n{{\"Records\":[{rec},\n{{\"Records\":[{rec}]}}\n,{rec}]}}\n");
        let mut fast = ParsedFile::default();
        CloudTrail.parse(buf.as_bytes(), FileId(0), &mut fast);
        let slow = reference_parse(buf.as_bytes(), FileId(0));
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        let lines: Vec<u64> = fast.events.iter().map(|e| e.origin.line).collect();
        assert_eq!(lines, [1, 2, 4, 4], "line 3's record cites line 4, as it always did");
    }

    fn call_of(record: &str) -> CloudApiCall {
        let mut out = ParsedFile::default();
        CloudTrail.parse(record.as_bytes(), FileId(0), &mut out);
        match out.events.pop().map(|e| e.body) {
            Some(Body::CloudApiCall(call)) => *call,
            other => panic!("{record}: {other:?}"),
        }
    }

    /// The calls an incident's T2 facts follow name what they acted on; others do not pay for it.
    #[test]
    fn followed_calls_name_their_target() {
        let cases = [
            (
                BATCH_RECORDS[7],
                Some("s3://exports/2026/customers.csv"),
                Some(1_048_576),
            ),
            (BATCH_RECORDS[8], Some("i-786a3A8B5C0d92eF4"), None),
            (
                BATCH_RECORDS[9],
                Some("svc-reporting arn:aws:iam::aws:policy/AdministratorAccess"),
                None,
            ),
            (BATCH_RECORDS[6], Some("i-2,i-3"), None),
            (BATCH_RECORDS[0], None, None),
            (
                r#"{"eventTime":"2024-01-02T03:04:07Z","eventSource":"ssm.amazonaws.com","eventName":"SendCommand","requestParameters":{"targets":[{"key":"InstanceIds","values":["i-1","i-2"]}]}}"#,
                Some("i-1,i-2"),
                None,
            ),
            (
                r#"{"eventTime":"2024-01-02T03:04:07Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","requestParameters":{"bucketName":"b"},"additionalEventData":{"bytesTransferredOut":"12"}}"#,
                Some("s3://b"),
                Some(12),
            ),
        ];
        for (record, target, bytes) in cases {
            let call = call_of(record);
            assert_eq!(call.target.as_deref(), target, "{record}");
            assert_eq!(call.bytes_out, bytes, "{record}");
        }
        // Framed (a lone record) and batch reads agree.
        let batch = call_of(&format!("{{\"Records\":[{}]}}", BATCH_RECORDS[7]));
        assert_eq!(batch, call_of(BATCH_RECORDS[7]));
    }

    #[test]
    fn an_overlong_target_is_cut_on_a_character_boundary() {
        let ids: Vec<String> = (0..200).map(|i| format!("\"sécret-{i}\"")).collect();
        let record = format!(
            r#"{{"eventTime":"2024-01-02T03:04:07Z","eventSource":"secretsmanager.amazonaws.com","eventName":"BatchGetSecretValue","requestParameters":{{"secretIdList":[{}]}}}}"#,
            ids.join(",")
        );
        let target = call_of(&record).target.unwrap_or_default();
        assert!(
            target.len() <= TARGET_CAP + '…'.len_utf8() && target.ends_with('…'),
            "{target}"
        );
    }

    proptest::proptest! {
        #[test]
        fn batches_parse_as_the_two_walk_reference(buf in batches()) {
            let mut fast = ParsedFile::default();
            CloudTrail.parse(&buf, FileId(0), &mut fast);
            let slow = reference_parse(&buf, FileId(0));
            proptest::prop_assert_eq!(format!("{:?}", fast), format!("{:?}", slow));
        }

        #[test]
        fn parsing_matches_the_two_walk_reference(buf in pieces()) {
            let mut fast = ParsedFile::default();
            CloudTrail.parse(&buf, FileId(0), &mut fast);
            let slow = reference_parse(&buf, FileId(0));
            proptest::prop_assert_eq!(format!("{:?}", fast), format!("{:?}", slow));
        }
    }
}
