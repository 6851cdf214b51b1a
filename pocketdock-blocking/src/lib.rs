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
//! Each operation opens its own connection to the engine, so a long stream never blocks another
//! call. All protocol rules live in [`pocketdock_proto`]; this crate only performs the I/O its
//! operations ask for.
#![forbid(unsafe_code)]

mod callbacks;
mod container;
mod driver;
mod engine;
mod lifecycle;
mod process;
mod stream;
mod transport;

pub use container::{Container, DEFAULT_BUFFER_CAPACITY};
pub use engine::Engine;
pub use lifecycle::create_new_container;
pub use pocketdock_proto::api::system::{EngineKind, VersionInfo};
pub use pocketdock_proto::ring::BufferSnapshot;
pub use pocketdock_proto::spec::ContainerSpec;
pub use pocketdock_proto::{
    Command, Error, ExecResult, Lang, LimitPolicy, Result, RunOptions, StreamChunk, StreamKind,
};
pub use process::Process;
pub use stream::ExecStream;
