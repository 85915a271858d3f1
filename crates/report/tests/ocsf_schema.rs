//! `--format ocsf` output validates against the OCSF 1.3.0 Detection Finding JSON Schema,
//! generated from the official schema export (see `tests/schema/PROVENANCE.md`), and that
//! schema is strict enough to reject what it should.

use credtrail_detect::{Alert, Entities, Severity, DETECTORS};
use credtrail_event::{FileId, Origin, Timestamp};
use credtrail_report::{ocsf, Report, Summary};
use jsonschema::Validator;
use serde_json::{json, Value};

const SCHEMA: &str = include_str!("schema/ocsf-1.3.0-detection_finding.schema.json");

/// Control characters, quotes, backslashes, newlines, an escape sequence, a bidi override, NUL,
/// a lone-surrogate look-alike and non-ASCII text: what a hostile log can put in any string.
const HOSTILE: &str = "\"quoted\" \\back\\slash\\ line\nbreak\r\ttab \u{0}nul \u{1b}[2J\u{1b}]0;pwned\u{7} \u{202e}txt.exe \\ud800 é中𝄞 </script>";

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("schema file is JSON")
}

fn validator() -> Validator {
    jsonschema::draft202012::new(&schema()).expect("schema compiles")
}

fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

fn assert_valid(v: &Validator, instance: &Value) {
    let errs = errors(v, instance);
    assert!(
        errs.is_empty(),
        "finding does not validate:\n{}\n{}",
        errs.join("\n"),
        serde_json::to_string_pretty(instance).unwrap_or_default()
    );
}

fn full_entities(tag: &str) -> Entities {
    Entities {
        cloud: Some("aws".into()),
        account: Some("111122223333".into()),
        principal: Some(format!(
            "arn:aws:sts::111122223333:assumed-role/app-role/i-0846f1d1bc19aaaf3{tag}"
        )),
        role: Some("app-role".into()),
        access_key: Some("ASIAEXAMPLEKEY000001".into()),
        instance: Some("i-0846f1d1bc19aaaf3".into()),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some(format!("aws-cli/2.15 {tag}")),
        host: Some(format!("i-0846f1d1bc19aaaf3{tag}")),
        process: Some(format!("/usr/bin/curl (pid 4242){tag}")),
        container: Some(format!("3f2a{tag}")),
        user: Some(format!("uid 1001{tag}")),
    }
}

fn alert(rule: &'static str, severity: Severity, entities: Entities) -> Alert {
    Alert {
        rule,
        variant: Some("outside_cloud"),
        severity,
        first_seen: Timestamp::from_millis(1_717_243_200_000),
        last_seen: Timestamp::from_millis(1_717_246_800_123),
        title: format!("Instance credential used outside AWS ({})", severity.as_str()),
        entities,
        reasons: vec![
            "the key was issued to i-0846f1d1bc19aaaf3 by IMDS".into(),
            "198.51.100.7 is in no published AWS range".into(),
        ],
        evidence: vec![
            Origin {
                file: FileId(0),
                line: 1,
                index: 1,
            },
            Origin {
                file: FileId(1),
                line: 7,
                index: 3,
            },
        ],
        evidence_total: 5,
    }
}

/// The alerts the test renders: every severity, every real rule, bare ones, hostile ones.
fn alerts() -> Vec<Alert> {
    let mut out = Vec::new();
    for (i, sev) in Severity::ALL.into_iter().enumerate() {
        let rule = DETECTORS[i % DETECTORS.len()].meta().id;
        out.push(alert(rule, sev, full_entities("")));
    }
    for d in DETECTORS {
        out.push(alert(d.meta().id, d.meta().default_severity, full_entities("")));
    }
    // No variant, no entities, no reasons, no evidence.
    for sev in Severity::ALL {
        let mut a = alert("imdsv1-credential-delivery", sev, Entities::default());
        a.variant = None;
        a.reasons.clear();
        a.evidence.clear();
        a.evidence_total = 0;
        out.push(a);
    }
    // A rule credtrail does not know (no metadata, no ATT&CK mapping).
    out.push(alert("not-a-rule", Severity::Low, Entities::default()));
    // Hostile strings everywhere a log can reach, including an address that is not one.
    for sev in Severity::ALL {
        let hostile = Entities {
            cloud: Some(HOSTILE.into()),
            account: Some(HOSTILE.into()),
            principal: Some(HOSTILE.into()),
            role: Some(HOSTILE.into()),
            access_key: Some(HOSTILE.into()),
            instance: Some(HOSTILE.into()),
            source_ip: Some(HOSTILE.into()),
            user_agent: Some(HOSTILE.into()),
            host: Some(HOSTILE.into()),
            process: Some(HOSTILE.into()),
            container: Some(HOSTILE.into()),
            user: Some(HOSTILE.into()),
        };
        let mut a = alert("instance-credential-exfiltration", sev, hostile);
        a.title = HOSTILE.into();
        a.reasons = vec![HOSTILE.into(), String::new(), "\n".into()];
        out.push(a);
    }
    // IPv6 source, ECS task id instead of an instance, some entities only.
    let mut a = alert(
        "instance-credential-recon",
        Severity::High,
        Entities {
            account: Some("444455556666".into()),
            instance: Some("5f2b6c1e0a9d4e8f9b7c6d5e4f3a2b1c".into()),
            source_ip: Some("2001:db8::7".into()),
            ..Entities::default()
        },
    );
    a.variant = Some("other_account");
    out.push(a);
    // GCP and Azure findings: their own provider and account kind, no AWS partition.
    for (rule, cloud, account, instance) in [
        (
            "gcp-vm-service-account-token-misuse",
            "gcp",
            "shop-prod",
            "projects/shop-prod/zones/europe-west1-b/instances/web-1",
        ),
        (
            "azure-managed-identity-token-misuse",
            "azure",
            "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
            "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/shop-prod/providers/microsoft.compute/virtualmachines/web-1",
        ),
    ] {
        let mut a = alert(
            rule,
            Severity::Critical,
            Entities {
                cloud: Some(cloud.into()),
                account: Some(account.into()),
                principal: Some("identity".into()),
                instance: Some(instance.into()),
                source_ip: Some("198.51.100.77".into()),
                ..Entities::default()
            },
        );
        a.variant = Some("outside_cloud");
        out.push(a);
    }
    // Strings longer than an OCSF string_t may hold.
    let mut a = alert(
        "instance-credential-exfiltration",
        Severity::Critical,
        full_entities(&"x".repeat(70_000)),
    );
    a.title = "t".repeat(70_000);
    a.reasons = vec!["r".repeat(70_000)];
    out.push(a);
    out
}

fn with_report<T>(alerts: &[Alert], f: impl FnOnce(&Report<'_>) -> T) -> T {
    let summary = Summary::default();
    let sources = vec![
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01/a.json.gz".to_string(),
        HOSTILE.to_string(),
    ];
    let report = Report {
        incidents: &[],
        alerts,
        suppressed: &[],
        sources: &sources,
        summary: &summary,
    };
    f(&report)
}

fn findings() -> Vec<Value> {
    let alerts = alerts();
    with_report(&alerts, |r| alerts.iter().map(|a| ocsf::finding(r, a)).collect())
}

fn valid_finding() -> Value {
    let alerts = vec![alert(
        "instance-credential-exfiltration",
        Severity::High,
        full_entities(""),
    )];
    with_report(&alerts, |r| ocsf::finding(r, &alerts[0]))
}

#[test]
fn schema_is_the_generated_ocsf_1_3_0_detection_finding() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(
        s["$id"],
        "https://schema.ocsf.io/schema/1.3.0/classes/detection_finding?profiles=cloud"
    );
    assert_eq!(s["properties"]["class_uid"]["const"], 2004);
    assert_eq!(s["additionalProperties"], false);
    for field in ["finding_info", "metadata", "severity_id", "time", "type_uid", "cloud"] {
        assert!(
            s["required"].as_array().is_some_and(|r| r.iter().any(|x| x == field)),
            "{field} is not required by the schema"
        );
    }
    assert!(jsonschema::meta::is_valid(&s), "not a valid JSON Schema");
}

#[test]
fn gcp_and_azure_findings_name_their_provider_and_account_kind() {
    let found = findings();
    let of = |provider: &str| {
        found
            .iter()
            .find(|f| f["cloud"]["provider"] == provider)
            .unwrap_or_else(|| panic!("a {provider} finding"))
            .clone()
    };
    let gcp = of("GCP");
    assert_eq!(gcp["cloud"]["account"]["type"], "GCP Project");
    assert_eq!(gcp["cloud"]["account"]["type_id"], 99);
    assert!(gcp["resources"][0].get("cloud_partition").is_none());
    let azure = of("Azure");
    assert_eq!(azure["cloud"]["account"]["type"], "Azure Subscription");
}

#[test]
fn every_finding_validates() {
    let v = validator();
    let findings = findings();
    assert!(findings.len() > 20);
    for f in &findings {
        assert_valid(&v, f);
    }
}

#[test]
fn every_severity_has_its_ocsf_caption() {
    let alerts: Vec<Alert> = Severity::ALL
        .into_iter()
        .map(|s| alert("imdsv1-credential-delivery", s, full_entities("")))
        .collect();
    let got: Vec<(Value, Value)> = with_report(&alerts, |r| {
        alerts
            .iter()
            .map(|a| {
                let f = ocsf::finding(r, a);
                (f["severity_id"].clone(), f["severity"].clone())
            })
            .collect()
    });
    assert_eq!(
        got,
        vec![
            (json!(1), json!("Informational")),
            (json!(2), json!("Low")),
            (json!(3), json!("Medium")),
            (json!(4), json!("High")),
            (json!(5), json!("Critical")),
        ]
    );
}

#[test]
fn written_lines_validate_and_match_finding() {
    let v = validator();
    let alerts = alerts();
    let (out, expected) = with_report(&alerts, |r| {
        let mut out = Vec::new();
        ocsf::write(r, &mut out).expect("write to a Vec");
        let expected: Vec<Value> = alerts.iter().map(|a| ocsf::finding(r, a)).collect();
        (out, expected)
    });
    let text = String::from_utf8(out).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), alerts.len(), "one line per alert");
    for (line, want) in lines.iter().zip(&expected) {
        let got: Value = serde_json::from_str(line).expect("each line is one JSON object");
        assert_valid(&v, &got);
        assert_eq!(&got, want);
    }
}

#[test]
fn declared_profiles_are_the_ones_the_schema_was_generated_with() {
    let f = valid_finding();
    assert_eq!(f["metadata"]["profiles"], json!(ocsf::PROFILES));
    assert_eq!(f["metadata"]["version"], ocsf::OCSF_VERSION);
    let id = schema()["$id"].as_str().unwrap_or_default().to_string();
    assert!(id.ends_with(&format!("?profiles={}", ocsf::PROFILES.join(","))));
}

#[test]
fn no_nulls_outside_unmapped() {
    fn walk(path: &str, v: &Value) {
        match v {
            Value::Null => panic!("null at {path}"),
            Value::Array(a) => a.iter().for_each(|x| walk(path, x)),
            Value::Object(o) => {
                for (k, x) in o {
                    if path.is_empty() && k == "unmapped" {
                        continue;
                    }
                    walk(&format!("{path}.{k}"), x);
                }
            }
            _ => {}
        }
    }
    for f in findings() {
        walk("", &f);
    }
}

#[test]
fn every_rule_maps_its_techniques_to_named_attacks() {
    for d in DETECTORS {
        let m = d.meta();
        let alerts = vec![alert(m.id, m.default_severity, full_entities(""))];
        let f = with_report(&alerts, |r| ocsf::finding(r, &alerts[0]));
        let attacks = f["finding_info"]["attacks"].as_array().cloned().unwrap_or_default();
        assert_eq!(attacks.len(), m.attack.len(), "{}", m.id);
        for (a, uid) in attacks.iter().zip(m.attack) {
            let named = if uid.contains('.') {
                &a["sub_technique"]
            } else {
                &a["technique"]
            };
            assert_eq!(named["uid"], *uid, "{}", m.id);
            assert!(named["name"].as_str().is_some_and(|n| !n.is_empty()), "{}: {uid}", m.id);
            assert!(a["tactic"]["uid"].as_str().is_some_and(|t| t.starts_with("TA")));
        }
    }
}

// --- the schema rejects what it should, so a passing test means something ---

fn assert_rejected(v: &Validator, f: &Value, what: &str) {
    assert!(!errors(v, f).is_empty(), "schema accepted a finding with {what}");
}

#[test]
fn schema_rejects_a_finding_without_finding_info() {
    let v = validator();
    let mut f = valid_finding();
    assert_valid(&v, &f);
    let removed = f.as_object_mut().and_then(|o| o.remove("finding_info"));
    assert!(removed.is_some());
    let errs = errors(&v, &f);
    assert!(
        errs.iter().any(|e| e.contains("finding_info")),
        "expected a missing finding_info error, got {errs:?}"
    );
}

/// Removes `key` from the object at `pointer` (a JSON pointer; "" for the root).
fn remove(f: &mut Value, pointer: &str, key: &str) {
    if let Some(o) = f.pointer_mut(pointer).and_then(Value::as_object_mut) {
        o.remove(key);
    }
}

/// One way to break a valid finding, and what it breaks.
type Break = (&'static str, fn(&mut Value));

const BROKEN: &[Break] = &[
    ("no metadata", |f| remove(f, "", "metadata")),
    ("no cloud (cloud profile)", |f| remove(f, "", "cloud")),
    ("no finding_info.uid", |f| remove(f, "/finding_info", "uid")),
    ("no finding_info.title", |f| remove(f, "/finding_info", "title")),
    ("no metadata.product.vendor_name", |f| {
        remove(f, "/metadata/product", "vendor_name")
    }),
    ("no observable name", |f| remove(f, "/observables/0", "name")),
    ("a severity caption that is not the id's", |f| {
        f["severity"] = json!("Info")
    }),
    ("an unknown severity_id", |f| f["severity_id"] = json!(7)),
    ("another class", |f| f["class_uid"] = json!(2001)),
    ("a type_uid of another class", |f| f["type_uid"] = json!(200101)),
    ("a string time", |f| f["time"] = json!("2024-06-01T12:00:00Z")),
    ("a null cloud account", |f| f["cloud"]["account"] = Value::Null),
    ("an attribute OCSF does not define", |f| {
        f["credtrail_variant"] = json!("outside_cloud")
    }),
    ("an observable type_id OCSF does not define", |f| {
        f["observables"][0]["type_id"] = json!(1000)
    }),
    ("an observable type caption that is not the id's", |f| {
        f["observables"][0]["type"] = json!("IP")
    }),
    ("an attack with neither tactic nor technique", |f| {
        f["finding_info"]["attacks"][0] = json!({ "version": "15" })
    }),
    ("a title longer than string_t", |f| {
        f["finding_info"]["title"] = json!("x".repeat(65_536))
    }),
];

#[test]
fn schema_rejects_broken_findings() {
    let v = validator();
    let base = valid_finding();
    for (what, breaks) in BROKEN {
        let mut f = base.clone();
        breaks(&mut f);
        assert_ne!(f, base, "{what}: the mutation changed nothing");
        assert_rejected(&v, &f, what);
    }
}
