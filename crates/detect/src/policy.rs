//! The user's policy: declared egress, allow-lists, suppressions. Nothing is dropped silently:
//! every alert an allow-list or suppression removes is returned with the reason.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::alert::Alert;

/// A suppression: a rule plus entity matchers, and the mandatory reason an auditor will read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppression {
    pub rule: String,
    pub instance: Option<String>,
    pub role: Option<String>,
    pub principal: Option<String>,
    pub account: Option<String>,
    pub access_key: Option<String>,
    pub source: Option<IpNet>,
    pub reason: String,
}

impl Suppression {
    fn matches(&self, alert: &Alert) -> bool {
        let e = &alert.entities;
        let field = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref().is_some_and(|h| glob(w, h)),
        };
        (self.rule == "*" || self.rule == alert.rule)
            && field(&self.instance, &e.instance)
            && field(&self.role, &e.role)
            && field(&self.principal, &e.principal)
            && field(&self.account, &e.account)
            && field(&self.access_key, &e.access_key)
            && self.source.is_none_or(|net| {
                e.source_ip
                    .as_deref()
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .is_some_and(|ip| net.contains(&ip))
            })
    }
}

/// An alert the policy removed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub alert: Alert,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Addresses the organisation's workloads legitimately leave from (corporate proxies, NAT
    /// outside AWS): a workload credential used from them is on its own network.
    pub egress: Vec<IpNet>,
    pub allow_principals: Vec<String>,
    pub allow_roles: Vec<String>,
    pub allow_accounts: Vec<String>,
    pub suppressions: Vec<Suppression>,
    /// Software that reads the metadata service by design, beyond the shipped list
    /// ([`crate::host::shipped_allow_list`]).
    pub allow_software: Vec<crate::host::AllowedSoftware>,
    /// AccessDenied calls that make a burst (default 3).
    pub denied_burst_threshold: Option<usize>,
    /// Window of a burst in seconds (default 600).
    pub denied_burst_window_seconds: Option<i64>,
}

/// `*` matches any run of characters; everything else is literal.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

impl Policy {
    pub fn is_declared_egress(&self, ip: IpAddr) -> bool {
        self.egress.iter().any(|n| n.contains(&ip))
    }

    /// Splits alerts into kept and removed-with-reason.
    pub fn apply(&self, alerts: Vec<Alert>) -> (Vec<Alert>, Vec<Suppressed>) {
        let mut kept = Vec::new();
        let mut removed = Vec::new();
        for alert in alerts {
            match self.why_removed(&alert) {
                Some(reason) => removed.push(Suppressed { alert, reason }),
                None => kept.push(alert),
            }
        }
        (kept, removed)
    }

    fn why_removed(&self, alert: &Alert) -> Option<String> {
        let e = &alert.entities;
        if let Some(p) = e.principal.as_deref() {
            if let Some(pat) = self.allow_principals.iter().find(|pat| glob(pat, p)) {
                return Some(format!("allow-listed principal {pat} (config allow.principals)"));
            }
        }
        if let Some(r) = e.role.as_deref() {
            if let Some(pat) = self.allow_roles.iter().find(|pat| glob(pat, r)) {
                return Some(format!("allow-listed role {pat} (config allow.roles)"));
            }
        }
        if let Some(a) = e.account.as_deref() {
            if self.allow_accounts.iter().any(|x| x == a) {
                return Some(format!("allow-listed account {a} (config allow.accounts)"));
            }
        }
        self.suppressions
            .iter()
            .find(|s| s.matches(alert))
            .map(|s| format!("suppressed for {}: {}", s.rule, s.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_only() {
        assert!(glob("arn:aws:iam::*:user/scanner", "arn:aws:iam::123:user/scanner"));
        assert!(glob("prod-*-role", "prod-web-role"));
        assert!(!glob("prod-*-role", "dev-web-role"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }
}
