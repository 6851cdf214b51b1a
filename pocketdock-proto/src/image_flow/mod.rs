//! Image logic without I/O: the profiles' build contexts embedded in the binary, build-context
//! tar headers, archive compression (detected by content), a push-style gzip codec, the check
//! of an image archive (`docker save` format) while it streams, export plans, and the build,
//! import and export flows themselves. One idea per file: `embedded`, `compression`,
//! `archive_check`, `export_plan`, `outcomes`, and one file per flow.
//!
//! * **Embedded contexts.** Every file of `images/<profile>/` is compiled in
//!   ([`embedded_context`]), so the library and the CLI build a profile without the source tree,
//!   together with the setup scripts all profiles share (`images/setup/`, at `setup/` in each
//!   context: package installs and the sandbox user, written once).
//!   A unit test compares the embedded files with the folders, byte for byte and mode for mode.
//! * **Build contexts.** Entries are owned by `0:0` with empty owner names, as the docker CLI
//!   sends them; embedded files get mtime 0 so their tar is the same on every machine.
//! * **Compression.** [`Compression::detect`] looks at the first bytes, never at the file name:
//!   gzip (`1f 8b`) is decoded with [`GzipDecoder`]; bzip2, xz and zstd are refused with a clear
//!   message; anything else is read as a plain tar (and refused by the check if it is not one).
//! * **Archive check.** [`ArchiveCheck`] is fed the (decompressed) tar as it streams. It verifies
//!   every tar header and that the archive is complete, reads `manifest.json` (bounded) and, at
//!   the end, checks that every config and layer it names is in the archive. A load streams the
//!   archive through it and sends the end of the request body only once it passed; otherwise the
//!   connection is dropped mid-body and the engine loads nothing (see `pocketdock-blocking`'s
//!   `import_images`).
//! * **Export plans.** [`ExportPlan`] validates and de-duplicates the names of a multi-image save
//!   (`GET /images/get?names=a&names=b`: one archive holding every image, unlike the Python
//!   reference, which overwrote its output file once per image).
//! * **Flows.** [`BuildOp`] (with the retry policy of [`crate::build_retry`]), [`ImportOp`] and
//!   [`ExportOp`] run a build, a load and a save as single operations; the adapters drive them
//!   and feed them the host's bytes.

mod archive_check;
mod build_op;
mod compression;
mod embedded;
mod export_op;
mod export_plan;
mod import_op;
mod outcomes;
mod progress_stream;

#[cfg(test)]
mod tests;

pub use archive_check::{
    ArchiveCheck, ArchiveImage, ArchiveSummary, MAX_ARCHIVE_ENTRIES, MAX_MANIFEST,
};
pub use build_op::{profile_build, BuildEvent, BuildOp};
pub use compression::{gzip_for_path, Compression, GzipDecoder, GzipEncoder, MAGIC_LEN};
pub use embedded::{
    context_meta, embedded_context, embedded_contexts, ContextFile, EmbeddedContext,
};
pub use export_op::{ExportEvent, ExportOp};
pub use export_plan::ExportPlan;
pub use import_op::{ImportEvent, ImportOp};
pub use outcomes::{BuildContext, BuiltImage, ExportedArchive, BUILD_TIMEOUT, TRANSFER_TIMEOUT};
