//! One file per detector; each detector's documentation is the `.md` file beside it.

pub mod imds_hardening_downgrade;
pub mod imdsv1_credential_delivery;
pub mod instance_credential_access_denied_burst;
pub mod instance_credential_exfiltration;
pub mod instance_credential_recon;
pub mod metadata_proxy_abuse;
pub mod ssrf_metadata_request;

use crate::alert::Entities;
use crate::footprint::Usage;

/// Entities of an alert about one workload's usage at one place.
pub(crate) fn usage_entities(usage: &Usage, source_ip: Option<String>) -> Entities {
    let workload = usage.workload.as_ref();
    Entities {
        cloud: Some("aws".into()),
        account: usage.account.clone(),
        principal: usage.principal.clone(),
        role: workload.map(|w| w.role.clone()),
        access_key: usage.keys.first().cloned(),
        instance: workload.map(|w| w.id.clone()),
        source_ip,
        user_agent: usage.main_user_agent().map(str::to_string),
    }
}
