//! [`Sandbox`] for each adapter: one-line delegations to the adapter's own API.

use std::time::Duration;

use pocketdock_proto::agent::{AgentMode, AgentStatus};
use pocketdock_proto::api::containers::ContainerInspect;
use pocketdock_proto::api::system::VersionInfo;
use std::path::{Path, PathBuf};

use pocketdock_proto::api::images::BuildOptions;
use pocketdock_proto::files::TransferOptions;
use pocketdock_proto::image_flow::{BuiltImage, ExportedArchive};
use pocketdock_proto::info::ContainerInfo;
use pocketdock_proto::persistence::{ContainerListItem, DestroyReport, DoctorReport};
use pocketdock_proto::ring::BufferSnapshot;
use pocketdock_proto::spec::ContainerSpec;
use pocketdock_proto::{Command, ExecResult, Result, RunOptions, StreamChunk};

use super::{ChunkStream, Detached, Sandbox, ShellSession};
use crate::ProgressLog;

impl Sandbox for pocketdock_blocking::Container {
    type Process = pocketdock_blocking::Process;
    type Stream = pocketdock_blocking::ExecStream;
    type Session = pocketdock_blocking::Session;

    async fn create(socket: &str, spec: ContainerSpec) -> Result<Self> {
        pocketdock_blocking::Engine::new(socket).create_container(spec)
    }
    async fn attach(socket: &str, name: &str) -> Result<Self> {
        pocketdock_blocking::Engine::new(socket).attach(name)
    }
    async fn ping(socket: &str) -> Result<String> {
        pocketdock_blocking::Engine::new(socket).ping()
    }
    async fn version(socket: &str) -> Result<VersionInfo> {
        pocketdock_blocking::Engine::new(socket).version()
    }
    async fn inspect(socket: &str, id: &str) -> Result<ContainerInspect> {
        pocketdock_blocking::Engine::new(socket).inspect_container(id)
    }
    async fn remove(socket: &str, id: &str) -> Result<()> {
        pocketdock_blocking::Engine::new(socket).remove_container(id, true)
    }
    async fn sleep(d: Duration) {
        std::thread::sleep(d);
    }
    fn init_project(dir: &Path, name: &str) -> Result<PathBuf> {
        pocketdock_blocking::init_project(Some(dir), Some(name))
    }
    async fn create_in(socket: &str, spec: ContainerSpec, root: &Path) -> Result<Self> {
        let project = pocketdock_blocking::Project::open(root)?;
        pocketdock_blocking::Engine::new(socket).create_container_in(spec, Some(&project))
    }
    async fn resume(socket: &str, name: &str) -> Result<Self> {
        pocketdock_blocking::Engine::new(socket).resume_container(name)
    }
    async fn list(socket: &str, project: Option<&str>) -> Result<Vec<ContainerListItem>> {
        pocketdock_blocking::Engine::new(socket).list_containers(project)
    }
    async fn stop(socket: &str, name: &str) -> Result<()> {
        pocketdock_blocking::Engine::new(socket).stop_container(name)
    }
    async fn destroy(socket: &str, name: &str) -> Result<DestroyReport> {
        pocketdock_blocking::Engine::new(socket).destroy_container(name)
    }
    async fn prune(socket: &str, project: Option<&str>) -> Result<usize> {
        pocketdock_blocking::Engine::new(socket).prune(project)
    }
    async fn doctor(socket: &str, root: &Path) -> Result<DoctorReport> {
        pocketdock_blocking::Engine::new(socket).doctor(Some(root))
    }
    async fn build_dir(
        socket: &str,
        dir: &Path,
        options: &BuildOptions,
    ) -> Result<(BuiltImage, usize)> {
        let mut lines = 0;
        let built = pocketdock_blocking::Engine::new(socket).build_image(
            &pocketdock_blocking::BuildContext::dir(dir),
            options,
            |_| lines += 1,
        )?;
        Ok((built, lines))
    }
    async fn export_images(
        socket: &str,
        images: &[&str],
        dest: &Path,
        gzip: bool,
        progress: &ProgressLog,
    ) -> Result<ExportedArchive> {
        pocketdock_blocking::Engine::new(socket).export_images_with(
            images,
            dest,
            gzip,
            progress.callback(),
        )
    }
    async fn import_images(
        socket: &str,
        path: &Path,
        progress: &ProgressLog,
    ) -> Result<Vec<String>> {
        pocketdock_blocking::Engine::new(socket).import_images_with(path, progress.callback())
    }
    async fn remove_image(socket: &str, name: &str) -> Result<()> {
        pocketdock_blocking::Engine::new(socket)
            .remove_image(name, true)
            .map(drop)
    }
    async fn inspect_image(socket: &str, name: &str) -> Result<String> {
        Ok(pocketdock_blocking::Engine::new(socket)
            .inspect_image(name)?
            .id)
    }
    fn id(&self) -> &str {
        Self::id(self)
    }
    fn name(&self) -> &str {
        Self::name(self)
    }
    fn project(&self) -> &str {
        Self::project(self)
    }
    fn instance_dir(&self) -> Option<&Path> {
        Self::instance_dir(self)
    }
    async fn run(&self, command: &str) -> Result<ExecResult> {
        Self::run(self, command)
    }
    async fn run_with(&self, command: Command, opts: &RunOptions) -> Result<ExecResult> {
        Self::run_with(self, command, opts)
    }
    async fn exec(&self, argv: &[&str], opts: &RunOptions) -> Result<ExecResult> {
        Self::exec(self, argv, opts)
    }
    async fn start_agent(&self) -> Result<AgentStatus> {
        Self::start_agent(self)
    }
    fn agent_status(&self) -> AgentStatus {
        Self::agent_status(self)
    }
    async fn set_agent_mode(&self, mode: AgentMode) -> Result<()> {
        Self::set_agent_mode(self, mode)
    }
    fn stream(&self, command: &str, opts: &RunOptions) -> Result<Self::Stream> {
        Self::stream(self, command, opts)
    }
    async fn detach(&self, command: &str, opts: &RunOptions) -> Result<Self::Process> {
        Self::detach(self, command, opts)
    }
    fn on_stdout(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
        Self::on_stdout(self, f);
    }
    fn on_stderr(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
        Self::on_stderr(self, f);
    }
    fn on_exit(&self, f: impl Fn(i64) + Send + Sync + 'static) {
        Self::on_exit(self, f);
    }
    async fn info(&self) -> Result<ContainerInfo> {
        Self::info(self)
    }
    fn limits(&self) -> Option<pocketdock_proto::limits::LimitsReport> {
        Self::limits(self).cloned()
    }
    async fn write_file(&self, path: &str, content: &[u8]) -> Result<()> {
        Self::write_file(self, path, content)
    }
    async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        Self::read_file(self, path)
    }
    async fn list_files(&self, path: &str) -> Result<Vec<String>> {
        Self::list_files(self, path)
    }
    async fn push(&self, src: &Path, dest: &str, opts: &TransferOptions) -> Result<()> {
        Self::push_with(self, src, dest, opts)
    }
    async fn pull(&self, src: &str, dest: &Path, opts: &TransferOptions) -> Result<()> {
        Self::pull_with(self, src, dest, opts)
    }
    async fn spawn(&self, command: &str, opts: &RunOptions) -> Result<String> {
        Self::spawn(self, command, opts)
    }
    async fn session(&self) -> Result<Self::Session> {
        Self::session(self)
    }
    async fn tty(&self, argv: &[&str], size: (u16, u16), input: &[u8]) -> Result<(Vec<u8>, i64)> {
        use std::io::{Read, Write};
        let opts = pocketdock_blocking::TtyOptions {
            size,
            ..Default::default()
        };
        let mut tty = self.open_tty(argv, &opts)?;
        let (mut out, mut input_half) = (tty.take_reader(), tty.take_writer());
        if let Some(w) = input_half.as_mut() {
            w.write_all(input)?;
        }
        let mut buf = Vec::new();
        if let Some(r) = out.as_mut() {
            r.read_to_end(&mut buf)?;
        }
        Ok((buf, tty.wait()?))
    }
    async fn reboot(&mut self, fresh: bool) -> Result<()> {
        Self::reboot(self, fresh)
    }
    async fn snapshot(&self, image: &str) -> Result<String> {
        Self::snapshot(self, image)
    }
    async fn shutdown(&mut self, force: bool) -> Result<()> {
        Self::shutdown(self, force)
    }
    fn set_buffer_capacity(&mut self, bytes: usize) {
        Self::set_buffer_capacity(self, bytes);
    }
    fn keep(self) -> String {
        Self::keep(self)
    }
}

impl Detached for pocketdock_blocking::Process {
    fn id(&self) -> &str {
        Self::id(self)
    }
    fn is_running(&self) -> bool {
        Self::is_running(self)
    }
    async fn kill(&self, signal: i32) -> Result<()> {
        Self::kill(self, signal)
    }
    async fn wait(&self, timeout: Option<Duration>) -> Result<ExecResult> {
        Self::wait(self, timeout)
    }
    fn read(&self) -> BufferSnapshot {
        Self::read(self)
    }
    fn peek(&self) -> BufferSnapshot {
        Self::peek(self)
    }
    fn buffer_size(&self) -> usize {
        Self::buffer_size(self)
    }
    fn buffer_overflow(&self) -> bool {
        Self::buffer_overflow(self)
    }
}

impl ShellSession for pocketdock_blocking::Session {
    fn id(&self) -> &str {
        Self::id(self)
    }
    async fn send_and_wait(&self, command: &str, timeout: Option<Duration>) -> Result<ExecResult> {
        Self::send_and_wait(self, command, timeout)
    }
    async fn send(&self, command: &str) -> Result<()> {
        Self::send(self, command)
    }
    fn read(&self) -> String {
        Self::read(self)
    }
    async fn close(&self) -> Result<()> {
        Self::close(self)
    }
    fn is_closed(&self) -> bool {
        Self::is_closed(self)
    }
    fn exit_code(&self) -> Option<i64> {
        Self::exit_code(self)
    }
    fn dropped_output_bytes(&self) -> u64 {
        Self::dropped_output_bytes(self)
    }
}

impl ChunkStream for pocketdock_blocking::ExecStream {
    async fn next_chunk(&mut self) -> Option<Result<StreamChunk>> {
        Iterator::next(self)
    }
    fn result(&self) -> Option<&ExecResult> {
        Self::result(self)
    }
}

/// The async adapters have the same API: one implementation, stamped for each.
macro_rules! async_adapter {
    ($krate:ident, $sleep:expr, $tty:path) => {
        impl Sandbox for $krate::Container {
            type Process = $krate::Process;
            type Stream = $krate::ExecStream;
            type Session = $krate::Session;

            async fn create(socket: &str, spec: ContainerSpec) -> Result<Self> {
                $krate::Engine::new(socket).create_container(spec).await
            }
            async fn attach(socket: &str, name: &str) -> Result<Self> {
                $krate::Engine::new(socket).attach(name).await
            }
            async fn ping(socket: &str) -> Result<String> {
                $krate::Engine::new(socket).ping().await
            }
            async fn version(socket: &str) -> Result<VersionInfo> {
                $krate::Engine::new(socket).version().await
            }
            async fn inspect(socket: &str, id: &str) -> Result<ContainerInspect> {
                $krate::Engine::new(socket).inspect_container(id).await
            }
            async fn remove(socket: &str, id: &str) -> Result<()> {
                $krate::Engine::new(socket).remove_container(id, true).await
            }
            async fn sleep(d: Duration) {
                ($sleep)(d).await;
            }
            fn init_project(dir: &Path, name: &str) -> Result<PathBuf> {
                $krate::init_project(Some(dir), Some(name))
            }
            async fn create_in(socket: &str, spec: ContainerSpec, root: &Path) -> Result<Self> {
                let project = $krate::Project::open(root)?;
                $krate::Engine::new(socket)
                    .create_container_in(spec, Some(&project))
                    .await
            }
            async fn resume(socket: &str, name: &str) -> Result<Self> {
                $krate::Engine::new(socket).resume_container(name).await
            }
            async fn list(socket: &str, project: Option<&str>) -> Result<Vec<ContainerListItem>> {
                $krate::Engine::new(socket).list_containers(project).await
            }
            async fn stop(socket: &str, name: &str) -> Result<()> {
                $krate::Engine::new(socket).stop_container(name).await
            }
            async fn destroy(socket: &str, name: &str) -> Result<DestroyReport> {
                $krate::Engine::new(socket).destroy_container(name).await
            }
            async fn prune(socket: &str, project: Option<&str>) -> Result<usize> {
                $krate::Engine::new(socket).prune(project).await
            }
            async fn doctor(socket: &str, root: &Path) -> Result<DoctorReport> {
                $krate::Engine::new(socket).doctor(Some(root)).await
            }
            async fn build_dir(
                socket: &str,
                dir: &Path,
                options: &BuildOptions,
            ) -> Result<(BuiltImage, usize)> {
                let mut lines = 0;
                let built = $krate::Engine::new(socket)
                    .build_image(&$krate::BuildContext::dir(dir), options, |_| lines += 1)
                    .await?;
                Ok((built, lines))
            }
            async fn export_images(
                socket: &str,
                images: &[&str],
                dest: &Path,
                gzip: bool,
                progress: &ProgressLog,
            ) -> Result<ExportedArchive> {
                $krate::Engine::new(socket)
                    .export_images_with(images, dest, gzip, progress.callback())
                    .await
            }
            async fn import_images(
                socket: &str,
                path: &Path,
                progress: &ProgressLog,
            ) -> Result<Vec<String>> {
                $krate::Engine::new(socket)
                    .import_images_with(path, progress.callback())
                    .await
            }
            async fn remove_image(socket: &str, name: &str) -> Result<()> {
                $krate::Engine::new(socket)
                    .remove_image(name, true)
                    .await
                    .map(drop)
            }
            async fn inspect_image(socket: &str, name: &str) -> Result<String> {
                Ok($krate::Engine::new(socket).inspect_image(name).await?.id)
            }
            fn id(&self) -> &str {
                Self::id(self)
            }
            fn name(&self) -> &str {
                Self::name(self)
            }
            fn project(&self) -> &str {
                Self::project(self)
            }
            fn instance_dir(&self) -> Option<&Path> {
                Self::instance_dir(self)
            }
            async fn run(&self, command: &str) -> Result<ExecResult> {
                Self::run(self, command).await
            }
            async fn run_with(&self, command: Command, opts: &RunOptions) -> Result<ExecResult> {
                Self::run_with(self, command, opts).await
            }
            async fn exec(&self, argv: &[&str], opts: &RunOptions) -> Result<ExecResult> {
                Self::exec(self, argv, opts).await
            }
            async fn start_agent(&self) -> Result<AgentStatus> {
                Self::start_agent(self).await
            }
            fn agent_status(&self) -> AgentStatus {
                Self::agent_status(self)
            }
            async fn set_agent_mode(&self, mode: AgentMode) -> Result<()> {
                Self::set_agent_mode(self, mode).await
            }
            fn stream(&self, command: &str, opts: &RunOptions) -> Result<Self::Stream> {
                Self::stream(self, command, opts)
            }
            async fn detach(&self, command: &str, opts: &RunOptions) -> Result<Self::Process> {
                Self::detach(self, command, opts).await
            }
            fn on_stdout(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
                Self::on_stdout(self, f);
            }
            fn on_stderr(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {
                Self::on_stderr(self, f);
            }
            fn on_exit(&self, f: impl Fn(i64) + Send + Sync + 'static) {
                Self::on_exit(self, f);
            }
            async fn info(&self) -> Result<ContainerInfo> {
                Self::info(self).await
            }
            fn limits(&self) -> Option<pocketdock_proto::limits::LimitsReport> {
                Self::limits(self).cloned()
            }
            async fn write_file(&self, path: &str, content: &[u8]) -> Result<()> {
                Self::write_file(self, path, content).await
            }
            async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
                Self::read_file(self, path).await
            }
            async fn list_files(&self, path: &str) -> Result<Vec<String>> {
                Self::list_files(self, path).await
            }
            async fn push(&self, src: &Path, dest: &str, opts: &TransferOptions) -> Result<()> {
                Self::push_with(self, src, dest, opts).await
            }
            async fn pull(&self, src: &str, dest: &Path, opts: &TransferOptions) -> Result<()> {
                Self::pull_with(self, src, dest, opts).await
            }
            async fn spawn(&self, command: &str, opts: &RunOptions) -> Result<String> {
                Self::spawn(self, command, opts).await
            }
            async fn session(&self) -> Result<Self::Session> {
                Self::session(self).await
            }
            async fn tty(
                &self,
                argv: &[&str],
                size: (u16, u16),
                input: &[u8],
            ) -> Result<(Vec<u8>, i64)> {
                $tty(self, argv, size, input).await
            }
            async fn reboot(&mut self, fresh: bool) -> Result<()> {
                Self::reboot(self, fresh).await
            }
            async fn snapshot(&self, image: &str) -> Result<String> {
                Self::snapshot(self, image).await
            }
            async fn shutdown(&mut self, force: bool) -> Result<()> {
                Self::shutdown(self, force).await
            }
            fn set_buffer_capacity(&mut self, bytes: usize) {
                Self::set_buffer_capacity(self, bytes);
            }
            fn keep(self) -> String {
                Self::keep(self)
            }
        }

        impl Detached for $krate::Process {
            fn id(&self) -> &str {
                Self::id(self)
            }
            fn is_running(&self) -> bool {
                Self::is_running(self)
            }
            async fn kill(&self, signal: i32) -> Result<()> {
                Self::kill(self, signal).await
            }
            async fn wait(&self, timeout: Option<Duration>) -> Result<ExecResult> {
                Self::wait(self, timeout).await
            }
            fn read(&self) -> BufferSnapshot {
                Self::read(self)
            }
            fn peek(&self) -> BufferSnapshot {
                Self::peek(self)
            }
            fn buffer_size(&self) -> usize {
                Self::buffer_size(self)
            }
            fn buffer_overflow(&self) -> bool {
                Self::buffer_overflow(self)
            }
        }

        impl ShellSession for $krate::Session {
            fn id(&self) -> &str {
                Self::id(self)
            }
            async fn send_and_wait(
                &self,
                command: &str,
                timeout: Option<Duration>,
            ) -> Result<ExecResult> {
                Self::send_and_wait(self, command, timeout).await
            }
            async fn send(&self, command: &str) -> Result<()> {
                Self::send(self, command).await
            }
            fn read(&self) -> String {
                Self::read(self)
            }
            async fn close(&self) -> Result<()> {
                Self::close(self).await
            }
            fn is_closed(&self) -> bool {
                Self::is_closed(self)
            }
            fn exit_code(&self) -> Option<i64> {
                Self::exit_code(self)
            }
            fn dropped_output_bytes(&self) -> u64 {
                Self::dropped_output_bytes(self)
            }
        }

        impl ChunkStream for $krate::ExecStream {
            async fn next_chunk(&mut self) -> Option<Result<StreamChunk>> {
                Self::next(self).await
            }
            fn result(&self) -> Option<&ExecResult> {
                Self::result(self)
            }
        }
    };
}

async_adapter!(pocketdock_tokio, tokio::time::sleep, tty_tokio);
async_adapter!(
    pocketdock_smol,
    |d| async move {
        async_io::Timer::after(d).await;
    },
    tty_smol
);

async fn tty_tokio(
    c: &pocketdock_tokio::Container,
    argv: &[&str],
    size: (u16, u16),
    input: &[u8],
) -> Result<(Vec<u8>, i64)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let opts = pocketdock_tokio::TtyOptions {
        size,
        ..Default::default()
    };
    let mut tty = c.open_tty(argv, &opts).await?;
    let (mut out, mut input_half) = (tty.take_reader(), tty.take_writer());
    if let Some(w) = input_half.as_mut() {
        w.write_all(input).await?;
    }
    let mut buf = Vec::new();
    if let Some(r) = out.as_mut() {
        r.read_to_end(&mut buf).await?;
    }
    Ok((buf, tty.wait().await?))
}

async fn tty_smol(
    c: &pocketdock_smol::Container,
    argv: &[&str],
    size: (u16, u16),
    input: &[u8],
) -> Result<(Vec<u8>, i64)> {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let opts = pocketdock_smol::TtyOptions {
        size,
        ..Default::default()
    };
    let mut tty = c.open_tty(argv, &opts).await?;
    let (mut out, mut input_half) = (tty.take_reader(), tty.take_writer());
    if let Some(w) = input_half.as_mut() {
        w.write_all(input).await?;
    }
    let mut buf = Vec::new();
    if let Some(r) = out.as_mut() {
        r.read_to_end(&mut buf).await?;
    }
    Ok((buf, tty.wait().await?))
}
