//! What host telemetry tells about who read the metadata service: the metadata addresses, the
//! lineage of a process rebuilt from process starts, the shipped allow-list of agents, and the
//! judgement of a process that reached the service.
//!
//! Judgements rest on what the kernel reports (executable path, parent, login uid, terminal,
//! security label), not on `comm`, which any process can set. `comm` only describes a thread of
//! an already-judged executable (a JVM's request thread versus its SDK refresher).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use credtrail_event::{FileId, Origin, Process, Timestamp};

const ORIGIN_MIN: Origin = Origin {
    file: FileId(0),
    line: 0,
    index: 0,
};
const ORIGIN_MAX: Origin = Origin {
    file: FileId(u32::MAX),
    line: u64::MAX,
    index: u64::MAX,
};

use crate::engine::{EntityMap, Merge};

/// The metadata service that answers on `ip`, if any: (endpoint, provider name).
/// `169.254.169.254` is shared by AWS, Azure, GCP, Oracle, OpenStack and DigitalOcean.
pub fn metadata_service(ip: IpAddr) -> Option<(&'static str, &'static str)> {
    match ip {
        IpAddr::V4(v4) => match v4.octets() {
            [169, 254, 169, 254] => Some(("169.254.169.254", "instance metadata service")),
            [169, 254, 170, 2] => Some(("169.254.170.2", "ECS task metadata and credentials")),
            [169, 254, 170, 23] => Some(("169.254.170.23", "EKS Pod Identity agent")),
            [100, 100, 100, 200] => Some(("100.100.100.200", "Alibaba Cloud metadata service")),
            [192, 0, 0, 192] => Some(("192.0.0.192", "Oracle Cloud legacy metadata service")),
            _ => None,
        },
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return metadata_service(IpAddr::V4(v4));
            }
            const EC2: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            const POD: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23);
            if v6 == EC2 {
                Some(("fd00:ec2::254", "instance metadata service (IPv6)"))
            } else if v6 == POD {
                Some(("fd00:ec2::23", "EKS Pod Identity agent (IPv6)"))
            } else {
                None
            }
        }
    }
}

/// A process's metadata reads more than this apart (in event time) are separate episodes, each
/// its own alert: six hours, the longest life of a credential the instance metadata service
/// hands out, so a read after that gap took a fresh credential. A proxy or web worker lives for
/// days; two attacks through it a day apart are two findings, not one that spans both (the
/// correlator joins alerts of one instance over the same gap).
pub const EPISODE_GAP_SECONDS: i64 = 6 * 3600;

/// Whether the endpoint is one a pod or task is meant to use (the EKS Pod Identity agent and the
/// ECS credential endpoint hand out the workload's own scoped credential, not the instance's).
pub fn is_workload_endpoint(endpoint: &str) -> bool {
    matches!(endpoint, "169.254.170.2" | "169.254.170.23" | "fd00:ec2::23")
}

/// Addresses container runtimes give containers by default: Docker's bridge networks
/// (172.17.0.0/16 and the user-defined 172.18-31), Podman's 10.88.0.0/16.
pub fn is_container_bridge(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (o[0] == 172 && (17..=31).contains(&o[1])) || (o[0] == 10 && o[1] == 88)
        }
        IpAddr::V6(_) => false,
    }
}

/// What is kept of a process start for lineage: enough to judge an ancestor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRecord {
    pub origin: Origin,
    pub process: Process,
}

/// Most process starts kept per host. Lineage is rebuilt in `finish`, so starts are kept until
/// then; a bound keeps a host that forks without end from taking the memory of all the others.
const STARTS_PER_HOST: usize = 1 << 18;

/// A process start as lineage keeps it: the fields a judgement reads, with the strings every
/// start of a host repeats (executable, label, terminal) shared, and the command line cut. Hosts
/// start processes without end; this is what a scan of host logs holds most of.
#[derive(Debug, Clone)]
struct KeptStart {
    ppid: Option<u32>,
    uid: Option<u32>,
    login_uid: Option<u32>,
    session: Option<u32>,
    exe: Option<Arc<str>>,
    comm: Option<Arc<str>>,
    tty: Option<Arc<str>>,
    cwd: Option<Arc<str>>,
    security_context: Option<Arc<str>>,
    container: Option<Arc<str>>,
    user_name: Option<Arc<str>>,
    command_line: Option<Box<str>>,
}

/// Longest command line kept for an ancestor, in characters.
const KEPT_COMMAND_LINE: usize = 160;

type Starts = BTreeMap<(u32, Timestamp, Origin), KeptStart>;

/// Process starts by host and pid, to rebuild lineage whatever order the records came in.
#[derive(Debug, Default)]
pub struct Lineage {
    starts: EntityMap<String, Starts>,
    strings: hashbrown::HashSet<Arc<str>, rustc_hash::FxBuildHasher>,
}

impl Merge for Lineage {
    fn merge(&mut self, other: Lineage) {
        for (host, starts) in other.starts {
            let mine = self.starts.entry(host).or_default();
            mine.extend(starts);
            trim(mine);
        }
        self.strings.extend(other.strings);
    }
}

/// Keeps the earliest starts when over the bound: a function of the set, so merging in any
/// order gives the same result.
fn trim(starts: &mut Starts) {
    if starts.len() <= STARTS_PER_HOST {
        return;
    }
    let mut by_time: Vec<(Timestamp, Origin, u32)> = starts.keys().map(|(pid, t, o)| (*t, *o, *pid)).collect();
    by_time.sort_unstable();
    for (t, o, pid) in by_time.into_iter().skip(STARTS_PER_HOST) {
        starts.remove(&(pid, t, o));
    }
}

/// A process start and its record, as lineage reports it.
#[derive(Debug, Clone)]
pub struct Ancestor {
    pub time: Timestamp,
    pub origin: Origin,
    pub process: Process,
}

impl Lineage {
    fn intern(&mut self, text: &Option<String>) -> Option<Arc<str>> {
        let text = text.as_deref()?;
        if let Some(shared) = self.strings.get(text) {
            return Some(shared.clone());
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(shared.clone());
        Some(shared)
    }

    pub fn add(&mut self, host: &str, time: Timestamp, origin: Origin, process: &Process) {
        let Some(pid) = process.pid else { return };
        let kept = KeptStart {
            ppid: process.ppid,
            uid: process.uid,
            login_uid: process.login_uid,
            session: process.session,
            exe: self.intern(&process.exe),
            comm: self.intern(&process.comm),
            tty: self.intern(&process.tty),
            cwd: self.intern(&process.cwd),
            security_context: self.intern(&process.security_context),
            container: self.intern(&process.container),
            user_name: self.intern(&process.user_name),
            command_line: process
                .command_line
                .as_deref()
                .map(|c| match c.char_indices().nth(KEPT_COMMAND_LINE) {
                    Some((i, _)) => Box::from(&c[..i]),
                    None => Box::from(c),
                }),
        };
        let starts = self.starts.entry_ref(host).or_default();
        starts.insert((pid, time, origin), kept);
        if starts.len() > STARTS_PER_HOST + STARTS_PER_HOST / 8 {
            trim(starts);
        }
    }

    /// The latest start of `pid` on `host` at or before `at` (a second of slack: sensors stamp
    /// the start and the first connect within milliseconds, sometimes out of order).
    pub fn start_of(&self, host: &str, pid: u32, at: Timestamp) -> Option<Ancestor> {
        let starts = self.starts.get(host)?;
        let limit = at.plus_seconds(1);
        let text = |s: &Option<Arc<str>>| s.as_deref().map(str::to_string);
        starts
            .range((pid, Timestamp::MIN, ORIGIN_MIN)..=(pid, limit, ORIGIN_MAX))
            .next_back()
            .map(|((_, time, origin), k)| Ancestor {
                time: *time,
                origin: *origin,
                process: Process {
                    pid: Some(pid),
                    ppid: k.ppid,
                    exe: text(&k.exe),
                    comm: text(&k.comm),
                    command_line: k.command_line.as_deref().map(str::to_string),
                    argv0: k
                        .command_line
                        .as_deref()
                        .and_then(|c| c.split(' ').next())
                        .map(str::to_string),
                    uid: k.uid,
                    login_uid: k.login_uid,
                    session: k.session,
                    tty: text(&k.tty),
                    cwd: text(&k.cwd),
                    security_context: text(&k.security_context),
                    container: text(&k.container),
                    user_name: text(&k.user_name),
                },
            })
    }

    /// The process's own start (if logged) and then its ancestors, nearest first, up to 16.
    pub fn chain(&self, host: &str, process: &Process, at: Timestamp) -> (Option<Ancestor>, Vec<Ancestor>) {
        let own = process.pid.and_then(|pid| self.start_of(host, pid, at));
        let mut ancestors = Vec::new();
        let mut parent = process.ppid.or(own.as_ref().and_then(|o| o.process.ppid));
        let mut when = own.as_ref().map(|o| o.time).unwrap_or(at);
        while let Some(ppid) = parent.filter(|p| *p > 1) {
            if ancestors.len() >= 16 {
                break;
            }
            let Some(a) = self.start_of(host, ppid, when) else {
                break;
            };
            parent = a.process.ppid.filter(|p| *p != ppid);
            when = a.time;
            ancestors.push(a);
        }
        (own, ancestors)
    }
}

/// An entry of the allow-list of software that reads the metadata service by design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSoftware {
    /// Executable path: exact, or a prefix when it ends with `/` or `*`.
    pub exe: String,
    /// A text the command line must contain (interpreted agents: `cloud-init`, `codedeploy-agent`).
    pub command_contains: Option<String>,
    /// A text an ancestor's command line must contain: for helpers that agents run through
    /// generic tools (EC2 Instance Connect's `curl` under its key-lookup script).
    pub ancestor_contains: Option<String>,
    pub reason: String,
}

impl AllowedSoftware {
    fn matches(&self, p: &Process, ancestors: &[Ancestor]) -> bool {
        self.ancestor_contains.as_deref().is_none_or(|want| {
            ancestors
                .iter()
                .any(|a| a.process.command_line.as_deref().is_some_and(|c| c.contains(want)))
        }) && self.matches_process(p)
    }

    fn matches_process(&self, p: &Process) -> bool {
        let Some(exe) = p.exe.as_deref() else { return false };
        let exe_ok = match self.exe.strip_suffix('*') {
            Some(prefix) => exe.starts_with(prefix),
            None if self.exe.ends_with('/') => exe.starts_with(&self.exe),
            None => exe == self.exe,
        };
        exe_ok
            && self.command_contains.as_deref().is_none_or(|want| {
                p.command_line.as_deref().is_some_and(|c| c.contains(want))
                    || p.argv0.as_deref().is_some_and(|c| c.contains(want))
            })
    }
}

/// Software that reads the metadata service by design, shipped with credtrail. Matched on the
/// executable path the kernel reports (and, for interpreted agents, the script on the command
/// line), never on a process name. The config file adds entries.
pub fn shipped_allow_list() -> Vec<AllowedSoftware> {
    const EIC: &str = "/usr/share/ec2-instance-connect/";
    const ENTRIES: &[(&str, Option<&str>, &str)] = &[
        (
            "/usr/bin/amazon-ssm-agent",
            None,
            "AWS Systems Manager agent: reads its instance identity and role",
        ),
        ("/usr/bin/ssm-agent-worker", None, "AWS Systems Manager agent worker"),
        ("/snap/amazon-ssm-agent/*", None, "AWS Systems Manager agent (snap)"),
        (
            "/opt/aws/amazon-cloudwatch-agent/bin/*",
            None,
            "Amazon CloudWatch agent: instance metadata for metric dimensions and its role",
        ),
        ("/usr/libexec/amazon-ecs-init", None, "Amazon ECS container agent init"),
        ("/agent", Some("ecs"), "Amazon ECS container agent"),
        ("/usr/bin/kubelet", None, "Kubernetes kubelet on an EKS node"),
        (
            "/app/aws-k8s-agent",
            None,
            "Amazon VPC CNI plugin (aws-node): ENI management",
        ),
        (
            "/go-runner",
            Some("eks-pod-identity-agent"),
            "EKS Pod Identity agent: exchanges the node role for pod credentials",
        ),
        (
            "/usr/bin/python3*",
            Some("/usr/bin/cloud-init"),
            "cloud-init: instance bootstrap reading user data and identity",
        ),
        ("/usr/bin/cloud-init", None, "cloud-init: instance bootstrap"),
        (
            "/usr/share/ec2-instance-connect/*",
            None,
            "EC2 Instance Connect: fetches the pushed SSH key from metadata",
        ),
        ("/opt/aws/awsagent/*", None, "Amazon Inspector agent"),
        ("/opt/aws/inspector/*", None, "Amazon Inspector agent"),
        (
            "/usr/bin/ruby*",
            Some("codedeploy-agent"),
            "AWS CodeDeploy agent: instance identity for deployments",
        ),
        ("/opt/codedeploy-agent/*", None, "AWS CodeDeploy agent"),
        (
            "/usr/local/qualys/cloud-agent/*",
            None,
            "Qualys Cloud Agent: asset inventory",
        ),
        ("/opt/nessus_agent/*", None, "Tenable Nessus Agent: asset inventory"),
        (
            "/opt/CrowdStrike/*",
            None,
            "CrowdStrike Falcon sensor: cloud asset identity",
        ),
        ("/opt/rapid7/*", None, "Rapid7 Insight Agent: asset identity"),
        ("/opt/datadog-agent/*", None, "Datadog Agent: host metadata"),
        ("/usr/bin/google_guest_agent", None, "Google guest environment agent"),
        ("/usr/bin/google_osconfig_agent", None, "Google OS Config agent"),
        (
            "/usr/bin/google_metadata_script_runner",
            None,
            "Google startup-script runner",
        ),
        ("/usr/sbin/waagent", None, "Azure Linux guest agent"),
        ("/usr/bin/python3*", Some("waagent"), "Azure Linux guest agent"),
        ("/usr/bin/python3*", Some("WALinuxAgent"), "Azure Linux guest agent"),
        ("/opt/microsoft/azuremonitoragent/*", None, "Azure Monitor agent"),
    ];
    let mut list: Vec<AllowedSoftware> = ENTRIES
        .iter()
        .map(|(exe, contains, reason)| AllowedSoftware {
            exe: exe.to_string(),
            command_contains: contains.map(str::to_string),
            ancestor_contains: None,
            reason: reason.to_string(),
        })
        .collect();
    // EC2 Instance Connect's AuthorizedKeysCommand is a shell script that runs curl: the curl is
    // allowed only under that script.
    list.push(AllowedSoftware {
        exe: "/usr/bin/curl".into(),
        command_contains: None,
        ancestor_contains: Some(EIC.into()),
        reason: "EC2 Instance Connect: sshd's key lookup fetches the pushed SSH key from metadata".into(),
    });
    list
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The program's name: the executable's file name, or, when the sensor logs no path
/// (imds-packet-analyzer, Kubernetes audit), the first argument's, without the dash of a login
/// shell (`-bash`), or the task name.
fn exe_name(p: &Process) -> &str {
    if let Some(exe) = p.exe.as_deref() {
        return basename(exe);
    }
    let first = p
        .argv0
        .as_deref()
        .or_else(|| p.command_line.as_deref().and_then(|c| c.split(' ').next()))
        .map(|a| basename(a.trim_start_matches('-')))
        .filter(|a| !a.is_empty() && !a.contains(':'));
    first.or(p.comm.as_deref()).unwrap_or("")
}

/// A login shell (`-bash`), or sshd's process for a session on a terminal (`sshd: user@pts/0`).
fn is_login_session(p: &Process) -> bool {
    let first = p
        .argv0
        .as_deref()
        .or_else(|| p.command_line.as_deref().and_then(|c| c.split(' ').next()))
        .unwrap_or("");
    (first.starts_with('-') && SHELLS.contains(&first.trim_start_matches('-')))
        || p.command_line
            .as_deref()
            .is_some_and(|c| c.starts_with("sshd: ") && c.contains("@pts/"))
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ash", "ksh", "mksh", "fish", "busybox"];
const PROXIES: &[&str] = &[
    "nginx", "haproxy", "squid", "envoy", "traefik", "caddy", "httpd", "apache2", "lighttpd", "varnishd",
];
const NETWORK_TOOLS: &[&str] = &[
    "curl",
    "wget",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "http",
    "aria2c",
    "lwp-request",
];
const SESSION_STARTERS: &[&str] = &[
    "sshd",
    "login",
    "su",
    "sudo",
    "ssm-session-worker",
    "tmux",
    "screen",
    "agetty",
];

/// Whether a shell's command line asks for an interactive shell (`bash -i`, `sh -il`): only the
/// shell's own options count, not the words of the command it runs (`sh -c "grep -i aws"`).
pub fn is_interactive_shell_command(command_line: &str) -> bool {
    for word in command_line.split(' ').skip(1) {
        if word == "-c" || !word.starts_with('-') || word.starts_with("--") {
            return false;
        }
        if word.contains('i') {
            return true;
        }
    }
    false
}

/// Service managers and schedulers: a shell they start is a unit's or a job's script.
const SCHEDULERS: &[&str] = &[
    "systemd",
    "init",
    "crond",
    "cron",
    "atd",
    "anacron",
    "supervisord",
    "runsv",
    "s6-supervise",
];

fn is_shell_name(name: &str) -> bool {
    SHELLS.contains(&name)
}

fn is_shell(p: &Process) -> bool {
    SHELLS.contains(&exe_name(p))
}

/// A JVM, Python, PHP or Node process serving web requests, told from the same runtime's other
/// work by what the process is running: a request thread, a worker of a web server.
fn is_web_worker(p: &Process) -> bool {
    let comm = p.comm.as_deref().unwrap_or("");
    let cmd = p.command_line.as_deref().or(p.argv0.as_deref()).unwrap_or("");
    [
        "http-nio-",
        "https-jsse-",
        "http-bio-",
        "ajp-nio-",
        "qtp",
        "XNIO-",
        "default task",
        "reactor-http",
    ]
    .iter()
    .any(|t| comm.starts_with(t))
        || [
            "gunicorn: worker",
            "uwsgi",
            "php-fpm: pool",
            "Passenger ",
            "puma: cluster worker",
            "unicorn worker",
        ]
        .iter()
        .any(|t| cmd.starts_with(t))
        || exe_name(p).starts_with("php-fpm")
}

fn is_writable_location(exe: &str) -> bool {
    [
        "/tmp/",
        "/dev/shm/",
        "/var/tmp/",
        "/run/user/",
        "/home/",
        "/root/",
        "/var/www/",
    ]
    .iter()
    .any(|d| exe.starts_with(d))
        || exe.ends_with(" (deleted)")
}

fn in_container(p: &Process, ancestors: &[Ancestor]) -> Option<String> {
    let label = |p: &Process| {
        p.security_context
            .as_deref()
            .is_some_and(|c| c.contains(":container_t"))
    };
    if let Some(id) = &p.container {
        return Some(format!("the sensor names container {id}"));
    }
    if label(p) {
        return Some("its SELinux label is container_t".into());
    }
    for a in ancestors {
        let name = exe_name(&a.process);
        if name.starts_with("containerd-shim") || name == "runc" || name == "conmon" || name == "crun" {
            return Some(format!(
                "its ancestor {} is a container runtime",
                a.process.exe.as_deref().unwrap_or(name)
            ));
        }
        if label(&a.process) {
            return Some("an ancestor's SELinux label is container_t".into());
        }
    }
    None
}

/// What a process that reached the metadata service is, from its own record and its lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Shipped or configured software that reads the service by design.
    Allowed(String),
    /// A web server or web application worker: the host-side sign of SSRF.
    WebProcess,
    /// A reverse or forward proxy's worker: the host-side sign of proxy abuse.
    ProxyProcess,
    /// A shell started by a service (no login session): the shape of a webshell or an injected
    /// command.
    Webshell,
    /// A command in a login session (SSH, console, Session Manager) or an interactive shell.
    Interactive,
    /// A command run through SSM Run Command.
    RunCommand,
    /// An executable in a writable or deleted location (a dropped or renamed tool).
    UnusualExecutable,
    /// An HTTP client or network tool outside any of the above.
    NetworkTool,
    /// A service or scheduled process that is not on the allow-list.
    Unlisted,
}

impl Judgement {
    pub fn variant(&self) -> &'static str {
        match self {
            Judgement::Allowed(_) => "allowed",
            Judgement::WebProcess => "web_process",
            Judgement::ProxyProcess => "proxy_process",
            Judgement::Webshell => "webshell",
            Judgement::Interactive => "interactive",
            Judgement::RunCommand => "run_command",
            Judgement::UnusualExecutable => "unusual_executable",
            Judgement::NetworkTool => "network_tool",
            Judgement::Unlisted => "unlisted",
        }
    }
}

/// The judgement with its reasons, and whether the process runs in a container.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub judgement: Judgement,
    pub container: Option<String>,
    pub reasons: Vec<String>,
}

fn describe(p: &Process) -> String {
    let exe = p.exe.as_deref().unwrap_or("an unknown executable");
    match p.command_line.as_deref().filter(|c| !c.is_empty()) {
        Some(cmd) => format!("{exe} ({cmd})"),
        None => exe.to_string(),
    }
}

/// Judges the process that made an access. `allow` is the shipped list plus the user's.
pub fn judge(p: &Process, own: Option<&Ancestor>, ancestors: &[Ancestor], allow: &[AllowedSoftware]) -> Verdict {
    // The start record knows the command line and cwd better than a connect record does.
    let merged;
    let p = match own {
        Some(start) => {
            merged = Process {
                command_line: p.command_line.clone().or_else(|| start.process.command_line.clone()),
                argv0: p.argv0.clone().or_else(|| start.process.argv0.clone()),
                cwd: p.cwd.clone().or_else(|| start.process.cwd.clone()),
                ..p.clone()
            };
            &merged
        }
        None => p,
    };
    let container = in_container(p, ancestors);
    let mut reasons = Vec::new();
    let lineage: Vec<String> = ancestors.iter().map(|a| exe_name(&a.process).to_string()).collect();
    if !lineage.is_empty() {
        reasons.push(format!("lineage: {} ← {}", exe_name(p), lineage.join(" ← ")));
    }
    // sshd also runs helpers before anyone logs in (AuthorizedKeysCommand): those have no login
    // uid and no terminal, and are not a session. Session Manager shells are always one.
    let interactive_session = p.tty.is_some()
        || is_login_session(p)
        || ancestors.iter().any(|a| {
            let name = exe_name(&a.process);
            name == "ssm-session-worker"
                || is_login_session(&a.process)
                || (SESSION_STARTERS.contains(&name) && (p.login_uid.is_some() || a.process.tty.is_some()))
                || (is_shell(&a.process)
                    && a.process
                        .command_line
                        .as_deref()
                        .is_some_and(is_interactive_shell_command))
        });
    // A shell whose parent is a service (a web application, an agent), not the service manager,
    // a scheduler or a login: the shape of a webshell or an injected command. A systemd unit's
    // own shell script, or a cron job's `sh -c`, is not one.
    let service_shell = {
        let chain: Vec<&Process> = std::iter::once(p).chain(ancestors.iter().map(|a| &a.process)).collect();
        chain.iter().enumerate().any(|(i, shell)| {
            if !is_shell(shell) {
                return false;
            }
            let parent_pid = shell.ppid;
            let parent_name = chain.get(i + 1).map(|parent| exe_name(parent));
            parent_pid.is_some_and(|pid| pid > 1)
                && !parent_name
                    .is_some_and(|n| SCHEDULERS.contains(&n) || SESSION_STARTERS.contains(&n) || is_shell_name(n))
        })
    } && p.login_uid.is_none()
        && !interactive_session;
    let run_command = ancestors
        .iter()
        .any(|a| exe_name(&a.process).starts_with("ssm-document-worker") || exe_name(&a.process) == "ssm-agent-worker");
    let exe = p.exe.as_deref().unwrap_or("");
    let name = exe_name(p);

    let judgement = if let Some(entry) = allow
        .iter()
        .find(|e| e.matches(p, ancestors))
        .filter(|_| !interactive_session && container.is_none())
    {
        // Started by the service manager or another agent, not from a shell someone typed into.
        reasons.push(format!("{}: {}", describe(p), entry.reason));
        Judgement::Allowed(entry.reason.clone())
    } else if is_writable_location(exe) {
        reasons.push(format!(
            "{} runs from a writable or deleted location: a dropped or renamed tool",
            describe(p)
        ));
        Judgement::UnusualExecutable
    } else if PROXIES.contains(&name) {
        reasons.push(format!(
            "{} is a proxy or web server worker: it reaches the metadata service only when a client makes it (proxy abuse or SSRF)",
            describe(p)
        ));
        Judgement::ProxyProcess
    } else if is_web_worker(p) {
        reasons.push(format!(
            "{} is serving web requests (thread or worker {}): a request handler reaching the metadata service is the host-side sign of SSRF",
            describe(p),
            p.comm.as_deref().unwrap_or("?")
        ));
        Judgement::WebProcess
    } else if run_command {
        reasons.push(format!("{} was run through SSM Run Command", describe(p)));
        Judgement::RunCommand
    } else if interactive_session {
        reasons.push(format!(
            "{} runs in an interactive session (terminal {}, login uid {})",
            describe(p),
            p.tty.as_deref().unwrap_or("none"),
            p.login_uid.map_or("unset".to_string(), |u| u.to_string())
        ));
        Judgement::Interactive
    } else if service_shell && container.is_none() {
        reasons.push(format!(
            "{} was started by a shell under a service, outside any login session: the shape of a webshell or command injection",
            describe(p)
        ));
        Judgement::Webshell
    } else if NETWORK_TOOLS.contains(&name) {
        reasons.push(format!("{} is a general-purpose network tool", describe(p)));
        Judgement::NetworkTool
    } else {
        reasons.push(format!(
            "{} is not on the allow-list (a service or scheduled process, login uid {})",
            describe(p),
            p.login_uid.map_or("unset".to_string(), |u| u.to_string())
        ));
        Judgement::Unlisted
    };
    if let Some(why) = &container {
        reasons.push(format!("in a container: {why}"));
    }
    if p.exe.is_none() {
        reasons.push(
            "the sensor logs no executable path, so the allow-list (which matches paths, not names a process can choose) cannot vouch for it"
                .into(),
        );
    }
    Verdict {
        judgement,
        container,
        reasons,
    }
}

/// A stable label of the program behind an access, for baselines: the executable and the
/// script it runs (an interpreter's `argv[1]`), without pids.
pub fn program_key(p: &Process) -> String {
    let exe = p.exe.as_deref().unwrap_or("?");
    let script = p
        .command_line
        .as_deref()
        .and_then(|c| c.split(' ').skip(1).find(|w| !w.starts_with('-') && w.contains('/')));
    match script {
        Some(s)
            if ["python", "ruby", "perl", "node", "java", "php", "bash", "sh"]
                .iter()
                .any(|i| basename(exe).starts_with(i)) =>
        {
            format!("{exe} {s}")
        }
        _ => exe.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(exe: &str, cmd: &str) -> Process {
        Process {
            pid: Some(100),
            ppid: Some(1),
            exe: Some(exe.into()),
            command_line: Some(cmd.into()),
            ..Default::default()
        }
    }

    #[test]
    fn metadata_addresses_are_recognised_in_every_family() {
        for (ip, want) in [
            ("169.254.169.254", Some("169.254.169.254")),
            ("::ffff:169.254.169.254", Some("169.254.169.254")),
            ("fd00:ec2::254", Some("fd00:ec2::254")),
            ("169.254.170.23", Some("169.254.170.23")),
            ("100.100.100.200", Some("100.100.100.200")),
            ("169.254.169.253", None),
            ("10.0.0.1", None),
        ] {
            let ip: IpAddr = ip.parse().expect("address");
            assert_eq!(metadata_service(ip).map(|(e, _)| e), want, "{ip}");
        }
    }

    #[test]
    fn every_shipped_allow_list_entry_matches_its_own_agent_and_not_a_renamed_tool() {
        let allow = shipped_allow_list();
        for entry in allow.iter().filter(|e| e.ancestor_contains.is_none()) {
            let exe = entry.exe.trim_end_matches('*').to_string();
            let exe = if exe.ends_with('/') { format!("{exe}agent") } else { exe };
            let cmd = entry.command_contains.clone().unwrap_or_default();
            let p = proc(&exe, &format!("{exe} {cmd}"));
            let v = judge(&p, None, &[], &allow);
            assert!(matches!(v.judgement, Judgement::Allowed(_)), "{entry:?} → {v:?}");
            // The same name elsewhere is not the agent.
            let fake = proc(&format!("/tmp/{}", basename(&exe)), &format!("/tmp/x {cmd}"));
            assert_eq!(
                judge(&fake, None, &[], &allow).judgement,
                Judgement::UnusualExecutable,
                "{entry:?}"
            );
        }
    }

    #[test]
    fn ec2_instance_connect_curl_is_allowed_only_under_its_script() {
        let allow = shipped_allow_list();
        let curl = proc(
            "/usr/bin/curl",
            "/usr/bin/curl -s -f -m 1 http://169.254.169.254/latest/meta-data/managed-ssh-keys/",
        );
        let script = proc(
            "/usr/bin/bash",
            "/bin/bash /usr/share/ec2-instance-connect/eic_run_authorized_keys ec2-user SHA256:x",
        );
        let sshd = proc("/usr/sbin/sshd", "/usr/sbin/sshd -D -R");
        let at = |process| Ancestor {
            time: Timestamp::default(),
            origin: ORIGIN_MIN,
            process,
        };
        let under_script = [at(script), at(sshd)];
        assert!(matches!(
            judge(&curl, None, &under_script, &allow).judgement,
            Judgement::Allowed(_)
        ));
        assert_eq!(judge(&curl, None, &[], &allow).judgement, Judgement::NetworkTool);
    }

    #[test]
    fn a_renamed_curl_is_judged_by_its_path_not_its_name() {
        let allow = shipped_allow_list();
        let mut p = proc("/dev/shm/.x/amazon-ssm-agent", "amazon-ssm-agent");
        p.comm = Some("amazon-ssm-agen".into());
        assert_eq!(judge(&p, None, &[], &allow).judgement, Judgement::UnusualExecutable);
    }

    #[test]
    fn an_allow_listed_agent_in_an_interactive_session_is_not_allowed() {
        let allow = shipped_allow_list();
        let mut p = proc("/usr/bin/amazon-ssm-agent", "/usr/bin/amazon-ssm-agent");
        p.tty = Some("pts0".into());
        assert_eq!(judge(&p, None, &[], &allow).judgement, Judgement::Interactive);
    }

    #[test]
    fn bug_a_grep_dash_i_in_a_shell_command_made_the_shell_interactive() {
        assert!(!is_interactive_shell_command(
            "/bin/sh -c id; uname -a; env | grep -i aws"
        ));
        assert!(is_interactive_shell_command("bash -i"));
        assert!(is_interactive_shell_command("/bin/sh -il"));
        assert!(!is_interactive_shell_command("bash --init-file x"));
        assert!(!is_interactive_shell_command("bash script.sh -i"));
    }

    #[test]
    fn without_an_executable_path_lineage_is_judged_by_argv_and_sessions_by_their_shape() {
        let allow = shipped_allow_list();
        let curl = Process {
            pid: Some(1016),
            ppid: Some(1015),
            comm: Some("curl".into()),
            command_line: Some("curl http://169.254.169.254/latest/meta-data/".into()),
            ..Default::default()
        };
        let shell = Process {
            pid: Some(1015),
            command_line: Some("-zsh".into()),
            ..Default::default()
        };
        let sshd = Process {
            pid: Some(1010),
            command_line: Some("sshd: ec2-user@pts/0".into()),
            ..Default::default()
        };
        let at = |process| Ancestor {
            time: Timestamp::default(),
            origin: ORIGIN_MIN,
            process,
        };
        let unit = Process {
            pid: Some(3290),
            ppid: Some(1),
            command_line: Some("/bin/bash /opt/scripts/rotate.sh".into()),
            ..Default::default()
        };
        let v = judge(&curl, None, &[at(unit)], &allow);
        assert_eq!(
            v.judgement,
            Judgement::NetworkTool,
            "a systemd unit's script is no webshell: {v:?}"
        );
        let v = judge(&curl, None, &[at(shell), at(sshd)], &allow);
        assert_eq!(v.judgement, Judgement::Interactive, "{v:?}");
        assert_eq!(judge(&curl, None, &[], &allow).judgement, Judgement::NetworkTool);
    }

    #[test]
    fn program_keys_name_the_script_an_interpreter_runs() {
        assert_eq!(
            program_key(&proc(
                "/usr/bin/python2.7",
                "/usr/bin/python2.7 /opt/reports/collect.py --all"
            )),
            "/usr/bin/python2.7 /opt/reports/collect.py"
        );
        assert_eq!(
            program_key(&proc("/usr/bin/curl", "curl -s http://x/")),
            "/usr/bin/curl"
        );
    }
}
