//! IAM permissions: what a role's policies allow, in the terms an analyst asks about a stolen
//! credential. Its blast radius (admin, IAM write, secrets, data, compute, logging) and the
//! known privilege-escalation paths it holds (Rhino Security Labs, "AWS IAM Privilege Escalation
//! – Methods and Mitigation",
//! <https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/>).
//!
//! Pure functions over parsed statements; `ingest` turns policy documents into [`Statement`]s.
//!
//! What is simplified, on purpose and always towards reporting more, never less:
//! - an `Allow` counts whatever its `Resource` and `Condition` (a `iam:PassRole` limited to one
//!   role is reported like an unlimited one);
//! - a `Deny` removes an action only when it is unconditional and applies to every resource
//!   (`"Resource": "*"`, no `Condition`, no `NotResource`); any narrower `Deny` is ignored;
//! - permissions boundaries, service control policies, session policies and resource policies
//!   are not in `get-account-authorization-details` role entries and are not applied.

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement of an identity policy
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub effect: Effect,
    /// Action patterns (`s3:GetObject`, `s3:*`, `iam:Create*`, `*`); with `not_action`, the
    /// actions the statement does not cover.
    pub actions: Vec<String>,
    pub not_action: bool,
    /// Resource patterns; with `not_resource`, the resources the statement does not cover.
    pub resources: Vec<String>,
    pub not_resource: bool,
    /// The statement has a `Condition` block.
    pub conditional: bool,
}

impl Statement {
    /// An unconditional `Allow` of these actions on every resource.
    pub fn allow_everywhere(actions: &[&str]) -> Statement {
        Statement {
            effect: Effect::Allow,
            actions: actions.iter().map(|a| a.to_string()).collect(),
            not_action: false,
            resources: vec!["*".into()],
            not_resource: false,
            conditional: false,
        }
    }

    /// Whether the statement names `action` (as `Action`, or by leaving it out of `NotAction`).
    pub fn covers(&self, action: &str) -> bool {
        let named = self.actions.iter().any(|p| action_matches(p, action));
        named != self.not_action
    }

    /// An unconditional statement on every resource.
    fn everywhere(&self) -> bool {
        !self.conditional && !self.not_resource && self.resources.iter().any(|r| r == "*")
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one, case-insensitive (action
/// names are case-insensitive: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html>).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let a: Vec<char> = action.chars().flat_map(char::to_lowercase).collect();
    // Iterative glob with one backtrack point: linear in practice, never exponential.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < a.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == '?' || c == a[j] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p[i.min(p.len())..].iter().all(|&c| c == '*')
}

/// What a set of statements allows.
#[derive(Debug, Clone, Copy)]
pub struct Permissions<'a> {
    statements: &'a [&'a Statement],
}

impl<'a> Permissions<'a> {
    pub fn new(statements: &'a [&'a Statement]) -> Self {
        Permissions { statements }
    }

    /// Some `Allow` covers the action and no unconditional, everywhere `Deny` does.
    pub fn allows(&self, action: &str) -> bool {
        let allowed = self
            .statements
            .iter()
            .any(|s| s.effect == Effect::Allow && s.covers(action));
        allowed
            && !self
                .statements
                .iter()
                .any(|s| s.effect == Effect::Deny && s.everywhere() && s.covers(action))
    }

    /// `Action: "*"` (or `*:*`) allowed on every resource: the role is an administrator.
    pub fn admin(&self) -> bool {
        let everything = self.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && !s.not_action
                && !s.not_resource
                && s.actions.iter().any(|a| a == "*" || a == "*:*")
                && s.resources.iter().any(|r| r == "*")
        });
        everything
            && !self
                .statements
                .iter()
                .any(|s| s.effect == Effect::Deny && s.everywhere() && s.covers("iam:PutRolePolicy"))
    }
}

/// What a stolen credential of the role could reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlastCategory {
    Admin,
    IamWrite,
    Secrets,
    DataRead,
    DataWrite,
    ComputeControl,
    LoggingTampering,
}

/// The actions that stand for each category: one of them allowed puts the role in it.
const CATEGORIES: &[(BlastCategory, &[&str])] = &[
    (
        BlastCategory::IamWrite,
        &[
            "iam:CreateUser",
            "iam:CreateRole",
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
            "iam:AttachRolePolicy",
            "iam:AttachUserPolicy",
            "iam:AttachGroupPolicy",
            "iam:PutRolePolicy",
            "iam:PutUserPolicy",
            "iam:PutGroupPolicy",
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:UpdateAssumeRolePolicy",
            "iam:AddUserToGroup",
            "iam:PassRole",
        ],
    ),
    (
        BlastCategory::Secrets,
        &[
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter",
            "ssm:GetParameters",
            "ssm:GetParametersByPath",
            "kms:Decrypt",
        ],
    ),
    (
        BlastCategory::DataRead,
        &[
            "s3:GetObject",
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "rds:CreateDBSnapshot",
            "ec2:CreateSnapshot",
        ],
    ),
    (
        BlastCategory::DataWrite,
        &[
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:DeleteBucket",
            "s3:PutBucketPolicy",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:DeleteTable",
            "rds:DeleteDBInstance",
            "ec2:DeleteSnapshot",
        ],
    ),
    (
        BlastCategory::ComputeControl,
        &[
            "ec2:RunInstances",
            "lambda:CreateFunction",
            "lambda:UpdateFunctionCode",
            "lambda:InvokeFunction",
            "ssm:SendCommand",
            "ssm:StartSession",
            "ecs:RunTask",
        ],
    ),
    (
        BlastCategory::LoggingTampering,
        &[
            "cloudtrail:StopLogging",
            "cloudtrail:DeleteTrail",
            "cloudtrail:UpdateTrail",
            "cloudtrail:PutEventSelectors",
            "guardduty:DeleteDetector",
            "guardduty:UpdateDetector",
            "guardduty:DisassociateFromMasterAccount",
            "config:StopConfigurationRecorder",
            "config:DeleteConfigurationRecorder",
            "logs:DeleteLogGroup",
        ],
    ),
];

impl BlastCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            BlastCategory::Admin => "admin",
            BlastCategory::IamWrite => "IAM write",
            BlastCategory::Secrets => "secrets",
            BlastCategory::DataRead => "data read",
            BlastCategory::DataWrite => "data write/delete",
            BlastCategory::ComputeControl => "compute control",
            BlastCategory::LoggingTampering => "logging tampering",
        }
    }
}

/// One category the role reaches, with the representative actions it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blast {
    pub category: BlastCategory,
    /// Empty for admin (every action).
    pub actions: Vec<&'static str>,
}

/// A known way from the role's permissions to more privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationPath {
    /// Rhino Security Labs' method, in words.
    pub name: &'static str,
    /// Every action the path needs.
    pub actions: &'static [&'static str],
}

/// The Rhino Security Labs methods (numbering of their 2018 list, with the SageMaker method of
/// its second part), each with every action it needs.
pub const ESCALATION_PATHS: &[EscalationPath] = &[
    EscalationPath {
        name: "new version of a managed policy, set as default",
        actions: &["iam:CreatePolicyVersion"],
    },
    EscalationPath {
        name: "older policy version set as default",
        actions: &["iam:SetDefaultPolicyVersion"],
    },
    EscalationPath {
        name: "new EC2 instance with an existing role",
        actions: &["iam:PassRole", "ec2:RunInstances"],
    },
    EscalationPath {
        name: "access key for another user",
        actions: &["iam:CreateAccessKey"],
    },
    EscalationPath {
        name: "console password for a user without one",
        actions: &["iam:CreateLoginProfile"],
    },
    EscalationPath {
        name: "another user's console password changed",
        actions: &["iam:UpdateLoginProfile"],
    },
    EscalationPath {
        name: "managed policy attached to a user",
        actions: &["iam:AttachUserPolicy"],
    },
    EscalationPath {
        name: "managed policy attached to a group",
        actions: &["iam:AttachGroupPolicy"],
    },
    EscalationPath {
        name: "managed policy attached to a role",
        actions: &["iam:AttachRolePolicy"],
    },
    EscalationPath {
        name: "inline policy put on a user",
        actions: &["iam:PutUserPolicy"],
    },
    EscalationPath {
        name: "inline policy put on a group",
        actions: &["iam:PutGroupPolicy"],
    },
    EscalationPath {
        name: "inline policy put on a role",
        actions: &["iam:PutRolePolicy"],
    },
    EscalationPath {
        name: "user added to a more privileged group",
        actions: &["iam:AddUserToGroup"],
    },
    EscalationPath {
        name: "a role's trust policy rewritten, then assumed",
        actions: &["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"],
    },
    EscalationPath {
        name: "new Lambda function with an existing role, invoked",
        actions: &["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
    },
    EscalationPath {
        name: "new Lambda function with an existing role, triggered by an event source",
        actions: &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:CreateEventSourceMapping",
        ],
    },
    EscalationPath {
        name: "existing Lambda function's code replaced",
        actions: &["lambda:UpdateFunctionCode"],
    },
    EscalationPath {
        name: "new Glue development endpoint with an existing role",
        actions: &["iam:PassRole", "glue:CreateDevEndpoint"],
    },
    EscalationPath {
        name: "existing Glue development endpoint's SSH key replaced",
        actions: &["glue:UpdateDevEndpoint"],
    },
    EscalationPath {
        name: "new CloudFormation stack with an existing role",
        actions: &["iam:PassRole", "cloudformation:CreateStack"],
    },
    EscalationPath {
        name: "new Data Pipeline with an existing role",
        actions: &[
            "iam:PassRole",
            "datapipeline:CreatePipeline",
            "datapipeline:PutPipelineDefinition",
        ],
    },
    EscalationPath {
        name: "new SageMaker notebook with an existing role",
        actions: &[
            "iam:PassRole",
            "sagemaker:CreateNotebookInstance",
            "sagemaker:CreatePresignedNotebookInstanceUrl",
        ],
    },
];

impl EscalationPath {
    /// "iam:PassRole + ec2:RunInstances (new EC2 instance with an existing role)".
    pub fn describe(&self) -> String {
        format!("{} ({})", self.actions.join(" + "), self.name)
    }
}

/// A role's blast radius and escalation paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub admin: bool,
    pub blast: Vec<Blast>,
    pub paths: Vec<EscalationPath>,
}

impl Analysis {
    /// "admin" or "IAM write (iam:PassRole), compute control (ec2:RunInstances)"; "nothing of
    /// note" when no category holds.
    pub fn describe_blast(&self) -> String {
        if self.blast.is_empty() {
            return "nothing of note (no IAM write, secrets, data, compute or logging action allowed)".into();
        }
        self.blast
            .iter()
            .map(|b| {
                if b.actions.is_empty() {
                    format!("{} (Action * on Resource *)", b.category.as_str())
                } else {
                    format!("{} ({})", b.category.as_str(), b.actions.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The escalation paths in words; an administrator holds them all.
    pub fn describe_paths(&self) -> String {
        if self.admin {
            "every path (the role is an administrator)".into()
        } else if self.paths.is_empty() {
            "none of the known paths".into()
        } else {
            self.paths
                .iter()
                .map(EscalationPath::describe)
                .collect::<Vec<_>>()
                .join("; ")
        }
    }
}

/// The blast radius and escalation paths of these statements (every policy of a role).
pub fn analyse(statements: &[&Statement]) -> Analysis {
    let permissions = Permissions::new(statements);
    let admin = permissions.admin();
    let mut blast = Vec::new();
    if admin {
        blast.push(Blast {
            category: BlastCategory::Admin,
            actions: Vec::new(),
        });
    }
    for (category, actions) in CATEGORIES {
        let allowed: Vec<&'static str> = actions.iter().copied().filter(|a| permissions.allows(a)).collect();
        if !allowed.is_empty() && !admin {
            blast.push(Blast {
                category: *category,
                actions: allowed,
            });
        }
    }
    let paths = ESCALATION_PATHS
        .iter()
        .copied()
        .filter(|p| p.actions.iter().all(|a| permissions.allows(a)))
        .collect();
    Analysis { admin, blast, paths }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(actions: &[&str]) -> Statement {
        Statement::allow_everywhere(actions)
    }

    fn analysed(statements: &[Statement]) -> Analysis {
        let refs: Vec<&Statement> = statements.iter().collect();
        analyse(&refs)
    }

    fn path_names(statements: &[Statement]) -> Vec<&'static str> {
        analysed(statements).paths.iter().map(|p| p.name).collect()
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(action_matches("*", "iam:PassRole"));
        assert!(action_matches("*:*", "iam:PassRole"));
        assert!(action_matches("s3:*", "s3:GetObject"));
        assert!(action_matches("iam:Create*", "iam:CreateAccessKey"));
        assert!(action_matches("IAM:passrole", "iam:PassRole"));
        assert!(action_matches("ssm:GetParameter*", "ssm:GetParametersByPath"));
        assert!(action_matches("ssm:GetParameter*", "ssm:GetParameter"));
        assert!(action_matches("ec2:?unInstances", "ec2:RunInstances"));
        assert!(action_matches("iam:*Policy*", "iam:AttachRolePolicy"));
        assert!(!action_matches("s3:*", "s3x:GetObject"));
        assert!(!action_matches("iam:Create*", "iam:DeleteUser"));
        assert!(!action_matches("ec2:Describe*", "ec2:RunInstances"));
        assert!(!action_matches("iam:PassRole", "iam:PassRoles"));
        assert!(!action_matches("", "iam:PassRole"));
        assert!(action_matches("**", ""));
    }

    #[test]
    fn not_action_allows_everything_it_does_not_name() {
        // PowerUserAccess: everything but IAM, Organizations and Account.
        let power = Statement {
            not_action: true,
            ..allow(&["iam:*", "organizations:*", "account:*"])
        };
        let a = analysed(&[power]);
        assert!(!a.admin);
        let cats: Vec<BlastCategory> = a.blast.iter().map(|b| b.category).collect();
        assert!(!cats.contains(&BlastCategory::IamWrite), "{cats:?}");
        assert!(cats.contains(&BlastCategory::LoggingTampering), "{cats:?}");
        // Lambda code replacement needs no IAM action.
        assert!(a.paths.iter().any(|p| p.actions == ["lambda:UpdateFunctionCode"]));
        assert!(!a.paths.iter().any(|p| p.actions.contains(&"iam:PassRole")));
    }

    #[test]
    fn admin_is_action_star_on_resource_star() {
        let a = analysed(&[allow(&["*"])]);
        assert!(a.admin);
        assert_eq!(a.blast[0].category, BlastCategory::Admin);
        assert_eq!(a.paths.len(), ESCALATION_PATHS.len());
        assert_eq!(a.describe_paths(), "every path (the role is an administrator)");
        let scoped = Statement {
            resources: vec!["arn:aws:s3:::bucket/*".into()],
            ..allow(&["*"])
        };
        assert!(!analysed(&[scoped]).admin, "Action * on one bucket is not admin");
    }

    #[test]
    fn an_unconditional_deny_everywhere_removes_an_action_a_narrow_one_does_not() {
        let deny = Statement {
            effect: Effect::Deny,
            ..allow(&["iam:PassRole"])
        };
        let allowed = allow(&["iam:PassRole", "ec2:RunInstances"]);
        assert!(path_names(&[allowed.clone(), deny.clone()]).is_empty());
        let narrow = Statement {
            resources: vec!["arn:aws:iam::111122223333:role/admin".into()],
            ..deny.clone()
        };
        assert_eq!(
            path_names(&[allowed.clone(), narrow]),
            ["new EC2 instance with an existing role"]
        );
        let conditional = Statement {
            conditional: true,
            ..deny
        };
        assert_eq!(
            path_names(&[allowed, conditional]),
            ["new EC2 instance with an existing role"]
        );
    }

    #[test]
    fn a_read_only_role_has_no_path_and_reads_data() {
        let a = analysed(&[allow(&["s3:Get*", "s3:List*", "ec2:Describe*", "dynamodb:Query"])]);
        assert!(a.paths.is_empty(), "{a:?}");
        assert_eq!(a.describe_blast(), "data read (s3:GetObject, dynamodb:Query)");
        assert_eq!(a.describe_paths(), "none of the known paths");
        assert!(analysed(&[allow(&["ec2:DescribeInstances"])]).blast.is_empty());
    }

    #[test]
    fn each_escalation_path_needs_every_one_of_its_actions() {
        for path in ESCALATION_PATHS {
            let all = analysed(&[allow(path.actions)]);
            assert!(all.paths.contains(path), "{}: {all:?}", path.name);
            if path.actions.len() > 1 {
                for left_out in path.actions {
                    let rest: Vec<&str> = path.actions.iter().copied().filter(|a| a != left_out).collect();
                    let some = analysed(&[allow(&rest)]);
                    assert!(!some.paths.contains(path), "{} without {left_out}", path.name);
                }
            }
        }
    }

    #[test]
    fn pass_role_with_run_instances_is_named_with_its_actions() {
        let a = analysed(&[allow(&["iam:PassRole", "ec2:RunInstances", "ec2:Describe*"])]);
        assert_eq!(
            a.describe_paths(),
            "iam:PassRole + ec2:RunInstances (new EC2 instance with an existing role)"
        );
        assert_eq!(
            a.describe_blast(),
            "IAM write (iam:PassRole), compute control (ec2:RunInstances)"
        );
        // A wildcard grants the same path.
        let a = analysed(&[allow(&["iam:Pass*", "ec2:Run*"])]);
        assert_eq!(a.paths.len(), 1);
    }

    #[test]
    fn secrets_and_logging_tampering_are_their_own_categories() {
        let a = analysed(&[allow(&[
            "secretsmanager:GetSecretValue",
            "kms:Decrypt",
            "cloudtrail:StopLogging",
            "guardduty:Delete*",
        ])]);
        assert_eq!(
            a.describe_blast(),
            "secrets (secretsmanager:GetSecretValue, kms:Decrypt), logging tampering (cloudtrail:StopLogging, guardduty:DeleteDetector)"
        );
    }
}
