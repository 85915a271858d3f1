//! Golden tests for IAM authorization details (`aws-iam-authorization-details`): the AWS CLI's
//! output (documents as objects), the API's JSON response (URL-encoded documents), pages
//! concatenated in one file or one per file, and malformed input (invalid JSON, bad policy
//! documents, missing fields, a truncated file).
//!
//! Each fixture under `testdata/formats/aws-iam-authorization-details/` is parsed with
//! `parse_file` (sniffed, not forced) and reduced to a digest snapshotted with `insta`. Records
//! are the entries of the four lists; `index` is their 1-based ordinal in the file.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::diagnostic_positions;
use credtrail_event::iam::{analyse, Statement};
use credtrail_event::{Fact, FileId, Inventory};
use credtrail_ingest::ParsedFile;

fn fixture(rel: &str) -> PathBuf {
    common::formats_fixture("aws-iam-authorization-details", rel)
}

fn parse_as(rel: &str, file: FileId) -> ParsedFile {
    common::parse_as_file(&fixture(rel), rel, file)
}

fn parse(rel: &str) -> ParsedFile {
    parse_as(rel, FileId(0))
}

fn statement(s: &Statement) -> String {
    format!(
        "{:?} {}{:?} on {}{:?}{}",
        s.effect,
        if s.not_action { "NOT " } else { "" },
        s.actions,
        if s.not_resource { "NOT " } else { "" },
        s.resources,
        if s.conditional { " if …" } else { "" }
    )
}

fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    writeln!(out, "format {:?}, records {}", p.format, p.records).unwrap();
    for fact in &p.facts {
        match fact {
            Fact::Role(r) => {
                writeln!(
                    out,
                    "role {} ({}) account {:?} at line {} #{}",
                    r.name, r.arn, r.account, r.origin.line, r.origin.index
                )
                .unwrap();
                writeln!(out, "  instance profiles {:?}", r.instance_profiles).unwrap();
                writeln!(out, "  trust {:?}", r.trust_principals).unwrap();
                for (name, arn) in &r.attached {
                    writeln!(out, "  attached {name} {arn}").unwrap();
                }
                for (name, statements) in &r.inline {
                    writeln!(out, "  inline {name}").unwrap();
                    for s in statements {
                        writeln!(out, "    {}", statement(s)).unwrap();
                    }
                }
                if !r.unreadable.is_empty() {
                    writeln!(out, "  unreadable {:?}", r.unreadable).unwrap();
                }
            }
            Fact::ManagedPolicy(m) => {
                writeln!(
                    out,
                    "policy {} ({}) at line {} #{}",
                    m.name, m.arn, m.origin.line, m.origin.index
                )
                .unwrap();
                for s in &m.statements {
                    writeln!(out, "    {}", statement(s)).unwrap();
                }
            }
            other => writeln!(out, "other {other:?}").unwrap(),
        }
    }
    for d in &p.diagnostics {
        writeln!(out, "! line {} #{:?} {}: {}", d.line, d.index, d.reason.key(), d.detail).unwrap();
    }
    out
}

#[test]
fn cli_output_yields_roles_and_default_policy_versions() {
    let p = parse("cli-output.json");
    assert_eq!(p.format, Some("aws-iam-authorization-details"));
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    // One user, one group, two roles, two policies.
    assert_eq!(p.records, 6);
    let inventory = Inventory::from_facts(&p.facts);
    let web = inventory.role(Some("111122223333"), "shop-web-role").unwrap();
    assert_eq!(web.role.instance_profiles, ["shop-web-profile"]);
    assert_eq!(web.role.trust_principals, ["Service:ec2.amazonaws.com"]);
    assert_eq!(
        web.policies,
        ["exports-read", "ShopDeploy", "CloudWatchAgentServerPolicy"]
    );
    // The AWS managed policy is not in this listing's Policies.
    assert_eq!(web.unresolved, ["CloudWatchAgentServerPolicy"]);
    // v2 is the default: RunInstances and PassRole, not v1's PutObject.
    let analysis = analyse(&web.statements);
    assert_eq!(
        analysis.describe_paths(),
        "iam:PassRole + ec2:RunInstances (new EC2 instance with an existing role)"
    );
    assert!(!analysis.describe_blast().contains("s3:PutObject"));
    let lambda = inventory.role(None, "report-lambda").unwrap();
    assert!(analyse(&lambda.statements).paths.is_empty());
    assert_eq!(
        lambda.role.trust_principals,
        ["AWS:arn:aws:iam::444455556666:root", "Service:lambda.amazonaws.com"]
    );
    insta::assert_snapshot!("cli_output", digest(&p));
}

#[test]
fn api_response_documents_are_url_decoded() {
    let p = parse("api-response-url-encoded.json");
    assert_eq!(p.format, Some("aws-iam-authorization-details"));
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    assert_eq!(p.records, 2);
    let inventory = Inventory::from_facts(&p.facts);
    let role = inventory.role(Some("111122223333"), "batch-admin").unwrap();
    assert_eq!(role.role.trust_principals, ["Service:ec2.amazonaws.com"]);
    assert!(role.unresolved.is_empty());
    let analysis = analyse(&role.statements);
    assert!(analysis.admin);
    insta::assert_snapshot!("api_response", digest(&p));
}

#[test]
fn pages_resolve_across_a_concatenated_file_and_across_files() {
    let p = parse("paginated-concatenated.json");
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    assert_eq!(p.records, 2);
    let expect = "iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction (new Lambda function with an existing role, invoked); iam:PassRole + cloudformation:CreateStack (new CloudFormation stack with an existing role)";
    let inventory = Inventory::from_facts(&p.facts);
    let role = inventory.role(Some("111122223333"), "ci-runner").unwrap();
    assert_eq!(analyse(&role.statements).describe_paths(), expect);
    insta::assert_snapshot!("paginated_concatenated", digest(&p));

    let mut facts = parse_as("pages/page-2.json", FileId(1)).facts;
    facts.extend(parse_as("pages/page-1.json", FileId(0)).facts);
    let inventory = Inventory::from_facts(&facts);
    let role = inventory.role(Some("111122223333"), "ci-runner").unwrap();
    assert!(role.unresolved.is_empty());
    assert_eq!(analyse(&role.statements).describe_paths(), expect);
}

#[test]
fn invalid_json_costs_only_its_entry_or_page() {
    let p = parse("malformed/invalid-json.json");
    assert_eq!(p.format, Some("aws-iam-authorization-details"));
    let roles: Vec<&str> = p
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Role(r) => Some(r.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(roles, ["good-role", "after-role"]);
    assert_eq!(
        diagnostic_positions(&p),
        [(4, Some(2), "invalid_json"), (9, Some(4), "invalid_json")]
    );
    insta::assert_snapshot!("malformed_invalid_json", digest(&p));
}

#[test]
fn a_bad_policy_document_is_a_diagnostic_and_the_role_names_it_unresolved() {
    let p = parse("malformed/bad-policy-document.json");
    let reasons: Vec<&str> = p.diagnostics.iter().map(|d| d.reason.key()).collect();
    assert_eq!(
        reasons,
        [
            "invalid_json",
            "missing_field",
            "missing_field",
            "invalid_utf8",
            "invalid_json",
            "missing_field"
        ],
        "{:#?}",
        p.diagnostics
    );
    assert!(p.diagnostics.iter().all(|d| d.line > 0 && d.index.is_some()));
    let inventory = Inventory::from_facts(&p.facts);
    let role = inventory.role(Some("111122223333"), "odd-role").unwrap();
    assert_eq!(
        role.unresolved,
        ["not-json", "no-effect", "number", "bad-utf8", "Broken"]
    );
    assert_eq!(role.statements.len(), 1);
    insta::assert_snapshot!("malformed_bad_policy_document", digest(&p));
}

#[test]
fn missing_fields_are_diagnostics_and_the_rest_is_read() {
    let p = parse("malformed/missing-fields.json");
    assert_eq!(
        diagnostic_positions(&p),
        [
            (3, Some(1), "missing_field"),
            (4, Some(2), "missing_field"),
            (8, Some(4), "missing_field"),
            (9, Some(5), "missing_field"),
            (12, Some(6), "missing_field"),
        ]
    );
    assert_eq!(p.facts.len(), 1);
    insta::assert_snapshot!("malformed_missing_fields", digest(&p));
}

#[test]
fn a_truncated_file_keeps_the_entries_before_the_cut() {
    let p = parse("malformed/truncated.json");
    assert_eq!(p.format, Some("aws-iam-authorization-details"));
    assert!(p.records >= 1);
    assert!(!p.diagnostics.is_empty());
    assert!(p.diagnostics.iter().all(|d| d.reason.key() == "invalid_json"));
    insta::assert_snapshot!("malformed_truncated", digest(&p));
}

#[test]
fn the_sniffer_takes_authorization_details_and_nothing_else() {
    use credtrail_ingest::formats::AwsIamAuthorizationDetails;
    use credtrail_ingest::Format;
    for head in [
        &br#"{"UserDetailList": []}"#[..],
        br#"  {"RoleDetailList":[{"#,
        br#"{"Policies": ["#,
        br#"{"GetAccountAuthorizationDetailsResponse":{"#,
    ] {
        assert!(
            AwsIamAuthorizationDetails.sniff(head),
            "{}",
            String::from_utf8_lossy(head)
        );
    }
    for head in [
        &br#"{"Reservations": []}"#[..],
        br#"{"Records":[{"eventName":"GetAccountAuthorizationDetails","responseElements":{"RoleDetailList":[]}}]}"#,
        br#"[{"RoleDetailList": []}]"#,
        b"",
    ] {
        assert!(
            !AwsIamAuthorizationDetails.sniff(head),
            "{}",
            String::from_utf8_lossy(head)
        );
    }
}

#[test]
fn bytes_that_are_not_json_never_panic() {
    use credtrail_ingest::formats::AwsIamAuthorizationDetails;
    use credtrail_ingest::Format;
    let inputs: [&[u8]; 6] = [
        b"{\"RoleDetailList\": [",
        b"{\"RoleDetailList\": [{\"RoleName\": \"x\", \"Arn\": \"a\", \"RolePolicyList\": [{\"PolicyDocument\": \"%\"}]}]}",
        b"{\"Policies\": [{\"Arn\": \"a\", \"PolicyVersionList\": [{\"IsDefaultVersion\": true, \"Document\": \"%7B%22Statement%22%3A%5B%5D%7D\"}]}]}",
        b"{\"RoleDetailList\": [\xff\xfe]}",
        b"{\"RoleDetailList\": [{\"RoleName\": \"x\", \"Arn\": \"arn:aws:iam::1:role/x\", \"AssumeRolePolicyDocument\": {\"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\"}}}]}",
        b"{\"Policies\"",
    ];
    for input in inputs {
        let mut out = ParsedFile::default();
        AwsIamAuthorizationDetails.parse(input, FileId(0), &mut out);
        assert!(
            out.records as usize >= out.diagnostics.iter().filter(|d| d.index.is_some()).count(),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}
