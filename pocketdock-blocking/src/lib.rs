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
mod files;
mod images;
mod lifecycle;
mod persistence;
mod process;
mod run;
mod stream;
mod transport;

pub use container::{Container, DEFAULT_BUFFER_CAPACITY};
pub use engine::Engine;
pub use images::{BuildContext, BuiltImage, ExportedArchive, BUILD_TIMEOUT, TRANSFER_TIMEOUT};
pub use lifecycle::{create_new_container, DEFAULT_TIMEOUT};
pub use persistence::{
    destroy_container, doctor, list_containers, prune, resume_container, stop_container,
    ContainerListItem, DestroyReport, DoctorReport, STOP_GRACE_SECS,
};
use pocketdock_host::{logging, project};
pub use pocketdock_proto::api::images::{BuildOptions, Progress as ImageProgress};
pub use pocketdock_proto::api::system::{EngineKind, VersionInfo};
pub use pocketdock_proto::info::ContainerInfo;
pub use pocketdock_proto::profile::{list_profiles, resolve_profile, ProfileInfo};
pub use pocketdock_proto::project::{
    HistoryEntry, HistoryKind, InstanceMetadata, PocketDockConfig,
};
pub use pocketdock_proto::ring::BufferSnapshot;
pub use pocketdock_proto::spec::ContainerSpec;
pub use pocketdock_proto::{
    Command, Error, ExecResult, Lang, LimitPolicy, Result, RunOptions, StreamChunk, StreamKind,
};
pub use process::Process;
pub use project::{
    checked_instance_dir, find_project_root, get_project_name, init_project, install_config_file,
    list_instance_dirs, load_config, load_config_files, read_history, read_instance_metadata,
    write_instance_metadata, Project,
};
pub use stream::ExecStream;
mod session;
mod tty;
pub use pocketdock_proto::files::{
    TransferOptions, TransferProgress, DEFAULT_PULL_LIMIT, DEFAULT_READ_LIMIT,
};
pub use session::{Session, SessionOptions, DEFAULT_SESSION_BUFFER, INTERRUPT_GRACE};
pub use tty::{TtyExec, TtyOptions, TtyReader, TtyWriter};
