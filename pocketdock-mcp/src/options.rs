//! The server's settings, as the operator gave them on the command line: what every session's
//! tools may do and how much they may send back.

use std::path::PathBuf;
use std::time::Duration;

/// The limits and defaults every tool call works within.
#[derive(Debug, Clone)]
pub struct Options {
    /// Prefix of every container name the server creates (the rest is unique per server).
    pub name_prefix: String,
    /// Live sandboxes allowed at once, across every session of this server.
    pub max_sandboxes: usize,
    /// A sandbox no tool call touched for this long is removed (its `create_sandbox` may ask
    /// for another value, at most `max_idle_ttl`).
    pub idle_ttl: Duration,
    /// The longest idle TTL a `create_sandbox` may ask for.
    pub max_idle_ttl: Duration,
    /// Bytes of output one tool result may carry (stdout and stderr together, or one file's
    /// text); beyond it the head and the tail are kept and the rest is readable in pages.
    pub output_budget: usize,
    /// Bytes of output captured per command; a command printing more is stopped there.
    pub max_output: usize,
    /// Deadline of a command when the call names none.
    pub default_timeout: Duration,
    /// The longest deadline a call may ask for.
    pub max_timeout: Duration,
    /// Memory limit of a sandbox when the call names none.
    pub default_memory: String,
    /// Refuse `network: true` in `create_sandbox`.
    pub deny_network: bool,
    /// Host directories (canonical) whose contents sandboxes may mount; empty: no host path
    /// is reachable.
    pub host_dirs: Vec<PathBuf>,
    /// Bytes of full outputs kept per session for `read_output` (oldest dropped first).
    pub output_store: usize,
    /// Warm sandboxes of the default kind kept ready for `create_sandbox` (0: none).
    pub pool: usize,
}

impl Options {
    /// The deadline for a call asking for `seconds` (`None`: the default): more than zero and
    /// at most the maximum, or a message saying what is allowed.
    pub fn timeout(&self, seconds: Option<f64>) -> Result<Duration, String> {
        let Some(s) = seconds else {
            return Ok(self.default_timeout);
        };
        let max = self.max_timeout.as_secs_f64();
        if !s.is_finite() || s <= 0.0 || s > max {
            return Err(format!(
                "timeout_seconds must be more than 0 and at most {max} (got {s})"
            ));
        }
        Ok(Duration::from_secs_f64(s))
    }
}
