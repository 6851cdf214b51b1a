//! What a sandbox container is made of: [`ContainerSpec`] and the Docker create body it becomes.
//!
//! A spec is validated before any engine call ([`ContainerSpec::validate`]); every refusal is an
//! [`Error::InvalidInput`] that names the offending field. [`ContainerSpec::create_body`] then turns
//! it into the JSON of `POST /containers/create` (the engine name goes into the `?name=` query, see
//! [`crate::api::containers::create`]).
//!
//! # Secure by default
//!
//! Every container gets, unless the caller relaxes it (see [`Hardening`]):
//!
//! * `CapDrop: ["ALL"]` and no capability added back ([`DEFAULT_CAP_ADD`] is empty). The images
//!   run as the non-root `sandbox` user, which needs none. This matters on Podman: Podman 4.3 gives
//!   a non-root exec user the container's whole capability set as *ambient* capabilities (seen:
//!   `CapEff = CapAmb = 0xeb` for uid 1000 with `CapAdd` of six capabilities), so any capability
//!   added back would be held by the sandbox user too. A caller that runs commands as root and
//!   needs file housekeeping can add [`ROOT_CAP_ADD`] with [`Hardening::with_root_caps`].
//!   `no-new-privileges` keeps setuid binaries from gaining any.
//! * `SecurityOpt: ["no-new-privileges"]`.
//! * `PidsLimit: 512` (a fork bomb stops there; Docker's default is unlimited).
//! * `MemorySwap` equal to `Memory` when a memory limit is set: no swap beyond the limit.
//! * Published ports bound to `127.0.0.1`, never to every interface, unless a host IP is given.
//! * `NetworkMode: "none"` unless the caller or the profile turns networking on. **Publishing a
//!   port needs a network**: when ports are given and the caller did not choose a network, the
//!   container gets the engine's `bridge` network (ports stay bound to `127.0.0.1`); when the caller
//!   explicitly turned networking off (or chose `host`, where publishing means nothing), the spec is
//!   refused on `ports`.
//!
//! # PID 1
//!
//! The container's first process is [`default_cmd`], a shell that sleeps in the background and
//! exits at once on `SIGTERM`/`SIGINT`, so a stop takes milliseconds instead of the whole grace
//! period (`sleep infinity`, used by the reference, ignores `SIGTERM`). It is overridable with
//! [`ContainerSpec::cmd`]. `HostConfig.Init` is not used: it needs `docker-init`/`catatonit` on the
//! host, which an offline machine may not have.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::profile::resolve_profile;

/// Image used when neither an image nor a profile is given.
pub const DEFAULT_IMAGE: &str = "pocketdock/minimal-python";

/// Default `PidsLimit`.
pub const DEFAULT_PIDS_LIMIT: u32 = 512;

/// Capabilities added back by default after dropping all: none (see the module documentation).
pub const DEFAULT_CAP_ADD: [&str; 0] = [];

/// A small set for commands run as root inside the sandbox (file ownership and modes, switching
/// and signalling users), opt-in with [`Hardening::with_root_caps`]. On Podman a non-root exec
/// user holds these too.
pub const ROOT_CAP_ADD: [&str; 6] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "SETGID",
    "SETUID",
];

/// The script of the default PID 1: sleeps forever, exits 0 at once on `SIGTERM` or `SIGINT`.
pub const PID1_SCRIPT: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// Host IP published ports bind to when none is given.
pub const DEFAULT_HOST_IP: &str = "127.0.0.1";

/// Smallest memory limit accepted (Docker refuses less than 6 MiB).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// Longest engine container name accepted.
pub const MAX_NAME_LEN: usize = 128;

/// Label marking a container as created by pocketdock (`"true"`).
pub const LABEL_MANAGED: &str = "pocketdock.managed";
/// Label holding the pocketdock name of a container.
pub const LABEL_INSTANCE: &str = "pocketdock.instance";
/// Label saying whether a container survives shutdown (`"true"`/`"false"`).
pub const LABEL_PERSIST: &str = "pocketdock.persist";
/// Label holding the creation time (ISO 8601, e.g. `2026-02-10T14:30:00.123456+00:00`).
pub const LABEL_CREATED_AT: &str = "pocketdock.created-at";
/// Label holding the project name.
pub const LABEL_PROJECT: &str = "pocketdock.project";
/// Label holding the absolute host path of the instance directory.
pub const LABEL_DATA_PATH: &str = "pocketdock.data-path";
/// Label holding the profile name.
pub const LABEL_PROFILE: &str = "pocketdock.profile";

/// The default PID 1 command: `["sh", "-c", PID1_SCRIPT]`.
pub fn default_cmd() -> Vec<String> {
    vec!["sh".into(), "-c".into(), PID1_SCRIPT.into()]
}

/// A fresh pocketdock name from a random number: `pd-` and 8 lowercase hex digits (the low 32
/// bits of `random`). The caller supplies the randomness; proto has no random source.
pub fn generate_name(random: u64) -> String {
    format!("pd-{:08x}", random & 0xffff_ffff)
}

/// Check an engine container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters.
pub fn validate_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return Err(Error::invalid("name", "must not be empty"));
    };
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(
            "name",
            format!("{name:?} is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(Error::invalid(
            "name",
            format!("{name:?} must start with a letter or digit"),
        ));
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err(Error::invalid(
            "name",
            format!("{name:?} may only contain letters, digits, '_', '.' and '-'"),
        ));
    }
    Ok(())
}

/// Parse a memory size: digits, optional spaces, an optional unit `b`, `k`, `m`, `g` or `t`
/// (case-insensitive, powers of 1024), surrounding spaces ignored.
///
/// As a convenience `kb`, `mb`, `gb` and `tb` are accepted as the same units (still powers of
/// 1024: `"256mb"` is 256 MiB). Refused: an empty string, zero, decimals, signs, any other unit,
/// and values that overflow `u64`.
pub fn parse_mem_limit(s: &str) -> Result<u64> {
    let bad = |why: &str| Error::invalid("mem_limit", format!("invalid memory limit {s:?}: {why}"));
    let t = s.trim();
    let digits_end = t
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(t.len());
    let (digits, rest) = t.split_at(digits_end);
    if digits.is_empty() {
        return Err(bad("expected a number such as 256m or 1g"));
    }
    let unit = rest.trim_start().to_ascii_lowercase();
    let shift: u32 = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        _ => return Err(bad("unit must be one of b, k, m, g, t")),
    };
    let n: u64 = digits.parse().map_err(|_| bad("number too large"))?;
    if n == 0 {
        return Err(bad("must be greater than zero"));
    }
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| bad("number too large"))
}

/// Human size with 1024 steps: `"512 B"`, `"1.0 KB"`, `"42.0 MB"`, `"2.0 GB"`, `"3.0 TB"` (TB is
/// the largest unit).
pub fn format_bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = "KB";
    for next in ["MB", "GB", "TB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// Split an image reference into repository and tag, for `commit` (snapshot).
///
/// The tag is what follows the last `:` *after* the last `/`, so a registry port is never taken
/// for a tag: `"localhost:5000/x"` gives `("localhost:5000/x", "latest")`, `"a/b:c"` gives
/// `("a/b", "c")`, `"repo"` gives `("repo", "latest")`. Digest references (`name@sha256:...`)
/// are refused: a commit target needs a tag. The repository must follow the reference grammar
/// (lowercase path components, optional `host[:port]` first component) and the tag
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn split_image_ref(reference: &str) -> Result<(String, String)> {
    let bad = |why: String| Error::invalid("image", format!("{reference:?}: {why}"));
    if reference.is_empty() {
        return Err(bad("must not be empty".into()));
    }
    if reference.contains('@') {
        return Err(bad(
            "a digest reference cannot name a new image; use repository[:tag]".into(),
        ));
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match reference.get(slash..).and_then(|last| last.rfind(':')) {
        Some(colon) => {
            let at = slash + colon;
            (
                reference.get(..at).unwrap_or_default(),
                reference.get(at + 1..).unwrap_or_default(),
            )
        }
        None => (reference, "latest"),
    };
    check_repository(repo).map_err(bad)?;
    check_tag(tag).map_err(bad)?;
    Ok((repo.to_string(), tag.to_string()))
}

fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let mut bytes = tag.bytes();
    let ok_first = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok_first
        || tag.len() > 128
        || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(format!(
            "tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
        ));
    }
    Ok(())
}

fn check_repository(repo: &str) -> std::result::Result<(), String> {
    if repo.is_empty() {
        return Err("the repository name is empty".into());
    }
    if repo.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    let parts: Vec<&str> = repo.split('/').collect();
    let mut path = parts.as_slice();
    if let [first, rest @ ..] = parts.as_slice() {
        if !rest.is_empty() && (first.contains('.') || first.contains(':') || *first == "localhost")
        {
            check_domain(first)?;
            path = rest;
        }
    }
    for component in path {
        if !is_path_component(component) {
            return Err(format!(
                "repository component {component:?} must be lowercase letters and digits \
                 separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn check_domain(domain: &str) -> std::result::Result<(), String> {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(format!("registry {domain:?} is not a valid host[:port]"))
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !b.first().is_some_and(alnum) || !b.last().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b.get(i).is_some_and(alnum) {
            i += 1;
            continue;
        }
        let start = i;
        while b.get(i).is_some_and(|x| !alnum(x)) {
            i += 1;
        }
        let sep = c.get(start..i).unwrap_or_default();
        let ok =
            matches!(sep, "." | "_" | "__") || (!sep.is_empty() && sep.bytes().all(|x| x == b'-'));
        if !ok {
            return false;
        }
    }
    true
}

/// A bind mount from the host into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Absolute host path (whether it exists is checked by the adapter).
    pub host: String,
    /// Absolute path inside the container (not `/`).
    pub container: String,
    /// Mount read-only.
    pub read_only: bool,
}

impl Volume {
    /// A read-write bind mount.
    pub fn new(host: impl Into<String>, container: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            container: container.into(),
            read_only: false,
        }
    }

    /// A read-only bind mount.
    pub fn read_only(host: impl Into<String>, container: impl Into<String>) -> Self {
        Self {
            read_only: true,
            ..Self::new(host, container)
        }
    }

    /// The `Binds` entry: `host:container` or `host:container:ro`.
    pub fn bind(&self) -> String {
        if self.read_only {
            format!("{}:{}:ro", self.host, self.container)
        } else {
            format!("{}:{}", self.host, self.container)
        }
    }
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `"tcp"` or `"udp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A published port: `host_ip:host_port` on the host forwards to `container_port/protocol`.
///
/// Several mappings may share one container port (`8080:80` and `8081:80` both work, unlike the
/// reference, which kept only the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Port on the host, 1-65535.
    pub host_port: u16,
    /// Port in the container, 1-65535.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Host address to bind; `None` means [`DEFAULT_HOST_IP`] (`127.0.0.1`). Use `0.0.0.0` to
    /// publish on every interface.
    pub host_ip: Option<String>,
}

impl PortMapping {
    /// A TCP mapping bound to `127.0.0.1`.
    pub fn tcp(host_port: u16, container_port: u16) -> Self {
        Self {
            host_port,
            container_port,
            protocol: Protocol::Tcp,
            host_ip: None,
        }
    }

    /// A UDP mapping bound to `127.0.0.1`.
    pub fn udp(host_port: u16, container_port: u16) -> Self {
        Self {
            protocol: Protocol::Udp,
            ..Self::tcp(host_port, container_port)
        }
    }

    /// Bind to this host address instead of `127.0.0.1`.
    pub fn on(mut self, host_ip: impl Into<String>) -> Self {
        self.host_ip = Some(host_ip.into());
        self
    }

    /// Parse `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]` as given on the command line
    /// (an IPv6 host address may be written in brackets: `[::1]:8080:80`).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("ports", format!("{s:?}: {why}"));
        let (addr, protocol) = match s.rsplit_once('/') {
            Some((a, "tcp")) => (a, Protocol::Tcp),
            Some((a, "udp")) => (a, Protocol::Udp),
            Some(_) => return Err(bad("protocol must be tcp or udp")),
            None => (s, Protocol::Tcp),
        };
        let Some((rest, container)) = addr.rsplit_once(':') else {
            return Err(bad("expected HOST_PORT:CONTAINER_PORT"));
        };
        let (ip, host) = match rest.rsplit_once(':') {
            Some((ip, host)) => {
                let ip = ip
                    .strip_prefix('[')
                    .and_then(|i| i.strip_suffix(']'))
                    .unwrap_or(ip);
                (Some(ip.to_string()), host)
            }
            None => (None, rest),
        };
        let mapping = Self {
            host_port: parse_port(host).map_err(|why| bad(&why))?,
            container_port: parse_port(container).map_err(|why| bad(&why))?,
            protocol,
            host_ip: ip,
        };
        mapping.validate()?;
        Ok(mapping)
    }

    /// The host IP this mapping binds to.
    pub fn effective_host_ip(&self) -> &str {
        self.host_ip.as_deref().unwrap_or(DEFAULT_HOST_IP)
    }

    /// The `PortBindings`/`ExposedPorts` key, e.g. `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }

    fn validate(&self) -> Result<()> {
        if self.host_port == 0 || self.container_port == 0 {
            return Err(Error::invalid(
                "ports",
                format!(
                    "{}:{}: ports must be between 1 and 65535",
                    self.host_port, self.container_port
                ),
            ));
        }
        if let Some(ip) = &self.host_ip {
            if ip.parse::<IpAddr>().is_err() {
                return Err(Error::invalid(
                    "ports",
                    format!("host IP {ip:?} is not an IP address"),
                ));
            }
        }
        Ok(())
    }
}

fn parse_port(s: &str) -> std::result::Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port {s:?} is not a number"));
    }
    match s.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => u16::try_from(n).map_err(|e| e.to_string()),
        _ => Err(format!("port {s} must be between 1 and 65535")),
    }
}

/// The container's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// No network at all (`NetworkMode: "none"`): only loopback inside the sandbox.
    Off,
    /// The engine's default bridge network (outbound access, ports can be published).
    Bridge,
    /// Any other engine network mode or network name (`host`, `my-net`, `container:<id>`).
    Named(String),
}

impl NetworkMode {
    /// The `HostConfig.NetworkMode` value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Off => "none",
            Self::Bridge => "bridge",
            Self::Named(n) => n,
        }
    }

    fn forbids_ports(&self) -> bool {
        matches!(self.as_str(), "none" | "host")
    }
}

/// Security settings; the default is the secure one (see the module documentation), each field
/// can be relaxed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    /// `CapDrop: ["ALL"]`.
    pub cap_drop_all: bool,
    /// Capabilities added back (names with or without `CAP_`, any case).
    pub cap_add: Vec<String>,
    /// `SecurityOpt: ["no-new-privileges"]`.
    pub no_new_privileges: bool,
    /// `PidsLimit`; `None` leaves the engine default (unlimited on Docker, 2048 on Podman).
    pub pids_limit: Option<u32>,
    /// `ReadonlyRootfs` (pair it with [`ContainerSpec::tmpfs`] for writable scratch space).
    pub readonly_rootfs: bool,
}

impl Default for Hardening {
    fn default() -> Self {
        Self {
            cap_drop_all: true,
            cap_add: DEFAULT_CAP_ADD.iter().map(ToString::to_string).collect(),
            no_new_privileges: true,
            pids_limit: Some(DEFAULT_PIDS_LIMIT),
            readonly_rootfs: false,
        }
    }
}

impl Hardening {
    /// The default hardening plus [`ROOT_CAP_ADD`], for workloads that run commands as root.
    pub fn with_root_caps() -> Self {
        Self {
            cap_add: ROOT_CAP_ADD.iter().map(ToString::to_string).collect(),
            ..Self::default()
        }
    }

    /// No hardening at all: the engine's defaults (what the Python reference did).
    pub fn relaxed() -> Self {
        Self {
            cap_drop_all: false,
            cap_add: Vec::new(),
            no_new_privileges: false,
            pids_limit: None,
            readonly_rootfs: false,
        }
    }
}

fn normalize_cap(cap: &str) -> Result<String> {
    let up = cap.trim().to_ascii_uppercase();
    let name = up.strip_prefix("CAP_").unwrap_or(&up);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        return Err(Error::invalid(
            "cap_add",
            format!("{cap:?} is not a capability name"),
        ));
    }
    Ok(name.to_string())
}

/// The pocketdock labels of a container, compatible with the Python reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// `pocketdock.instance`: the pocketdock name.
    pub instance: String,
    /// `pocketdock.persist`.
    pub persist: bool,
    /// `pocketdock.created-at`, passed in by the caller (see [`crate::info::format_timestamp`]).
    pub created_at: String,
    /// `pocketdock.project`, omitted when `None` or empty.
    pub project: Option<String>,
    /// `pocketdock.data-path`, omitted when `None` or empty.
    pub data_path: Option<String>,
    /// `pocketdock.profile`, omitted when `None` or empty.
    pub profile: Option<String>,
}

impl Labels {
    /// Labels for `instance` created at `created_at`, not persistent, no project.
    pub fn new(instance: impl Into<String>, created_at: impl Into<String>) -> Self {
        Self {
            instance: instance.into(),
            created_at: created_at.into(),
            ..Self::default()
        }
    }

    /// The label map, `pocketdock.managed=true` included.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(LABEL_MANAGED.to_string(), "true".to_string());
        m.insert(LABEL_INSTANCE.to_string(), self.instance.clone());
        m.insert(LABEL_PERSIST.to_string(), self.persist.to_string());
        m.insert(LABEL_CREATED_AT.to_string(), self.created_at.clone());
        for (key, value) in [
            (LABEL_PROJECT, &self.project),
            (LABEL_DATA_PATH, &self.data_path),
            (LABEL_PROFILE, &self.profile),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                m.insert(key.to_string(), v.to_string());
            }
        }
        m
    }

    /// Read the labels of an engine container; `None` unless `pocketdock.managed` is `true`
    /// (any case). Works for containers created by the Python reference.
    pub fn from_map(map: &BTreeMap<String, String>) -> Option<Self> {
        let get = |k: &str| map.get(k).map(String::as_str);
        if !get(LABEL_MANAGED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return None;
        }
        let opt = |k: &str| get(k).filter(|v| !v.is_empty()).map(ToString::to_string);
        Some(Self {
            instance: get(LABEL_INSTANCE).unwrap_or_default().to_string(),
            persist: get(LABEL_PERSIST).is_some_and(|v| v.eq_ignore_ascii_case("true")),
            created_at: get(LABEL_CREATED_AT).unwrap_or_default().to_string(),
            project: opt(LABEL_PROJECT),
            data_path: opt(LABEL_DATA_PATH),
            profile: opt(LABEL_PROFILE),
        })
    }
}

/// Everything needed to create a sandbox container. Build it with the setters, or fill the
/// public fields, then [`validate`](Self::validate) and [`create_body`](Self::create_body).
///
/// ```
/// use pocketdock_proto::spec::{ContainerSpec, PortMapping};
/// let spec = ContainerSpec::new()
///     .profile("dev")
///     .mem_limit("256m")
///     .cpu_percent(50)
///     .port(PortMapping::tcp(8080, 80))
///     .env("MODE", "test");
/// assert!(spec.validate().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Image reference. `None`: the profile's image, else [`DEFAULT_IMAGE`]. An explicit image
    /// wins over the profile's.
    pub image: Option<String>,
    /// Engine and pocketdock name; `None`: the caller generates one ([`generate_name`]).
    pub name: Option<String>,
    /// Memory limit, e.g. `"256m"` (see [`parse_mem_limit`]); at least 6 MiB.
    pub mem_limit: Option<String>,
    /// CPU cap in percent of one CPU, 1-100 (`NanoCpus = percent × 10⁷`).
    pub cpu_percent: Option<u32>,
    /// Survive shutdown (stop without removing). `None`: not said, so the project's
    /// `default_persist` applies (false without a project).
    pub persist: Option<bool>,
    /// Bind mounts.
    pub volumes: Vec<Volume>,
    /// Host devices (`/dev/...`), mapped to the same path with `rwm` permissions.
    pub devices: Vec<String>,
    /// Published ports.
    pub ports: Vec<PortMapping>,
    /// Environment, `(KEY, value)` in order; keys `[A-Za-z_][A-Za-z0-9_]*`, no duplicates.
    pub env: Vec<(String, String)>,
    /// Working directory (absolute); `None`: the image's.
    pub workdir: Option<String>,
    /// User (`name`, `uid` or `uid:gid`); `None`: the image's.
    pub user: Option<String>,
    /// Network; `None`: on if the profile says so or ports are published, else off.
    pub network: Option<NetworkMode>,
    /// Project name (label `pocketdock.project`).
    pub project: Option<String>,
    /// Profile name (label `pocketdock.profile`; gives the image and the network default).
    pub profile: Option<String>,
    /// Extra labels; keys may not start with `pocketdock.`.
    pub labels: BTreeMap<String, String>,
    /// Security settings.
    pub hardening: Hardening,
    /// PID 1 command; `None`: [`default_cmd`].
    pub cmd: Option<Vec<String>>,
    /// Entrypoint override; `None`: the image's. `Some(vec![])` clears the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// tmpfs mounts: absolute container path → mount options (e.g. `size=64m,mode=1777`).
    pub tmpfs: BTreeMap<String, String>,
}

impl ContainerSpec {
    /// A spec with every default (image `pocketdock/minimal-python`, hardening on, no network).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the image.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Set the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Set the memory limit (`"256m"`, `"1g"`, ...).
    pub fn mem_limit(mut self, limit: impl Into<String>) -> Self {
        self.mem_limit = Some(limit.into());
        self
    }

    /// Set the CPU cap in percent of one CPU.
    pub fn cpu_percent(mut self, percent: u32) -> Self {
        self.cpu_percent = Some(percent);
        self
    }

    /// Keep the container on shutdown (`true`) or remove it (`false`), whatever the project's
    /// `default_persist` says.
    pub fn persist(mut self, persist: bool) -> Self {
        self.persist = Some(persist);
        self
    }

    /// Whether the container survives shutdown: the explicit choice, else `false`.
    pub fn is_persistent(&self) -> bool {
        self.persist.unwrap_or(false)
    }

    /// Add a bind mount.
    pub fn volume(mut self, volume: Volume) -> Self {
        self.volumes.push(volume);
        self
    }

    /// Add a device.
    pub fn device(mut self, path: impl Into<String>) -> Self {
        self.devices.push(path.into());
        self
    }

    /// Publish a port.
    pub fn port(mut self, mapping: PortMapping) -> Self {
        self.ports.push(mapping);
        self
    }

    /// Add an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Set the working directory.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// Set the user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Choose the network.
    pub fn network(mut self, mode: NetworkMode) -> Self {
        self.network = Some(mode);
        self
    }

    /// Set the project.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Set the profile.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Add an extra label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Replace the security settings.
    pub fn hardening(mut self, hardening: Hardening) -> Self {
        self.hardening = hardening;
        self
    }

    /// Replace the PID 1 command.
    pub fn cmd<S: Into<String>>(mut self, cmd: impl IntoIterator<Item = S>) -> Self {
        self.cmd = Some(cmd.into_iter().map(Into::into).collect());
        self
    }

    /// Replace the image's entrypoint (an empty list clears it).
    pub fn entrypoint<S: Into<String>>(mut self, entrypoint: impl IntoIterator<Item = S>) -> Self {
        self.entrypoint = Some(entrypoint.into_iter().map(Into::into).collect());
        self
    }

    /// Add a tmpfs mount.
    pub fn tmpfs(mut self, path: impl Into<String>, options: impl Into<String>) -> Self {
        self.tmpfs.insert(path.into(), options.into());
        self
    }

    /// The image to create from: the explicit image, else the profile's, else the default.
    pub fn resolved_image(&self) -> Result<String> {
        if let Some(image) = &self.image {
            return Ok(image.clone());
        }
        match &self.profile {
            Some(p) => Ok(resolve_profile(p)?.image_tag.to_string()),
            None => Ok(DEFAULT_IMAGE.to_string()),
        }
    }

    /// The `HostConfig.NetworkMode` to use (see the module documentation for the rules).
    pub fn resolved_network(&self) -> Result<String> {
        if let Some(mode) = &self.network {
            if !self.ports.is_empty() && mode.forbids_ports() {
                return Err(Error::invalid(
                    "ports",
                    format!(
                        "publishing ports needs a network, but the network mode is {:?}; \
                         choose a bridge network or drop the ports",
                        mode.as_str()
                    ),
                ));
            }
            return Ok(mode.as_str().to_string());
        }
        let profile_on = match &self.profile {
            Some(p) => resolve_profile(p)?.network_default,
            None => false,
        };
        Ok(if profile_on || !self.ports.is_empty() {
            "bridge".to_string()
        } else {
            "none".to_string()
        })
    }

    /// The memory limit in bytes, if any.
    pub fn memory_bytes(&self) -> Result<Option<u64>> {
        let Some(s) = &self.mem_limit else {
            return Ok(None);
        };
        let n = parse_mem_limit(s)?;
        if n < MIN_MEMORY {
            return Err(Error::invalid(
                "mem_limit",
                format!("invalid memory limit {s:?}: the engines refuse less than 6 MiB"),
            ));
        }
        Ok(Some(n))
    }

    /// The pocketdock labels for this spec under `name`, created at `created_at` (an ISO 8601
    /// string from the caller's clock). `data_path` is left to the caller.
    pub fn labels_for(&self, name: &str, created_at: &str) -> Labels {
        Labels {
            instance: name.to_string(),
            persist: self.is_persistent(),
            created_at: created_at.to_string(),
            project: self.project.clone(),
            data_path: None,
            profile: self.profile.clone(),
        }
    }

    /// Check every field; the error names the first offending one.
    pub fn validate(&self) -> Result<()> {
        if let Some(image) = &self.image {
            if image.is_empty()
                || image
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            {
                return Err(Error::invalid(
                    "image",
                    format!("{image:?} is not an image reference"),
                ));
            }
        }
        if let Some(profile) = &self.profile {
            resolve_profile(profile)?;
        }
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        self.memory_bytes()?;
        if let Some(pct) = self.cpu_percent {
            if !(1..=100).contains(&pct) {
                return Err(Error::invalid(
                    "cpu_percent",
                    format!("{pct} must be between 1 and 100"),
                ));
            }
        }
        for v in &self.volumes {
            check_abs_path("volumes", &v.host, false)?;
            check_abs_path("volumes", &v.container, false)?;
            if v.container == "/" {
                return Err(Error::invalid(
                    "volumes",
                    "cannot mount over the container's /",
                ));
            }
        }
        for d in &self.devices {
            check_abs_path("devices", d, false)?;
            if !d.starts_with("/dev/") || d.len() <= "/dev/".len() {
                return Err(Error::invalid(
                    "devices",
                    format!("{d:?} is not a device path under /dev/"),
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for p in &self.ports {
            p.validate()?;
            if !seen.insert((p.effective_host_ip().to_string(), p.host_port, p.protocol)) {
                return Err(Error::invalid(
                    "ports",
                    format!(
                        "host port {}:{}/{} is published twice",
                        p.effective_host_ip(),
                        p.host_port,
                        p.protocol
                    ),
                ));
            }
        }
        let mut keys = BTreeSet::new();
        for (key, value) in &self.env {
            check_env_key(key)?;
            if value.contains('\0') {
                return Err(Error::invalid(
                    "env",
                    format!("value of {key} contains NUL"),
                ));
            }
            if !keys.insert(key.as_str()) {
                return Err(Error::invalid("env", format!("{key} is set twice")));
            }
        }
        if let Some(w) = &self.workdir {
            check_abs_path("workdir", w, true)?;
        }
        if let Some(u) = &self.user {
            check_user(u)?;
        }
        if let Some(NetworkMode::Named(n)) = &self.network {
            let ok = !n.is_empty()
                && n.len() <= MAX_NAME_LEN + 10
                && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'));
            if !ok {
                return Err(Error::invalid(
                    "network",
                    format!("{n:?} is not a network name or mode"),
                ));
            }
        }
        self.resolved_network()?;
        if let Some(p) = &self.project {
            if p.is_empty() || p.len() > 255 || p.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "project",
                    format!("{p:?} must be 1-255 characters without control characters"),
                ));
            }
        }
        for (key, value) in &self.labels {
            if key.is_empty() || key.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "labels",
                    format!("{key:?} is not a label key"),
                ));
            }
            if key.starts_with("pocketdock.") {
                return Err(Error::invalid(
                    "labels",
                    format!("{key:?}: the pocketdock. prefix is reserved"),
                ));
            }
            if value.contains('\0') {
                return Err(Error::invalid(
                    "labels",
                    format!("value of {key} contains NUL"),
                ));
            }
        }
        for cap in &self.hardening.cap_add {
            normalize_cap(cap)?;
        }
        if self.hardening.pids_limit == Some(0) {
            return Err(Error::invalid(
                "pids_limit",
                "must be at least 1 (use None for the engine default)",
            ));
        }
        if let Some(cmd) = &self.cmd {
            if cmd.is_empty() {
                return Err(Error::invalid("cmd", "must not be empty"));
            }
            if cmd.iter().any(|a| a.contains('\0')) {
                return Err(Error::invalid("cmd", "arguments must not contain NUL"));
            }
        }
        if let Some(ep) = &self.entrypoint {
            if ep.iter().any(|a| a.contains('\0')) {
                return Err(Error::invalid(
                    "entrypoint",
                    "arguments must not contain NUL",
                ));
            }
        }
        for (path, options) in &self.tmpfs {
            check_abs_path("tmpfs", path, false)?;
            if path == "/" {
                return Err(Error::invalid(
                    "tmpfs",
                    "cannot mount over the container's /",
                ));
            }
            if !options
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b',' | b'.' | b'_' | b'-'))
            {
                return Err(Error::invalid(
                    "tmpfs",
                    format!("options {options:?} for {path} contain unexpected characters"),
                ));
            }
        }
        Ok(())
    }

    /// [`validate`](Self::validate), check `labels.instance`, then [`create_body`](Self::create_body).
    pub fn checked_create_body(&self, labels: &Labels) -> Result<Value> {
        self.validate()?;
        validate_name(&labels.instance)?;
        Ok(self.create_body(labels))
    }

    /// The JSON body of `POST /containers/create`. Call [`validate`](Self::validate) first (or use
    /// [`checked_create_body`](Self::checked_create_body)): fields that do not validate are left
    /// out here rather than reported.
    ///
    /// Extra labels of the spec are merged under the pocketdock labels.
    pub fn create_body(&self, labels: &Labels) -> Value {
        let mut body = Map::new();
        let image = self
            .resolved_image()
            .unwrap_or_else(|_| DEFAULT_IMAGE.to_string());
        body.insert("Image".into(), json!(image));
        body.insert(
            "Cmd".into(),
            json!(self.cmd.clone().unwrap_or_else(default_cmd)),
        );
        if let Some(ep) = &self.entrypoint {
            // An empty list is sent as [""], which both engines read as "no entrypoint".
            let ep = if ep.is_empty() {
                vec![String::new()]
            } else {
                ep.clone()
            };
            body.insert("Entrypoint".into(), json!(ep));
        }
        if !self.env.is_empty() {
            let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            body.insert("Env".into(), json!(env));
        }
        if let Some(w) = &self.workdir {
            body.insert("WorkingDir".into(), json!(w));
        }
        if let Some(u) = &self.user {
            body.insert("User".into(), json!(u));
        }
        let mut all_labels = self.labels.clone();
        all_labels.extend(labels.to_map());
        body.insert("Labels".into(), json!(all_labels));
        body.insert("Tty".into(), json!(false));
        body.insert("OpenStdin".into(), json!(false));

        let mut host = Map::new();
        if let Ok(Some(mem)) = self.memory_bytes() {
            host.insert("Memory".into(), json!(mem));
            host.insert("MemorySwap".into(), json!(mem));
        }
        if let Some(pct) = self.cpu_percent.filter(|p| (1..=100).contains(p)) {
            host.insert("NanoCpus".into(), json!(u64::from(pct) * 10_000_000));
        }
        if let Some(n) = self.hardening.pids_limit.filter(|n| *n > 0) {
            host.insert("PidsLimit".into(), json!(n));
        }
        if self.hardening.cap_drop_all {
            host.insert("CapDrop".into(), json!(["ALL"]));
        }
        let caps: Vec<String> = self
            .hardening
            .cap_add
            .iter()
            .filter_map(|c| normalize_cap(c).ok())
            .collect();
        if !caps.is_empty() {
            host.insert("CapAdd".into(), json!(caps));
        }
        if self.hardening.no_new_privileges {
            host.insert("SecurityOpt".into(), json!(["no-new-privileges"]));
        }
        host.insert(
            "ReadonlyRootfs".into(),
            json!(self.hardening.readonly_rootfs),
        );
        if !self.volumes.is_empty() {
            let binds: Vec<String> = self.volumes.iter().map(Volume::bind).collect();
            host.insert("Binds".into(), json!(binds));
        }
        if !self.devices.is_empty() {
            let devices: Vec<Value> = self
                .devices
                .iter()
                .map(|d| json!({"PathOnHost": d, "PathInContainer": d, "CgroupPermissions": "rwm"}))
                .collect();
            host.insert("Devices".into(), json!(devices));
        }
        if !self.ports.is_empty() {
            let mut bindings: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            let mut exposed = Map::new();
            for p in &self.ports {
                bindings.entry(p.key()).or_default().push(json!({
                    "HostIp": p.effective_host_ip(),
                    "HostPort": p.host_port.to_string(),
                }));
                exposed.insert(p.key(), json!({}));
            }
            host.insert("PortBindings".into(), json!(bindings));
            body.insert("ExposedPorts".into(), Value::Object(exposed));
        }
        if !self.tmpfs.is_empty() {
            host.insert("Tmpfs".into(), json!(self.tmpfs));
        }
        let network = self
            .resolved_network()
            .unwrap_or_else(|_| "none".to_string());
        host.insert("NetworkMode".into(), json!(network));
        body.insert("HostConfig".into(), Value::Object(host));
        Value::Object(body)
    }
}

fn check_abs_path(field: &'static str, path: &str, allow_colon: bool) -> Result<()> {
    let why = if path.is_empty() {
        Some("must not be empty")
    } else if !path.starts_with('/') {
        Some("must be an absolute path")
    } else if !allow_colon && path.contains(':') {
        Some("must not contain ':'")
    } else if path.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if path.split('/').any(|c| c == "..") {
        Some("must not contain '..'")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::invalid(field, format!("{path:?} {why}"))),
        None => Ok(()),
    }
}

fn check_env_key(key: &str) -> Result<()> {
    let mut bytes = key.bytes();
    let ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "env",
            format!("{key:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"),
        ))
    }
}

fn check_user(user: &str) -> Result<()> {
    let part_ok = |p: &str| {
        let mut b = p.bytes();
        !p.is_empty()
            && p.len() <= 64
            && b.next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    };
    let ok = match user.split_once(':') {
        Some((u, g)) => part_ok(u) && part_ok(g),
        None => part_ok(user),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "user",
            format!("{user:?} is not a user, uid or uid:gid"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<impl fmt::Debug>) -> &'static str {
        match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    fn body(spec: &ContainerSpec) -> Value {
        spec.checked_create_body(&spec.labels_for("pd-test", "2026-01-01T00:00:00+00:00"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn generated_names() {
        assert_eq!(generate_name(0), "pd-00000000");
        assert_eq!(generate_name(0xdead_beef), "pd-deadbeef");
        assert_eq!(generate_name(u64::MAX), "pd-ffffffff");
        let names: BTreeSet<String> = (0..50u64).map(|i| generate_name(i * 0x9e37_79b9)).collect();
        assert_eq!(names.len(), 50);
        for n in &names {
            assert_eq!(n.len(), 11);
            assert!(validate_name(n).is_ok());
        }
    }

    #[test]
    fn names() {
        let long_ok = "a".repeat(128);
        for ok in ["a", "pd-lab", "A1_b.c-d", "0abc", long_ok.as_str()] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long_bad = "a".repeat(129);
        for bad in [
            "",
            "-a",
            "_a",
            ".a",
            "a b",
            "a/b",
            "a:b",
            "é",
            "a\n",
            long_bad.as_str(),
        ] {
            assert_eq!(field_of(validate_name(bad)), "name", "{bad:?}");
        }
    }

    #[test]
    fn mem_limits() {
        let table: &[(&str, u64)] = &[
            ("1024", 1024),
            ("512b", 512),
            ("512B", 512),
            ("4k", 4096),
            ("4kb", 4096),
            ("256m", 268_435_456),
            ("256mb", 268_435_456),
            ("256MB", 268_435_456),
            ("1G", 1_073_741_824),
            ("2G", 2_147_483_648),
            ("1gb", 1_073_741_824),
            ("1t", 1_099_511_627_776),
            ("1TB", 1_099_511_627_776),
            ("  128 m  ", 134_217_728),
            ("16777215t", 16_777_215 << 40),
        ];
        for (s, n) in table {
            assert_eq!(parse_mem_limit(s).ok(), Some(*n), "{s}");
        }
        for bad in [
            "",
            " ",
            "abc",
            "12x",
            "0",
            "0m",
            "-1",
            "+1",
            "1.5g",
            "m",
            "256mib",
            "256bb",
            "1 g b",
            "16777216t",
            "99999999999999999999",
            "1e6",
        ] {
            match parse_mem_limit(bad) {
                Err(Error::InvalidInput { field, reason }) => {
                    assert_eq!(field, "mem_limit");
                    assert!(reason.contains("invalid memory limit"), "{reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn bytes_formatting() {
        let table: &[(u64, &str)] = &[
            (0, "0 B"),
            (512, "512 B"),
            (1023, "1023 B"),
            (1024, "1.0 KB"),
            (1536, "1.5 KB"),
            (42 * 1024 * 1024, "42.0 MB"),
            (256 * 1024 * 1024, "256.0 MB"),
            (2 << 30, "2.0 GB"),
            (3 << 40, "3.0 TB"),
            (100 << 40, "100.0 TB"),
            (5 << 50, "5120.0 TB"),
        ];
        for (n, s) in table {
            assert_eq!(format_bytes(*n), *s, "{n}");
        }
        assert!(format_bytes(u64::MAX).ends_with(" TB"));
    }

    #[test]
    fn image_refs() {
        let table: &[(&str, &str, &str)] = &[
            ("myrepo", "myrepo", "latest"),
            ("myrepo:v1", "myrepo", "v1"),
            ("repo:tag", "repo", "tag"),
            ("a/b:c", "a/b", "c"),
            ("registry.io/repo:v2", "registry.io/repo", "v2"),
            ("localhost:5000/x", "localhost:5000/x", "latest"),
            ("localhost:5000/x:v1", "localhost:5000/x", "v1"),
            ("localhost/x", "localhost/x", "latest"),
            (
                "my-registry.example.com:443/team/app:1.0_rc-2",
                "my-registry.example.com:443/team/app",
                "1.0_rc-2",
            ),
            ("a__b/c.d/e--f:_t", "a__b/c.d/e--f", "_t"),
            (
                "pocketdock/minimal-python",
                "pocketdock/minimal-python",
                "latest",
            ),
            ("Registry.IO/repo", "Registry.IO/repo", "latest"),
        ];
        for (s, repo, tag) in table {
            let (r, t) = split_image_ref(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((r.as_str(), t.as_str()), (*repo, *tag), "{s}");
        }
        let long_tag = format!("r:{}", "t".repeat(129));
        for bad in [
            "",
            "repo:",
            ":tag",
            "Repo",
            "Repo:v1",
            "a b",
            "repo:bad tag",
            "repo:-x",
            "a//b",
            "/a",
            "a/",
            "a/b/",
            "a@sha256:abcd",
            "a:b@sha256:abcd",
            "re..po",
            "re-",
            "a___b",
            "localhost:/x",
            "localhost:99x/x",
            "-bad.io/x",
            "a:b:c",
            long_tag.as_str(),
        ] {
            assert_eq!(field_of(split_image_ref(bad)), "image", "{bad:?}");
        }
    }

    #[test]
    fn port_parsing() {
        let table: &[(&str, u16, u16, Protocol, Option<&str>)] = &[
            ("8080:80", 8080, 80, Protocol::Tcp, None),
            ("8080:80/tcp", 8080, 80, Protocol::Tcp, None),
            ("53:53/udp", 53, 53, Protocol::Udp, None),
            ("0.0.0.0:8080:80", 8080, 80, Protocol::Tcp, Some("0.0.0.0")),
            ("[::1]:1:65535/udp", 1, 65535, Protocol::Udp, Some("::1")),
        ];
        for (s, h, c, proto, ip) in table {
            let m = PortMapping::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(
                (m.host_port, m.container_port, m.protocol),
                (*h, *c, *proto)
            );
            assert_eq!(m.host_ip.as_deref(), *ip);
        }
        for bad in [
            "",
            "80",
            "0:80",
            "80:0",
            "65536:80",
            "80:65536",
            "a:80",
            "80:b",
            "8080:80/sctp",
            "8080:80/",
            "-1:80",
            "nothost:8080:80",
            "1.2.3:8080:80",
            ":80",
            "80:",
        ] {
            assert_eq!(field_of(PortMapping::parse(bad)), "ports", "{bad:?}");
        }
    }

    #[test]
    fn default_body_is_hardened_and_offline() {
        let b = body(&ContainerSpec::new());
        assert_eq!(b["Image"], "pocketdock/minimal-python");
        assert_eq!(b["Cmd"], json!(default_cmd()));
        let h = &b["HostConfig"];
        assert_eq!(h["NetworkMode"], "none");
        assert_eq!(h["CapDrop"], json!(["ALL"]));
        assert!(
            h.get("CapAdd").is_none(),
            "no capability is added back by default"
        );
        let root = body(&ContainerSpec::new().hardening(Hardening::with_root_caps()));
        assert_eq!(
            root["HostConfig"]["CapAdd"],
            json!([
                "CHOWN",
                "DAC_OVERRIDE",
                "FOWNER",
                "KILL",
                "SETGID",
                "SETUID"
            ])
        );
        assert_eq!(h["SecurityOpt"], json!(["no-new-privileges"]));
        assert_eq!(h["PidsLimit"], json!(512));
        assert_eq!(h["ReadonlyRootfs"], json!(false));
        for absent in [
            "Memory",
            "MemorySwap",
            "NanoCpus",
            "Binds",
            "Devices",
            "PortBindings",
            "Init",
        ] {
            assert!(h.get(absent).is_none(), "{absent}");
        }
        for absent in ["ExposedPorts", "Env", "WorkingDir", "User", "Entrypoint"] {
            assert!(b.get(absent).is_none(), "{absent}");
        }
        let labels = &b["Labels"];
        assert_eq!(labels[LABEL_MANAGED], "true");
        assert_eq!(labels[LABEL_INSTANCE], "pd-test");
        assert_eq!(labels[LABEL_PERSIST], "false");
        assert_eq!(labels[LABEL_CREATED_AT], "2026-01-01T00:00:00+00:00");
        assert!(labels.get(LABEL_PROJECT).is_none());
        assert!(labels.get(LABEL_DATA_PATH).is_none());
        assert!(labels.get(LABEL_PROFILE).is_none());
    }

    #[test]
    fn limits_and_mounts() {
        let spec = ContainerSpec::new()
            .mem_limit("256m")
            .cpu_percent(50)
            .volume(Volume::new("/host/path", "/container/path"))
            .volume(Volume::read_only("/ro", "/mnt/ro"))
            .device("/dev/ttyUSB0")
            .device("/dev/ttyUSB1")
            .env("A", "1")
            .env("_B2", "x=y")
            .workdir("/home/sandbox")
            .user("1000:1000")
            .tmpfs("/tmp", "size=64m,mode=1777");
        let b = body(&spec);
        let h = &b["HostConfig"];
        assert_eq!(h["Memory"], json!(268_435_456u64));
        assert_eq!(h["MemorySwap"], json!(268_435_456u64));
        assert_eq!(h["NanoCpus"], json!(500_000_000u64));
        assert_eq!(
            h["Binds"],
            json!(["/host/path:/container/path", "/ro:/mnt/ro:ro"])
        );
        assert_eq!(
            h["Devices"][0],
            json!({"PathOnHost": "/dev/ttyUSB0", "PathInContainer": "/dev/ttyUSB0", "CgroupPermissions": "rwm"})
        );
        assert_eq!(h["Devices"].as_array().map(Vec::len), Some(2));
        assert_eq!(h["Tmpfs"], json!({"/tmp": "size=64m,mode=1777"}));
        assert_eq!(b["Env"], json!(["A=1", "_B2=x=y"]));
        assert_eq!(b["WorkingDir"], "/home/sandbox");
        assert_eq!(b["User"], "1000:1000");
    }

    #[test]
    fn ports_publish_on_loopback_and_allow_fan_in() {
        let spec = ContainerSpec::new()
            .port(PortMapping::tcp(8080, 80))
            .port(PortMapping::tcp(8081, 80))
            .port(PortMapping::udp(5353, 53).on("0.0.0.0"));
        let b = body(&spec);
        let h = &b["HostConfig"];
        assert_eq!(
            h["PortBindings"],
            json!({
                "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "8081"}],
                "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
            })
        );
        assert_eq!(b["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        // Ports without an explicit network choice turn the bridge on.
        assert_eq!(h["NetworkMode"], "bridge");
        // The same host port on different protocols or addresses is fine.
        let ok = ContainerSpec::new()
            .port(PortMapping::tcp(80, 80))
            .port(PortMapping::udp(80, 80))
            .port(PortMapping::tcp(80, 80).on("127.0.0.2"));
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn network_resolution() {
        let table: Vec<(ContainerSpec, Result<&str, &str>)> = vec![
            (ContainerSpec::new(), Ok("none")),
            (ContainerSpec::new().profile("dev"), Ok("bridge")),
            (ContainerSpec::new().profile("embedded"), Ok("bridge")),
            (ContainerSpec::new().profile("agent"), Ok("none")),
            (
                ContainerSpec::new()
                    .profile("dev")
                    .network(NetworkMode::Off),
                Ok("none"),
            ),
            (
                ContainerSpec::new().network(NetworkMode::Bridge),
                Ok("bridge"),
            ),
            (
                ContainerSpec::new().network(NetworkMode::Named("my-net".into())),
                Ok("my-net"),
            ),
            (
                ContainerSpec::new().port(PortMapping::tcp(1, 2)),
                Ok("bridge"),
            ),
            (
                ContainerSpec::new()
                    .network(NetworkMode::Named("my-net".into()))
                    .port(PortMapping::tcp(1, 2)),
                Ok("my-net"),
            ),
            (
                ContainerSpec::new()
                    .network(NetworkMode::Off)
                    .port(PortMapping::tcp(1, 2)),
                Err("ports"),
            ),
            (
                ContainerSpec::new()
                    .network(NetworkMode::Named("host".into()))
                    .port(PortMapping::tcp(1, 2)),
                Err("ports"),
            ),
            (
                ContainerSpec::new()
                    .network(NetworkMode::Named("none".into()))
                    .port(PortMapping::tcp(1, 2)),
                Err("ports"),
            ),
            (
                ContainerSpec::new().network(NetworkMode::Named(String::new())),
                Err("network"),
            ),
            (
                ContainerSpec::new().network(NetworkMode::Named("a b".into())),
                Err("network"),
            ),
            (
                ContainerSpec::new().network(NetworkMode::Named("-x".into())),
                Err("network"),
            ),
        ];
        for (spec, want) in table {
            match want {
                Ok(mode) => assert_eq!(body(&spec)["HostConfig"]["NetworkMode"], mode, "{spec:?}"),
                Err(field) => assert_eq!(field_of(spec.validate()), field, "{spec:?}"),
            }
        }
    }

    #[test]
    fn image_and_profile_resolution() {
        let table: &[(ContainerSpec, &str)] = &[
            (ContainerSpec::new(), "pocketdock/minimal-python"),
            (ContainerSpec::new().profile("dev"), "pocketdock/dev"),
            (
                ContainerSpec::new().profile("agent").image("custom:latest"),
                "custom:latest",
            ),
            (ContainerSpec::new().image("busybox"), "busybox"),
        ];
        for (spec, image) in table {
            assert_eq!(body(spec)["Image"], *image);
        }
        for p in crate::profile::list_profiles() {
            let b = body(&ContainerSpec::new().profile(p.name));
            assert_eq!(b["Image"], format!("pocketdock/{}", p.name));
            assert_eq!(b["Labels"][LABEL_PROFILE], p.name);
        }
    }

    #[test]
    fn labels_roundtrip_and_extra_labels() {
        let spec = ContainerSpec::new()
            .persist(true)
            .project("my-proj")
            .profile("dev")
            .label("team", "a");
        let mut labels = spec.labels_for("pd-lab", "2026-02-10T14:30:00.123456+00:00");
        labels.data_path = Some("/data/path".into());
        let b = spec
            .checked_create_body(&labels)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            b["Labels"],
            json!({
                "pocketdock.managed": "true",
                "pocketdock.instance": "pd-lab",
                "pocketdock.persist": "true",
                "pocketdock.created-at": "2026-02-10T14:30:00.123456+00:00",
                "pocketdock.project": "my-proj",
                "pocketdock.data-path": "/data/path",
                "pocketdock.profile": "dev",
                "team": "a",
            })
        );
        assert_eq!(Labels::from_map(&labels.to_map()), Some(labels.clone()));
        // Python-created containers: no profile label, "True" spelled differently.
        let mut py = BTreeMap::new();
        py.insert(LABEL_MANAGED.to_string(), "True".to_string());
        py.insert(LABEL_INSTANCE.to_string(), "pd-1".to_string());
        py.insert(LABEL_PERSIST.to_string(), "TRUE".to_string());
        py.insert(LABEL_PROJECT.to_string(), String::new());
        let l = Labels::from_map(&py).unwrap_or_else(|| panic!("managed"));
        assert!(l.persist);
        assert_eq!(l.project, None);
        assert_eq!(l.created_at, "");
        py.insert(LABEL_MANAGED.to_string(), "false".to_string());
        assert_eq!(Labels::from_map(&py), None);
        assert_eq!(Labels::from_map(&BTreeMap::new()), None);
        // A bad instance label is refused by checked_create_body.
        assert_eq!(
            field_of(spec.checked_create_body(&Labels::new("bad name", "t"))),
            "name"
        );
    }

    #[test]
    fn hardening_is_relaxable() {
        let spec = ContainerSpec::new()
            .hardening(Hardening::relaxed())
            .cmd(["sleep", "infinity"])
            .entrypoint(Vec::<String>::new());
        let b = body(&spec);
        let h = &b["HostConfig"];
        for absent in ["CapDrop", "CapAdd", "SecurityOpt", "PidsLimit"] {
            assert!(h.get(absent).is_none(), "{absent}");
        }
        assert_eq!(b["Cmd"], json!(["sleep", "infinity"]));
        assert_eq!(b["Entrypoint"], json!([""]));
        let custom = ContainerSpec::new().hardening(Hardening {
            cap_add: vec!["cap_net_bind_service".into(), "SYS_PTRACE".into()],
            pids_limit: Some(64),
            readonly_rootfs: true,
            ..Hardening::default()
        });
        let h = &body(&custom)["HostConfig"];
        assert_eq!(h["CapAdd"], json!(["NET_BIND_SERVICE", "SYS_PTRACE"]));
        assert_eq!(h["PidsLimit"], json!(64));
        assert_eq!(h["ReadonlyRootfs"], json!(true));
    }

    #[test]
    fn every_invalid_field_is_named() {
        let h = |f: fn(&mut Hardening)| {
            let mut hd = Hardening::default();
            f(&mut hd);
            ContainerSpec::new().hardening(hd)
        };
        let long_project = "p".repeat(256);
        let table: Vec<(ContainerSpec, &str)> = vec![
            (ContainerSpec::new().image(""), "image"),
            (ContainerSpec::new().image("a b"), "image"),
            (ContainerSpec::new().profile("nope"), "profile"),
            (ContainerSpec::new().name("bad name"), "name"),
            (ContainerSpec::new().name(""), "name"),
            (ContainerSpec::new().mem_limit("12x"), "mem_limit"),
            (ContainerSpec::new().mem_limit(""), "mem_limit"),
            (ContainerSpec::new().mem_limit("0"), "mem_limit"),
            (ContainerSpec::new().mem_limit("1024"), "mem_limit"),
            (ContainerSpec::new().mem_limit("5m"), "mem_limit"),
            (ContainerSpec::new().mem_limit("99999999999t"), "mem_limit"),
            (ContainerSpec::new().cpu_percent(0), "cpu_percent"),
            (ContainerSpec::new().cpu_percent(101), "cpu_percent"),
            (
                ContainerSpec::new().volume(Volume::new("rel", "/c")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("/h", "c")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("", "/c")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("/h", "")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("/h:x", "/c")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("/h", "/c:ro")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("/h/../etc", "/c")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("/h", "/")),
                "volumes",
            ),
            (
                ContainerSpec::new().volume(Volume::new("/h\n", "/c")),
                "volumes",
            ),
            (ContainerSpec::new().device("ttyUSB0"), "devices"),
            (ContainerSpec::new().device("/dev/"), "devices"),
            (ContainerSpec::new().device("/etc/passwd"), "devices"),
            (ContainerSpec::new().device("/dev/../etc"), "devices"),
            (ContainerSpec::new().device("/dev/a:b"), "devices"),
            (ContainerSpec::new().port(PortMapping::tcp(0, 80)), "ports"),
            (ContainerSpec::new().port(PortMapping::tcp(80, 0)), "ports"),
            (
                ContainerSpec::new().port(PortMapping::tcp(80, 80).on("localhost")),
                "ports",
            ),
            (
                ContainerSpec::new()
                    .port(PortMapping::tcp(80, 80))
                    .port(PortMapping::tcp(80, 81)),
                "ports",
            ),
            (ContainerSpec::new().env("1A", "x"), "env"),
            (ContainerSpec::new().env("", "x"), "env"),
            (ContainerSpec::new().env("A=B", "x"), "env"),
            (ContainerSpec::new().env("A-B", "x"), "env"),
            (ContainerSpec::new().env("A", "x\0"), "env"),
            (ContainerSpec::new().env("A", "1").env("A", "2"), "env"),
            (ContainerSpec::new().workdir("rel"), "workdir"),
            (ContainerSpec::new().workdir(""), "workdir"),
            (ContainerSpec::new().workdir("/a/../b"), "workdir"),
            (ContainerSpec::new().user(""), "user"),
            (ContainerSpec::new().user("a b"), "user"),
            (ContainerSpec::new().user("a:"), "user"),
            (ContainerSpec::new().user(":g"), "user"),
            (ContainerSpec::new().user("a:b:c"), "user"),
            (ContainerSpec::new().project(""), "project"),
            (ContainerSpec::new().project("a\nb"), "project"),
            (ContainerSpec::new().project(long_project), "project"),
            (ContainerSpec::new().label("", "x"), "labels"),
            (
                ContainerSpec::new().label("pocketdock.data-path", "/"),
                "labels",
            ),
            (ContainerSpec::new().label("a\n", "x"), "labels"),
            (ContainerSpec::new().label("a", "x\0"), "labels"),
            (h(|hd| hd.cap_add = vec![String::new()]), "cap_add"),
            (h(|hd| hd.cap_add = vec!["NET ADMIN".into()]), "cap_add"),
            (h(|hd| hd.cap_add = vec!["CAP_".into()]), "cap_add"),
            (h(|hd| hd.pids_limit = Some(0)), "pids_limit"),
            (ContainerSpec::new().cmd(Vec::<String>::new()), "cmd"),
            (ContainerSpec::new().cmd(["a\0"]), "cmd"),
            (ContainerSpec::new().entrypoint(["a\0"]), "entrypoint"),
            (ContainerSpec::new().tmpfs("tmp", ""), "tmpfs"),
            (ContainerSpec::new().tmpfs("/", ""), "tmpfs"),
            (
                ContainerSpec::new().tmpfs("/tmp", "size=1m;rm -rf"),
                "tmpfs",
            ),
        ];
        for (spec, field) in table {
            assert_eq!(field_of(spec.validate()), field, "{spec:?}");
        }
    }

    #[test]
    fn volume_binds() {
        assert_eq!(Volume::new("/a", "/b").bind(), "/a:/b");
        assert_eq!(Volume::read_only("/a", "/b").bind(), "/a:/b:ro");
    }
}
