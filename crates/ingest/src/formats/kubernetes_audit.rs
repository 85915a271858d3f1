//! Kubernetes API server audit events (`apiVersion: audit.k8s.io/v1`, `kind: Event`), as the
//! API server and EKS write them:
//!
//! - JSON lines, one event per line (the log backend, `--audit-log-path`);
//! - `{"kind":"EventList","items":[…]}` (the webhook backend's batches), and bare JSON arrays of
//!   events (`jq -s`);
//! - EKS control-plane logs in CloudWatch Logs (log group `/aws/eks/<cluster>/cluster`, streams
//!   `kube-apiserver-audit-…`; <https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html>).
//!   Each CloudWatch log event's message is one audit event, unchanged. As exported they arrive
//!   as: lines of `<RFC 3339 time> <event>` (an S3 export task's objects); lines or objects with
//!   the event as a JSON string in `message` (`aws logs get-log-events` / `filter-log-events`
//!   output, `{"events":[{"timestamp":…,"message":"{…}"}]}`, and per-event exports); and
//!   CloudWatch Logs subscription envelopes (`{"messageType":"DATA_MESSAGE","logEvents":[…]}`,
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html>), each
//!   `logEvents[].message` an event. An envelope of another stream of the cluster's log group
//!   (`kube-apiserver-…`, `authenticator-…`: text, not audit events) is counted and yields
//!   nothing. Subscription control messages hold no events.
//!
//! Field meanings follow the audit API reference
//! (<https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/>) and the auditing
//! concepts page (<https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/>).
//!
//! Only `pods/exec` and `pods/attach` requests become events: a [`ProcessStart`] of the command
//! run in the container. Every request is logged once per stage (`RequestReceived`,
//! `ResponseStarted` for long-running requests such as exec, `ResponseComplete`, `Panic`), all
//! stages sharing the request's `auditID`; the event is taken from the request's earliest
//! `ResponseStarted`/`ResponseComplete` record in the file (`RequestReceived` precedes
//! authorisation: it does not mean the command ran). A request the API server refused
//! (`responseStatus.code` >= 400: RBAC denied the exec, the pod is gone) ran nothing: it yields
//! no event, and is valid data, not a diagnostic. Every other audit event is read and counted.
//!
//! Mapping (`requestURI` is
//! `/api/v1/namespaces/<ns>/pods/<pod>/exec?command=curl&command=-s&container=app&tty=true…`,
//! query values form-encoded by kubectl's `url.Values.Encode`):
//!
//! - `command_line`: the decoded `command` values joined by spaces; `argv0` the first one (attach
//!   runs no new command: none);
//! - `container`: `<ns>/<pod>/<container>`, or `<ns>/<pod>` without a `container` parameter (the
//!   pod's default container);
//! - `user_name`: `user.username`, and `"alice (as bob)"` when the request impersonated
//!   `impersonatedUser.username`;
//! - `tty`: `kubectl exec -t` when `tty` is true;
//! - time: `requestReceivedTimestamp`, else `stageTimestamp`;
//! - `host`: none (the audit record does not name the node the pod runs on).
//!
//! `sourceIPs` and `userAgent` have no field in the process model and are not read.
//!
//! Positions: `line` is the line the record (or the envelope holding it) starts on, `index` the
//! record's ordinal in the file.

use std::collections::HashMap;

use credtrail_event::{Body, Event, FileId, HostSensor, Origin, Process, ProcessStart, Timestamp};
use serde::Deserialize;

use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};
use crate::json_stream::{
    array_elements, find_top_level_array, find_top_level_value, skip_ws, top_level_values, LineCounter, Span,
};

pub struct KubernetesAudit;

const NAME: &str = "kubernetes-audit";

impl Format for KubernetesAudit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Kubernetes API server audit events (audit.k8s.io/v1): JSON lines, EventList, EKS control-plane logs from CloudWatch Logs; pods/exec and pods/attach as process starts"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let start = skip_ws(head, 0);
        let opens = match head.get(start) {
            Some(b'{') | Some(b'[') => true,
            // `2024-01-15T10:05:00.123Z {…}`: an S3 export task's line.
            Some(b'0'..=b'9') => {
                let line_end = memchr::memchr(b'\n', &head[start..]).map_or(head.len(), |k| start + k);
                export_line(&head[start..line_end]).is_some()
            }
            _ => false,
        };
        let has = |m: &[u8]| memchr::memmem::find(head, m).is_some();
        // Both appear in every event, plain or as an escaped JSON string inside a wrapper.
        opens && has(b"audit.k8s.io/") && has(b"auditID")
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut cx = Cx {
            buf,
            file,
            index: 0,
            lines: LineCounter::new(buf),
            requests: HashMap::new(),
            chosen: Vec::new(),
        };
        for top in top_level_values(buf) {
            match top {
                Err(cut) => {
                    // A truncated array or EventList still yields the events before the cut.
                    let span = cut.through_end(buf);
                    let list = buf[cut.start] == b'[' || (buf[cut.start] == b'{' && is_event_list(buf, span));
                    if list && (buf[cut.start] == b'[' || find_top_level_array(buf, span, b"items").is_some()) {
                        cx.top(span, out);
                        continue;
                    }
                    cx.index += 1;
                    out.records += 1;
                    out.diagnose(
                        (file, cut.line, Some(cx.index)),
                        NAME,
                        Reason::InvalidJson,
                        "JSON value does not end (truncated file or unbalanced brackets)",
                        Some(excerpt(&buf[cut.start..])),
                    );
                }
                Ok(span) => cx.top(span, out),
            }
        }
        let mut events: Vec<Event> = cx.chosen.into_iter().filter_map(|c| c.event).collect();
        events.sort_by_key(|e| e.origin.index);
        out.events.extend(events);
        out.diagnostics.sort_by_key(|d| d.index);
    }
}

struct Cx<'a> {
    buf: &'a [u8],
    file: FileId,
    index: u64,
    lines: LineCounter<'a>,
    /// `auditID` → its entry in `chosen`.
    requests: HashMap<String, usize>,
    /// One entry per exec or attach request: the earliest stage's record, and its event (none for
    /// a refused request).
    chosen: Vec<Chosen>,
}

struct Chosen {
    rank: u8,
    event: Option<Event>,
}

type Failure = (Reason, String);

impl Cx<'_> {
    fn cut(&mut self, line: u64, start: usize, what: &str, out: &mut ParsedFile) {
        self.index += 1;
        out.records += 1;
        out.diagnose(
            (self.file, line, Some(self.index)),
            NAME,
            Reason::InvalidJson,
            format!("{what} is cut off (truncated file or unbalanced brackets); the records before it were read"),
            Some(excerpt(&self.buf[start..])),
        );
    }

    /// One framed top-level value: an array of events, an `EventList`, an event or a wrapper, or
    /// an S3 export line.
    fn top(&mut self, span: Span, out: &mut ParsedFile) {
        let buf = self.buf;
        match buf[span.start] {
            b'[' => {
                for element in array_elements(buf, span.start, &mut self.lines) {
                    match element {
                        Ok(el) => self.value(&buf[el.start..el.end], el.line, out),
                        Err(cut) => self.cut(cut.line, cut.start, "event", out),
                    }
                }
            }
            b'{' if is_event_list(buf, span) => match find_top_level_array(buf, span, b"items") {
                Some(open) => {
                    for element in array_elements(buf, open, &mut self.lines) {
                        match element {
                            Ok(el) => self.value(&buf[el.start..el.end], el.line, out),
                            Err(cut) => self.cut(cut.line, cut.start, "EventList item", out),
                        }
                    }
                }
                None => {
                    self.index += 1;
                    out.records += 1;
                    out.diagnose(
                        (self.file, span.line, Some(self.index)),
                        NAME,
                        Reason::MissingField,
                        "EventList without an items array",
                        Some(excerpt(&buf[span.start..span.end])),
                    );
                }
            },
            b'{' => self.value(&buf[span.start..span.end], span.line, out),
            _ => match export_line(&buf[span.start..span.end]) {
                Some(rest) => self.value(rest, span.line, out),
                None => {
                    self.index += 1;
                    out.records += 1;
                    let bytes = &buf[span.start..span.end];
                    let (reason, detail) = match std::str::from_utf8(bytes) {
                        Err(_) => (Reason::InvalidUtf8, "line holds bytes that are not UTF-8"),
                        Ok(_) => (
                            Reason::InvalidJson,
                            "not JSON, nor a CloudWatch Logs export line (`<time> {…}`)",
                        ),
                    };
                    out.diagnose(
                        (self.file, span.line, Some(self.index)),
                        NAME,
                        reason,
                        detail,
                        Some(excerpt(bytes)),
                    );
                }
            },
        }
    }

    /// One JSON object: an event, or a CloudWatch wrapper of events.
    fn value(&mut self, bytes: &[u8], line: u64, out: &mut ParsedFile) {
        let raw = match sonic_rs::from_slice::<RawRecord>(bytes) {
            Ok(raw) => raw,
            Err(e) => {
                self.index += 1;
                out.records += 1;
                let (reason, detail) = json_failure(bytes, &e);
                out.diagnose(
                    (self.file, line, Some(self.index)),
                    NAME,
                    reason,
                    detail,
                    Some(excerpt(bytes)),
                );
                return;
            }
        };
        if raw.audit_id.is_none() && raw.kind.is_none() && raw.stage.is_none() {
            if raw.message_type.is_some() || raw.log_events.is_some() || raw.events.is_some() {
                self.envelope(raw, bytes, line, out);
                return;
            }
            if let Some(message) = raw.message {
                self.index += 1;
                out.records += 1;
                self.message(&message, line, out, "message");
                return;
            }
        }
        self.index += 1;
        out.records += 1;
        let origin = Origin {
            file: self.file,
            line,
            index: self.index,
        };
        if let Err((reason, detail)) = self.event(raw, origin) {
            out.diagnose(
                (self.file, line, Some(self.index)),
                NAME,
                reason,
                detail,
                Some(excerpt(bytes)),
            );
        }
    }

    /// A CloudWatch Logs subscription envelope or `aws logs` output: each message one record.
    fn envelope(&mut self, raw: RawRecord, bytes: &[u8], line: u64, out: &mut ParsedFile) {
        if raw.message_type.as_deref() == Some("CONTROL_MESSAGE") {
            return;
        }
        // Another stream of the cluster's log group: text logs, not audit events.
        let other_stream = raw
            .log_stream
            .as_deref()
            .is_some_and(|s| !s.starts_with("kube-apiserver-audit"));
        let Some(events) = raw.log_events.or(raw.events) else {
            self.index += 1;
            out.records += 1;
            out.diagnose(
                (self.file, line, Some(self.index)),
                NAME,
                Reason::MissingField,
                "CloudWatch Logs envelope without logEvents",
                Some(excerpt(bytes)),
            );
            return;
        };
        for event in events {
            self.index += 1;
            out.records += 1;
            if other_stream {
                continue;
            }
            match event.message {
                Some(message) => self.message(&message, line, out, "CloudWatch Logs event"),
                None => out.diagnose(
                    (self.file, line, Some(self.index)),
                    NAME,
                    Reason::MissingField,
                    "CloudWatch Logs event without a message",
                    Some(excerpt(bytes)),
                ),
            }
        }
    }

    /// A CloudWatch message: one audit event as JSON text. The record is already counted.
    fn message(&mut self, message: &str, line: u64, out: &mut ParsedFile, what: &str) {
        let origin = Origin {
            file: self.file,
            line,
            index: self.index,
        };
        let parsed = sonic_rs::from_slice::<RawRecord>(message.as_bytes())
            .map_err(|e| json_failure(message.as_bytes(), &e))
            .and_then(|inner| self.event(inner, origin));
        if let Err((reason, detail)) = parsed {
            out.diagnose(
                (self.file, line, Some(self.index)),
                NAME,
                reason,
                format!("{what}: {detail}"),
                Some(excerpt(message.as_bytes())),
            );
        }
    }

    /// An audit event: read, and kept when it is the earliest answered stage of an exec.
    fn event(&mut self, raw: RawRecord, origin: Origin) -> Result<(), Failure> {
        match raw.kind.as_deref() {
            None | Some("Event") => {}
            Some(other) => return Err((Reason::MissingField, format!("kind {other:?} is not an audit Event"))),
        }
        if raw.audit_id.is_none() && raw.stage.is_none() && raw.request_uri.is_none() {
            return Err((
                Reason::MissingField,
                "not an audit event: no auditID, stage or requestURI".into(),
            ));
        }
        let rank = match raw.stage.as_deref() {
            Some("ResponseStarted") => 0,
            Some("ResponseComplete") => 1,
            _ => return Ok(()),
        };
        let uri = raw.request_uri.as_deref().unwrap_or_default();
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let target = pod_subresource(path);
        let by_ref = raw.object_ref.as_ref().is_some_and(|o| {
            o.resource.as_deref() == Some("pods") && matches!(o.subresource.as_deref(), Some("exec" | "attach"))
        });
        let Some((namespace, pod, subresource)) = target else {
            if by_ref {
                return Err((
                    Reason::MissingField,
                    format!("pods/exec or pods/attach request whose requestURI {uri:?} is not /api/v1/namespaces/<ns>/pods/<pod>/<exec|attach>"),
                ));
            }
            return Ok(());
        };
        // Decided before the time is read: a later stage of a request already taken is not read.
        let slot = match raw.audit_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => match self.requests.get(id) {
                Some(&at) if self.chosen[at].rank <= rank => return Ok(()),
                Some(&at) => Some(at),
                None => None,
            },
            None => None,
        };
        let time = event_time(&raw)?;
        let refused = raw
            .response_status
            .as_ref()
            .and_then(|s| s.code)
            .is_some_and(|c| c >= 400);
        let event = (!refused).then(|| {
            let mut process = Process::default();
            let mut commands = Vec::new();
            let mut container = None;
            let mut tty = false;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                match form_decode(key).as_str() {
                    "command" => commands.push(form_decode(value)),
                    "container" => container = Some(form_decode(value)).filter(|c| !c.is_empty()),
                    // Go's strconv.ParseBool, which the API server decodes the option with.
                    "tty" => tty = matches!(form_decode(value).as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"),
                    _ => {}
                }
            }
            if subresource == "exec" && !commands.is_empty() {
                process.argv0 = Some(commands[0].clone());
                process.command_line = Some(commands.join(" "));
            }
            process.container = Some(match container {
                Some(c) => format!("{namespace}/{pod}/{c}"),
                None => format!("{namespace}/{pod}"),
            });
            let user = raw.user.and_then(|u| u.username).filter(|u| !u.is_empty());
            let as_user = raw.impersonated_user.and_then(|u| u.username).filter(|u| !u.is_empty());
            process.user_name = match (user, as_user) {
                (Some(u), Some(a)) => Some(format!("{u} (as {a})")),
                (u, None) => u,
                (None, Some(a)) => Some(format!("(as {a})")),
            };
            process.tty = tty.then(|| "kubectl exec -t".to_string());
            Event {
                time,
                origin,
                body: Body::ProcessStart(Box::new(ProcessStart {
                    sensor: HostSensor::KubernetesAudit,
                    host: None,
                    process,
                })),
            }
        });
        let chosen = Chosen { rank, event };
        match slot {
            Some(at) => self.chosen[at] = chosen,
            None => {
                if let Some(id) = raw.audit_id.filter(|id| !id.is_empty()) {
                    self.requests.insert(id, self.chosen.len());
                }
                self.chosen.push(chosen);
            }
        }
        Ok(())
    }
}

/// Whether the object at `span` is an `EventList` (its top-level `kind`).
fn is_event_list(buf: &[u8], span: Span) -> bool {
    find_top_level_value(buf, span, b"kind").is_some_and(|v| &buf[v.start..v.end] == b"\"EventList\"")
}

/// The event of an S3 export line `<RFC 3339 time> <event>`, when the line is one.
fn export_line(line: &[u8]) -> Option<&[u8]> {
    let space = memchr::memchr(b' ', line)?;
    let time = std::str::from_utf8(&line[..space]).ok()?;
    if !time.contains('T') || Timestamp::parse_rfc3339(time).is_none() {
        return None;
    }
    let rest = &line[skip_ws(line, space)..];
    rest.starts_with(b"{").then_some(rest)
}

/// `(namespace, pod, "exec" | "attach")` of `/api/v1/namespaces/<ns>/pods/<pod>/<sub>`.
fn pod_subresource(path: &str) -> Option<(String, String, &'static str)> {
    let mut parts = path.trim_end_matches('/').split('/');
    let fixed = [parts.next()?, parts.next()?, parts.next()?, parts.next()?];
    if fixed != ["", "api", "v1", "namespaces"] {
        return None;
    }
    let namespace = parts.next().filter(|s| !s.is_empty())?;
    if parts.next()? != "pods" {
        return None;
    }
    let pod = parts.next().filter(|s| !s.is_empty())?;
    let sub = match parts.next()? {
        "exec" => "exec",
        "attach" => "attach",
        _ => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((form_decode(namespace), form_decode(pod), sub))
}

/// Decodes a form-encoded query component (`+` is a space, `%XX` a byte); an invalid escape is
/// kept as written, bytes that are not UTF-8 are replaced.
fn form_decode(text: &str) -> String {
    if !text.contains(['%', '+']) {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(|&b| hex(b)),
                    bytes.get(i + 2).and_then(|&b| hex(b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn event_time(raw: &RawRecord) -> Result<Timestamp, Failure> {
    let text = raw
        .request_received_timestamp
        .as_deref()
        .or(raw.stage_timestamp.as_deref())
        .ok_or((
            Reason::MissingField,
            "exec request without requestReceivedTimestamp or stageTimestamp".to_string(),
        ))?;
    Timestamp::parse_rfc3339(text).ok_or((Reason::BadTimestamp, format!("cannot read timestamp {text:?}")))
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
        (Reason::MissingField, format!("not an audit event: {first_line}"))
    }
}

/// The fields read; `requestObject`, `responseObject` and the rest are skipped.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawRecord {
    kind: Option<String>,
    #[serde(rename = "auditID")]
    audit_id: Option<String>,
    stage: Option<String>,
    #[serde(rename = "requestURI")]
    request_uri: Option<String>,
    user: Option<RawUser>,
    impersonated_user: Option<RawUser>,
    object_ref: Option<RawObjectRef>,
    response_status: Option<RawStatus>,
    request_received_timestamp: Option<String>,
    stage_timestamp: Option<String>,
    /// CloudWatch wrappers.
    message: Option<String>,
    message_type: Option<String>,
    log_stream: Option<String>,
    log_events: Option<Vec<RawLogEvent>>,
    events: Option<Vec<RawLogEvent>>,
}

#[derive(Deserialize)]
struct RawLogEvent {
    message: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawUser {
    username: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawObjectRef {
    resource: Option<String>,
    subresource: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawStatus {
    code: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_follows_go_url_values() {
        assert_eq!(
            form_decode("http%3A%2F%2F169.254.169.254%2Flatest%2F"),
            "http://169.254.169.254/latest/"
        );
        assert_eq!(form_decode("a+b%20c"), "a b c");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        assert_eq!(form_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn only_pod_exec_and_attach_paths_are_targets() {
        assert_eq!(
            pod_subresource("/api/v1/namespaces/prod/pods/web-1/exec"),
            Some(("prod".into(), "web-1".into(), "exec"))
        );
        assert_eq!(
            pod_subresource("/api/v1/namespaces/prod/pods/web-1/attach/"),
            Some(("prod".into(), "web-1".into(), "attach"))
        );
        for path in [
            "/api/v1/namespaces/prod/pods/web-1/log",
            "/api/v1/namespaces/prod/pods/web-1",
            "/api/v1/namespaces/prod/pods/web-1/exec/x",
            "/api/v1/namespaces//pods/web-1/exec",
            "/apis/v1/namespaces/prod/pods/web-1/exec",
            "",
        ] {
            assert_eq!(pod_subresource(path), None, "{path}");
        }
    }

    #[test]
    fn export_lines_need_a_time_and_an_object() {
        assert!(export_line(b"2024-01-15T10:05:00.123Z {\"a\":1}").is_some());
        assert!(export_line(b"2024-01-15 {\"a\":1}").is_none());
        assert!(export_line(b"2024-01-15T10:05:00.123Z hello").is_none());
        assert!(export_line(b"1234").is_none());
    }
}
