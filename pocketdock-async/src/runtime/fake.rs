//! [`Fake`]: the [`Runtime`] of the driver's tests. Its sockets and clock are a
//! [`ScriptedEngine`] (scripted connections on a virtual clock) kept per test thread, so a test
//! that runs its future on its own thread (`block_on`) has its own engine.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use pocketdock_proto::test_util::{Conn, ScriptedEngine};

use super::Runtime;
use crate::tty::TtyOutput;

thread_local! {
    static ENGINE: RefCell<Option<ScriptedEngine>> = const { RefCell::new(None) };
}

/// Run `f` on this thread's engine (panics when no test installed one).
pub(crate) fn with_engine<T>(f: impl FnOnce(&mut ScriptedEngine) -> T) -> T {
    ENGINE.with(|e| {
        let mut e = e.borrow_mut();
        f(e.as_mut()
            .unwrap_or_else(|| panic!("no scripted engine: call Fake::script")))
    })
}

/// A runtime with no sockets, no timers and no background work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fake;

impl Fake {
    /// Give this thread's `Fake` a fresh engine answering with `script`.
    pub(crate) fn script(script: Vec<Conn>) {
        Self::engine(ScriptedEngine::new(script));
    }

    /// Give this thread's `Fake` an engine the test set up (e.g. one that stops reading).
    pub(crate) fn engine(engine: ScriptedEngine) {
        ENGINE.with(|e| *e.borrow_mut() = Some(engine));
    }
}

/// A connection of [`Fake`]: the engine holds its state; dropping it closes the connection.
#[derive(Debug)]
pub(crate) struct FakeStream;

impl Drop for FakeStream {
    fn drop(&mut self) {
        let _ = ENGINE.try_with(|e| {
            if let Some(e) = e.borrow_mut().as_mut() {
                e.close();
            }
        });
    }
}

fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "not in the fake runtime")
}

impl Runtime for Fake {
    type Stream = FakeStream;
    type TtyReader = ();
    type TtyWriter = ();

    async fn connect(_path: &Path) -> io::Result<FakeStream> {
        with_engine(ScriptedEngine::connect).map(|()| FakeStream)
    }

    fn adopt(_stream: UnixStream) -> io::Result<FakeStream> {
        Err(unsupported())
    }

    async fn read(
        _stream: &mut FakeStream,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Option<io::Result<usize>> {
        with_engine(|e| e.read(buf, deadline))
    }

    async fn write_all(
        _stream: &mut FakeStream,
        data: &[u8],
        _timeout: Duration,
    ) -> Option<io::Result<()>> {
        Some(with_engine(|e| e.write(data)))
    }

    async fn shutdown_write(_stream: &mut FakeStream) -> io::Result<()> {
        with_engine(ScriptedEngine::shutdown_write)
    }

    fn try_clone(_stream: &FakeStream) -> io::Result<UnixStream> {
        Err(unsupported())
    }

    fn writer(_stream: UnixStream) -> io::Result<()> {
        Err(unsupported())
    }

    async fn write_shared(_writer: &(), _data: &[u8]) -> io::Result<()> {
        Err(unsupported())
    }

    fn tty_reader(_output: TtyOutput<Self>) {}

    async fn sleep_until(deadline: Instant) {
        with_engine(|e| e.sleep_until(deadline));
    }

    fn spawn_reader(
        _name: &'static str,
        _reader: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        Err(unsupported())
    }

    fn spawn_cleanup(_work: impl Future<Output = ()> + Send + 'static) {}

    fn now() -> Instant {
        with_engine(|e| e.now())
    }
}
