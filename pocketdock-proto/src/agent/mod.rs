//! The in-sandbox agent's wire protocol: what the host and the agent say to each other over the
//! hijacked connection of the one engine exec that started the agent.
//!
//! The engine exec path costs a create, a hijacked start and an inspect per command, tens of
//! milliseconds on every engine. The agent is a small static program that pocketdock copies into
//! the sandbox and starts once; afterwards a command is one frame out and a few frames back on a
//! connection that is already open.
//!
//! Both directions carry [frames](frame): a length, a kind, a command id and a payload. The host
//! writes them raw to the exec's stdin; the agent writes them to its stdout, which the engine
//! multiplexes like any exec output, so the host first takes the engine's 8-byte stream frames
//! off and then decodes the agent's frames from the stdout bytes. The same bounded
//! [`FrameDecoder`] reads both sides: the agent's bytes are as untrusted as the engine's.
//!
//! | kind | direction | id | payload |
//! |---|---|---|---|
//! | [`Kind::Spawn`] | host → agent | new command id | JSON [`SpawnRequest`] |
//! | [`Kind::Stdin`] | host → agent | command | bytes for its stdin |
//! | [`Kind::StdinClose`] | host → agent | command | none |
//! | [`Kind::Signal`] | host → agent | command | 4-byte big-endian signal number, sent to the command's process group |
//! | [`Kind::Ping`] | host → agent | any | none; answered by [`Kind::Pong`] with the same id |
//! | [`Kind::Credit`] | host → agent | command | 4-byte big-endian count of output bytes the host took |
//! | [`Kind::Stat`] | host → agent | new request id | the path, UTF-8; answered by [`Kind::StatReply`] with the same id |
//! | [`Kind::Hello`] | agent → host | 0 | JSON [`Hello`], once, first |
//! | [`Kind::Started`] | agent → host | command | 4-byte big-endian pid |
//! | [`Kind::Stdout`] / [`Kind::Stderr`] | agent → host | command | output bytes, at most [`MAX_DATA`] |
//! | [`Kind::Exit`] | agent → host | command | JSON [`ExitReport`], after both pipes ended and the process was reaped |
//! | [`Kind::SpawnFailed`] | agent → host | command | UTF-8 reason; no [`Kind::Exit`] follows |
//! | [`Kind::Pong`] | agent → host | the ping's | none |
//! | [`Kind::StatReply`] | agent → host | the stat's | JSON [`StatReply`]: what `lstat` found, as the agent's user |
//!
//! A command runs in a process group of its own; when the connection closes (the host went away,
//! or dropped it on purpose) the agent kills every group it started and exits, since the engines
//! offer no way to kill an exec. The end of its stdin always means that: a host cannot
//! half-close to say "no more commands, let these finish".
//!
//! A few more rules both sides keep:
//! - [`Kind::Exit`] comes only after both of the command's pipes ended, so a background process
//!   that keeps them open delays it without limit, as on the engine path: the host's deadline
//!   signals the group.
//! - A spawn that cannot start (a missing program, a bad working directory or user) is a
//!   [`Kind::SpawnFailed`]; a frame that cannot be decoded, or a spawn whose JSON cannot be
//!   read, ends the connection (the agent kills every group and exits with status 2).
//! - A bare `uid` runs with the primary group the sandbox's `/etc/passwd` gives it, read as a
//!   plain file (the static agent has no name service), else the agent's own group.
//! - A command spawned with a [`SpawnRequest::window`] sends at most that many output bytes
//!   beyond what the host credited back; the host credits what its caller took (a stream's
//!   consumer), so a slow consumer holds the command, not the connection or the host's memory.
//!   A `SIGKILL` from the host lifts the window: a killed command's pipes are drained to their
//!   end whether or not anyone reads.
//! - The host writes stdin with no flow control: the agent queues at most 1 MiB per command and
//!   then stops reading frames until the command reads, so a command that never reads its
//!   stdin stalls the connection. A credit frame would lift that.

pub mod client;
pub mod frame;
pub mod messages;
pub mod mode;
mod outflow;

pub use client::{
    agent_exec, AgentClient, AgentPoll, AgentStatus, AgentStreamPoll, CommandId, StatId, KILL_GRACE,
};
pub use frame::{
    encode_frame, encode_header, Frame, FrameDecoder, FrameError, Kind, HEADER, MAX_DATA,
    MAX_PAYLOAD,
};
pub use messages::{ExitReport, Hello, SpawnRequest, StatReply, AGENT_PROTOCOL};
pub use mode::{AgentMode, CommandPath, TURNED_OFF};
pub use outflow::STREAM_WINDOW;
