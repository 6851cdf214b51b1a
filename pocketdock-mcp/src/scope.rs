//! One MCP session's view of the server: its id, the full outputs it can page through, and
//! the end of the session (its sandboxes are removed when the last handle goes).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::budget::OutputStore;
use crate::registry::{InUse, Registry};
use crate::tools::ToolError;

/// A session: every tool call of one MCP session goes through one of these, and sees only
/// the sandboxes and outputs made through it.
pub struct Scope {
    /// The session's id in the registry.
    pub id: u64,
    /// The server's sandboxes.
    pub registry: Arc<Registry>,
    outputs: Mutex<OutputStore>,
}

impl Scope {
    /// A new session of `registry`.
    pub fn new(registry: Arc<Registry>) -> Arc<Self> {
        let limit = registry.opts.output_store;
        Arc::new(Self {
            id: registry.new_scope(),
            registry,
            outputs: Mutex::new(OutputStore::new(limit)),
        })
    }

    /// This session's sandbox `name`, marked in use.
    pub fn sandbox(&self, name: &str) -> Result<InUse, ToolError> {
        self.registry.get(self.id, name)
    }

    /// The session's stored full outputs.
    pub fn outputs(&self) -> MutexGuard<'_, OutputStore> {
        self.outputs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.registry.end_scope(self.id);
    }
}
