//! Instance-like sessions: credentials that a machine, task or pod received from a metadata
//! endpoint, recognised from the session name AWS gives them.

/// What kind of workload a session credential belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    /// An EC2 instance profile session: `assumed-role/<role>/i-…`, delivered by IMDS.
    Ec2Instance,
    /// The instance identity role `assumed-role/aws:ec2-instance/i-…`: used by AWS agents and
    /// not usable for API calls a role grants, but its addresses are the instance's own.
    Ec2InstanceIdentity,
    /// An ECS task role session, named by the task id, delivered by 169.254.170.2.
    EcsTask,
    /// An EKS Pod Identity session (`eks-<cluster>-<pod>-<id>`), delivered by 169.254.170.23.
    EksPod,
    /// An Azure VM's managed identity, whose tokens IMDS (`169.254.169.254/metadata/identity`,
    /// header `Metadata: true`) hands out. `id` is the VM's resource id in lower case, `role`
    /// the managed identity's resource id (the VM itself when system-assigned). GCP audit logs
    /// do not name the VM a service account token came from, so GCP has no workload kind: its
    /// detector finds the VMs through inventory.
    AzureVm,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Ec2Instance => "ec2_instance",
            WorkloadKind::Ec2InstanceIdentity => "ec2_instance_identity",
            WorkloadKind::EcsTask => "ecs_task",
            WorkloadKind::EksPod => "eks_pod",
            WorkloadKind::AzureVm => "azure_vm",
        }
    }
}

/// The workload behind a session.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Instance id (lower case), ECS task id, or EKS session name.
    pub id: String,
    /// The role name (`prod-web-role`).
    pub role: String,
}

impl Workload {
    /// The key under which a workload's normal network location is learned. An EC2 instance has
    /// its own addresses; ECS tasks and EKS pods are short-lived and share their cluster's
    /// network, so they are learned per role.
    pub fn network_scope(&self) -> String {
        match self.kind {
            WorkloadKind::Ec2Instance | WorkloadKind::Ec2InstanceIdentity | WorkloadKind::AzureVm => self.id.clone(),
            WorkloadKind::EcsTask | WorkloadKind::EksPod => format!("role/{}", self.role),
        }
    }

    /// The EC2 instance id when there is one.
    pub fn instance_id(&self) -> Option<&str> {
        match self.kind {
            WorkloadKind::Ec2Instance | WorkloadKind::Ec2InstanceIdentity => Some(&self.id),
            _ => None,
        }
    }
}

/// Recognises an instance-like session from an assumed-role ARN
/// (`arn:aws:sts::123456789012:assumed-role/<role>/<session>`).
///
/// Instance ids are matched in any letter case: AWS writes them in lower case, but anonymised
/// corpora (Stratus Red Team's detonation logs) and some pipelines do not, and Panther's
/// lower-case-only pattern misses them.
pub fn classify_assumed_role_arn(arn: &str) -> Option<Workload> {
    let rest = arn.split_once(":assumed-role/")?.1;
    let (role, session) = rest.rsplit_once('/')?;
    if role.is_empty() {
        return None;
    }
    let kind = if is_instance_id(session) {
        if role == "aws:ec2-instance" {
            WorkloadKind::Ec2InstanceIdentity
        } else {
            WorkloadKind::Ec2Instance
        }
    } else if is_ecs_task_id(session) {
        WorkloadKind::EcsTask
    } else if is_eks_pod_identity_session(session) {
        WorkloadKind::EksPod
    } else {
        return None;
    };
    let id = match kind {
        WorkloadKind::Ec2Instance | WorkloadKind::Ec2InstanceIdentity => session.to_ascii_lowercase(),
        _ => session.to_string(),
    };
    Some(Workload {
        kind,
        id,
        role: role.to_string(),
    })
}

/// `i-` followed by 8 or 17 hexadecimal digits, in any case.
pub fn is_instance_id(text: &str) -> bool {
    let Some(hex) = text
        .get(..2)
        .filter(|p| p.eq_ignore_ascii_case("i-"))
        .and(text.get(2..))
    else {
        return false;
    };
    (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// ECS names task-role sessions by the task id: 32 hexadecimal digits.
fn is_ecs_task_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// EKS Pod Identity sessions are named `eks-<cluster>-<pod name prefix>-<8 hex>`.
fn is_eks_pod_identity_session(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("eks-") else {
        return false;
    };
    let Some((_, suffix)) = rest.rsplit_once('-') else {
        return false;
    };
    suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_instance_sessions_in_any_letter_case() {
        let w = classify_assumed_role_arn("arn:aws:sts::017622104382:assumed-role/stratus-role/i-786a3A8B5C0d92eF4")
            .unwrap();
        assert_eq!(w.kind, WorkloadKind::Ec2Instance);
        assert_eq!(w.id, "i-786a3a8b5c0d92ef4");
        assert_eq!(w.role, "stratus-role");
    }

    #[test]
    fn recognises_identity_role_ecs_and_eks_sessions() {
        let arn = "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0e3c8cbab276e0ba4";
        assert_eq!(
            classify_assumed_role_arn(arn).unwrap().kind,
            WorkloadKind::Ec2InstanceIdentity
        );
        let arn = "arn:aws:sts::1:assumed-role/task-role/0e67a410398abff4d9db9d283c742ca1";
        assert_eq!(classify_assumed_role_arn(arn).unwrap().kind, WorkloadKind::EcsTask);
        let arn = "arn:aws:sts::1:assumed-role/pod-role/eks-prod-eks-external-dns-d87e7379";
        assert_eq!(classify_assumed_role_arn(arn).unwrap().kind, WorkloadKind::EksPod);
    }

    #[test]
    fn ordinary_sessions_are_not_workloads() {
        for arn in [
            "arn:aws:sts::1:assumed-role/MyCustomRole/session",
            "arn:aws:sts::1:assumed-role/lambda-role/image-resize",
            "arn:aws:iam::1:user/i-12345678",
            "arn:aws:sts::1:assumed-role/r/i-1234567",
            "arn:aws:sts::1:assumed-role/r/i-1234567g",
        ] {
            assert!(classify_assumed_role_arn(arn).is_none(), "{arn}");
        }
    }
}
