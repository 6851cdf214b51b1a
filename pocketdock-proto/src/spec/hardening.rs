//! Security settings: the secure defaults every container gets and how each is relaxed.

use crate::error::{Error, Result};

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
    /// `ReadonlyRootfs` (pair it with [`ContainerSpec::tmpfs`](super::ContainerSpec::tmpfs) for
    /// writable scratch space).
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

    /// No hardening at all: the engine's defaults (what the Python pocketdock did).
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

pub(super) fn normalize_cap(cap: &str) -> Result<String> {
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
