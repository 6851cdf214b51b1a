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
//! | [`Kind::Hello`] | agent → host | 0 | JSON [`Hello`], once, first |
//! | [`Kind::Started`] | agent → host | command | 4-byte big-endian pid |
//! | [`Kind::Stdout`] / [`Kind::Stderr`] | agent → host | command | output bytes, at most [`MAX_DATA`] |
//! | [`Kind::Exit`] | agent → host | command | JSON [`ExitReport`], after both pipes ended and the process was reaped |
//! | [`Kind::SpawnFailed`] | agent → host | command | UTF-8 reason; no [`Kind::Exit`] follows |
//! | [`Kind::Pong`] | agent → host | the ping's | none |
//!
//! A command runs in a process group of its own; when the connection closes (the host went away,
//! or dropped it on purpose) the agent kills every group it started and exits, since the engines
//! offer no way to kill an exec.

pub mod client;
pub mod frame;
pub mod messages;

pub use client::{agent_exec, AgentClient, AgentPoll, AgentStatus, CommandId, KILL_GRACE};
pub use frame::{encode_frame, Frame, FrameDecoder, FrameError, Kind, MAX_DATA, MAX_PAYLOAD};
pub use messages::{ExitReport, Hello, SpawnRequest, AGENT_PROTOCOL};
