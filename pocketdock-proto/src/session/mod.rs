//! Sessions: a persistent shell in the container whose state (working directory, environment,
//! shell variables and functions) carries over from one command to the next.
//!
//! Everything a session's rules say lives here, once, for every adapter:
//!
//! * [`attach`]: the long-lived attached exec the shell runs in (also used for TTY programs),
//!   and the poll for its exit code;
//! * [`shell`]: the shell's argv, the per-command marker, and the script of the exec that
//!   interrupts a timed-out command or ends the session;
//! * [`scanner`]: the sentinel protocol, which bytes one command writes and how its end and
//!   exit code are found in the shell's output;
//! * [`machine`]: the client side as one state machine (turns, writes, deadlines, interrupt
//!   and grace, the end of the shell), driven by an adapter that only moves bytes, holds a lock
//!   or waker and keeps time;
//! * [`options`]: how a session starts and what it keeps; [`text`]: output as text for
//!   callbacks.

pub mod attach;
pub mod machine;
pub mod options;
pub mod scanner;
pub mod shell;
pub mod text;

pub use machine::{
    check_started, ended_shell, write_error, Closing, SessionCall, SessionMachine, Ticket,
    TicketStep, EXIT_WAIT, INTERRUPT_GRACE, START_TIMEOUT,
};
pub use options::{SessionOptions, DEFAULT_SESSION_BUFFER};
pub use scanner::{
    sentinel_token, CommandOutput, SessionConfig, SessionEvent, SessionScanner, MAX_ABANDONED,
    MAX_SENTINEL_LEN, MAX_TOKEN_LEN,
};
pub use text::{OutputDecoders, OutputFn};
