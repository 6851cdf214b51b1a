//! # pocketdock-proto
//!
//! The sans-IO core of pocketdock. It encodes requests to a Docker-compatible engine (Podman or
//! Docker), decodes HTTP/1.1 responses, chunked bodies, connection upgrades and Docker's 8-byte
//! stream frames, and runs every multi-step operation (exec with deadline and output cap, kill of a
//! process tree, exit-code polling, ...) as a state machine that never touches a socket, a runtime
//! or a clock. The adapters `pocketdock-blocking`, `pocketdock-tokio` and `pocketdock-smol` drive
//! these operations; all protocol rules live here, once.
//!
//! See [`op`] for the driving contract.
#![forbid(unsafe_code)]

pub mod address;
pub mod agent;
pub mod api;
pub mod build_retry;
pub mod capture;
pub mod demux;
pub mod detached;
pub mod engine;
pub mod error;
pub mod files;
pub mod fuzzing;
pub mod http;
pub mod op;
pub mod persistence;
pub mod pool;
pub mod result;
pub mod run;
#[cfg(feature = "test-util")]
pub mod test_util;

pub use capture::{LimitPolicy, OutputLimit, DEFAULT_MAX_OUTPUT};
pub use demux::StreamKind;
pub use error::{Error, ProtocolError, RemoteCause, Result};
pub use result::{ExecResult, StreamChunk, Usage, Utf8Decoder};
pub use run::{Command, Lang, RunOptions};
pub mod project;
pub mod reap;
pub mod ring;
pub mod session;

pub mod image_flow;
pub mod info;
pub mod limits;
pub mod profile;
pub mod spec;
pub mod tar;
