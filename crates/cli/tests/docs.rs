//! The documentation stays true: README lists every rule and format the binary knows, and every
//! rule's `explain` has the fixed headings.

mod support;

use std::process::Command;

fn credtrail(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_credtrail"))
        .args(args)
        .output()
        .expect("run credtrail");
    assert!(
        out.status.success(),
        "credtrail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn first_words(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn readme_lists_every_rule_and_every_format() {
    let readme = std::fs::read_to_string(support::repo().join("README.md")).expect("README.md");
    for rule in first_words(&credtrail(&["rules"])) {
        assert!(
            readme.contains(&format!("`{rule}`")),
            "README does not list rule {rule}"
        );
    }
    let formats = credtrail(&["formats"]);
    assert!(
        readme.contains("CloudTrail") && readme.contains("describe-instances"),
        "README lists the formats"
    );
    assert!(formats.contains("cloudtrail") && formats.contains("aws-inventory"));
    // Every other format is a bullet of the format list, named as `--input-format` takes it
    // (CloudTrail and the inventory are the opening paragraph's).
    for name in first_words(&formats) {
        if name == "cloudtrail" || name == "aws-inventory" {
            continue;
        }
        assert!(
            readme.contains(&format!("(`{name}`)")),
            "README does not list format {name}"
        );
    }
}

#[test]
fn every_rule_explains_itself_under_the_fixed_headings() {
    for rule in first_words(&credtrail(&["rules"])) {
        let text = credtrail(&["explain", &rule]);
        for heading in [
            "What it detects",
            "Why it matters",
            "Data required",
            "Known false positives",
            "Example",
        ] {
            assert!(
                text.contains(&format!("## {heading}")),
                "{rule}: missing heading {heading:?}"
            );
        }
        assert!(text.contains("T1552.005"), "{rule}: names the ATT&CK technique");
    }
}
