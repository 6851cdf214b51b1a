//! # pocketdock-async
//!
//! pocketdock's async API, written once and generic over a small [`Runtime`] trait: the
//! facade that `pocketdock-tokio` and `pocketdock-smol` give their users. Each of them
//! implements [`Runtime`] for its runtime (connect, read and write a Unix socket with deadlines,
//! half-close, a timer, starting a background reader and `Drop`-time cleanup, and its own
//! `AsyncRead`/`AsyncWrite` types for the halves of a TTY program), then names this crate's
//! types for it with [`facade!`] (`pocketdock_tokio::Container` is
//! `pocketdock_async::Container<Tokio>`). Applications use an adapter, not this crate.
//!
//! Everything the blocking adapter offers is here, with the same names and types, as
//! `async fn`s:
//!
//! * containers: [`create_new_container`], [`Engine`] (create, attach, find, inspect, list,
//!   remove), [`Container`] (`run`, `run_with`, `exec`, [`stream`](Container::stream),
//!   [`detach`](Container::detach), `info`, `reboot`, `snapshot`, `shutdown`, `keep`,
//!   callbacks);
//! * files: `write_file`, `read_file`, `list_files`, `push`, `pull` (streamed archives);
//! * sessions: [`Container::session`] gives a [`Session`], a persistent shell read by the
//!   runtime's background reader;
//! * TTY programs: [`Container::open_tty`] gives a [`TtyExec`] whose halves are the runtime's
//!   reader and writer types;
//! * persistence and projects: [`resume_container`], [`list_containers`], [`stop_container`],
//!   [`destroy_container`], [`prune`], [`doctor`], [`init_project`], [`load_config`], ...;
//! * images: [`Engine::build_image`], `export_images`, `import_images`, `inspect_image`,
//!   `remove_image`;
//! * warm pools: [`Pool`] keeps sandboxes agent-ready; [`Pool::acquire`] hands one out in
//!   about a millisecond.
//!
//! Reading a project's small files (`pocketdock.yaml`, `instance.toml`, history logs) and the
//! host side of `push`/`pull`/builds are plain synchronous file I/O, as in every adapter; only
//! engine calls are `async`.
//!
//! Each operation opens its own connection to the engine, so a long stream never delays
//! another call, and any number of calls may run at once on one container. All protocol rules
//! live in [`pocketdock_proto`]; this crate only performs the I/O its operations ask for,
//! through the [`Runtime`].
//!
//! ## Cancellation
//!
//! Dropping a `run` future or an [`ExecStream`] before it completes kills the command's process
//! tree inside the container. A `Drop` cannot await, so the kill is handed to
//! [`Runtime::spawn_cleanup`] (each adapter documents where it runs). Dropping a [`Process`]
//! leaves the detached command running, as in every adapter. Dropping an ephemeral
//! [`Container`] removes it the same way; [`Container::shutdown`] does it for sure.
#![forbid(unsafe_code)]

mod agent;
mod container;
mod driver;
mod engine;
mod facade;
mod files;
mod images;
mod lifecycle;
mod persistence;
mod pool;
mod process;
mod reaper;
mod run;
mod runtime;
mod session;
mod stream;
mod transport;
mod tty;
mod watch;

use pocketdock_host::{logging, project};

/// The host crate, for [`facade!`], which re-exports its `adapter_api` in each async adapter.
#[doc(hidden)]
pub use pocketdock_host as __host;

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
pub use runtime::Runtime;
pub use session::Session;
pub use stream::ExecStream;
pub use tty::{TtyExec, TtyOutput};
