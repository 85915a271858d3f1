//! Loading published cloud address ranges: the bundled snapshot, or files given with
//! `--ip-ranges`. Each provider's file is recognised by its content.

use std::path::Path;

use credtrail_event::{CloudRanges, Provider};
use serde_json::Value;

const BUNDLED: &[(&str, &[u8])] = &[
    (
        "aws-ip-ranges.json",
        include_bytes!("../../../data/ip-ranges/aws-ip-ranges.json"),
    ),
    (
        "gcp-cloud-ip-ranges.json",
        include_bytes!("../../../data/ip-ranges/gcp-cloud-ip-ranges.json"),
    ),
    (
        "azure-service-tags.json",
        include_bytes!("../../../data/ip-ranges/azure-service-tags.json"),
    ),
    (
        "oracle-cloud-ip-ranges.json",
        include_bytes!("../../../data/ip-ranges/oracle-cloud-ip-ranges.json"),
    ),
    (
        "digitalocean.csv",
        include_bytes!("../../../data/ip-ranges/digitalocean.csv"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RangesError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not a known cloud IP range file (AWS ip-ranges.json, GCP cloud.json, Azure service tags, Oracle public_ip_ranges.json, DigitalOcean CSV)")]
    Unknown { path: String },
}

/// The snapshot bundled in the binary (see `data/ip-ranges/PROVENANCE.md`).
///
/// Loaded on every run, so the JSON files are read into borrowed typed records
/// ([`add_bundled_json`]) rather than a `serde_json::Value` tree: building and freeing that tree
/// was most of the start-up time. The result is the same as [`add_file`]'s (a test checks it).
pub fn bundled() -> CloudRanges {
    let mut ranges = CloudRanges::default();
    for (name, bytes) in BUNDLED {
        // The bundled files are ours and tested; a failure here is a build defect, reported as
        // an empty provider rather than a crash.
        if name.ends_with(".csv") || !add_bundled_json(&mut ranges, bytes) {
            let _ = add_file(&mut ranges, name, bytes);
        }
    }
    ranges
}

/// The bundled JSON files' shapes, borrowed from the bytes. Only what [`add_file`] reads.
#[derive(serde::Deserialize)]
struct Published<'a> {
    #[serde(borrow, rename = "createDate")]
    create_date: Option<&'a str>,
    #[serde(borrow, rename = "creationTime")]
    creation_time: Option<&'a str>,
    #[serde(borrow)]
    prefixes: Option<Vec<Prefix<'a>>>,
    #[serde(borrow)]
    ipv6_prefixes: Option<Vec<Prefix<'a>>>,
    #[serde(rename = "changeNumber")]
    change_number: Option<u64>,
    #[serde(borrow)]
    values: Option<Vec<ServiceTag<'a>>>,
    #[serde(borrow)]
    last_updated_timestamp: Option<&'a str>,
    #[serde(borrow)]
    regions: Option<Vec<OracleRegion<'a>>>,
}

#[derive(serde::Deserialize)]
struct Prefix<'a> {
    #[serde(borrow)]
    ip_prefix: Option<&'a str>,
    #[serde(borrow)]
    ipv6_prefix: Option<&'a str>,
    #[serde(borrow, rename = "ipv4Prefix")]
    ipv4_prefix: Option<&'a str>,
    #[serde(borrow, rename = "ipv6Prefix")]
    ipv6_prefix_gcp: Option<&'a str>,
    #[serde(borrow)]
    service: Option<&'a str>,
    #[serde(borrow)]
    region: Option<&'a str>,
    #[serde(borrow)]
    scope: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct ServiceTag<'a> {
    #[serde(borrow)]
    name: Option<&'a str>,
    #[serde(borrow)]
    properties: Option<TagProperties<'a>>,
}

#[derive(serde::Deserialize)]
struct TagProperties<'a> {
    #[serde(borrow)]
    region: Option<&'a str>,
    #[serde(borrow, rename = "addressPrefixes")]
    address_prefixes: Option<Vec<Option<&'a str>>>,
}

#[derive(serde::Deserialize)]
struct OracleRegion<'a> {
    #[serde(borrow)]
    region: Option<&'a str>,
    #[serde(borrow)]
    cidrs: Option<Vec<OracleCidr<'a>>>,
}

#[derive(serde::Deserialize)]
struct OracleCidr<'a> {
    #[serde(borrow)]
    cidr: Option<&'a str>,
}

/// [`add_file`] for the bundled JSON files, in the same order with the same values. Returns
/// false, having added nothing, when a file does not have the expected shape; the caller then
/// uses [`add_file`].
fn add_bundled_json(ranges: &mut CloudRanges, bytes: &[u8]) -> bool {
    let Ok(doc) = serde_json::from_slice::<Published<'_>>(bytes) else {
        return false;
    };
    let parse = |s: Option<&str>| s.and_then(|s| s.parse().ok());
    if let Some(prefixes) = &doc.prefixes {
        let is_aws = doc.create_date.is_some() || prefixes.iter().any(|p| p.ip_prefix.is_some());
        let provider = if is_aws { Provider::Aws } else { Provider::Gcp };
        let stamp = if is_aws { doc.create_date } else { doc.creation_time };
        ranges.snapshots.insert(provider, stamp.unwrap_or("").to_string());
        for p in prefixes.iter().chain(doc.ipv6_prefixes.iter().flatten()) {
            for net in [p.ip_prefix, p.ipv6_prefix, p.ipv4_prefix, p.ipv6_prefix_gcp] {
                if let Some(net) = parse(net) {
                    let region = if is_aws { p.region } else { p.scope };
                    ranges.add(provider, net, p.service.unwrap_or(""), region.unwrap_or(""));
                }
            }
        }
        return true;
    }
    if let Some(values) = &doc.values {
        let change = doc.change_number.map_or_else(|| "null".to_string(), |n| n.to_string());
        ranges
            .snapshots
            .insert(Provider::Azure, format!("changeNumber {change}"));
        for tag in values {
            let props = tag.properties.as_ref();
            let region = props.and_then(|p| p.region).unwrap_or("");
            let service = tag.name.unwrap_or("");
            for net in props.and_then(|p| p.address_prefixes.as_ref()).into_iter().flatten() {
                if let Some(net) = parse(*net) {
                    ranges.add(Provider::Azure, net, service, region);
                }
            }
        }
        return true;
    }
    if let Some(regions) = &doc.regions {
        ranges
            .snapshots
            .insert(Provider::Oracle, doc.last_updated_timestamp.unwrap_or("").to_string());
        for region in regions {
            let name = region.region.unwrap_or("");
            for cidr in region.cidrs.iter().flatten() {
                if let Some(net) = parse(cidr.cidr) {
                    ranges.add(Provider::Oracle, net, "OCI", name);
                }
            }
        }
        return true;
    }
    false
}

/// Loads a file, or every file in a directory, replacing the bundled snapshot.
pub fn load(path: &Path) -> Result<CloudRanges, RangesError> {
    let mut ranges = CloudRanges::default();
    let files: Vec<_> = if path.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| RangesError::Read {
                path: path.display().to_string(),
                source: e,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json" || x == "csv"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| RangesError::Read {
            path: file.display().to_string(),
            source: e,
        })?;
        add_file(&mut ranges, &file.display().to_string(), &bytes)?;
    }
    Ok(ranges)
}

fn add_file(ranges: &mut CloudRanges, name: &str, bytes: &[u8]) -> Result<(), RangesError> {
    let unknown = || RangesError::Unknown { path: name.to_string() };
    if name.ends_with(".csv") || !bytes.trim_ascii_start().starts_with(b"{") {
        // DigitalOcean publishes `prefix,country,region,city,postcode`.
        let text = std::str::from_utf8(bytes).map_err(|_| unknown())?;
        let mut n = 0;
        for line in text.lines() {
            if let Some(net) = line.split(',').next().and_then(|p| p.trim().parse().ok()) {
                ranges.add(Provider::DigitalOcean, net, "", line.split(',').nth(2).unwrap_or(""));
                n += 1;
            }
        }
        return if n > 0 { Ok(()) } else { Err(unknown()) };
    }
    let doc: Value = serde_json::from_slice(bytes).map_err(|_| unknown())?;
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(prefixes) = doc.get("prefixes").and_then(Value::as_array) {
        // AWS and GCP both use `prefixes`; AWS has `ip_prefix`, GCP `ipv4Prefix`/`ipv6Prefix`.
        let is_aws = doc.get("createDate").is_some() || prefixes.iter().any(|p| p.get("ip_prefix").is_some());
        let provider = if is_aws { Provider::Aws } else { Provider::Gcp };
        let stamp = if is_aws {
            str_of(&doc, "createDate")
        } else {
            str_of(&doc, "creationTime")
        };
        ranges.snapshots.insert(provider, stamp);
        let all = prefixes
            .iter()
            .chain(doc.get("ipv6_prefixes").and_then(Value::as_array).into_iter().flatten());
        for p in all {
            for key in ["ip_prefix", "ipv6_prefix", "ipv4Prefix", "ipv6Prefix"] {
                if let Some(net) = p.get(key).and_then(Value::as_str).and_then(|s| s.parse().ok()) {
                    let region = if is_aws {
                        str_of(p, "region")
                    } else {
                        str_of(p, "scope")
                    };
                    ranges.add(provider, net, &str_of(p, "service"), &region);
                }
            }
        }
        return Ok(());
    }
    if let Some(values) = doc.get("values").and_then(Value::as_array) {
        ranges.snapshots.insert(
            Provider::Azure,
            format!("changeNumber {}", doc.get("changeNumber").unwrap_or(&Value::Null)),
        );
        for tag in values {
            let props = tag.get("properties");
            let region = props.map(|p| str_of(p, "region")).unwrap_or_default();
            let service = str_of(tag, "name");
            for net in props
                .and_then(|p| p.get("addressPrefixes"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(net) = net.as_str().and_then(|s| s.parse().ok()) {
                    ranges.add(Provider::Azure, net, &service, &region);
                }
            }
        }
        return Ok(());
    }
    if let Some(regions) = doc.get("regions").and_then(Value::as_array) {
        ranges
            .snapshots
            .insert(Provider::Oracle, str_of(&doc, "last_updated_timestamp"));
        for region in regions {
            let name = str_of(region, "region");
            for cidr in region.get("cidrs").and_then(Value::as_array).into_iter().flatten() {
                if let Some(net) = cidr.get("cidr").and_then(Value::as_str).and_then(|s| s.parse().ok()) {
                    ranges.add(Provider::Oracle, net, "OCI", &name);
                }
            }
        }
        return Ok(());
    }
    Err(unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_snapshot_knows_every_provider() {
        let r = bundled();
        assert_eq!(r.aws("18.236.253.47".parse().unwrap()).unwrap().service, "EC2");
        for p in [Provider::Aws, Provider::Gcp, Provider::Azure, Provider::Oracle] {
            assert!(r.snapshots.contains_key(&p), "{p:?}");
        }
        assert!(r.lookup("91.92.248.57".parse().unwrap()).is_empty());
        assert!(r
            .lookup("159.65.3.29".parse().unwrap())
            .iter()
            .any(|m| m.provider == Provider::DigitalOcean));
    }

    /// Published prefixes (every 16th, to keep the debug test quick), looked up at their first and
    /// last address, in both loadings.
    #[test]
    fn the_typed_bundled_loading_equals_the_generic_one() {
        let (mut fast, mut slow) = (CloudRanges::default(), CloudRanges::default());
        for (name, bytes) in BUNDLED {
            add_file(&mut slow, name, bytes).unwrap();
            if name.ends_with(".csv") {
                add_file(&mut fast, name, bytes).unwrap();
            } else {
                assert!(add_bundled_json(&mut fast, bytes), "{name}");
            }
        }
        assert_eq!(fast.len(), slow.len());
        assert_eq!(fast.snapshots, slow.snapshots);
        let mut probes = 0;
        for (_, bytes) in BUNDLED {
            let text = std::str::from_utf8(bytes).unwrap();
            for word in text.split(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/'))) {
                if let Ok(net) = word.parse::<ipnet::IpNet>() {
                    probes += 1;
                    if probes % 16 != 0 {
                        continue;
                    }
                    for ip in [net.network(), net.broadcast()] {
                        assert_eq!(fast.lookup(ip), slow.lookup(ip), "{ip}");
                    }
                }
            }
        }
        assert!(probes >= fast.len(), "{probes}");
    }

    #[test]
    fn an_unknown_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, b"{\"hello\": 1}").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("not a known cloud IP range file"), "{err}");
    }
}
