//! A call to a cloud provider's control or data plane, as an audit log records it.

use std::net::IpAddr;

use crate::ip_ranges::Provider;
use crate::time::Timestamp;
use crate::workload::Workload;

/// The caller's network location as the provider logged it. CloudTrail's `sourceIPAddress` holds an
/// address, a service host name (`ec2.amazonaws.com`) when a service acted for the principal, or
/// `AWS Internal`; these are different facts and must not be compared as strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceAddress {
    Ip(IpAddr),
    AwsInternal,
    ServiceHost(String),
    /// An address the provider withheld: GCP writes `callerIp` `private` for a call between
    /// Google services inside its production network and `gce-internal-ip` for a VM without an
    /// external address calling a resource of another organisation (AuditLog
    /// `RequestMetadata.caller_ip`, https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog).
    Redacted(String),
    Other(String),
    Missing,
}

impl SourceAddress {
    pub fn classify(text: &str) -> SourceAddress {
        let text = text.trim();
        if text.is_empty() {
            return SourceAddress::Missing;
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return SourceAddress::Ip(ip);
        }
        if text.eq_ignore_ascii_case("AWS Internal") {
            return SourceAddress::AwsInternal;
        }
        if text.ends_with(".amazonaws.com") || text.ends_with(".amazonaws.com.cn") {
            return SourceAddress::ServiceHost(text.to_ascii_lowercase());
        }
        SourceAddress::Other(text.to_string())
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            SourceAddress::Ip(ip) => Some(*ip),
            _ => None,
        }
    }
}

impl std::fmt::Display for SourceAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceAddress::Ip(ip) => write!(f, "{ip}"),
            SourceAddress::AwsInternal => f.write_str("AWS Internal"),
            SourceAddress::ServiceHost(h) | SourceAddress::Redacted(h) | SourceAddress::Other(h) => f.write_str(h),
            SourceAddress::Missing => f.write_str("-"),
        }
    }
}

/// CloudTrail `userIdentity.type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityKind {
    IamUser,
    AssumedRole,
    Root,
    FederatedUser,
    AwsService,
    AwsAccount,
    IdentityCenterUser,
    SamlUser,
    WebIdentityUser,
    /// A GCP service account (`authenticationInfo.principalEmail` ending in
    /// `.gserviceaccount.com`).
    GcpServiceAccount,
    /// An Azure managed identity: a token with `idtyp` `app` and an `xms_mirid` claim.
    AzureManagedIdentity,
    Unknown(String),
}

impl IdentityKind {
    pub fn parse(text: &str) -> IdentityKind {
        match text {
            "IAMUser" => IdentityKind::IamUser,
            "AssumedRole" => IdentityKind::AssumedRole,
            "Root" => IdentityKind::Root,
            "FederatedUser" => IdentityKind::FederatedUser,
            "AWSService" => IdentityKind::AwsService,
            "AWSAccount" => IdentityKind::AwsAccount,
            "IdentityCenterUser" => IdentityKind::IdentityCenterUser,
            "SAMLUser" => IdentityKind::SamlUser,
            "WebIdentityUser" => IdentityKind::WebIdentityUser,
            other => IdentityKind::Unknown(other.to_string()),
        }
    }
}

/// Who made the call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub kind: Option<IdentityKind>,
    /// The principal's canonical name: an ARN (AWS), a service account or user email (GCP
    /// `principalEmail`), a managed identity's resource id (Azure `xms_mirid`) or the caller.
    pub arn: Option<String>,
    /// The account the principal belongs to (`userIdentity.accountId`; the GCP project, the
    /// Azure subscription).
    pub account: Option<String>,
    pub access_key: Option<String>,
    pub principal_id: Option<String>,
    pub user_name: Option<String>,
    /// `sessionContext.sessionIssuer.arn`: the role behind an assumed-role session.
    pub session_issuer_arn: Option<String>,
    /// `userIdentity.invokedBy`: an AWS service that made the call for the principal.
    pub invoked_by: Option<String>,
    /// `sessionContext.ec2RoleDelivery`: "1.0" when the credential came from IMDSv1, "2.0" from
    /// IMDSv2 (AWS documents this only for instance-profile sessions).
    pub role_delivery: Option<String>,
    /// `sessionContext.ec2IssuedInVPC`: the VPC of the instance the credential was issued to.
    pub issued_in_vpc: Option<String>,
    /// `sessionContext.attributes.creationDate`: when the session credential was issued.
    pub session_created: Option<Timestamp>,
    /// GCP `serviceAccountDelegationInfo`: the principals the service account acted for or was
    /// impersonated by, first to last (a Google service agent, a user through
    /// `generateAccessToken`). Empty for AWS and Azure.
    pub delegation: Vec<String>,
    /// The OAuth client: Azure's `appid` claim (a managed identity's client id), GCP's
    /// `oauthInfo.oauthClientId`.
    pub client_id: Option<String>,
}

impl Identity {
    /// A person rather than a workload: IAM users, root, federated and Identity Center sessions,
    /// and assumed-role sessions of SSO permission sets (`AWSReservedSSO_*`).
    pub fn is_human(&self) -> bool {
        match &self.kind {
            Some(IdentityKind::IamUser)
            | Some(IdentityKind::Root)
            | Some(IdentityKind::FederatedUser)
            | Some(IdentityKind::IdentityCenterUser)
            | Some(IdentityKind::SamlUser) => true,
            Some(IdentityKind::AssumedRole) => self
                .arn
                .as_deref()
                .is_some_and(|arn| arn.contains(":assumed-role/AWSReservedSSO_")),
            _ => false,
        }
    }
}

/// Credentials that an AWS service issued to a workload (`sts:AssumeRole` with
/// `userIdentity.invokedBy` `ec2.amazonaws.com` or `ecs-tasks.amazonaws.com`): where a credential
/// begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredential {
    pub access_key: String,
    pub role_arn: Option<String>,
    pub session_name: String,
    pub issuer: String,
}

/// The instance metadata options a call sets on an instance, launch or launch template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataOptionsChange {
    /// Instance id, launch template id/name, or `account default`.
    pub target: Option<String>,
    pub http_tokens: Option<String>,
    pub hop_limit: Option<i64>,
    pub http_endpoint: Option<String>,
}

/// One cloud API call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloudApiCall {
    /// Whose audit log recorded the call. AWS detectors read only AWS calls.
    pub provider: Provider,
    /// `eventSource` (`sts.amazonaws.com`); GCP `serviceName` (`storage.googleapis.com`); the
    /// Azure resource provider (`Microsoft.Compute`).
    pub service: String,
    /// `eventName` (`GetCallerIdentity`); GCP `methodName`; Azure `operationName`.
    pub action: String,
    pub region: Option<String>,
    pub recipient_account: Option<String>,
    pub identity: Identity,
    /// The workload behind an instance-like session, when the identity is one.
    pub workload: Option<Workload>,
    pub source: Option<SourceAddress>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub vpc_endpoint: Option<String>,
    /// `vpcEndpointAccountId`: the owner of the VPC endpoint the request crossed.
    pub vpc_endpoint_account: Option<String>,
    pub read_only: Option<bool>,
    pub event_type: Option<String>,
    pub issued_credential: Option<IssuedCredential>,
    pub metadata_options: Option<MetadataOptionsChange>,
    /// What the call acted on, for the calls an investigation follows (see [`Purpose`]):
    /// `s3://bucket/key`, a secret id, parameter names, the user, role or policy changed, the
    /// instances a command was sent to, the deployment group. `None` for other calls.
    pub target: Option<String>,
    /// `additionalEventData.bytesTransferredOut` of an S3 data event: how much was read.
    pub bytes_out: Option<u64>,
}

impl CloudApiCall {
    /// The call was refused for lack of permission (as opposed to throttling or a bad request).
    pub fn is_access_denied(&self) -> bool {
        self.error_code.as_deref().is_some_and(is_access_denied_code)
    }

    /// `iam.amazonaws.com` + `ListRoles` → `iam:ListRoles`.
    pub fn qualified_action(&self) -> String {
        let mut text = String::new();
        self.qualified_action_in(&mut text);
        text
    }

    /// How incidents name the call: `iam:ListRoles` for AWS; a GCP method or an Azure operation
    /// as logged, since those already say their service.
    pub fn action_name(&self) -> String {
        let mut text = String::new();
        self.action_name_in(&mut text).to_string()
    }

    /// [`CloudApiCall::action_name`] borrowing `buf` for the AWS form (see
    /// [`CloudApiCall::qualified_action_in`]).
    pub fn action_name_in<'b>(&'b self, buf: &'b mut String) -> &'b str {
        if self.provider == Provider::Aws {
            self.qualified_action_in(buf)
        } else {
            &self.action
        }
    }

    /// [`CloudApiCall::qualified_action`] written into `buf` (cleared first): detectors that look
    /// at every call reuse one buffer instead of allocating a string per call.
    pub fn qualified_action_in<'b>(&self, buf: &'b mut String) -> &'b str {
        let prefix = self.service.split('.').next().unwrap_or(&self.service);
        buf.clear();
        buf.reserve(prefix.len() + 1 + self.action.len());
        buf.push_str(prefix);
        buf.push(':');
        buf.push_str(&self.action);
        buf
    }
}

/// Why an investigation follows a call, beyond "it was made": the runbook's T2 questions are what
/// the credential read, which privileges it tried to change, and how it was taken (a command sent
/// to the instance); deployments tell L1 whether a change was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Reads data: an S3 object, a secret, a parameter, a decryption, a table, an instance's
    /// Windows password.
    DataRead,
    /// Changes who may do what: IAM users, access keys, login profiles, policies, trust.
    PrivilegeChange,
    /// Runs something on an instance: SSM Run Command, Session Manager, EC2 Instance Connect.
    RemoteCommand,
    /// Rolls out software or infrastructure: CodeDeploy, ECS services, new instances, stacks,
    /// Auto Scaling instance refreshes.
    Deployment,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::DataRead => "data_read",
            Purpose::PrivilegeChange => "privilege_change",
            Purpose::RemoteCommand => "remote_command",
            Purpose::Deployment => "deployment",
        }
    }
}

/// The purpose of a call and the `requestParameters` keys naming what it acted on, from the
/// services' API references (S3 GetObject `bucketName`/`key`, Secrets Manager `secretId`, SSM
/// `name`/`names`/`path`, IAM `userName`/`roleName`/`groupName`/`policyArn`…). `service` is the
/// `eventSource` prefix (`s3`, `iam`).
pub fn purpose_of(service: &str, action: &str) -> Option<(Purpose, &'static [&'static str])> {
    use Purpose::*;
    let found: (Purpose, &'static [&'static str]) = match (service, action) {
        ("s3", "GetObject") => (DataRead, &["bucketName", "key"]),
        ("secretsmanager", "GetSecretValue") => (DataRead, &["secretId"]),
        ("secretsmanager", "BatchGetSecretValue") => (DataRead, &["secretIdList", "filters"]),
        ("ssm", "GetParameter" | "GetParameterHistory") => (DataRead, &["name"]),
        ("ssm", "GetParameters") => (DataRead, &["names"]),
        ("ssm", "GetParametersByPath") => (DataRead, &["path"]),
        ("kms", "Decrypt") => (DataRead, &["keyId"]),
        ("dynamodb", "GetItem" | "Query" | "Scan") => (DataRead, &["tableName"]),
        ("ec2", "GetPasswordData") => (DataRead, &["instanceId"]),
        (
            "iam",
            "CreateUser"
            | "CreateAccessKey"
            | "CreateLoginProfile"
            | "UpdateLoginProfile"
            | "DeleteUserPermissionsBoundary",
        ) => (PrivilegeChange, &["userName"]),
        ("iam", "AttachUserPolicy") => (PrivilegeChange, &["userName", "policyArn"]),
        ("iam", "PutUserPolicy") => (PrivilegeChange, &["userName", "policyName"]),
        ("iam", "AttachRolePolicy") => (PrivilegeChange, &["roleName", "policyArn"]),
        ("iam", "PutRolePolicy") => (PrivilegeChange, &["roleName", "policyName"]),
        ("iam", "CreateRole" | "UpdateAssumeRolePolicy" | "DeleteRolePermissionsBoundary") => {
            (PrivilegeChange, &["roleName"])
        }
        ("iam", "AttachGroupPolicy") => (PrivilegeChange, &["groupName", "policyArn"]),
        ("iam", "PutGroupPolicy") => (PrivilegeChange, &["groupName", "policyName"]),
        ("iam", "AddUserToGroup") => (PrivilegeChange, &["userName", "groupName"]),
        ("iam", "CreatePolicyVersion" | "SetDefaultPolicyVersion") => (PrivilegeChange, &["policyArn"]),
        ("ssm", "SendCommand") => (RemoteCommand, &["instanceIds", "targets"]),
        ("ssm", "StartSession") => (RemoteCommand, &["target"]),
        ("ec2-instance-connect", "SendSSHPublicKey" | "SendSerialConsoleSSHPublicKey") => {
            (RemoteCommand, &["instanceId"])
        }
        ("codedeploy", "CreateDeployment") => (Deployment, &["applicationName", "deploymentGroupName"]),
        ("ecs", "UpdateService") => (Deployment, &["cluster", "service"]),
        ("ecs", "CreateService") => (Deployment, &["cluster", "serviceName"]),
        ("ec2", "RunInstances") => (Deployment, &[]),
        ("autoscaling", "StartInstanceRefresh" | "UpdateAutoScalingGroup") => (Deployment, &["autoScalingGroupName"]),
        ("cloudformation", "CreateStack" | "UpdateStack") => (Deployment, &["stackName"]),
        _ => return None,
    };
    Some(found)
}

impl CloudApiCall {
    /// See [`purpose_of`] (AWS) and [`vm_cloud_purpose`] (GCP, Azure).
    pub fn purpose(&self) -> Option<Purpose> {
        if self.provider != Provider::Aws {
            return vm_cloud_purpose(self.provider, &self.action);
        }
        let prefix = self.service.split('.').next().unwrap_or(&self.service);
        purpose_of(prefix, &self.action).map(|(p, _)| p)
    }
}

/// The purpose of a GCP call (`methodName`) or an Azure operation (`operationName`, any case):
/// the data reads, privilege changes and remote commands a stolen VM token is used for first
/// (Cloud Audit Logs method names; Azure resource provider operations). What the call acted on
/// is the record's own `resourceName` / `resourceId`.
pub fn vm_cloud_purpose(provider: Provider, action: &str) -> Option<Purpose> {
    use Purpose::*;
    match provider {
        Provider::Gcp => {
            let ends = |suffix: &str| action.ends_with(suffix);
            if action == "storage.objects.get"
                || ends(".AccessSecretVersion")
                || ends("KeyManagementService.Decrypt")
                || ends("JobService.GetQueryResults")
            {
                Some(DataRead)
            } else if ends(".SetIamPolicy")
                || action == "SetIamPolicy"
                || ends(".CreateServiceAccountKey")
                || ends(".CreateServiceAccount")
                || ends(".CreateRole")
                || ends(".UpdateRole")
                || ends(".GenerateAccessToken")
            {
                Some(PrivilegeChange)
            } else if ends("compute.instances.setMetadata") || ends("compute.projects.setCommonInstanceMetadata") {
                // SSH keys written into metadata: a way onto the VMs.
                Some(RemoteCommand)
            } else {
                None
            }
        }
        Provider::Azure => {
            let op = action.to_ascii_lowercase();
            let op = op.as_str();
            if op.ends_with("/listkeys/action")
                || op.ends_with("/listaccountsas/action")
                || op == "microsoft.web/sites/config/list/action"
                || op == "microsoft.compute/disks/begingetaccess/action"
                || op == "microsoft.compute/snapshots/begingetaccess/action"
            {
                Some(DataRead)
            } else if op.starts_with("microsoft.authorization/roleassignments/write")
                || op.starts_with("microsoft.authorization/roledefinitions/write")
                || op.ends_with("/federatedidentitycredentials/write")
            {
                Some(PrivilegeChange)
            } else if op == "microsoft.compute/virtualmachines/runcommand/action"
                || op.starts_with("microsoft.compute/virtualmachines/runcommands/write")
                || op.starts_with("microsoft.compute/virtualmachines/extensions/write")
            {
                Some(RemoteCommand)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The `action` of an Entra managed-identity sign-in (a token Entra issued to a managed identity),
/// which the Azure format records as a call of its own.
pub const MANAGED_IDENTITY_SIGN_IN: &str = "ManagedIdentitySignIn";

/// Error codes AWS services use for an authorisation failure, GCP's `PERMISSION_DENIED` and
/// Azure Resource Manager's `Forbidden` / `AuthorizationFailed`.
pub fn is_access_denied_code(code: &str) -> bool {
    matches!(
        code,
        "PERMISSION_DENIED"
            | "AuthorizationFailed"
            | "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "Client.UnauthorizedOperation"
            | "UnauthorizedAccess"
            | "Unauthorized"
            | "AuthorizationError"
            | "AuthorizationErrorException"
            | "Forbidden"
    ) || code.ends_with("AccessDenied")
        || code.ends_with("AccessDeniedException")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GCP methods and Azure operations a stolen VM token is used for first, and look-alikes
    /// that are not (a listing is recon, not a read; reading a secret's metadata is not its
    /// value).
    #[test]
    fn gcp_and_azure_calls_have_purposes() {
        use Purpose::*;
        let gcp = |m: &str| vm_cloud_purpose(Provider::Gcp, m);
        assert_eq!(gcp("storage.objects.get"), Some(DataRead));
        assert_eq!(
            gcp("google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"),
            Some(DataRead)
        );
        assert_eq!(
            gcp("google.iam.admin.v1.CreateServiceAccountKey"),
            Some(PrivilegeChange)
        );
        assert_eq!(gcp("SetIamPolicy"), Some(PrivilegeChange));
        assert_eq!(gcp("v1.compute.instances.setMetadata"), Some(RemoteCommand));
        assert_eq!(gcp("storage.objects.list"), None);
        assert_eq!(
            gcp("google.cloud.secretmanager.v1.SecretManagerService.GetSecret"),
            None
        );
        let azure = |op: &str| vm_cloud_purpose(Provider::Azure, op);
        assert_eq!(
            azure("MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION"),
            Some(DataRead)
        );
        assert_eq!(azure("Microsoft.Compute/disks/beginGetAccess/action"), Some(DataRead));
        assert_eq!(
            azure("Microsoft.Authorization/roleAssignments/write"),
            Some(PrivilegeChange)
        );
        assert_eq!(
            azure("Microsoft.Compute/virtualMachines/runCommand/action"),
            Some(RemoteCommand)
        );
        assert_eq!(azure("Microsoft.Storage/storageAccounts/read"), None);
        // AWS names mean nothing to the other clouds' table, and the reverse.
        assert_eq!(vm_cloud_purpose(Provider::Aws, "storage.objects.get"), None);
    }

    #[test]
    fn source_address_tells_addresses_from_service_names() {
        assert_eq!(
            SourceAddress::classify("18.236.253.47"),
            SourceAddress::Ip("18.236.253.47".parse().unwrap())
        );
        assert_eq!(SourceAddress::classify("AWS Internal"), SourceAddress::AwsInternal);
        assert_eq!(
            SourceAddress::classify("cloudformation.amazonaws.com"),
            SourceAddress::ServiceHost("cloudformation.amazonaws.com".into())
        );
        assert_eq!(SourceAddress::classify(""), SourceAddress::Missing);
    }

    #[test]
    fn access_denied_codes_are_recognised_across_services() {
        for code in ["AccessDenied", "Client.UnauthorizedOperation", "AccessDeniedException"] {
            assert!(is_access_denied_code(code), "{code}");
        }
        assert!(!is_access_denied_code("ThrottlingException"));
        assert!(!is_access_denied_code("NoSuchKey"));
    }
}
