//! Whether a sandbox's commands may go through the agent: the caller's choice, and what the
//! choice and the agent's state say about the path a command takes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::Error;

use super::client::AgentStatus;

/// Whether a sandbox's commands go through the in-sandbox agent.
///
/// The agent saves an engine exec per command (tens of milliseconds) but costs one copy and
/// one engine exec to start, so the default starts it only once a sandbox has run a command,
/// in the background, and never makes a command wait for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentMode {
    /// Started in the background after the handle's first command has finished on the engine
    /// path; commands take the engine path until it says hello, and for good when it cannot
    /// run here (the reason is in the handle's agent status).
    #[default]
    Auto,
    /// Started when the sandbox is created, before the create returns: a sandbox whose agent
    /// cannot start is an error (and an ephemeral one is removed again).
    On,
    /// Never started unless the caller asks (`start_agent`): every command takes the engine
    /// path.
    Off,
}

impl AgentMode {
    /// The word for it: `auto`, `on` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::On => "on",
            Self::Off => "off",
        }
    }
}

impl fmt::Display for AgentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgentMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => Err(Error::invalid(
                "agent",
                format!("{s:?} is not one of auto, on, off"),
            )),
        }
    }
}

/// The reason recorded for a handle whose caller turned the agent off.
pub const TURNED_OFF: &str = "turned off for this sandbox (agent mode off)";

/// Which path a sandbox's commands take and why, as `info` and the CLI report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandPath {
    /// `agent` or `engine`.
    pub path: String,
    /// Why: the agent's version and pid when it is up; otherwise why commands take the engine
    /// path (not started yet, starting, turned off, no binary, another architecture, the start
    /// or the connection failed, and how).
    pub reason: String,
}

impl CommandPath {
    /// Commands go through the agent.
    pub fn agent(reason: impl Into<String>) -> Self {
        Self {
            path: "agent".into(),
            reason: reason.into(),
        }
    }

    /// Commands take the engine path, because `reason`.
    pub fn engine(reason: impl Into<String>) -> Self {
        Self {
            path: "engine".into(),
            reason: reason.into(),
        }
    }

    /// Whether commands go through the agent.
    pub fn is_agent(&self) -> bool {
        self.path == "agent"
    }
}

impl fmt::Display for CommandPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} path ({})", self.path, self.reason)
    }
}

impl AgentStatus {
    /// The path this status gives a handle's commands, and why.
    pub fn command_path(&self) -> CommandPath {
        match self {
            Self::Up { version, pid } => {
                CommandPath::agent(format!("agent {version} up, pid {pid} in the sandbox"))
            }
            Self::Off => {
                CommandPath::engine("the agent is not started (it starts after the first command)")
            }
            Self::Starting => CommandPath::engine("the agent is starting in the background"),
            Self::Unavailable(why) => CommandPath::engine(format!("no agent: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_and_statuses_name_their_path() {
        for m in [AgentMode::Auto, AgentMode::On, AgentMode::Off] {
            assert_eq!(m.as_str().parse::<AgentMode>().ok(), Some(m));
        }
        assert_eq!("OFF".parse::<AgentMode>().ok(), Some(AgentMode::Off));
        assert!("sometimes".parse::<AgentMode>().is_err());
        assert_eq!(AgentMode::default(), AgentMode::Auto);
        let up = AgentStatus::Up {
            version: "0.1.0".into(),
            pid: 7,
        };
        assert!(up.command_path().is_agent());
        assert!(up.command_path().reason.contains("pid 7"));
        let off = AgentStatus::Unavailable(TURNED_OFF.into()).command_path();
        assert_eq!(off.path, "engine");
        assert!(off.to_string().contains("turned off"), "{off}");
        assert!(!AgentStatus::Starting.command_path().is_agent());
        assert_eq!(
            serde_json::to_value(off).ok(),
            Some(
                serde_json::json!({"path": "engine", "reason": format!("no agent: {TURNED_OFF}")})
            )
        );
    }
}
