//! The pure part of file transfers between the host and a container: `write_file`,
//! `read_file`, `list_files`, `push` and `pull`.
//!
//! Adapters do the I/O (exec, archive upload and download, host files); this module decides:
//!
//! * which fixed commands run in the container ([`owner_command`], [`list_command`]). A path is
//!   never part of a shell string: each script is a constant and paths reach it as positional
//!   arguments (`sh -c SCRIPT pocketdock PATH ...`), so spaces, quotes and `$(...)` are data;
//! * what their output means ([`parse_owner`], [`parse_list`]) and what a path stat means
//!   ([`dest_kind`]);
//! * where an upload goes and under which name, with `docker cp` semantics ([`plan_push`]);
//! * what a downloaded archive may create on the host ([`Extractor`]): entries are re-based on
//!   the archive's top entry, checked with [`ExtractGuard`](crate::tar::ExtractGuard) (no `..`, no absolute paths, no
//!   symlink or hard link escapes, nothing written through an archive symlink), counted against
//!   a byte and an entry cap, and handed out one action at a time while the data streams.
//!
//! Ownership: uploads carry the uid and gid of the container's default user (read once per
//! container with `id -u` and `id -g` by [`owner_command`], then kept by the caller) in every
//! tar header, and the missing parents of a destination are directory entries of the archive
//! ([`parent_entries`]), so files pushed or written and the directories made for them are owned
//! by that user although the engine extracts as root, and no command runs before an upload.
//!
//! One idea per file: [`options`] (limits, deadlines, [`TransferOptions`]), [`paths`],
//! [`podman_glob`], [`prepare`] (the owner helper, what a stat says) and [`listing`], [`push_plan`],
//! [`write_archive`], [`modes`], [`extract`] ([`Extractor`]) and [`file_reader`].

pub mod extract;
pub mod fetch;
pub mod file_reader;
pub mod helper_exec;
pub mod listing;
pub mod modes;
pub mod options;
pub mod owner_lookup;
pub mod paths;
pub mod podman_glob;
pub mod prepare;
pub mod pull_op;
pub mod push_plan;
pub mod put_op;
pub mod read_op;
pub mod write_archive;

#[cfg(test)]
mod tests;

pub use extract::{ExtractAction, Extractor};
pub use fetch::LINK_PREFIX;
pub use file_reader::{FileRead, FileReader};
pub use helper_exec::helper_config;
pub use listing::{list_command, parse_list, LIST_SCRIPT};
pub use modes::{container_mode, host_mode};
pub use options::{
    TransferOptions, TransferProgress, DEFAULT_MAX_ENTRIES, DEFAULT_PULL_LIMIT, DEFAULT_READ_LIMIT,
    DEFAULT_TRANSFER_TIMEOUT, HELPER_MAX_OUTPUT, HELPER_TIMEOUT, LIST_MAX_OUTPUT, MAX_LINK_HOPS,
    UPLOAD_CHUNK,
};
pub use owner_lookup::{owner_from_passwd, user_spec, UserSpec, PASSWD_MAX_BYTES};
pub use paths::{check_path, pull_source, resolve_link, split_path, too_many_links};
pub use podman_glob::{escape_glob, has_glob_meta, link_command, unlink_command};
pub use prepare::{
    dest_kind, not_a_directory, owner_command, parse_owner, stat_says_missing, upload_error,
    DestKind, Owner, Prepared, OWNER_SCRIPT,
};
pub use pull_op::{PullEvent, PullOp};
pub use push_plan::{plan_push, PushPlan};
pub use put_op::{PutEvent, PutOp, FIRST_WRITE};
pub use read_op::ReadFileOp;
pub use write_archive::{
    archive_prefix, parent_entries, under_prefix, write_file_archive, write_target, NEW_DIR_MODE,
};
