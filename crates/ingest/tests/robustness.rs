//! Hostile and damaged input never panics and never disappears: every record the framer sees is
//! either an event or a diagnostic.

use credtrail_event::FileId;
use credtrail_ingest::formats::{AwsIamAuthorizationDetails, AwsInventory, CloudTrail, ParsedFile};
use credtrail_ingest::Format;
use proptest::prelude::*;

fn stratus() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/corpora/stratus-detonation-logs/aws.credential-access.ec2-steal-instance-credentials.json",
    );
    std::fs::read(path).expect("the Stratus corpus beside the repository")
}

fn parse(format: &dyn Format, buf: &[u8]) -> ParsedFile {
    let mut out = ParsedFile::default();
    format.parse(buf, FileId(0), &mut out);
    out
}

fn accounted(out: &ParsedFile) -> bool {
    out.events.len() as u64 + out.diagnostics.len() as u64 >= out.records
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mutated_cloudtrail_never_panics_and_every_record_is_accounted_for(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..40),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut buf = stratus();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        if truncate {
            buf.truncate(cut.index(buf.len()));
        }
        let out = parse(&CloudTrail, &buf);
        prop_assert!(accounted(&out), "records {} events {} diagnostics {}", out.records, out.events.len(), out.diagnostics.len());
        let _ = parse(&AwsInventory, &buf);
        let _ = parse(&AwsIamAuthorizationDetails, &buf);
    }

    #[test]
    fn mutated_authorization_details_never_panic_and_every_entry_is_accounted_for(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..40),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/formats/aws-iam-authorization-details/cli-output.json");
        let mut buf = std::fs::read(path).expect("the fixture");
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        if truncate {
            buf.truncate(cut.index(buf.len()));
        }
        let out = parse(&AwsIamAuthorizationDetails, &buf);
        // Every diagnostic names a record that was counted, and a bad record was diagnosed.
        prop_assert!(out.diagnostics.iter().all(|d| d.index.is_none_or(|i| i >= 1 && i <= out.records)));
        prop_assert!(out.records == 0 || out.facts.len() as u64 + out.diagnostics.len() as u64 > 0 || out.records <= 2);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let out = parse(&CloudTrail, &data);
        prop_assert!(accounted(&out));
        let _ = parse(&AwsInventory, &data);
        let _ = parse(&AwsIamAuthorizationDetails, &data);
    }
}

#[test]
fn unmutated_stratus_file_is_read_whole() {
    let out = parse(&CloudTrail, &stratus());
    assert_eq!((out.records, out.events.len(), out.diagnostics.len()), (45, 45, 0));
}
