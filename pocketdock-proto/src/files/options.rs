//! Limits and deadline of one transfer ([`TransferOptions`]) and the defaults and bounds of every
//! file flow: caps, deadlines, helper output bounds, link hops and the upload chunk size.

use std::time::Duration;

use crate::error::{Error, Result};

/// Default cap of [`read_file`](TransferOptions::max_bytes): 64 MiB.
pub const DEFAULT_READ_LIMIT: u64 = 64 * 1024 * 1024;
/// Default cap of the file data one `pull` may write on the host: 1 GiB.
pub const DEFAULT_PULL_LIMIT: u64 = 1024 * 1024 * 1024;
/// Default cap of the number of entries one `pull` may create: one million.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;
/// Default deadline of one whole transfer (upload or download): 10 minutes.
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);
/// Deadline of the helper commands (the owner of uploads, `list`, the temporary links of a
/// Podman `GET`).
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(60);
/// Output cap of the owner helper and the temporary-link helpers.
pub const HELPER_MAX_OUTPUT: usize = 64 * 1024;
/// Output cap of the `list` helper: a listing larger than this is an error.
pub const LIST_MAX_OUTPUT: usize = 64 * 1024 * 1024;
/// Most symbolic links followed for the top path of `read_file` and `pull`.
pub const MAX_LINK_HOPS: usize = 16;
/// Size of the pieces an upload is fed in.
pub const UPLOAD_CHUNK: usize = 256 * 1024;

/// Limits and deadline of one transfer. `None` fields take the operation's default.
///
/// ```
/// use pocketdock_proto::files::TransferOptions;
/// let opts = TransferOptions::new().max_bytes(1 << 20).timeout(std::time::Duration::from_secs(5));
/// assert_eq!(opts.max_bytes_or(64), 1 << 20);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferOptions {
    /// Most bytes of file data accepted on the host (`read_file`: [`DEFAULT_READ_LIMIT`],
    /// `pull`: [`DEFAULT_PULL_LIMIT`]). Uploads ignore it.
    pub max_bytes: Option<u64>,
    /// Most archive entries a `pull` creates ([`DEFAULT_MAX_ENTRIES`]).
    pub max_entries: Option<u64>,
    /// Deadline of the whole transfer ([`DEFAULT_TRANSFER_TIMEOUT`]).
    pub timeout: Option<Duration>,
    /// No deadline at all (overrides `timeout`).
    pub no_timeout: bool,
    /// Told the archive bytes moved so far, after every piece sent or received by an upload
    /// (`push`, `write_file`) or a `pull` (for a progress display).
    pub on_progress: Option<TransferProgress>,
}

/// A callback told how many bytes a transfer has moved so far (see
/// [`TransferOptions::on_progress`]). Two are equal when they are the same callback.
#[derive(Clone)]
pub struct TransferProgress(std::sync::Arc<dyn Fn(u64) + Send + Sync>);

impl TransferProgress {
    /// Wrap `f`.
    pub fn new(f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }

    /// Tell the callback that `bytes` have moved so far.
    pub fn report(&self, bytes: u64) {
        (self.0)(bytes);
    }
}

impl std::fmt::Debug for TransferProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransferProgress(..)")
    }
}

impl PartialEq for TransferProgress {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TransferProgress {}

impl TransferOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the byte cap.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Set the entry cap.
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.max_entries = Some(entries);
        self
    }

    /// Set the deadline of the whole transfer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self.no_timeout = false;
        self
    }

    /// Remove the deadline.
    pub fn no_timeout(mut self) -> Self {
        self.no_timeout = true;
        self
    }

    /// Call `f` with the archive bytes moved so far after every piece of an upload or a `pull`.
    pub fn on_progress(mut self, f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(TransferProgress::new(f));
        self
    }

    /// Report `bytes` moved so far to the progress callback, if any.
    pub fn report(&self, bytes: u64) {
        if let Some(p) = &self.on_progress {
            p.report(bytes);
        }
    }

    /// The byte cap, or `default`.
    pub fn max_bytes_or(&self, default: u64) -> u64 {
        self.max_bytes.unwrap_or(default)
    }

    /// The entry cap, or [`DEFAULT_MAX_ENTRIES`].
    pub fn max_entries_or_default(&self) -> u64 {
        self.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES)
    }

    /// The deadline to give the transfer operation (`None`: none).
    pub fn deadline(&self) -> Option<Duration> {
        if self.no_timeout {
            None
        } else {
            Some(self.timeout.unwrap_or(DEFAULT_TRANSFER_TIMEOUT))
        }
    }

    /// Check the options: a zero deadline is refused.
    pub fn validate(&self) -> Result<()> {
        if !self.no_timeout && self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("timeout", "must be greater than zero"));
        }
        Ok(())
    }
}
