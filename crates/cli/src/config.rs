//! The TOML config file, resolved once into the detectors' [`Policy`]. Unknown keys are errors:
//! a misspelt suppression must not silently suppress nothing.

use std::path::Path;

use anyhow::{bail, Context, Result};
use credtrail_detect::{Policy, Suppression};
use credtrail_event::Timestamp;
use credtrail_triage::DeploymentWindow;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub allow: Allow,
    #[serde(default)]
    pub detect: DetectSettings,
    #[serde(default)]
    pub suppress: Vec<SuppressEntry>,
    /// Declared changes: alerts wholly inside one are what the deployment does (triage closes
    /// them as benign unless the credential was used elsewhere).
    #[serde(default)]
    pub deployment: Vec<DeploymentEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentEntry {
    pub name: String,
    /// RFC 3339 times.
    pub start: String,
    pub end: String,
    /// Instances it covers; with `roles` also empty it covers every instance.
    #[serde(default)]
    pub instances: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Addresses the organisation's workloads legitimately reach AWS from (corporate proxies,
    /// on-premises NAT): CIDRs or single addresses.
    #[serde(default)]
    pub egress_cidrs: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    #[serde(default)]
    pub principals: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Software that reads the metadata service by design, beyond the shipped list.
    #[serde(default)]
    pub software: Vec<SoftwareEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareEntry {
    /// Executable path: exact, or a prefix when it ends with `/` or `*`.
    pub exe: String,
    /// Text the command line must contain (for interpreted agents).
    pub command_contains: Option<String>,
    /// Text an ancestor's command line must contain (a helper run by an agent's script).
    pub ancestor_contains: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectSettings {
    pub denied_burst_threshold: Option<usize>,
    pub denied_burst_window_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressEntry {
    pub rule: String,
    pub instance: Option<String>,
    pub role: Option<String>,
    pub principal: Option<String>,
    pub account: Option<String>,
    pub access_key: Option<String>,
    pub source: Option<String>,
    pub reason: Option<String>,
}

fn parse_net(text: &str) -> Result<ipnet::IpNet> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .with_context(|| format!("{text:?} is not an address or CIDR"))
}

/// Everything the config decides.
#[derive(Debug, Default)]
pub struct Settings {
    pub policy: Policy,
    pub deployment_windows: Vec<DeploymentWindow>,
}

pub fn load(path: &Path) -> Result<Settings> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
    let mut file: ConfigFile = toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
    let deployment_windows =
        windows(std::mem::take(&mut file.deployment)).with_context(|| format!("invalid config {}", path.display()))?;
    let policy = resolve(file).with_context(|| format!("invalid config {}", path.display()))?;
    Ok(Settings {
        policy,
        deployment_windows,
    })
}

pub fn windows(entries: Vec<DeploymentEntry>) -> Result<Vec<DeploymentWindow>> {
    entries
        .into_iter()
        .enumerate()
        .map(|(n, d)| {
            let at = format!("[[deployment]] #{} ({:?})", n + 1, d.name);
            let time = |field: &str, text: &str| {
                Timestamp::parse_rfc3339(text)
                    .with_context(|| format!("{at}: {field} {text:?} is not an RFC 3339 time (2026-09-14T00:00:00Z)"))
            };
            let start = time("start", &d.start)?;
            let end = time("end", &d.end)?;
            if end < start {
                bail!("{at}: end {} is before start {}", d.end, d.start);
            }
            Ok(DeploymentWindow {
                name: d.name,
                start,
                end,
                instances: d.instances,
                roles: d.roles,
            })
        })
        .collect()
}

pub fn resolve(file: ConfigFile) -> Result<Policy> {
    let mut policy = Policy {
        egress: file
            .network
            .egress_cidrs
            .iter()
            .map(|s| parse_net(s))
            .collect::<Result<_>>()
            .context("network.egress_cidrs")?,
        allow_principals: file.allow.principals,
        allow_roles: file.allow.roles,
        allow_accounts: file.allow.accounts,
        suppressions: Vec::new(),
        allow_software: Vec::new(),
        denied_burst_threshold: file.detect.denied_burst_threshold,
        denied_burst_window_seconds: file.detect.denied_burst_window_seconds,
    };
    for (n, entry) in file.allow.software.into_iter().enumerate() {
        let at = format!("[[allow.software]] #{}", n + 1);
        let reason = match entry.reason.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => bail!("{at}: every allow-listed program needs a `reason`, for whoever audits it later"),
        };
        if !entry.exe.starts_with('/') {
            bail!(
                "{at}: exe {:?} must be an absolute path (a process name can be chosen by an attacker)",
                entry.exe
            );
        }
        policy.allow_software.push(credtrail_detect::host::AllowedSoftware {
            exe: entry.exe,
            command_contains: entry.command_contains,
            ancestor_contains: entry.ancestor_contains,
            reason: format!("{reason} (config allow.software)"),
        });
    }
    for (n, s) in file.suppress.into_iter().enumerate() {
        let at = format!("[[suppress]] #{}", n + 1);
        if credtrail_detect::rule(&s.rule).is_none() && s.rule != "*" {
            let known: Vec<&str> = credtrail_detect::DETECTORS.iter().map(|d| d.meta().id).collect();
            bail!("{at}: unknown rule {:?} (known: {})", s.rule, known.join(", "));
        }
        let reason = match s.reason.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => bail!("{at}: every suppression needs a `reason`, for whoever audits it later"),
        };
        let source = s
            .source
            .as_deref()
            .map(parse_net)
            .transpose()
            .with_context(|| format!("{at}: source"))?;
        if s.instance.is_none()
            && s.role.is_none()
            && s.principal.is_none()
            && s.account.is_none()
            && s.access_key.is_none()
            && source.is_none()
        {
            bail!("{at}: name at least one entity (instance, role, principal, account, access_key, source); a whole rule is turned off by not running it, not by a suppression");
        }
        policy.suppressions.push(Suppression {
            rule: s.rule,
            instance: s.instance.map(|i| i.to_ascii_lowercase()),
            role: s.role,
            principal: s.principal,
            account: s.account,
            access_key: s.access_key,
            source,
            reason,
        });
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy> {
        let file: ConfigFile = toml::from_str(text)?;
        resolve(file)
    }

    #[test]
    fn a_full_config_resolves() {
        let p = parse(
            r#"
            [network]
            egress_cidrs = ["203.0.113.0/24", "198.51.100.7"]
            [allow]
            roles = ["scanner-*"]
            [[suppress]]
            rule = "imdsv1-credential-delivery"
            instance = "i-0846F1D1BC19AAAF3"
            reason = "legacy batch job, ticket OPS-1234"
            "#,
        )
        .unwrap();
        assert_eq!(p.egress.len(), 2);
        assert_eq!(p.suppressions[0].instance.as_deref(), Some("i-0846f1d1bc19aaaf3"));
    }

    #[test]
    fn deployment_windows_are_read_and_bad_times_named() {
        let file: ConfigFile = toml::from_str(
            r#"
            [[deployment]]
            name = "storefront 4.2 rollout"
            start = "2026-09-14T10:00:00Z"
            end = "2026-09-14T11:00:00Z"
            instances = ["i-0d4c34ad7bfd4bc30"]
            "#,
        )
        .unwrap();
        let read = windows(file.deployment).unwrap();
        assert_eq!(read[0].name, "storefront 4.2 rollout");
        assert!(read[0].start < read[0].end);
        let file: ConfigFile =
            toml::from_str("[[deployment]]\nname = \"x\"\nstart = \"monday\"\nend = \"2026-09-14T11:00:00Z\"\n")
                .unwrap();
        let err = format!("{:#}", windows(file.deployment).unwrap_err());
        assert!(err.contains("[[deployment]] #1") && err.contains("\"monday\""), "{err}");
        let file: ConfigFile = toml::from_str(
            "[[deployment]]\nname = \"x\"\nstart = \"2026-09-14T11:00:00Z\"\nend = \"2026-09-14T10:00:00Z\"\n",
        )
        .unwrap();
        assert!(windows(file.deployment).is_err());
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = format!("{:#}", parse("[allow]\nrolez = [\"x\"]\n").unwrap_err());
        assert!(err.contains("rolez"), "{err}");
    }

    #[test]
    fn a_suppression_without_reason_is_rejected() {
        let err = format!(
            "{:#}",
            parse("[[suppress]]\nrule = \"imdsv1-credential-delivery\"\ninstance = \"i-1\"\n").unwrap_err()
        );
        assert!(err.contains("reason"), "{err}");
    }

    #[test]
    fn a_suppression_of_an_unknown_rule_is_rejected() {
        let err = format!(
            "{:#}",
            parse("[[suppress]]\nrule = \"nope\"\ninstance = \"i-1\"\nreason = \"x\"\n").unwrap_err()
        );
        assert!(err.contains("unknown rule"), "{err}");
    }
}
