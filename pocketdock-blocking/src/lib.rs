//! # pocketdock-blocking
//!
//! Disposable container sandboxes on Podman or Docker, with plain blocking I/O over
//! `std::os::unix::net`: no async runtime anywhere in this crate's dependency tree.
//!
//! ```no_run
//! use pocketdock_blocking::{create_new_container, ContainerSpec};
//!
//! # fn main() -> pocketdock_blocking::Result<()> {
//! let c = create_new_container(ContainerSpec::default())?;
//! let r = c.run("echo hello")?;
//! assert_eq!(r.stdout_str(), "hello\n");
//! assert!(r.ok());
//! # Ok(()) }
//! ```
//!
//! A [`Pool`] keeps sandboxes created, started and agent-ready, so that [`Pool::acquire`] hands
//! one out in about a millisecond instead of the engine's hundreds for a create and start.
//!
//! Each operation opens its own connection to the engine, so a long stream never blocks another
//! call. All protocol rules live in [`pocketdock_proto`]; this crate only performs the I/O its
//! operations ask for.
#![forbid(unsafe_code)]

mod agent;
mod agent_link;
mod container;
mod driver;
mod engine;
mod files;
mod images;
mod lifecycle;
mod persistence;
mod pool;
mod process;
mod reaper;
mod run;
mod session;
mod stream;
mod transport;
mod tty;

use pocketdock_host::{logging, project};

pub use agent_link::AgentLink;
pub use container::Container;
pub use engine::Engine;
pub use lifecycle::create_new_container;
pub use persistence::{
    destroy_container, doctor, list_containers, prune, resume_container, stop_container,
};
/// Specs, results, errors, options, constants, profiles and project functions: the same items
/// in every adapter.
pub use pocketdock_host::adapter_api::*;
pub use pool::{Pool, PoolGuard};
pub use process::Process;
pub use reaper::finish_background_reaps;
pub use session::Session;
pub use stream::ExecStream;
pub use tty::{TtyExec, TtyReader, TtyWriter};
