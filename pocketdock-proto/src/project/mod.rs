//! The `.pocketdock/` project files, parsed and formatted without touching the file system.
//!
//! * [`config`]: `pocketdock.yaml` (install-level and project-level), defaults and precedence.
//! * [`paths`]: where things live under a project root, project discovery, and the checks that
//!   keep deletion to real instance directories.
//! * [`instance`]: `instance.toml`, the per-instance metadata.
//! * [`history`]: `history.jsonl` lines, log file names and texts, and the retention planner.
//!
//! The adapters read and write the files; everything here is pure.

pub mod config;
pub mod history;
pub mod instance;
pub mod paths;

pub use config::{parse_size, ConfigLayer, PocketDockConfig};
pub use history::{HistoryEntry, HistoryKind, LogKind};
pub use instance::InstanceMetadata;
