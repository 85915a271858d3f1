//! AWS inventory as the CLI prints it: `aws ec2 describe-instances`, `describe-nat-gateways`,
//! `describe-route-tables` and `describe-vpc-endpoints` (JSON output). These tell detectors which
//! addresses are an instance's own, so that "used from somewhere else" rests on facts.

use std::net::IpAddr;

use credtrail_event::{Fact, FileId};
use serde_json::Value;

use super::{Format, ParsedFile};
use crate::diagnostic::{excerpt, Reason};
use crate::json_stream::{first_key_is, top_level_values};

pub struct AwsInventory;

const NAME: &str = "aws-inventory";
const TOP_KEYS: &[&str] = &["Reservations", "NatGateways", "RouteTables", "VpcEndpoints"];

impl Format for AwsInventory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "AWS inventory JSON from `aws ec2 describe-instances | describe-nat-gateways | describe-route-tables | describe-vpc-endpoints`"
    }

    fn sniff(&self, head: &[u8]) -> bool {
        first_key_is(head, TOP_KEYS)
    }

    fn parse(&self, buf: &[u8], file: FileId, out: &mut ParsedFile) {
        for (n, top) in top_level_values(buf).into_iter().enumerate() {
            let index = n as u64 + 1;
            out.records += 1;
            let span = match top {
                Ok(span) => span,
                Err(cut) => {
                    out.diagnose(
                        (file, cut.line, Some(index)),
                        NAME,
                        Reason::InvalidJson,
                        "inventory document does not end (truncated?)",
                        Some(excerpt(&buf[cut.start..])),
                    );
                    continue;
                }
            };
            let doc: Value = match serde_json::from_slice(&buf[span.start..span.end]) {
                Ok(doc) => doc,
                Err(e) => {
                    let reason = if std::str::from_utf8(&buf[span.start..span.end]).is_err() {
                        Reason::InvalidUtf8
                    } else {
                        Reason::InvalidJson
                    };
                    out.diagnose(
                        (file, span.line, Some(index)),
                        NAME,
                        reason,
                        format!("invalid JSON: {e}"),
                        Some(excerpt(&buf[span.start..span.end])),
                    );
                    continue;
                }
            };
            let before = out.facts.len();
            facts_of(&doc, &mut out.facts);
            if out.facts.len() == before && !TOP_KEYS.iter().any(|k| doc.get(k).is_some_and(Value::is_array)) {
                out.diagnose(
                    (file, span.line, Some(index)),
                    NAME,
                    Reason::MissingField,
                    "no Reservations, NatGateways, RouteTables or VpcEndpoints array",
                    None,
                );
            }
        }
    }
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn ip(v: &Value, key: &str) -> Option<IpAddr> {
    v.get(key).and_then(Value::as_str).and_then(|s| s.parse().ok())
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn facts_of(doc: &Value, out: &mut Vec<Fact>) {
    for reservation in array(doc, "Reservations") {
        let account = s(reservation, "OwnerId");
        for inst in array(reservation, "Instances") {
            let Some(id) = s(inst, "InstanceId") else { continue };
            let mut private_ips: Vec<IpAddr> = ip(inst, "PrivateIpAddress").into_iter().collect();
            let mut public_ips: Vec<IpAddr> = ip(inst, "PublicIpAddress").into_iter().collect();
            for eni in array(inst, "NetworkInterfaces") {
                for addr in array(eni, "PrivateIpAddresses") {
                    private_ips.extend(ip(addr, "PrivateIpAddress"));
                    if let Some(assoc) = addr.get("Association") {
                        public_ips.extend(ip(assoc, "PublicIp"));
                    }
                }
                for v6 in array(eni, "Ipv6Addresses") {
                    public_ips.extend(ip(v6, "Ipv6Address"));
                }
            }
            private_ips.sort();
            private_ips.dedup();
            public_ips.sort();
            public_ips.dedup();
            let md = inst.get("MetadataOptions");
            out.push(Fact::Instance {
                id,
                account: account.clone(),
                vpc: s(inst, "VpcId"),
                subnet: s(inst, "SubnetId"),
                private_ips,
                public_ips,
                http_tokens: md.and_then(|m| s(m, "HttpTokens")),
                hop_limit: md
                    .and_then(|m| m.get("HttpPutResponseHopLimit"))
                    .and_then(Value::as_i64),
            });
        }
    }
    for nat in array(doc, "NatGateways") {
        let Some(id) = s(nat, "NatGatewayId") else { continue };
        out.push(Fact::NatGateway {
            id,
            vpc: s(nat, "VpcId"),
            subnet: s(nat, "SubnetId"),
            public_ips: array(nat, "NatGatewayAddresses")
                .filter_map(|a| ip(a, "PublicIp"))
                .collect(),
        });
    }
    for table in array(doc, "RouteTables") {
        let Some(id) = s(table, "RouteTableId") else { continue };
        let associations: Vec<&Value> = array(table, "Associations").collect();
        out.push(Fact::RouteTable {
            id,
            vpc: s(table, "VpcId"),
            subnets: associations.iter().filter_map(|a| s(a, "SubnetId")).collect(),
            main: associations
                .iter()
                .any(|a| a.get("Main").and_then(Value::as_bool) == Some(true)),
            nat_gateways: array(table, "Routes").filter_map(|r| s(r, "NatGatewayId")).collect(),
        });
    }
    for endpoint in array(doc, "VpcEndpoints") {
        let Some(id) = s(endpoint, "VpcEndpointId") else {
            continue;
        };
        out.push(Fact::VpcEndpoint {
            id,
            vpc: s(endpoint, "VpcId"),
            owner_account: s(endpoint, "OwnerId"),
            service: s(endpoint, "ServiceName"),
        });
    }
}
