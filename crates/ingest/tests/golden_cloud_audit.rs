//! Golden tests for the GCP and Azure sources: Cloud Audit Logs (`gcp-audit`) as a Cloud Storage
//! sink, `gcloud logging read` and a BigQuery export write them; the Azure Activity log and Entra
//! managed-identity sign-ins (`azure-activity`) as diagnostic settings and `az monitor
//! activity-log list` write them; and the inventories (`gcp-inventory`, `azure-inventory`).
//!
//! Fixtures under `testdata/formats/` follow the vendors' documented layouts (see each format's
//! module documentation for the references); each is parsed as a scan would (sniffed, not forced),
//! reduced to a digest snapshotted with `insta`, and the values the detectors rely on are also
//! asserted here.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod host_support;

use std::fmt::Write as _;

use credtrail_event::{Body, CloudApiCall, Fact, IdentityKind, Provider, SourceAddress, WorkloadKind};
use credtrail_ingest::formats::{AzureActivity, AzureInventory, GcpAudit, GcpInventory};
use credtrail_ingest::{Format, ParsedFile, Reason};
use host_support::{parse_bytes, parse_fixture, sniffs_only_its_own};
use proptest::prelude::*;

fn calls(p: &ParsedFile) -> Vec<&CloudApiCall> {
    p.events
        .iter()
        .map(|e| match &e.body {
            Body::CloudApiCall(c) => &**c,
            other => panic!("a cloud API call, not {other:?}"),
        })
        .collect()
}

fn opt<T: std::fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".to_string(), |v| format!("{v:?}"))
}

/// Each diagnostic's line and reason.
fn reasons(p: &ParsedFile) -> Vec<(u64, Reason)> {
    p.diagnostics.iter().map(|d| (d.line, d.reason)).collect()
}

/// One block per event or fact, one line per diagnostic.
fn digest(p: &ParsedFile) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "format={} records={} events={} facts={} diagnostics={}",
        p.format.unwrap_or("-"),
        p.records,
        p.events.len(),
        p.facts.len(),
        p.diagnostics.len()
    )
    .unwrap();
    for e in &p.events {
        let Body::CloudApiCall(c) = &e.body else { continue };
        let id = &c.identity;
        writeln!(
            out,
            "event line={} index={} time={} provider={:?} {} {}\n  identity kind={} principal={} account={} key={} principal_id={} client={} user={} delegation={:?}\n  source={} ua={} error={} region={} recipient={} type={} workload={}\n  target={}",
            e.origin.line,
            e.origin.index,
            e.time,
            c.provider,
            c.service,
            c.action,
            opt(&id.kind),
            opt(&id.arn),
            opt(&id.account),
            opt(&id.access_key),
            opt(&id.principal_id),
            opt(&id.client_id),
            opt(&id.user_name),
            id.delegation,
            opt(&c.source),
            opt(&c.user_agent),
            opt(&c.error_code),
            opt(&c.region),
            opt(&c.recipient_account),
            opt(&c.event_type),
            c.workload.as_ref().map_or("-".to_string(), |w| format!("{} {} ({})", w.kind.as_str(), w.id, w.role)),
            opt(&c.target),
        )
        .unwrap();
    }
    for f in &p.facts {
        if let Fact::CloudVm {
            provider,
            id,
            account,
            identities,
            private_ips,
            public_ips,
            networks,
        } = f
        {
            writeln!(
                out,
                "vm {provider:?} {id} account={} identities={identities:?} private={private_ips:?} public={public_ips:?} networks={networks:?}",
                opt(account)
            )
            .unwrap();
        }
    }
    for d in &p.diagnostics {
        writeln!(
            out,
            "diagnostic line={} index={} {}: {}",
            d.line,
            opt(&d.index),
            d.reason.key(),
            d.detail
        )
        .unwrap();
    }
    out
}

#[test]
fn gcp_audit_sink_lines() {
    let p = parse_fixture("gcp-audit/sink.jsonl");
    assert_eq!(p.format, Some("gcp-audit"));
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (7, 7, 0));
    let c = calls(&p);
    // The compute default service account, from the VM's external address, gcloud on GCE.
    assert_eq!(c[0].provider, Provider::Gcp);
    assert_eq!(c[0].identity.kind, Some(IdentityKind::GcpServiceAccount));
    assert_eq!(
        c[0].identity.arn.as_deref(),
        Some("123456789012-compute@developer.gserviceaccount.com")
    );
    assert_eq!(c[0].identity.account.as_deref(), Some("123456789012"));
    assert_eq!(c[0].source, Some(SourceAddress::Ip("34.14.3.7".parse().unwrap())));
    assert_eq!(c[0].recipient_account.as_deref(), Some("shop-prod"));
    assert_eq!(c[0].event_type.as_deref(), Some("data_access"));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T10:00:00.123Z");
    // Pub/Sub acting for the account: a redacted address and the service agent as delegate.
    assert_eq!(c[1].source, Some(SourceAddress::Redacted("private".into())));
    assert_eq!(
        c[1].identity.delegation,
        ["service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"]
    );
    // A person is not a service account.
    assert_eq!(c[2].identity.kind, None);
    // A key-signed call names its key.
    assert!(c[3].identity.access_key.as_deref().unwrap().contains("/keys/"));
    // status.code 7.
    assert_eq!(c[4].error_code.as_deref(), Some("PERMISSION_DENIED"));
    assert!(c[4].is_access_denied());
    assert_eq!(c[5].source, Some(SourceAddress::Redacted("gce-internal-ip".into())));
    insta::assert_snapshot!("gcp_sink", digest(&p));
}

#[test]
fn gcp_audit_gcloud_array_and_bigquery_export() {
    let p = parse_fixture("gcp-audit/gcloud-logging-read.json");
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (2, 2, 0));
    assert_eq!(p.events.iter().map(|e| e.origin.line).collect::<Vec<_>>(), [2, 44]);
    insta::assert_snapshot!("gcp_array", digest(&p));
    let p = parse_fixture("gcp-audit/bigquery-export.jsonl");
    assert_eq!(p.format, Some("gcp-audit"));
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (2, 2, 0));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T12:00:00.250Z");
    // BigQuery writes INT64 as text: status.code "7" is still a denial.
    assert_eq!(calls(&p)[1].error_code.as_deref(), Some("PERMISSION_DENIED"));
    insta::assert_snapshot!("gcp_bigquery", digest(&p));
}

#[test]
fn gcp_audit_malformed_entries_are_diagnostics_and_the_others_are_read() {
    let p = parse_fixture("gcp-audit/malformed.jsonl");
    assert_eq!(p.records, 8);
    assert_eq!(p.events.iter().map(|e| e.origin.index).collect::<Vec<_>>(), [1, 7]);
    assert_eq!(
        reasons(&p),
        [
            (2, Reason::InvalidJson),
            (3, Reason::MissingField),
            (4, Reason::BadTimestamp),
            (5, Reason::MissingField),
            (6, Reason::MissingField),
            (8, Reason::InvalidJson),
        ]
    );
    insta::assert_snapshot!("gcp_malformed", digest(&p));
}

#[test]
fn gcp_inventory_attaches_service_accounts_and_addresses_to_vms() {
    let p = parse_fixture("gcp-inventory/instances.json");
    assert_eq!(p.format, Some("gcp-inventory"));
    assert_eq!((p.records, p.facts.len(), p.diagnostics.len()), (3, 2, 1));
    let Fact::CloudVm {
        id,
        identities,
        public_ips,
        private_ips,
        ..
    } = &p.facts[0]
    else {
        panic!("a VM")
    };
    assert_eq!(id, "projects/shop-prod/zones/europe-west1-b/instances/web-1");
    assert_eq!(identities, &["123456789012-compute@developer.gserviceaccount.com"]);
    assert_eq!(public_ips, &["34.14.3.7".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!(private_ips, &["10.132.0.5".parse::<std::net::IpAddr>().unwrap()]);
    insta::assert_snapshot!("gcp_inventory", digest(&p));
    let p = parse_fixture("gcp-inventory/truncated.json");
    assert_eq!((p.facts.len(), p.diagnostics.len()), (1, 1));
    assert_eq!(p.diagnostics[0].reason, Reason::InvalidJson);
}

#[test]
fn azure_activity_records_blob_with_managed_identity_claims() {
    let p = parse_fixture("azure-activity/records.json");
    assert_eq!(p.format, Some("azure-activity"));
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (4, 4, 0));
    let c = calls(&p);
    let vm = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/shop-prod/providers/microsoft.compute/virtualmachines/web-1";
    assert_eq!(c[0].provider, Provider::Azure);
    assert_eq!(c[0].identity.kind, Some(IdentityKind::AzureManagedIdentity));
    assert_eq!(c[0].identity.arn.as_deref(), Some(vm));
    assert_eq!(
        c[0].identity.client_id.as_deref(),
        Some("9b2e7c3d-4f5a-4b6c-8d7e-1f2a3b4c5d6e")
    );
    let w = c[0].workload.as_ref().unwrap();
    assert_eq!((w.kind, w.id.as_str()), (WorkloadKind::AzureVm, vm));
    assert_eq!(c[0].source, Some(SourceAddress::Ip("4.175.10.20".parse().unwrap())));
    assert_eq!(p.events[0].time.to_string(), "2026-09-14T10:00:00.123Z");
    // A failed role assignment is a denied call.
    assert_eq!(c[2].error_code.as_deref(), Some("Forbidden"));
    assert!(c[2].is_access_denied());
    // A person: no managed identity, their upn.
    assert_eq!(c[3].identity.kind, None);
    assert_eq!(c[3].identity.user_name.as_deref(), Some("alice@contoso.com"));
    insta::assert_snapshot!("azure_records", digest(&p));
}

#[test]
fn azure_activity_cli_list_and_managed_identity_sign_ins() {
    let p = parse_fixture("azure-activity/cli-list.json");
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (1, 1, 0));
    let c = calls(&p);
    // The REST shape: localizable values, httpRequest.clientIpAddress, top-level claims.
    assert_eq!(c[0].action, "Microsoft.Storage/storageAccounts/listKeys/action");
    assert_eq!(c[0].service, "Microsoft.Storage");
    assert_eq!(c[0].source, Some(SourceAddress::Ip("2001:db8::50".parse().unwrap())));
    assert!(c[0]
        .identity
        .arn
        .as_deref()
        .unwrap()
        .ends_with("/userassignedidentities/etl-identity"));
    assert!(c[0].workload.is_none(), "a user-assigned identity does not name its VM");
    insta::assert_snapshot!("azure_cli", digest(&p));
    let p = parse_fixture("azure-activity/managed-identity-sign-ins.jsonl");
    assert_eq!((p.records, p.events.len(), p.diagnostics.len()), (2, 2, 0));
    let c = calls(&p);
    assert_eq!(c[0].action, credtrail_event::MANAGED_IDENTITY_SIGN_IN);
    assert!(c[0]
        .identity
        .arn
        .as_deref()
        .unwrap()
        .ends_with("/virtualmachines/web-1"));
    assert_eq!(c[0].source, None, "Entra writes no address for a token IMDS fetched");
    insta::assert_snapshot!("azure_sign_ins", digest(&p));
}

#[test]
fn azure_activity_malformed_records_are_diagnostics_and_the_others_are_read() {
    let p = parse_fixture("azure-activity/malformed.jsonl");
    assert_eq!(p.records, 8);
    assert_eq!(p.events.iter().map(|e| e.origin.index).collect::<Vec<_>>(), [1, 7]);
    assert_eq!(
        reasons(&p),
        [
            (2, Reason::InvalidJson),
            (3, Reason::MissingField),
            (4, Reason::BadTimestamp),
            (5, Reason::MissingField),
            (6, Reason::InvalidUtf8),
            (8, Reason::InvalidJson),
        ]
    );
    insta::assert_snapshot!("azure_malformed", digest(&p));
}

#[test]
fn azure_inventory_names_identities_and_addresses() {
    let p = parse_fixture("azure-inventory/vm-list.json");
    assert_eq!(p.format, Some("azure-inventory"));
    assert_eq!((p.records, p.facts.len(), p.diagnostics.len()), (3, 2, 1));
    let Fact::CloudVm {
        identities, public_ips, ..
    } = &p.facts[1]
    else {
        panic!("a VM")
    };
    // A user-assigned identity by resource id, principal id and client id; two public addresses.
    assert_eq!(identities.len(), 3);
    assert!(identities
        .iter()
        .any(|i| i.ends_with("/userassignedidentities/etl-identity")));
    assert_eq!(public_ips.len(), 2);
    insta::assert_snapshot!("azure_inventory", digest(&p));
    let p = parse_fixture("azure-inventory/odd-values.json");
    assert_eq!((p.records, p.facts.len(), p.diagnostics.len()), (3, 2, 1));
    insta::assert_snapshot!("azure_inventory_odd", digest(&p));
}

#[test]
fn each_format_sniffs_only_its_own_fixtures() {
    sniffs_only_its_own(&GcpAudit);
    sniffs_only_its_own(&GcpInventory);
    sniffs_only_its_own(&AzureActivity);
    sniffs_only_its_own(&AzureInventory);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic_and_every_record_is_accounted_for(
        data in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        for format in [&GcpAudit as &dyn Format, &GcpInventory, &AzureActivity, &AzureInventory] {
            let out = parse_bytes(format, &data);
            prop_assert!(out.events.len() as u64 + out.facts.len() as u64 + out.diagnostics.len() as u64 >= out.records);
        }
    }

    #[test]
    fn cut_fixtures_never_panic(cut in 0usize..4096) {
        for rel in ["gcp-audit/sink.jsonl", "azure-activity/records.json"] {
            let buf = std::fs::read(host_support::fixture(rel)).unwrap();
            let out = parse_bytes(&GcpAudit, &buf[..cut.min(buf.len())]);
            prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 >= out.records);
            let out = parse_bytes(&AzureActivity, &buf[..cut.min(buf.len())]);
            prop_assert!(out.events.len() as u64 + out.diagnostics.len() as u64 >= out.records);
        }
    }
}
