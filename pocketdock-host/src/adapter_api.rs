//! The part of every adapter's public API that does not depend on how the adapter does I/O:
//! specs, results, errors, options, profiles and the project functions.
//!
//! `pocketdock-blocking` and `pocketdock-async` (and through it `pocketdock-tokio` and
//! `pocketdock-smol`) each re-export this module at their root with `pub use
//! pocketdock_host::adapter_api::*;`, so the list is written once and every adapter offers
//! these items under the same names (`pocketdock_blocking::ContainerSpec` is
//! `pocketdock_tokio::ContainerSpec`). Applications use them through an adapter.

pub use pocketdock_proto::agent::{AgentMode, AgentStatus, CommandPath};
pub use pocketdock_proto::api::images::{BuildOptions, Progress as ImageProgress};
pub use pocketdock_proto::api::system::{EngineKind, VersionInfo};
pub use pocketdock_proto::files::{
    TransferOptions, TransferProgress, DEFAULT_PULL_LIMIT, DEFAULT_READ_LIMIT,
};
pub use pocketdock_proto::image_flow::{
    BuildContext, BuiltImage, ExportedArchive, BUILD_TIMEOUT, TRANSFER_TIMEOUT,
};
pub use pocketdock_proto::info::ContainerInfo;
pub use pocketdock_proto::limits::{LimitsReport, Reading, Unenforced};
pub use pocketdock_proto::persistence::{
    ContainerListItem, DestroyReport, DoctorReport, STOP_GRACE_SECS,
};
pub use pocketdock_proto::profile::{list_profiles, resolve_profile, ProfileInfo};
pub use pocketdock_proto::project::{
    HistoryEntry, HistoryKind, InstanceMetadata, PocketDockConfig,
};
pub use pocketdock_proto::reap::{ReapReport, ReapedCommands, ReapedContainer};
pub use pocketdock_proto::ring::BufferSnapshot;
/// Default ring buffer capacity of detached processes (1 MiB).
pub use pocketdock_proto::ring::DEFAULT_RING_CAPACITY as DEFAULT_BUFFER_CAPACITY;
pub use pocketdock_proto::run::{TtyOptions, DEFAULT_TIMEOUT};
pub use pocketdock_proto::session::{SessionOptions, DEFAULT_SESSION_BUFFER, INTERRUPT_GRACE};
pub use pocketdock_proto::spec::ContainerSpec;
pub use pocketdock_proto::{
    Command, Error, ExecResult, Lang, LimitPolicy, RemoteCause, Result, RunOptions, StreamChunk,
    StreamKind,
};

pub use crate::remote::EngineEndpoint;

pub use crate::project::{
    checked_instance_dir, find_project_root, get_project_name, init_project, install_config_file,
    list_instance_dirs, load_config, load_config_files, read_history, read_instance_metadata,
    write_instance_metadata, Project,
};
