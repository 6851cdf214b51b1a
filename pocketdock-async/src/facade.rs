//! The public surface of an adapter, stamped by [`facade!`](crate::facade!).

/// The public API of an async adapter on runtime `$runtime` (a [`Runtime`](crate::Runtime)
/// marker type in scope), for a crate named `$krate` (its name as written in code, used in the
/// doc examples): the facade's types named for that runtime (`pub type Container =
/// pocketdock_async::Container<$runtime>;` ...), the free functions, and the re-exports of
/// everything that does not depend on the runtime. Called once at the root of
/// `pocketdock-tokio` and of `pocketdock-smol`, which then add their runtime, `TtyReader` and
/// `TtyWriter`.
#[macro_export]
macro_rules! facade {
    ($runtime:ident, $krate:literal) => {
        /// A container engine (Podman or Docker) reached over its Unix socket: see
        /// [`pocketdock_async::Engine`].
        pub type Engine = $crate::Engine<$runtime>;
        /// A running sandbox: see [`pocketdock_async::Container`].
        pub type Container = $crate::Container<$runtime>;
        /// A detached command: see [`pocketdock_async::Process`].
        pub type Process = $crate::Process<$runtime>;
        /// A persistent shell in a container: see [`pocketdock_async::Session`].
        pub type Session = $crate::Session<$runtime>;
        /// The output of a running command as a stream of chunks: see
        /// [`pocketdock_async::ExecStream`].
        pub type ExecStream = $crate::ExecStream<$runtime>;
        /// A program running on a TTY in the container: see [`pocketdock_async::TtyExec`].
        pub type TtyExec = $crate::TtyExec<$runtime>;
        /// A warm pool of agent-ready sandboxes: see [`pocketdock_async::Pool`].
        pub type Pool = $crate::Pool<$runtime>;
        /// A sandbox handed out by a [`Pool`]: see [`pocketdock_async::PoolGuard`].
        pub type PoolGuard = $crate::PoolGuard<$runtime>;

        pub use $crate::__host::adapter_api::*;

        /// Create and start a sandbox on the default engine, applying the settings of the project
        /// containing the current directory (and of `~/.pocketdock/pocketdock.yaml`).
        ///
        /// * The engine is `POCKETDOCK_SOCKET`, else the config's `socket:`, else auto-detected.
        /// * A spec naming neither an image nor a profile gets the config's `default_profile`; a
        ///   spec that does not say whether to persist gets `default_persist`.
        /// * A persistent container created in a project gets an instance directory (see
        ///   [`Engine::create_container_in`](pocketdock_async::Engine::create_container_in)).
        ///
        /// Reading the project's small files (`pocketdock.yaml`, `instance.toml`, logs) is plain
        /// synchronous file I/O, as in every adapter; only engine calls are `async`.
        ///
        /// ```no_run
        #[doc = concat!("use ", $krate, "::{create_new_container, ContainerSpec};")]
        #[doc = concat!("# async fn demo() -> ", $krate, "::Result<()> {")]
        /// let c = create_new_container(
        ///     ContainerSpec::new().name("my-sandbox").mem_limit("256m").cpu_percent(50),
        /// )
        /// .await?;
        /// println!("{} {}", c.name(), c.run("uname -a").await?.stdout_str());
        /// # Ok(()) }
        /// ```
        pub async fn create_new_container(spec: ContainerSpec) -> Result<Container> {
            $crate::create_new_container::<$runtime>(spec).await
        }

        /// [`Engine::resume_container`](pocketdock_async::Engine::resume_container) on the
        /// default engine.
        ///
        /// ```no_run
        #[doc = concat!("# async fn demo() -> ", $krate, "::Result<()> {")]
        #[doc = concat!("let c = ", $krate, "::resume_container(\"my-sandbox\").await?;")]
        /// println!("{}", c.run("ls /tmp").await?.stdout_str());
        /// # Ok(()) }
        /// ```
        pub async fn resume_container(name: &str) -> Result<Container> {
            $crate::resume_container::<$runtime>(name).await
        }

        /// [`Engine::list_containers`](pocketdock_async::Engine::list_containers) on the default
        /// engine.
        pub async fn list_containers(project: Option<&str>) -> Result<Vec<ContainerListItem>> {
            $crate::list_containers::<$runtime>(project).await
        }

        /// [`Engine::stop_container`](pocketdock_async::Engine::stop_container) on the default
        /// engine.
        pub async fn stop_container(name: &str) -> Result<()> {
            $crate::stop_container::<$runtime>(name).await
        }

        /// [`Engine::destroy_container`](pocketdock_async::Engine::destroy_container) on the
        /// default engine.
        pub async fn destroy_container(name: &str) -> Result<DestroyReport> {
            $crate::destroy_container::<$runtime>(name).await
        }

        /// [`Engine::prune`](pocketdock_async::Engine::prune) on the default engine.
        pub async fn prune(project: Option<&str>) -> Result<usize> {
            $crate::prune::<$runtime>(project).await
        }

        /// [`Engine::doctor`](pocketdock_async::Engine::doctor) on the engine of the project at
        /// `project_root` (the project containing the current directory when `None`):
        /// `POCKETDOCK_SOCKET`, then its `socket:`, then auto-detection.
        pub async fn doctor(project_root: Option<&::std::path::Path>) -> Result<DoctorReport> {
            $crate::doctor::<$runtime>(project_root).await
        }
    };
}
