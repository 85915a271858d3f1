//! What host telemetry says about processes: which process started, and which process opened a
//! connection to where. The runbook's first three questions (authorised application? unusual
//! volume? failed attempts?) can only be answered from the instance itself: VPC Flow Logs never
//! record traffic to the link-local metadata address.

use std::net::IpAddr;

/// The component that logged the record: it decides what a field can prove (auditd's `exe` is
/// the kernel's view of the executable; `comm` is a name the process can set itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostSensor {
    /// Linux audit framework, raw `audit.log` (or laurel's JSON of the same events).
    Auditd,
}

impl HostSensor {
    pub fn as_str(self) -> &'static str {
        match self {
            HostSensor::Auditd => "auditd",
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
    /// Container id when the sensor knows it.
    pub container: Option<String>,
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
}
