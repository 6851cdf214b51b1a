//! The relay process: agent connections to one container, handed to CLI clients one at a time.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use pocketdock_blocking::{AgentLink, Engine};
use pocketdock_proto::agent::{encode_frame, Frame, FrameDecoder, Kind};

use super::{failure_note, my_uid, socket_path, QUIT, WANT_AGENT};

/// How long the relay stays without a client before it exits.
const DEFAULT_IDLE: Duration = Duration::from_secs(600);
/// How often it checks that its container still runs.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How long a client waits for an agent connection to be opened for it.
const HANDOUT_TIMEOUT: Duration = Duration::from_secs(30);
/// Failed opens in a row after which the relay gives up.
const MAX_FAILURES: u32 = 3;
/// `SIGKILL`, for the commands of a client that went away.
const SIGKILL: u32 = 9;

/// One agent connection and who it serves.
#[derive(Debug)]
struct Link {
    writer: Mutex<UnixStream>,
    state: Mutex<LinkState>,
}

#[derive(Debug, Default)]
struct LinkState {
    /// The client it serves now.
    client: Option<UnixStream>,
    /// Commands of the client it serves now, not ended yet.
    live: HashSet<u32>,
    /// Commands of clients that went away, killed, not reported ended yet: their frames are
    /// dropped.
    orphans: HashSet<u32>,
    ended: bool,
}

impl Link {
    fn state(&self) -> MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, frame: &Frame) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        encode_frame(&mut out, frame.kind, frame.id, &frame.payload);
        self.writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(&out)
    }

    /// End the agent (it kills everything it started).
    fn close(&self) {
        let _ = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .shutdown(Shutdown::Both);
    }
}

/// The relay's shared state.
#[derive(Debug, Default)]
struct Pool {
    idle: Vec<(Arc<Link>, Vec<u8>)>,
    opening: bool,
    clients: usize,
    last_seen: Option<Instant>,
    failures: u32,
    gone: Option<String>,
}

#[derive(Debug)]
struct Relay {
    engine: Engine,
    id: String,
    socket: PathBuf,
    pool: Mutex<Pool>,
    changed: Condvar,
}

impl Relay {
    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exit the process: agent connections close with it, and every agent ends.
    fn exit(&self, code: i32) -> ! {
        let _ = std::fs::remove_file(&self.socket);
        std::process::exit(code)
    }
}

/// `pocketdock __agent-relay ENGINE_SOCKET CONTAINER_ID`: serve until idle, the container is
/// gone, or a client says to quit. Returns the exit code.
pub fn serve(engine_socket: &str, id: &str) -> i32 {
    // A session of its own: no terminal's hangup or interrupt reaches it.
    let _ = rustix::process::setsid();
    let Ok(socket) = socket_path(id) else {
        return 1;
    };
    let Some(listener) = bind(&socket) else {
        return 0;
    };
    let idle = std::env::var("POCKETDOCK_RELAY_IDLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_IDLE, Duration::from_secs);
    let relay = Arc::new(Relay {
        engine: Engine::new(engine_socket),
        id: id.to_string(),
        socket,
        pool: Mutex::new(Pool {
            last_seen: Some(Instant::now()),
            ..Pool::default()
        }),
        changed: Condvar::new(),
    });
    let opener = Arc::clone(&relay);
    let _ = thread::Builder::new()
        .name("relay-open".into())
        .spawn(move || keep_a_spare(&opener));
    let watcher = Arc::clone(&relay);
    let _ = thread::Builder::new()
        .name("relay-watch".into())
        .spawn(move || watch(&watcher, idle));
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let ours = rustix::net::sockopt::socket_peercred(&client)
            .is_ok_and(|p| p.uid.as_raw() == my_uid());
        if !ours {
            continue;
        }
        let relay = Arc::clone(&relay);
        let _ = thread::Builder::new()
            .name("relay-client".into())
            .spawn(move || serve_client(&relay, client));
    }
    0
}

/// Bind the socket; `None` when another relay already serves it.
fn bind(socket: &Path) -> Option<UnixListener> {
    if UnixStream::connect(socket).is_ok() {
        return None;
    }
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket).ok()?;
    let _ = std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600));
    Some(listener)
}

/// Keep one idle agent connection ready; give up when opens keep failing.
fn keep_a_spare(relay: &Arc<Relay>) {
    loop {
        {
            let mut pool = relay.pool();
            while !pool.idle.is_empty() {
                pool = relay
                    .changed
                    .wait(pool)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            pool.opening = true;
        }
        let opened = relay.engine.open_agent_link(&relay.id);
        let mut pool = relay.pool();
        pool.opening = false;
        match opened {
            Ok(link) => {
                pool.failures = 0;
                let _ = std::fs::remove_file(failure_note(&relay.socket));
                let hello = {
                    let mut out = BytesMut::new();
                    let h = link.hello();
                    encode_frame(&mut out, h.kind, h.id, &h.payload);
                    out.to_vec()
                };
                if let Some(shared) = start_reader(relay, link) {
                    pool.idle.push((shared, hello));
                }
            }
            Err(e) => {
                pool.failures += 1;
                if pool.failures >= MAX_FAILURES {
                    // Later calls read why and do not start another relay for a while.
                    let _ = std::fs::write(failure_note(&relay.socket), e.to_string());
                    pool.gone = Some(e.to_string());
                    drop(pool);
                    relay.exit(1);
                }
            }
        }
        relay.changed.notify_all();
    }
}

/// The reader of one agent connection: its frames go to the client it serves.
fn start_reader(relay: &Arc<Relay>, mut link: AgentLink) -> Option<Arc<Link>> {
    let shared = Arc::new(Link {
        writer: Mutex::new(link.writer().ok()?),
        state: Mutex::new(LinkState::default()),
    });
    let mine = Arc::clone(&shared);
    let relay = Arc::clone(relay);
    thread::Builder::new()
        .name("relay-agent".into())
        .spawn(move || {
            while let Ok(Some(frame)) = link.next_frame() {
                let mut st = mine.state();
                let ends = matches!(frame.kind, Kind::Exit | Kind::SpawnFailed);
                if st.orphans.contains(&frame.id) {
                    if ends {
                        st.orphans.remove(&frame.id);
                    }
                    continue;
                }
                if ends {
                    st.live.remove(&frame.id);
                }
                let mut out = BytesMut::new();
                encode_frame(&mut out, frame.kind, frame.id, &frame.payload);
                if let Some(client) = st.client.as_mut() {
                    // A client that stopped reading loses its connection, not the others'.
                    if client.write_all(&out).is_err() {
                        let _ = client.shutdown(Shutdown::Both);
                    }
                }
            }
            let mut st = mine.state();
            st.ended = true;
            if let Some(client) = st.client.take() {
                let _ = client.shutdown(Shutdown::Both);
            }
            drop(st);
            let mut pool = relay.pool();
            pool.idle.retain(|(l, _)| !Arc::ptr_eq(l, &mine));
            relay.changed.notify_all();
        })
        .ok()?;
    Some(shared)
}

/// Exit when idle too long, or when the container no longer runs.
fn watch(relay: &Arc<Relay>, idle: Duration) {
    loop {
        thread::sleep(WATCH_EVERY);
        let quiet = {
            let pool = relay.pool();
            pool.clients == 0 && pool.last_seen.is_some_and(|t| t.elapsed() >= idle)
        };
        if quiet {
            relay.exit(0);
        }
        match relay.engine.inspect_container(&relay.id) {
            Ok(i) if i.state.running => {}
            _ => relay.exit(0),
        }
    }
}

/// One client: its first byte says what it wants; an agent connection is handed to it until
/// it goes away, then kept for the next client.
fn serve_client(relay: &Arc<Relay>, mut client: UnixStream) {
    let mut first = [0u8; 1];
    if client.read_exact(&mut first).is_err() {
        return;
    }
    match first[0] {
        QUIT => relay.exit(0),
        WANT_AGENT => {}
        _ => return,
    }
    let Some((link, hello)) = hand_out(relay) else {
        return;
    };
    let Ok(sink) = client.try_clone() else {
        give_back(relay, link, hello);
        return;
    };
    {
        let mut st = link.state();
        let mut sink = sink;
        if sink.write_all(&hello).is_err() {
            drop(st);
            give_back(relay, link, hello);
            return;
        }
        st.client = Some(sink);
    }
    let clean = pass_on(&link, &mut client);
    let mut st = link.state();
    st.client = None;
    let left: Vec<u32> = st.live.drain().collect();
    for id in &left {
        st.orphans.insert(*id);
    }
    drop(st);
    for id in left {
        let kill = Frame {
            kind: Kind::Signal,
            id,
            payload: SIGKILL.to_be_bytes().to_vec().into(),
        };
        let _ = link.write(&kill);
    }
    if clean {
        give_back(relay, link, hello);
    } else {
        link.close();
        finish_client(relay);
    }
}

/// The client's frames to the agent, whole, noting the commands it starts. `false` when the
/// client sent what is not frames (the connection is then closed, not reused).
fn pass_on(link: &Link, client: &mut UnixStream) -> bool {
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if frame.kind == Kind::Spawn {
                        link.state().live.insert(frame.id);
                    }
                    if link.write(&frame).is_err() {
                        return false;
                    }
                }
                Ok(None) => break,
                Err(_) => return false,
            }
        }
    }
}

/// An idle agent connection for a new client, opened when none is (at most
/// [`HANDOUT_TIMEOUT`]).
fn hand_out(relay: &Arc<Relay>) -> Option<(Arc<Link>, Vec<u8>)> {
    let give_up = Instant::now() + HANDOUT_TIMEOUT;
    let mut pool = relay.pool();
    pool.clients += 1;
    loop {
        while let Some((link, hello)) = pool.idle.pop() {
            if !link.state().ended {
                relay.changed.notify_all();
                return Some((link, hello));
            }
        }
        let now = Instant::now();
        if now >= give_up || pool.gone.is_some() {
            pool.clients -= 1;
            pool.last_seen = Some(now);
            return None;
        }
        relay.changed.notify_all();
        pool = relay
            .changed
            .wait_timeout(pool, give_up - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// A client is done with `link`: keep it for the next one unless it ended.
fn give_back(relay: &Arc<Relay>, link: Arc<Link>, hello: Vec<u8>) {
    if !link.state().ended {
        relay.pool().idle.push((link, hello));
    }
    finish_client(relay);
}

fn finish_client(relay: &Arc<Relay>) {
    let mut pool = relay.pool();
    pool.clients = pool.clients.saturating_sub(1);
    pool.last_seen = Some(Instant::now());
    relay.changed.notify_all();
}
