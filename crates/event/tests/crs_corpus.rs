//! The OWASP CRS 934 SSRF regression tests (rules 934110, 934120, 934190) run through
//! `find_targets`: see `shared/corpora/crs-ssrf-regression/PROVENANCE.md`.
//!
//! CRS's `match` means "the WAF rule must fire" and its `no_match` "must not fire", which is not
//! the same question as "is this a request for instance metadata". So: every `match` row that
//! targets a metadata endpoint must be found; the `match` rows that target something else
//! (loopback, Docker, Kubernetes, other hosts) are listed below with the reason, and must not be
//! found; every `no_match` row is reviewed one by one, with whether it is metadata access and
//! whether `find_targets` reports it.

#![allow(clippy::unwrap_used)]

use credtrail_event::metadata::{find_targets, MetadataProvider, MetadataTarget};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpora/crs-ssrf-regression/crs_934_flat.jsonl"
);

/// `match` rows that do not target a cloud metadata endpoint: (rule, test, why).
const MATCH_NOT_METADATA: &[(&str, u64, &str)] = &[
    ("934110", 9, "http:127.0.0.1: loopback, not Azure Arc (no port 40342)"),
    (
        "934120",
        20,
        "userinfo confusion towards 127.88.23.245:22 (loopback SSH)",
    ),
    ("934120", 23, "①②⑦.⓪.⓪.① is 127.0.0.1, no Azure Arc port"),
    ("934120", 25, "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ is localhost, no Azure Arc port"),
    ("934120", 26, "ⓁⓄⒸⒶⓁⒽⓄⓈⓉ is localhost, no Azure Arc port"),
    ("934120", 27, "0177.00.00.01 is 127.0.0.1 (ssh://), no Azure Arc port"),
    ("934120", 28, "017700000001 is 127.0.0.1"),
    ("934120", 29, "0x7f000001 is 127.0.0.1"),
    ("934120", 30, "[a::]: an arbitrary IPv6 address"),
    ("934120", 31, "[a::b]: an arbitrary IPv6 address"),
    (
        "934120",
        32,
        "[dead:beef:dead::beef:dead:beef:dead]: an arbitrary IPv6 address",
    ),
    ("934120", 33, "[fe80::%zone1]: link-local, not fd00:ec2::254"),
    ("934120", 34, "[fe80::dead:beef:…%zone1]: link-local, not fd00:ec2::254"),
    ("934120", 37, "userinfo confusion towards 127.88.23.245:22"),
    ("934120", 38, "userinfo confusion towards 127.88.23.245:22"),
    ("934120", 40, "[::]: the unspecified address, no Azure Arc port"),
    ("934120", 41, r"\l\o\c\a\l\h\o\s\t: glibc NSS spelling of localhost"),
    ("934120", 42, r"\g\o\o\g\l\e.\c\o\m: glibc NSS spelling of google.com"),
    ("934120", 50, "http:123456789 is 7.91.205.21"),
    ("934190", 1, "scheme-less localhost/"),
    ("934190", 2, "scheme-less localhost.localdomain/"),
    ("934190", 3, "scheme-less localhost4/"),
    ("934190", 4, "scheme-less localhost4.localdomain4/"),
    ("934190", 5, "scheme-less ipv6-localhost/"),
    ("934190", 6, "scheme-less ip6-loopback/"),
    ("934190", 7, "host.docker.internal: the Docker host"),
    ("934190", 8, "gateway.docker.internal: the Docker gateway"),
    (
        "934190",
        9,
        "kubernetes.docker.internal: Docker Desktop's Kubernetes API",
    ),
    ("934190", 10, "host.containers.internal: the Podman host"),
    (
        "934190",
        11,
        "kubernetes.default.svc.cluster.local: the Kubernetes API (T1528, not T1552.005)",
    ),
    ("934190", 12, "scheme-less LOCALHOST/"),
    ("934190", 13, "localtest.me: resolves to 127.0.0.1, no Azure Arc port"),
    ("934190", 14, "lvh.me: resolves to 127.0.0.1, no Azure Arc port"),
    ("934190", 15, "localhost%2F in a form body"),
    ("934190", 16, "host.docker.internal/ in a cookie"),
    ("934190", 17, "http://localhost/ without Azure Arc's port"),
    ("934190", 21, "localhost/ in an XML attribute"),
];

/// Every `no_match` row: (rule, test, is metadata access, found by `find_targets`, why).
const NO_MATCH_REVIEW: &[(&str, u64, bool, bool, &str)] = &[
    (
        "934110",
        6,
        true,
        true,
        "169.254.169.254%2Flatest%2Fuser-data: scheme-less read of AWS user data",
    ),
    ("934110", 7, true, true, "http://169.254.169.254/latest: AWS IMDS recon"),
    (
        "934110",
        8,
        true,
        true,
        "http://metadata.google.internal: the GCP metadata server",
    ),
    (
        "934120",
        12,
        true,
        true,
        "[0:0:0:0:0:ffff:a9fe:a9fe]: bracketed IPv4-mapped 169.254.169.254",
    ),
    (
        "934120",
        13,
        true,
        true,
        "2852039166 as a whole value: the integer form of 169.254.169.254",
    ),
    (
        "934120",
        14,
        true,
        false,
        "0x41414141A9FEA9FE alone: wraps to 169.254.169.254 only in truncating parsers; without a \
         scheme, path or port one 64-bit value in 2^32 would match (pointers, ids), so not reported",
    ),
    (
        "934120",
        15,
        true,
        true,
        "169.16689662 as a whole value: short form of 169.254.169.254",
    ),
    (
        "934120",
        16,
        true,
        true,
        "[::ffff:a9fe:a9fe without `]`: still an IPv6 literal of 169.254.169.254",
    ),
    (
        "934120",
        17,
        true,
        true,
        "[::ffff:a9fe:a9fe]: bracketed IPv4-mapped 169.254.169.254",
    ),
    (
        "934120",
        18,
        true,
        true,
        "[0:0:0:0:0:ffff:a9fe:a9fe]: bracketed IPv4-mapped 169.254.169.254",
    ),
    (
        "934120",
        19,
        true,
        true,
        "[0:0:0:0:0:ffff:169.254.169.254]: bracketed IPv4-mapped 169.254.169.254",
    ),
    ("934120", 51, false, false, "http:0xABCDEF is 0.171.205.239"),
    (
        "934120",
        52,
        false,
        false,
        "http:0xA9.0xFE.0xA9 is the short form 169.254.0.169",
    ),
    ("934190", 18, false, false, "example.com/"),
    ("934190", 19, false, false, "mylocalhost: a word"),
    (
        "934190",
        20,
        false,
        false,
        "localhost without Azure Arc's port: any local server",
    ),
];

/// Providers CRS 934110 names in its descriptions (the other rules target 169.254.169.254 itself).
const PROVIDERS_934110: &[(u64, MetadataProvider)] = &[
    (1, MetadataProvider::Gcp),
    (2, MetadataProvider::DigitalOcean),
    (3, MetadataProvider::EquinixMetal),
    (4, MetadataProvider::OpenStack),
    (5, MetadataProvider::Oracle),
    (10, MetadataProvider::Gcp),
];

struct Row {
    rule_id: String,
    test_id: u64,
    stage: u64,
    desc: String,
    expected: String,
    found: Vec<MetadataTarget>,
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(CORPUS).expect("CRS corpus (shared/corpora/crs-ssrf-regression)");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut found = find_targets(row["uri"].as_str().unwrap());
            if let Some(data) = row["data"].as_str() {
                found.extend(find_targets(data));
            }
            for value in row["headers"].as_object().unwrap().values() {
                found.extend(find_targets(value.as_str().unwrap()));
            }
            Row {
                rule_id: row["rule_id"].as_str().unwrap().to_owned(),
                test_id: row["test_id"].as_u64().unwrap(),
                stage: row["stage"].as_u64().unwrap(),
                desc: row["desc"].as_str().unwrap().to_owned(),
                expected: row["expected"].as_str().unwrap().to_owned(),
                found,
            }
        })
        .collect()
}

fn id(row: &Row) -> String {
    format!(
        "{} test {} stage {} ({})",
        row.rule_id, row.test_id, row.stage, row.desc
    )
}

#[test]
fn corpus_is_the_reviewed_one() {
    let rows = rows();
    for (rule, matches, no_matches) in [("934110", 7, 3), ("934120", 48, 10), ("934190", 18, 3)] {
        let count = |expected: &str| {
            rows.iter()
                .filter(|r| r.rule_id == rule && r.expected == expected)
                .count()
        };
        assert_eq!(
            (count("match"), count("no_match")),
            (matches, no_matches),
            "rule {rule}: PROVENANCE.md counts"
        );
    }
}

#[test]
fn match_rows_that_target_metadata_are_found() {
    let rows = rows();
    let mut checked = 0;
    for row in rows.iter().filter(|r| r.expected == "match") {
        let reviewed = MATCH_NOT_METADATA
            .iter()
            .find(|(rule, test, _)| *rule == row.rule_id && *test == row.test_id);
        if let Some((_, _, why)) = reviewed {
            assert!(
                row.found.is_empty(),
                "{} is not metadata ({why}) but found {:#?}",
                id(row),
                row.found
            );
            continue;
        }
        assert!(
            !row.found.is_empty(),
            "{} targets a metadata endpoint and was not found",
            id(row)
        );
        if row.rule_id == "934120" {
            assert!(
                row.found.iter().all(|t| t.endpoint == "169.254.169.254"),
                "{}: {:#?}",
                id(row),
                row.found
            );
        }
        if row.rule_id == "934110" {
            let (_, provider) = PROVIDERS_934110
                .iter()
                .find(|(test, _)| *test == row.test_id)
                .expect("reviewed provider");
            assert_eq!(row.found[0].provider, *provider, "{}", id(row));
        }
        checked += 1;
    }
    assert_eq!(checked, 36, "metadata-targeting match rows");
    for (rule, test, why) in MATCH_NOT_METADATA {
        assert!(
            rows.iter()
                .any(|r| r.rule_id == *rule && r.test_id == *test && r.expected == "match"),
            "reviewed entry {rule} {test} ({why}) is not a match row of the corpus"
        );
    }
}

#[test]
fn every_no_match_row_is_reviewed() {
    let rows = rows();
    for row in rows.iter().filter(|r| r.expected == "no_match") {
        let Some((_, _, metadata, found, why)) = NO_MATCH_REVIEW
            .iter()
            .find(|(rule, test, ..)| *rule == row.rule_id && *test == row.test_id)
        else {
            panic!("{} is a no_match row nobody reviewed", id(row));
        };
        assert_eq!(
            !row.found.is_empty(),
            *found,
            "{} ({why}; metadata access: {metadata}): {:#?}",
            id(row),
            row.found
        );
    }
    for (rule, test, .., why) in NO_MATCH_REVIEW {
        assert!(
            rows.iter()
                .any(|r| r.rule_id == *rule && r.test_id == *test && r.expected == "no_match"),
            "reviewed entry {rule} {test} ({why}) is not a no_match row of the corpus"
        );
    }
    let metadata = NO_MATCH_REVIEW.iter().filter(|r| r.2).count();
    let missed: Vec<_> = NO_MATCH_REVIEW
        .iter()
        .filter(|r| r.2 && !r.3)
        .map(|r| (r.0, r.1))
        .collect();
    assert_eq!(
        (NO_MATCH_REVIEW.len(), metadata, missed.as_slice()),
        (16, 11, &[("934120", 14)][..])
    );
}
/// `ssrf.data` lines (the phrase list of rule 934110) that do not target a cloud metadata
/// endpoint: loopback and the unspecified address without Azure Arc's port, private addresses,
/// the Docker and etcd APIs, Rancher's metadata (a container orchestrator's, not an instance
/// credential service), the Lambda runtime API (events, not credentials).
const SSRF_DATA_NOT_METADATA: &[&str] = &[
    "http://2130706433/",
    "http://3232235521/",
    "http://3232235777/",
    "http://[::]:",
    "http://localtest.me",
    "http://127.0.0.1.nip.io",
    "http://127.127.127.127",
    "http://127.0.1.3",
    "http://127.0.0.0",
    "http://127.0.0.1",
    "http://0.0.0.0",
    "http://localhost",
    "http://0177.0.0.1/",
    "http://[::1]",
    "http://[0000::1]",
    "http://[::ffff:127.0.0.1]",
    "http://[0:0:0:0:0:ffff:127.0.0.1]",
    "http://0/",
    "http://127.1",
    "http://127.0.1",
    "http:127.0.0.1",
    "http://rancher-metadata/",
    "http://127.0.0.1:2375",
    "http://2130706433:2375/",
    "http://[::]:2375/",
    "http://[0000::1]:2375/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:2375/",
    "http://017700000001:2375/",
    "http://0x7f000001:2375/",
    "http://0xc0a80014:2375/",
    "http://127.0.0.1:2379",
    "jar:http://127.0.0.1!/",
    "jar:https://127.0.0.1!/",
    "jar:ftp://127.0.0.1!/",
    "gopher://127.0.0.1",
    "gopher://localhost",
    "http://localhost:9001/2018-06-01/runtime/",
];

#[test]
fn ssrf_data_phrases_that_target_metadata_are_found() {
    let text = std::fs::read_to_string(CORPUS.replace("crs_934_flat.jsonl", "ssrf.data")).expect("ssrf.data");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut metadata = 0;
    for line in &lines {
        let found = find_targets(line);
        if SSRF_DATA_NOT_METADATA.contains(line) {
            assert!(found.is_empty(), "{line} is not metadata: {found:#?}");
        } else {
            assert_eq!(found.len(), 1, "{line}: {found:#?}");
            metadata += 1;
        }
    }
    for line in SSRF_DATA_NOT_METADATA {
        assert!(lines.contains(line), "{line} is not in ssrf.data");
    }
    assert_eq!(metadata, 65);
}
