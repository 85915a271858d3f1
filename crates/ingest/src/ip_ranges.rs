//! Loading published cloud address ranges: the bundled snapshot, or files given with
//! `--ip-ranges`. Each provider's file is recognised by its content.

use std::path::Path;

use credtrail_event::{CloudRanges, Provider};
use serde_json::Value;

/// The published snapshot in `data/ip-ranges/` in its compact form ([`CloudRanges::to_bytes`]):
/// a run rebuilds its tables in about 3 ms instead of parsing 7 MB of JSON (35 ms of CPU).
/// `bundled.ranges` is generated from the JSON files by the test
/// `the_compact_snapshot_is_the_published_one`, which fails when they disagree;
/// `CREDTRAIL_BLESS=1 cargo test -p credtrail-ingest compact_snapshot` rewrites it.
const BUNDLED_COMPACT: &[u8] = include_bytes!("../../../data/ip-ranges/bundled.ranges");

#[derive(Debug, thiserror::Error)]
pub enum RangesError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not a known cloud IP range file (AWS ip-ranges.json, GCP cloud.json, Azure service tags, Oracle public_ip_ranges.json, DigitalOcean CSV)")]
    Unknown { path: String },
}

/// The snapshot bundled in the binary (see `data/ip-ranges/PROVENANCE.md`). The compact form is
/// ours and checked by the tests below against the published files; were it ever unreadable, the
/// summary's `ip_ranges` would show no snapshot rather than the run stopping.
pub fn bundled() -> CloudRanges {
    CloudRanges::from_bytes(BUNDLED_COMPACT).unwrap_or_default()
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

    /// The published files in `data/ip-ranges/`, read with [`add_file`] as `--ip-ranges` reads
    /// them.
    fn published() -> CloudRanges {
        const PUBLISHED: &[&str] = &[
            "aws-ip-ranges.json",
            "gcp-cloud-ip-ranges.json",
            "azure-service-tags.json",
            "oracle-cloud-ip-ranges.json",
            "digitalocean.csv",
        ];
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ip-ranges");
        let mut ranges = CloudRanges::default();
        for name in PUBLISHED {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            add_file(&mut ranges, name, &bytes).unwrap();
        }
        ranges
    }

    /// The bundled compact form is exactly the published files' ranges, byte for byte; and the
    /// published prefixes (every 16th, to keep the debug test quick), looked up at their first and
    /// last address, resolve alike in both.
    #[test]
    fn the_compact_snapshot_is_the_published_one() {
        let slow = published();
        let bytes = slow.to_bytes();
        if std::env::var_os("CREDTRAIL_BLESS").is_some() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ip-ranges/bundled.ranges");
            std::fs::write(path, &bytes).unwrap();
            return;
        }
        assert!(
            bytes == BUNDLED_COMPACT,
            "data/ip-ranges/bundled.ranges is stale: run CREDTRAIL_BLESS=1 cargo test -p credtrail-ingest compact_snapshot"
        );
        let fast = bundled();
        assert_eq!(fast.len(), slow.len());
        assert_eq!(fast.snapshots, slow.snapshots);
        let mut probes = 0;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ip-ranges");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
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
