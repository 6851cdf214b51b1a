//! An agent connection handed to another process: the frames and the stdin of one agent exec,
//! for the CLI's per-container relay, which keeps agents open across CLI calls and passes
//! their frames to each call (that call's handle then speaks the protocol through
//! [`Container::connect_agent`](crate::Container::connect_agent)).

use std::os::unix::net::UnixStream;

use bytes::Bytes;
use pocketdock_host::agent_binary::{agent_binary, check_arch, AgentBinary};
use pocketdock_proto::agent::{agent_exec, Frame, FrameDecoder, Hello, Kind, AGENT_PROTOCOL};
use pocketdock_proto::demux::StreamKind;
use pocketdock_proto::session::attach::{AttachConfig, AttachEvent, AttachOp};
use pocketdock_proto::{Error, Result};

use crate::agent::copy_in;
use crate::driver::{Driver, Progress};
use crate::engine::{nonce, Engine};
use crate::session::attach;

/// One agent exec's frames and stdin, for a process that relays them to other processes (the
/// CLI's per-container relay, which outlives each CLI call). Made by
/// [`Engine::open_agent_link`].
pub struct AgentLink {
    driver: Driver<AttachOp>,
    writer: UnixStream,
    decoder: FrameDecoder,
    hello: Frame,
    /// Until the hello: the start of what the exec printed, to say why it did not start.
    said: Vec<u8>,
}

impl std::fmt::Debug for AgentLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentLink")
            .field("hello", &self.hello)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Start an agent in container `id` (copying it in when this build is not there yet) and
    /// wait for its hello, for a relay: the caller reads its frames with
    /// [`AgentLink::next_frame`] and writes frames to [`AgentLink::writer`]. Closing the link
    /// ends the agent and every command it started. `Err` says why the agent cannot run here.
    pub fn open_agent_link(&self, id: &str) -> Result<AgentLink> {
        let binary: &AgentBinary = agent_binary().map_err(|why| Error::Agent(why.to_string()))?;
        let version = self
            .version()
            .map_err(|e| Error::Agent(format!("the engine's version could not be read: {e}")))?;
        check_arch(&version.arch).map_err(Error::Agent)?;
        if let Ok(link) = AgentLink::start(self, id, &binary.sandbox_path) {
            return Ok(link);
        }
        copy_in(self, id, binary)
            .map_err(|e| Error::Agent(format!("copying the agent into the sandbox failed: {e}")))?;
        AgentLink::start(self, id, &binary.sandbox_path)
    }
}

impl AgentLink {
    fn start(engine: &Engine, id: &str, path: &str) -> Result<Self> {
        let (driver, _exec_id, conn) =
            attach(engine, AttachConfig::new(id, agent_exec(path), nonce()))?;
        let mut link = Self {
            driver,
            writer: conn,
            decoder: FrameDecoder::new(),
            hello: Frame {
                kind: Kind::Hello,
                id: 0,
                payload: Bytes::new(),
            },
            said: Vec::new(),
        };
        let first = link.next_frame();
        let said = String::from_utf8_lossy(&link.said).trim().to_string();
        link.said = Vec::new();
        let first = first.map_err(|e| {
            Error::Agent(if said.is_empty() {
                e.to_string()
            } else {
                format!("the agent did not start: {said}")
            })
        })?;
        match first {
            Some(f) if f.kind == Kind::Hello => {
                let hello: Hello = serde_json::from_slice(&f.payload)
                    .map_err(|e| Error::Agent(format!("the agent's hello: {e}")))?;
                if hello.protocol != AGENT_PROTOCOL {
                    return Err(Error::Agent(format!(
                        "the agent speaks protocol {}, not {AGENT_PROTOCOL}",
                        hello.protocol
                    )));
                }
                link.hello = f;
                Ok(link)
            }
            Some(f) => Err(Error::Agent(format!(
                "the agent began with {:?}, not its hello",
                f.kind
            ))),
            None if said.is_empty() => Err(Error::Agent(
                "the agent's exec ended before its hello".into(),
            )),
            None => Err(Error::Agent(format!(
                "the agent's exec ended before its hello: {said}"
            ))),
        }
    }

    /// The agent's hello frame, to greet each client of the link with.
    pub fn hello(&self) -> &Frame {
        &self.hello
    }

    /// The agent's next frame; `None` once its exec ended. Its stderr is dropped; a stream
    /// that is not frames is an error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(f)) => return Ok(Some(f)),
                Ok(None) => {}
                Err(e) => return Err(Error::Protocol(e.into())),
            }
            match self.driver.advance() {
                Progress::Event(AttachEvent::Output { stream, data }) => {
                    if self.hello.payload.is_empty() {
                        // Before the hello, what the exec prints may be the runtime's complaint.
                        let room = 512usize.saturating_sub(self.said.len());
                        self.said.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    if stream == StreamKind::Stdout {
                        self.decoder.feed_bytes(data);
                    }
                }
                Progress::Event(_) => {}
                Progress::Done(r) => return r.map(|()| None),
            }
        }
    }

    /// A second handle on the agent's stdin, to write frames to.
    pub fn writer(&self) -> Result<UnixStream> {
        self.writer.try_clone().map_err(Error::Io)
    }
}
