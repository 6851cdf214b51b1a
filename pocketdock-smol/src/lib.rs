//! # pocketdock-smol
//!
//! Disposable container sandboxes on Podman or Docker, for async applications on smol,
//! async-std or any other executor of the futures-io world: the API of `pocketdock-blocking`
//! with the same names and types, as `async fn`s over `async_io::Async<UnixStream>` and
//! `async_io::Timer`. Neither smol itself nor tokio is a dependency.
//!
//! ```no_run
//! use pocketdock_smol::{create_new_container, ContainerSpec};
//!
//! # fn main() -> pocketdock_smol::Result<()> {
//! # async_io::block_on(async {
//! let mut c = create_new_container(ContainerSpec::default()).await?;
//! let r = c.run("echo hello").await?;
//! assert_eq!(r.stdout_str(), "hello\n");
//! assert!(r.ok());
//!
//! // Output as it arrives: a `futures_core::Stream` of chunks.
//! let mut s = c.stream("for i in 1 2 3; do echo $i; sleep 1; done", &Default::default())?;
//! while let Some(chunk) = s.next().await {
//!     print!("{}", chunk?.text());
//! }
//!
//! // In the background, read by a thread of its own.
//! let p = c.detach("sleep 60", &Default::default()).await?;
//! p.kill(9).await?;
//! c.shutdown(false).await?;
//! # Ok(()) })
//! # }
//! ```
//!
//! Everything the blocking adapter offers is here, with the same names and types:
//!
//! * containers: [`create_new_container`], [`Engine`] (create, attach, find, inspect, list,
//!   remove), [`Container`] (`run`, `run_with`, `exec`, [`stream`](Container::stream),
//!   [`detach`](Container::detach), `info`, `reboot`, `snapshot`, `shutdown`, `keep`,
//!   callbacks);
//! * files: `write_file`, `read_file`, `list_files`, `push`, `pull` (streamed archives);
//! * sessions: [`Container::session`] gives a [`Session`], a persistent shell read by
//!   a thread of its own;
//! * TTY programs: [`Container::open_tty`] gives a [`TtyExec`] whose halves are
//!   futures-io `AsyncRead` / `AsyncWrite`;
//! * persistence and projects: [`resume_container`], [`list_containers`], [`stop_container`],
//!   [`destroy_container`], [`prune`], [`doctor`], [`init_project`], [`load_config`], ...;
//! * images: [`Engine::build_image`], `export_images`, `import_images`, `inspect_image`,
//!   `remove_image`.
//!
//! Reading a project's small files (`pocketdock.yaml`, `instance.toml`, history logs) and the
//! host side of `push`/`pull`/builds are plain synchronous file I/O, as in every adapter; only
//! engine calls are `async`.
//!
//! Each operation opens its own connection to the engine, so a long stream never delays
//! another call, and any number of calls may run at once on one container. All protocol rules
//! live in `pocketdock_proto`; [`pocketdock_async`] performs the I/O its operations ask for,
//! and this crate supplies the runtime.
//!
//! The futures need no particular executor: async-io drives its own reactor (on the thread
//! that blocks in `async_io::block_on`, or on its fallback thread under other executors).
//! Detached processes are read by a thread each, like in the blocking adapter, so nothing
//! depends on which executor the caller runs.
//!
//! The API itself is written once, in `pocketdock-async`, generic over its `Runtime` trait;
//! this crate implements that trait for async-io ([`Smol`]: `async_io::Async<UnixStream>`,
//! `async_io::Timer`, reader threads), gives the halves of a TTY program the futures-io
//! traits ([`TtyReader`], [`TtyWriter`]), and names the types for it: [`Container`] is
//! `pocketdock_async::Container<Smol>`, and so on.
//!
//! ## Cancellation
//!
//! Dropping a `run` future or an [`ExecStream`] before it completes kills the command's process
//! tree inside the container. A `Drop` cannot await, so the kill runs on a short-lived thread
//! of its own. Dropping a [`Process`] leaves the detached command running, as in every adapter.
//! Dropping an ephemeral [`Container`] removes it the same way; [`Container::shutdown`] does it
//! for sure.
#![forbid(unsafe_code)]

mod runtime;
mod tty;

pub use runtime::Smol;
pub use tty::{TtyReader, TtyWriter};

pocketdock_async::facade!(Smol, "pocketdock_smol");
