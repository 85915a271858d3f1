//! What host telemetry says about processes: which process started, and which process opened a
//! connection to where. The runbook's first three questions (authorised application? unusual
//! volume? failed attempts?) can only be answered from the instance itself: VPC Flow Logs never
//! record traffic to the link-local metadata address.

use std::net::IpAddr;

/// The component that logged the record: it decides what a field can prove (auditd's `exe` is
/// the kernel's view of the executable; `comm` is a name the process can set itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostSensor {
    /// Linux audit framework, raw `audit.log`.
    Auditd,
    /// laurel's JSON rendering of auditd events.
    Laurel,
    /// Sysmon for Linux (process create, network connect).
    Sysmon,
    /// Falco alerts (the process and connection fields of a rule's output).
    Falco,
    /// Kubernetes API server audit log (`pods/exec`: a command run in a container).
    KubernetesAudit,
    /// AWS's imds-packet-analyzer (`imds-trace.log`): each metadata call with its process.
    ImdsPacketAnalyzer,
}

impl HostSensor {
    pub fn as_str(self) -> &'static str {
        match self {
            HostSensor::Auditd => "auditd",
            HostSensor::Laurel => "laurel",
            HostSensor::Sysmon => "sysmon",
            HostSensor::Falco => "falco",
            HostSensor::KubernetesAudit => "kubernetes-audit",
            HostSensor::ImdsPacketAnalyzer => "imds-packet-analyzer",
        }
    }
}

/// A process as the sensor saw it at the time of the record. Everything is optional: sensors
/// differ in what they log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    pub pid: Option<u32>,
    pub ppid: Option<u32>,
    /// The executable's path as the kernel resolved it (auditd `exe`): not chosen by the process.
    pub exe: Option<String>,
    /// The task name (auditd `comm`, at most 15 bytes on Linux). A process or a thread can set
    /// its own, so it describes (a JVM request thread is `http-nio-8080-e`) but never proves.
    pub comm: Option<String>,
    /// The command line, arguments joined by spaces (auditd `proctitle` or `EXECVE` arguments).
    pub command_line: Option<String>,
    /// First argument as given (`argv[0]`).
    pub argv0: Option<String>,
    pub uid: Option<u32>,
    /// Login uid (auditd `auid`): set by `pam_loginuid` for SSH, console and cron sessions;
    /// `None` when unset (4294967295).
    pub login_uid: Option<u32>,
    /// Audit session id; `None` when unset.
    pub session: Option<u32>,
    /// Controlling terminal (`pts0`), `None` for `(none)`.
    pub tty: Option<String>,
    pub cwd: Option<String>,
    /// SELinux or AppArmor label of the process (`system_u:system_r:container_t:s0:c1,c2`).
    pub security_context: Option<String>,
    /// Container id when the sensor knows it (Kubernetes: `namespace/pod/container`).
    pub container: Option<String>,
    /// User name when the sensor gives one (Sysmon `User`, Falco `user.name`, the Kubernetes
    /// user who ran `kubectl exec`).
    pub user_name: Option<String>,
}

/// A process started (`execve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStart {
    pub sensor: HostSensor,
    /// The host that logged it: instance id when known (from the record or the log's path),
    /// otherwise the host name the sensor gives.
    pub host: Option<String>,
    pub process: Process,
}

/// A process opened (or tried to open) a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConnect {
    pub sensor: HostSensor,
    pub host: Option<String>,
    pub process: Process,
    pub destination: IpAddr,
    pub port: Option<u16>,
    /// Whether the connection was refused or failed outright. A non-blocking `connect` that
    /// returns `EINPROGRESS` is not a failure: the connection is still being made.
    pub failed: bool,
    /// The kernel's result (`exit=` of the syscall), for the analyst.
    pub result: Option<i64>,
    /// The HTTP request on the connection, when the sensor decoded it (imds-packet-analyzer).
    pub http: Option<ConnectHttp>,
}

/// The metadata request a sensor decoded on a process's connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectHttp {
    pub method: Option<String>,
    pub path: Option<String>,
    /// 1 for a request without a token (IMDSv1), 2 with one (IMDSv2).
    pub imds_version: Option<u8>,
}

/// A network connection summary as a flow sensor logged it: Zeek `conn.log`, Suricata `flow`
/// events, VPC Flow Logs. Flow logs of the VPC never contain traffic to the link-local metadata
/// address (the instance's hypervisor answers it); a sensor on the instance does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetFlow {
    pub sensor: FlowSensor,
    /// The sensor, interface or instance that logged it (Zeek/Suricata host, `eni-…`), when known.
    pub observer: Option<String>,
    pub client: IpAddr,
    pub client_port: Option<u16>,
    pub server: IpAddr,
    pub server_port: Option<u16>,
    /// `tcp`, `udp`, `icmp`, or the IANA protocol number as text.
    pub protocol: Option<String>,
    pub bytes_to_server: Option<u64>,
    pub bytes_to_client: Option<u64>,
    pub packets: Option<u64>,
    /// Connection state as the sensor names it (Zeek `conn_state` `SF`, `REJ`, `S0`; Suricata
    /// `state`), for the analyst.
    pub state: Option<String>,
    /// Whether the connection was refused or never answered (Zeek `REJ`/`S0`, VPC `REJECT`).
    pub rejected: bool,
    /// The flow's end, when the sensor gives one (VPC Flow Logs `end`).
    pub end: Option<crate::Timestamp>,
    /// VPC Flow Logs: account, interface, and the NAT/packet addresses (v3+ `pkt-srcaddr`,
    /// `pkt-dstaddr`) that attribute NAT traffic to the instance behind it.
    pub account: Option<String>,
    pub interface: Option<String>,
    pub instance: Option<String>,
    pub packet_client: Option<IpAddr>,
    pub packet_server: Option<IpAddr>,
}

/// Which flow sensor wrote a [`NetFlow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowSensor {
    ZeekConn,
    SuricataFlow,
    VpcFlowLogs,
}

impl FlowSensor {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowSensor::ZeekConn => "zeek-conn",
            FlowSensor::SuricataFlow => "suricata-flow",
            FlowSensor::VpcFlowLogs => "vpc-flow-logs",
        }
    }
}
