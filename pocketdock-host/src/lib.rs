//! # pocketdock-host
//!
//! The host side of pocketdock: plain synchronous file work with no engine call, and the one
//! blocking step every adapter shares to reach a remote engine (a tcp or TLS connection, an
//! ssh forward), the same for every adapter (`pocketdock-blocking`, `pocketdock-tokio`,
//! `pocketdock-smol`), kept here once.
//! Users normally reach it through an adapter, which re-exports the project functions.
//!
//! * [`project`]: `.pocketdock/` on disk, `pocketdock.yaml` settings, instance directories;
//! * [`logging`]: the per-instance logs (`history.jsonl`, run/detach/session logs) with the
//!   project's limits;
//! * [`tree`]: a host file or directory as a streamed tar archive for `push`, and the checked
//!   extraction of a pulled archive for `pull`;
//! * [`context`]: build contexts (a directory or embedded files) and image archive files as
//!   streamed request bodies;
//! * [`engine`]: finding the engine on this host;
//! * [`remote`]: connecting to an engine at its address (a local socket, or tcp, TLS or ssh to
//!   another machine), every connection handed out as a local stream;
//! * [`random`]: tokens for names, markers and sentinels;
//! * [`sandbox`]: the host steps of the container flows (create, attach, recreate, destroy,
//!   doctor).
//!
//! The formats and rules (YAML/TOML/JSON lines, tar headers, path checks) live in the sans-IO
//! crate `pocketdock-proto`; this crate only reads and writes files.

#![forbid(unsafe_code)]

pub mod adapter_api;
pub mod agent_binary;
pub mod context;
pub mod engine;
pub mod logging;
pub mod owner;
pub mod project;
pub mod random;
pub mod reaper;
pub mod remote;
pub mod sandbox;
pub mod tree;
pub mod volumes;

use std::io::{self, ErrorKind};
use std::path::Path;

use pocketdock_proto::Error;

/// [`Error::HostPath`] for an I/O error on the host path `path` ("does not exist" for a missing
/// one, the system's message otherwise).
pub fn host_error(path: &Path, e: &io::Error) -> Error {
    Error::HostPath {
        path: path.display().to_string(),
        detail: if e.kind() == ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            e.to_string()
        },
    }
}

/// [`Error::HostPath`] refusing the host path `path` for the reason `detail`.
pub fn host_refusal(path: &Path, detail: impl Into<String>) -> Error {
    Error::HostPath {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}
