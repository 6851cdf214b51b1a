//! How the file flows run their helper commands (the owner of uploads, the temporary symlink of
//! a Podman `GET`, its removal): as the container's default user, with [`HELPER_TIMEOUT`] and
//! an output cap, never logged; and where their nonces come from.

use crate::error::Result;
use crate::op::sub_op::SubOp;
use crate::op::{ExecConfig, ExecOp};
use crate::run::{Command, RunOptions};

use super::options::HELPER_TIMEOUT;

/// Fresh nonces for the helper commands and temporary names of one flow, derived from one
/// random seed the caller passes in (the core has no source of randomness of its own).
#[derive(Debug, Clone)]
pub(crate) struct Nonces {
    seed: String,
    next: u64,
}

impl Nonces {
    /// Nonces derived from `seed` (unique per flow, e.g. 32 random hex digits).
    pub(crate) fn new(seed: &str) -> Self {
        Self {
            seed: seed.to_string(),
            next: 0,
        }
    }

    /// The next nonce: the seed and a counter.
    pub(crate) fn next(&mut self) -> String {
        self.next += 1;
        format!("{}{:x}", self.seed, self.next)
    }
}

/// The exec configuration of helper `argv` in `container`: run as the default user, within
/// [`HELPER_TIMEOUT`], its output captured and capped at `max_output` bytes, marked with `nonce`.
pub fn helper_config(
    container: &str,
    argv: Vec<String>,
    max_output: usize,
    nonce: &str,
) -> Result<ExecConfig> {
    let opts = RunOptions::new()
        .timeout(HELPER_TIMEOUT)
        .max_output(max_output);
    opts.exec_config(container, &Command::from(argv), None, nonce, true, false)
}

/// The exec of [`helper_config`], as a step of a flow.
pub(crate) fn helper_op<T>(
    container: &str,
    argv: Vec<String>,
    max_output: usize,
    nonce: &str,
) -> Result<SubOp<T>> {
    let config = helper_config(container, argv, max_output, nonce)?;
    Ok(SubOp::Exec(Box::new(ExecOp::new(config))))
}
