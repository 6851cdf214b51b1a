//! Finding the in-sandbox agent's binary on this host, and the path it gets in a sandbox.
//!
//! The agent is a static program built for the sandbox's architecture
//! (`scripts/build-agent.sh`). pocketdock looks for it, in order: the file `POCKETDOCK_AGENT`
//! names (`off` turns the agent path off), then `pocketdock-agent` beside the running
//! executable. In the sandbox it lives at `/.pocketdock/agent-<hash of its bytes>`, so a
//! sandbox that already has this very build starts it without copying it again, and one with
//! another build gets this one beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The environment variable naming the agent binary (or `off`).
pub const AGENT_ENV: &str = "POCKETDOCK_AGENT";

/// The agent binary found on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentBinary {
    /// Where it is on the host.
    pub host_path: PathBuf,
    /// Where it goes in a sandbox.
    pub sandbox_path: String,
}

/// The agent binary of this host, looked up once per process: `Err` says why there is none
/// (turned off, not found, unreadable), which callers report when they keep to the engine path.
pub fn agent_binary() -> Result<&'static AgentBinary, &'static str> {
    static FOUND: OnceLock<Result<AgentBinary, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            find(
                std::env::var_os(AGENT_ENV).map(PathBuf::from),
                std::env::current_exe().ok().as_deref(),
            )
        })
        .as_ref()
        .map_err(String::as_str)
}

/// The lookup, from what `POCKETDOCK_AGENT` says and where the running executable is.
fn find(named: Option<PathBuf>, exe: Option<&Path>) -> Result<AgentBinary, String> {
    let host_path = match named {
        Some(p) if p.as_os_str() == "off" => {
            return Err(format!("turned off by {AGENT_ENV}=off"));
        }
        Some(p) => p,
        None => exe
            .and_then(Path::parent)
            .map(|dir| dir.join("pocketdock-agent"))
            .filter(|p| p.is_file())
            .ok_or_else(|| {
                format!("no pocketdock-agent beside the executable and {AGENT_ENV} is not set")
            })?,
    };
    let bytes = std::fs::read(&host_path)
        .map_err(|e| format!("agent binary {}: {e}", host_path.display()))?;
    Ok(AgentBinary {
        sandbox_path: format!("/.pocketdock/agent-{:016x}", fnv1a(&bytes)),
        host_path,
    })
}

/// Whether the agent built for this host can run on an engine whose `GET /version` reports
/// `engine_arch` (Go's names: `amd64`, `arm64`, ...): the static agent is built for the host's
/// architecture, so a remote engine of another one keeps to the engine path. `Err` says why;
/// an engine that names no architecture is given the benefit of the doubt.
pub fn check_arch(engine_arch: &str) -> Result<(), String> {
    let host = go_arch(std::env::consts::ARCH);
    if engine_arch.is_empty() || engine_arch.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(format!(
            "the engine runs {engine_arch} and the agent is built for {host}"
        ))
    }
}

/// The architecture each engine address reported, as far as this process asked: it does not
/// change while the engine runs, and asking (`GET /version`) costs Podman a quarter of a second,
/// which every agent start would otherwise pay.
static ENGINE_ARCH: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The architecture the engine at `address` reported before, if this process asked.
pub fn known_engine_arch(address: &str) -> Option<String> {
    ENGINE_ARCH
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(address)
        .cloned()
}

/// Note the architecture the engine at `address` reported (`GET /version`'s `Arch`).
pub fn remember_engine_arch(address: &str, arch: &str) {
    ENGINE_ARCH
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(address.to_string(), arch.to_string());
}

/// Rust's name of an architecture in Go's spelling, which the engines use.
fn go_arch(rust_arch: &'static str) -> &'static str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// FNV-1a, 64 bits: a name for a build, not a defence (the sandbox could write anything at
/// that path; it could also replace the agent while it runs).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_of_another_architecture_is_refused() {
        let host = go_arch(std::env::consts::ARCH);
        assert!(check_arch(host).is_ok());
        assert!(check_arch("").is_ok(), "unknown: tried");
        let other = if host == "s390x" { "amd64" } else { "s390x" };
        assert!(check_arch(other).is_err_and(|e| e.contains(other)));
    }

    #[test]
    fn off_a_named_file_and_the_file_beside_the_executable() {
        assert!(find(Some("off".into()), None).is_err_and(|e| e.contains("turned off")));
        let dir = std::env::temp_dir().join(format!("pd-agent-find-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let agent = dir.join("pocketdock-agent");
        std::fs::write(&agent, b"build one").unwrap_or_else(|e| panic!("{e}"));
        let named = find(Some(agent.clone()), None).unwrap_or_else(|e| panic!("{e}"));
        let beside = find(None, Some(&dir.join("pocketdock"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(named, beside);
        assert!(named.sandbox_path.starts_with("/.pocketdock/agent-"));
        std::fs::write(&agent, b"build two").unwrap_or_else(|e| panic!("{e}"));
        let other = find(Some(agent), None).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(
            other.sandbox_path, named.sandbox_path,
            "another build, another path"
        );
        assert!(find(None, Some(&std::env::temp_dir().join("nothing-here/x"))).is_err());
        assert!(find(Some(dir.join("missing")), None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod arch_memory_tests {
    use super::*;

    #[test]
    fn an_engine_arch_is_remembered_per_address() {
        assert_eq!(known_engine_arch("unix:///nowhere/a.sock"), None);
        remember_engine_arch("unix:///nowhere/a.sock", "arm64");
        assert_eq!(
            known_engine_arch("unix:///nowhere/a.sock").as_deref(),
            Some("arm64")
        );
        assert_eq!(known_engine_arch("unix:///nowhere/b.sock"), None);
    }
}
