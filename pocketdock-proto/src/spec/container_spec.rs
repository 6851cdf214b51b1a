//! [`ContainerSpec`]: everything needed to create a sandbox container, its validation and the
//! create body it becomes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::agent::AgentMode;
use crate::error::{Error, Result};
use crate::profile::resolve_profile;

use super::hardening::normalize_cap;
use super::{
    default_cmd, parse_mem_limit, validate_name, Hardening, Labels, NetworkMode, PortMapping,
    Volume, MAX_NAME_LEN, MIN_MEMORY,
};

/// Image used when neither an image nor a profile is given.
pub const DEFAULT_IMAGE: &str = "pocketdock/minimal-python";

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
    /// Engine and pocketdock name; `None`: the caller generates one
    /// ([`generate_name`](super::generate_name)).
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
    /// Time to live of an ephemeral container: once it is this old, any pocketdock start
    /// removes it, whoever owns it (label `pocketdock.ttl`, whole seconds, rounded up).
    pub ttl: Option<Duration>,
    /// A requested limit the sandbox does not show after the create (or an engine warning
    /// about one) is only reported in the container's limits report, instead of failing the
    /// create with [`Error::LimitNotEnforced`].
    pub allow_unenforced_limits: bool,
    /// An ephemeral container that outlives the process creating it: it carries no owner, so
    /// the end of that process does not end it (only its [`ttl`](Self::ttl) does). The CLI's
    /// `create` uses it: its containers are meant to outlive the command.
    pub outlive_owner: bool,
    /// Whether commands go through the in-sandbox agent (a handle setting: nothing of it
    /// reaches the engine).
    pub agent: AgentMode,
}

impl ContainerSpec {
    /// Whether commands go through the in-sandbox agent: [`AgentMode::Auto`] unless set.
    pub fn agent(mut self, mode: AgentMode) -> Self {
        self.agent = mode;
        self
    }

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

    /// Set the time to live (see [`ttl`](Self::ttl)).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Accept limits the engine did not apply (see
    /// [`allow_unenforced_limits`](Self::allow_unenforced_limits)).
    pub fn allow_unenforced_limits(mut self, allow: bool) -> Self {
        self.allow_unenforced_limits = allow;
        self
    }

    /// Let the container outlive the process creating it (see
    /// [`outlive_owner`](Self::outlive_owner)).
    pub fn outlive_owner(mut self, outlive: bool) -> Self {
        self.outlive_owner = outlive;
        self
    }

    /// The `pocketdock.ttl` label's value: whole seconds, rounded up.
    pub fn ttl_secs(&self) -> Option<u64> {
        self.ttl
            .map(|t| t.as_secs() + u64::from(t.subsec_nanos() > 0))
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
            pool: None,
            owner: None,
            ttl: self.ttl_secs(),
        }
    }

    /// Check every field; the error names the first offending one.
    #[expect(clippy::too_many_lines, reason = "one check per field, in field order")]
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
        if let Some(ttl) = self.ttl {
            if ttl.is_zero() {
                return Err(Error::invalid("ttl", "must be more than zero"));
            }
            if self.is_persistent() {
                return Err(Error::invalid(
                    "ttl",
                    "a persistent container is kept until removed; a time to live applies to \
                     ephemeral ones",
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

    /// [`validate`](Self::validate), check `labels.instance`, then
    /// [`create_body`](Self::create_body).
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
    use crate::spec::test_support::field_of;
    use crate::spec::*;

    fn body(spec: &ContainerSpec) -> Value {
        spec.checked_create_body(&spec.labels_for("pd-test", "2026-01-01T00:00:00+00:00"))
            .unwrap()
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
        let b = spec.checked_create_body(&labels).unwrap();
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
        let l = Labels::from_map(&py).expect("managed");
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
    #[expect(clippy::too_many_lines, reason = "a table of cases")]
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
            (ContainerSpec::new().ttl(Duration::ZERO), "ttl"),
            (
                ContainerSpec::new()
                    .persist(true)
                    .ttl(Duration::from_secs(5)),
                "ttl",
            ),
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
}
