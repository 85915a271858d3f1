//! Amazon VPC Flow Logs, versions 2 to 5 (and the later fields' names, which are accepted and
//! ignored), as delivered to S3 or exported from CloudWatch Logs
//! (<https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html>).
//!
//! **VPC Flow Logs never record traffic to the link-local metadata addresses**: a request to
//! `169.254.169.254` (or `fd00:ec2::254`) is answered by the Nitro hypervisor under the instance
//! and never reaches the network interface the flow log watches (the AWS page lists traffic to
//! and from `169.254.169.254` among the traffic that is not logged). Flow logs therefore cannot
//! show metadata access, by an instance or by anyone. They serve two other purposes here: NAT
//! attribution (which instance behind a NAT gateway or load balancer a connection came from, with
//! v3+ `pkt-srcaddr`/`pkt-dstaddr`) and egress (where an instance sent data, how much, and
//! whether the security group or network ACL let it through).
//!
//! Each record is one line of space-separated fields, one direction of one flow on one network
//! interface in one aggregation interval. The field order is the header line S3 delivery always
//! writes first: the default (v2) format is
//! `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status`;
//! a custom format lists any of the v2-v5 fields (`vpc-id`, `subnet-id`, `instance-id`,
//! `tcp-flags`, `type`, `pkt-srcaddr`, `pkt-dstaddr`, `region`, `az-id`, `sublocation-type`,
//! `sublocation-id`, `pkt-src-aws-service`, `pkt-dst-aws-service`, `flow-direction`,
//! `traffic-path`, …) in any order. A header line later in the file (files concatenated) starts
//! a new order. CloudWatch Logs exports carry no header: lines are then read in the default
//! order, which sniffing only assumes when every line it sees has 14 fields, starts with `2 `
//! and ends with a log status.
//!
//! Mapping: `srcaddr`/`srcport` are the sending side (`client`), `dstaddr`/`dstport` the
//! receiving side (`server`) of this one direction; `bytes` → `bytes_to_server` (the reply is
//! another record, so `bytes_to_client` stays unknown), `packets`, `start` (epoch seconds) → the
//! event's time, `end` → `end`, `action` `REJECT` → `rejected`, `protocol` (IANA number) → `tcp`,
//! `udp`, `icmp` or the number, `account-id`, `interface-id` (also the observer), `instance-id`,
//! `pkt-srcaddr` → `packet_client`, `pkt-dstaddr` → `packet_server`. `-` is an absent value.
//!
//! `NODATA` (no traffic in the interval) and `SKIPDATA` (records skipped for capacity) records
//! carry no flow: they are counted as records and yield neither an event nor a diagnostic. A line
//! with the wrong number of fields, an unreadable address, number or time is a diagnostic.

use std::net::IpAddr;

use credtrail_event::{Body, Event, FileId, FlowSensor, NetFlow, Origin, Timestamp};

use super::web_access::{is_blank, lines};
use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};

pub struct VpcFlowLogs;

const NAME: &str = "vpc-flow-logs";

/// The default (version 2) format, the order of a line without a header.
const DEFAULT_FIELDS: [&str; 14] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// Every field name a flow log format may use (v2 to v5, and the later ECS and
/// reject-reason/resource fields so that a newer header is still recognised).
const KNOWN_FIELDS: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    // v3
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    // v4
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    // v5
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    // v7, v8 and later
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
];

/// How many lines sniffing looks at.
const SNIFF_LINES: usize = 16;

impl Format for VpcFlowLogs {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Amazon VPC Flow Logs v2-v5: fields read by the header line (default or custom format), headerless CloudWatch exports in the default order; NODATA/SKIPDATA counted; never shows metadata-service traffic"
    }

    fn explain(&self) -> &'static str {
        "Amazon VPC Flow Logs, versions 2 to 5, fields read by the header line.\n\n\
         VPC Flow Logs CANNOT show metadata access. Traffic to 169.254.169.254 (and fd00:ec2::254, \
         169.254.170.2, 169.254.170.23) is answered by the Nitro hypervisor under the instance and \
         never reaches the network interface a flow log watches; AWS lists it among the traffic \
         that is not logged (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-limitations.html). \
         No rule reads metadata access from them, and their absence proves nothing.\n\n\
         What they are for: NAT attribution (which instance behind a NAT gateway a connection came \
         from: v3+ pkt-srcaddr/pkt-dstaddr) and egress (where an instance sent data, how much, \
         accepted or rejected). For who read the metadata service, use host telemetry (auditd, \
         laurel, Sysmon for Linux, Falco, imds-packet-analyzer) or a network sensor on the \
         instance (Zeek, Suricata)."
    }

    fn sniff(&self, head: &[u8]) -> bool {
        let mut sample = lines(head).filter(|(_, l)| !is_blank(l)).peekable();
        let Some((_, first)) = sample.next() else {
            return false;
        };
        if let Some(columns) = header(first) {
            // A header names the addresses a flow needs.
            return columns.src.is_some() || columns.pkt_src.is_some();
        }
        // No header: CloudWatch Logs export in the default order. Every complete line seen must
        // be one; the last line may be cut by the sniffing window.
        let cut = !head.ends_with(b"\n");
        let mut seen = 0;
        for (_, line) in std::iter::once((0, first)).chain(sample).take(SNIFF_LINES) {
            let is_last = cut && line.as_ptr_range().end == head.as_ptr_range().end;
            if !looks_default(line) {
                if is_last && seen > 0 {
                    break;
                }
                return false;
            }
            seen += 1;
        }
        seen > 0
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        let mut columns = Columns::new(&DEFAULT_FIELDS);
        let mut index = 0u64;
        for (line, raw) in lines(buf) {
            if is_blank(raw) {
                continue;
            }
            if let Some(next) = header(raw) {
                columns = next;
                continue;
            }
            index += 1;
            out.records += 1;
            match record(&columns, raw) {
                Ok(Some((time, flow))) => out.events.push(Event {
                    time,
                    origin: Origin { file, line, index },
                    body: Body::NetFlow(Box::new(flow)),
                }),
                Ok(None) => {}
                Err((reason, detail)) => {
                    out.diagnose((file, line, Some(index)), NAME, reason, detail, Some(excerpt(raw)))
                }
            }
        }
    }
}

type Failure = (Reason, String);

fn malformed(detail: impl Into<String>) -> Failure {
    (Reason::MissingField, detail.into())
}

fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ').filter(|f| !f.is_empty())
}

/// A header line: every token a flow log field name.
fn header(line: &[u8]) -> Option<Columns> {
    if !line.first().is_some_and(u8::is_ascii_lowercase) {
        return None;
    }
    let mut names = Vec::new();
    for name in fields(line) {
        let name = std::str::from_utf8(name).ok()?;
        if !KNOWN_FIELDS.contains(&name) {
            return None;
        }
        names.push(name);
    }
    (names.len() >= 2).then(|| Columns::new(&names))
}

/// A line of the default format as CloudWatch Logs exports it: `2 <account> eni-… … <status>`.
fn looks_default(line: &[u8]) -> bool {
    if !line.starts_with(b"2 ") {
        return false;
    }
    let f: Vec<&[u8]> = fields(line).collect();
    f.len() == 14
        && (f[1].iter().all(u8::is_ascii_digit) || f[1] == b"unknown" || f[1] == b"-")
        && (f[2].starts_with(b"eni-") || f[2] == b"-")
        && f[10].iter().all(u8::is_ascii_digit)
        && f[11].iter().all(u8::is_ascii_digit)
        && matches!(f[13], b"OK" | b"NODATA" | b"SKIPDATA")
}

/// Where each field sits in the current order.
#[derive(Debug)]
struct Columns {
    count: usize,
    account: Option<usize>,
    interface: Option<usize>,
    src: Option<usize>,
    dst: Option<usize>,
    src_port: Option<usize>,
    dst_port: Option<usize>,
    protocol: Option<usize>,
    packets: Option<usize>,
    bytes: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    action: Option<usize>,
    log_status: Option<usize>,
    instance: Option<usize>,
    pkt_src: Option<usize>,
    pkt_dst: Option<usize>,
}

impl Columns {
    fn new(names: &[&str]) -> Self {
        let at = |name: &str| names.iter().position(|n| *n == name);
        Columns {
            count: names.len(),
            account: at("account-id"),
            interface: at("interface-id"),
            src: at("srcaddr"),
            dst: at("dstaddr"),
            src_port: at("srcport"),
            dst_port: at("dstport"),
            protocol: at("protocol"),
            packets: at("packets"),
            bytes: at("bytes"),
            start: at("start"),
            end: at("end"),
            action: at("action"),
            log_status: at("log-status"),
            instance: at("instance-id"),
            pkt_src: at("pkt-srcaddr"),
            pkt_dst: at("pkt-dstaddr"),
        }
    }
}

fn record(columns: &Columns, raw: &[u8]) -> Result<Option<(Timestamp, NetFlow)>, Failure> {
    let Ok(line) = std::str::from_utf8(raw) else {
        return Err((
            Reason::InvalidUtf8,
            "line holds bytes that are not UTF-8; flow log records are ASCII, so the file is damaged".to_string(),
        ));
    };
    let values: Vec<&str> = line.split(' ').filter(|f| !f.is_empty()).collect();
    if values.len() != columns.count {
        return Err(malformed(format!(
            "{} fields where the format has {}",
            values.len(),
            columns.count
        )));
    }
    let get = |at: Option<usize>| at.map(|i| values[i]).filter(|v| *v != "-");
    match get(columns.log_status) {
        Some("NODATA" | "SKIPDATA") => return Ok(None),
        Some("OK") | None => {}
        Some(other) => return Err(malformed(format!("log-status {other:?} is not OK, NODATA or SKIPDATA"))),
    }
    let epoch = |at: Option<usize>, field: &str| -> Result<Option<Timestamp>, Failure> {
        get(at)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|s| (0..=99_999_999_999).contains(s))
                    .map(|s| Timestamp::from_millis(s * 1000))
                    .ok_or_else(|| (Reason::BadTimestamp, format!("{field} {v:?} is not epoch seconds")))
            })
            .transpose()
    };
    let start = epoch(columns.start, "start")?;
    let end = epoch(columns.end, "end")?;
    let Some(time) = start.or(end) else {
        return Err(malformed("record has neither start nor end"));
    };
    let addr = |at: Option<usize>, field: &str| -> Result<Option<IpAddr>, Failure> {
        get(at)
            .map(|v| {
                v.parse()
                    .map_err(|_| malformed(format!("{field} {v:?} is not an IP address")))
            })
            .transpose()
    };
    let packet_client = addr(columns.pkt_src, "pkt-srcaddr")?;
    let packet_server = addr(columns.pkt_dst, "pkt-dstaddr")?;
    let client = addr(columns.src, "srcaddr")?
        .or(packet_client)
        .ok_or_else(|| malformed("record has no srcaddr"))?;
    let server = addr(columns.dst, "dstaddr")?
        .or(packet_server)
        .ok_or_else(|| malformed("record has no dstaddr"))?;
    let client_port = number::<u16>(get(columns.src_port), "srcport")?;
    let server_port = number::<u16>(get(columns.dst_port), "dstport")?;
    let protocol = number::<u8>(get(columns.protocol), "protocol")?.map(|p| match p {
        1 => "icmp".to_string(),
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        n => n.to_string(),
    });
    let rejected = match get(columns.action) {
        Some("REJECT") => true,
        Some("ACCEPT") | None => false,
        Some(other) => return Err(malformed(format!("action {other:?} is not ACCEPT or REJECT"))),
    };
    let interface = get(columns.interface).map(str::to_string);
    Ok(Some((
        time,
        NetFlow {
            sensor: FlowSensor::VpcFlowLogs,
            observer: interface.clone(),
            client,
            client_port,
            server,
            server_port,
            protocol,
            bytes_to_server: number(get(columns.bytes), "bytes")?,
            bytes_to_client: None,
            packets: number(get(columns.packets), "packets")?,
            state: None,
            rejected,
            end,
            account: get(columns.account).map(str::to_string),
            interface,
            instance: get(columns.instance).map(str::to_string),
            packet_client,
            packet_server,
        },
    )))
}

fn number<T: std::str::FromStr>(value: Option<&str>, field: &str) -> Result<Option<T>, Failure> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| malformed(format!("{field} {v:?} is not a number in range")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let h = header(DEFAULT_FIELDS.join(" ").as_bytes()).unwrap();
        assert_eq!((h.count, h.src, h.log_status), (14, Some(3), Some(13)));
        assert!(header(b"version srcaddr nonsense").is_none());
        assert!(header(b"2 123456789012 eni-1 - - - - - - - 1 2 - NODATA").is_none());
        assert!(header(b"version").is_none());
    }

    #[test]
    fn default_lines() {
        assert!(looks_default(
            b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
        ));
        assert!(looks_default(
            b"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
        ));
        assert!(!looks_default(b"2 a b c d e f g h i j k l m"));
        assert!(!looks_default(
            b"3 123456789010 eni-1 1.2.3.4 1.2.3.5 1 2 6 1 1 1 2 ACCEPT OK"
        ));
    }
}
