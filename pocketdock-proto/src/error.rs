//! The one error type of pocketdock, shared by every adapter.
//!
//! It carries the Python pocketdock's hierarchy (socket, container not found / not running / gone,
//! image not found, session closed, project not initialized) plus typed protocol failures, invalid
//! input that names the offending field, and deadlines.

use std::fmt;

/// Result alias used throughout pocketdock.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in pocketdock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine socket could not be connected to.
    #[error("Cannot connect to socket at {path}: {detail}")]
    SocketConnection {
        /// The socket path that was tried.
        path: String,
        /// What the operating system said.
        detail: String,
    },
    /// The connection broke or misbehaved while talking to the engine.
    #[error("Socket communication error: {0}")]
    SocketCommunication(String),
    /// No engine socket was found by auto-detection.
    #[error(
        "No container engine socket found. Is Podman or Docker running? \
         Set POCKETDOCK_SOCKET or start an engine (e.g. scripts/engines.sh up)"
    )]
    EngineNotFound,
    /// The engine sent bytes that do not follow the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The engine answered with an error status that has no more specific meaning.
    #[error("engine error during {op} (HTTP {status}): {message}")]
    Engine {
        /// The operation that failed (e.g. `create`).
        op: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// No container with this id or name exists.
    #[error("Container {0}: not found")]
    ContainerNotFound(String),
    /// The container exists but is not running.
    #[error("Container {0}: is not running")]
    ContainerNotRunning(String),
    /// The container disappeared while pocketdock was using it.
    #[error("Container {0}: was removed externally")]
    ContainerGone(String),
    /// A container with this name already exists.
    #[error("Container name {0:?} is already in use")]
    NameInUse(String),
    /// The image does not exist in the engine.
    #[error("Image not found: {0}")]
    ImageNotFound(String),
    /// A path inside the container does not exist.
    #[error("path not found in container: {0}")]
    PathNotFound(String),
    /// A host path does not exist or cannot be used.
    #[error("host path {path}: {detail}")]
    HostPath {
        /// The host path.
        path: String,
        /// Why it cannot be used.
        detail: String,
    },
    /// The session was closed; no more commands can be sent.
    #[error("session is closed")]
    SessionClosed,
    /// No `.pocketdock/` project was found.
    #[error("No .pocketdock/ project directory found. Run `pocketdock init` first.")]
    ProjectNotInitialized,
    /// An argument was refused before any engine call.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field or parameter.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// An engine call did not finish before its deadline.
    #[error("{op} timed out after {after_ms} ms")]
    Timeout {
        /// The operation that timed out.
        op: &'static str,
        /// The deadline that passed, in milliseconds.
        after_ms: u64,
    },
    /// An image build, load or similar stream reported an error in-band.
    #[error("{op} failed: {message}")]
    StreamFailed {
        /// The operation (`build`, `load`, ...).
        op: &'static str,
        /// The engine's message.
        message: String,
    },
    /// A tar archive was malformed or unsafe to extract.
    #[error("archive error: {0}")]
    Archive(String),
    /// A project or configuration file could not be read or written.
    #[error("config error in {path}: {detail}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A host I/O operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The in-sandbox agent could not be used, failed, or went away; the command it carried
    /// did not complete.
    #[error("sandbox agent: {0}")]
    Agent(String),
    /// An engine address that does not parse (`unix://`, `tcp://`, `ssh://`, or a path).
    #[error("invalid engine address {address:?}: {reason}")]
    EngineAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A remote engine (tcp, TLS or ssh) was refused or could not be reached safely: the
    /// cause says which rule or which check failed.
    #[error("engine at {address}: {cause}")]
    RemoteEngine {
        /// The engine's address.
        address: String,
        /// Why it was refused.
        cause: RemoteCause,
    },
    /// A limit asked for at create is not in force in the sandbox (the engine dropped it, or
    /// warned that it would): the container was removed again. `limit` names the spec field
    /// (`mem_limit`, `swap`, `pids_limit`, `cpu_percent`, `cap_drop`, `no_new_privileges`,
    /// `network`, `ports`); `detail` lists every limit found missing.
    #[error("limit not enforced: {limit}: {detail}")]
    LimitNotEnforced {
        /// The first limit found missing.
        limit: String,
        /// What was asked for and found, for each missing limit.
        detail: String,
    },
    /// The caller used pocketdock out of order (e.g. drove an operation again after it had
    /// finished): a bug in the calling code, not a failure of the engine or the socket.
    #[error("invalid use: {0}")]
    InvalidUse(&'static str),
}

impl Error {
    /// An operation polled again after it gave its result: the driver's bug, never the engine's.
    pub fn polled_after_completion() -> Self {
        Self::InvalidUse("an operation was polled after it completed")
    }

    /// A copy of this error for a second reader of a stored outcome (errors are not `Clone`
    /// because of [`Error::Io`]): the container variants keep their type, everything else keeps
    /// its message as [`Error::SocketCommunication`].
    pub fn duplicate(&self) -> Self {
        match self {
            Self::ContainerNotFound(id) => Self::ContainerNotFound(id.clone()),
            Self::ContainerNotRunning(id) => Self::ContainerNotRunning(id.clone()),
            Self::ContainerGone(id) => Self::ContainerGone(id.clone()),
            Self::SessionClosed => Self::SessionClosed,
            Self::InvalidUse(what) => Self::InvalidUse(what),
            Self::Timeout { op, after_ms } => Self::Timeout {
                op,
                after_ms: *after_ms,
            },
            Self::Protocol(p) => Self::Protocol(p.clone()),
            Self::EngineAddress { address, reason } => Self::EngineAddress {
                address: address.clone(),
                reason: reason.clone(),
            },
            Self::RemoteEngine { address, cause } => Self::RemoteEngine {
                address: address.clone(),
                cause: cause.clone(),
            },
            other => Self::SocketCommunication(other.to_string()),
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl fmt::Display) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.to_string(),
        }
    }
}

/// Why a remote engine was refused: each names its cause, so a user can fix the right thing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteCause {
    /// Plain tcp carries the engine's root-equivalent API unauthenticated: only loopback may.
    #[error(
        "plain tcp is allowed only to a loopback address; use TLS (DOCKER_TLS_VERIFY=1 and \
         DOCKER_CERT_PATH, or explicit certificate files) or ssh://"
    )]
    PlainTcpNotLoopback,
    /// A certificate, key or CA file could not be read or holds nothing usable.
    #[error("TLS file {path}: {detail}")]
    TlsFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The engine's certificate is not signed by the configured CA, or does not name the host.
    #[error("the engine's certificate is not trusted by the CA in {ca}: {detail}")]
    TlsUntrusted {
        /// The CA file the certificate was checked against.
        ca: String,
        /// What rustls said.
        detail: String,
    },
    /// The engine asked for a client certificate and none is configured.
    #[error(
        "the engine requires a client certificate and none is configured \
         (cert.pem and key.pem beside the CA, or explicit files)"
    )]
    TlsClientCertificateMissing,
    /// The engine refused the client certificate, or the handshake failed otherwise.
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(String),
    /// ssh refused the engine's host key (unknown or changed): ssh's own message.
    #[error("ssh host key verification failed: {0}")]
    SshHostKey(String),
    /// ssh could not log in or forward the engine's socket: ssh's own message.
    #[error("ssh failed: {0}")]
    Ssh(String),
}

/// Bytes from the engine that break the protocol. Never a panic, always one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The response head could not be parsed.
    #[error("malformed response head: {0}")]
    MalformedHead(String),
    /// The response head is larger than the limit.
    #[error("response head exceeds {0} bytes")]
    HeadTooLarge(usize),
    /// A header value is invalid (e.g. a non-numeric Content-Length).
    #[error("invalid header {name}: {detail}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A chunked body is malformed.
    #[error("malformed chunked body: {0}")]
    Chunked(String),
    /// The connection closed before the body was complete.
    #[error("connection closed before the body was complete ({0})")]
    TruncatedBody(String),
    /// The connection closed before any response.
    #[error("connection closed before a response was received")]
    EmptyResponse,
    /// The connection closed in the middle of a multiplexed frame.
    #[error("stream ended inside a frame header ({got} of 8 bytes)")]
    TruncatedFrameHeader {
        /// Header bytes received.
        got: usize,
    },
    /// The connection closed in the middle of a frame's payload.
    #[error("stream ended inside a frame payload ({missing} bytes missing)")]
    TruncatedFramePayload {
        /// Payload bytes that never arrived.
        missing: u32,
    },
    /// A multiplexed frame had a stream type that is not 0-3.
    #[error("unknown stream type {0} in multiplexed frame")]
    UnknownStreamType(u8),
    /// A JSON body could not be decoded.
    #[error("invalid JSON from engine ({context}): {detail}")]
    Json {
        /// What was being decoded.
        context: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// A body exceeded the size pocketdock accepts for it.
    #[error("response body exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// The response status is not what the operation can accept.
    #[error("unexpected HTTP status {0}")]
    UnexpectedStatus(u16),
    /// The in-sandbox agent sent a frame that cannot be decoded.
    #[error("agent frame: {0}")]
    AgentFrame(#[from] crate::agent::FrameError),
}
