//! The profiles' build contexts compiled into the library (every file of `images/<profile>/`
//! plus the shared setup scripts), and the tar headers of a build context.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::profile::resolve_profile;
use crate::tar::{header_for_dir, header_for_file, padding, EntryMeta, END_OF_ARCHIVE};

/// One file of an embedded build context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextFile {
    /// Path inside the context, `/`-separated, relative (e.g. `demo/index.html`).
    pub path: &'static str,
    /// Permission bits.
    pub mode: u32,
    /// The file's bytes.
    pub data: &'static [u8],
}

/// The build context of a profile, compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedContext {
    /// Profile name (`minimal-python`, ...).
    pub profile: &'static str,
    /// The files, `Dockerfile` first.
    pub files: &'static [ContextFile],
}

macro_rules! ctx_file {
    ($profile:literal, $path:literal, $mode:literal) => {
        ContextFile {
            path: $path,
            mode: $mode,
            data: include_bytes!(concat!("../../images/", $profile, "/", $path)),
        }
    };
}

/// A shared setup script of `images/setup/`, at `setup/<name>` in every profile's context.
macro_rules! setup_file {
    ($name:literal) => {
        ContextFile {
            path: concat!("setup/", $name),
            mode: 0o755,
            data: include_bytes!(concat!("../../images/setup/", $name)),
        }
    };
}

/// A profile's context: the files of `images/<profile>/`, then the shared setup scripts of
/// `images/setup/` under `setup/`.
macro_rules! context {
    ($profile:literal, [$($path:literal: $mode:literal),* $(,)?]) => {
        EmbeddedContext {
            profile: $profile,
            files: &[
                $(ctx_file!($profile, $path, $mode),)*
                setup_file!("system-packages.sh"),
                setup_file!("python-packages.sh"),
                setup_file!("sandbox-user.sh"),
            ],
        }
    };
}

const CONTEXTS: [EmbeddedContext; 6] = [
    context!(
        "minimal-python",
        [
            "Dockerfile": 0o644,
            ".dockerignore": 0o644,
            "demo/README.md": 0o644,
            "demo/index.html": 0o644,
            "demo/serve.py": 0o644,
        ]
    ),
    context!("minimal-node", ["Dockerfile": 0o644]),
    context!("minimal-bun", ["Dockerfile": 0o644]),
    context!("dev", ["Dockerfile": 0o644]),
    context!("agent", ["Dockerfile": 0o644]),
    context!("embedded", ["Dockerfile": 0o644]),
];

/// The embedded build contexts of every profile, in the profiles' order.
pub fn embedded_contexts() -> &'static [EmbeddedContext] {
    &CONTEXTS
}

/// The embedded build context of profile `name`; an unknown name is [`Error::InvalidInput`]
/// listing the known profiles.
pub fn embedded_context(name: &str) -> Result<EmbeddedContext> {
    let profile = resolve_profile(name)?;
    CONTEXTS
        .iter()
        .find(|c| c.profile == profile.name)
        .copied()
        .ok_or_else(|| Error::invalid("profile", format!("{name:?} has no build context")))
}

/// Owner and time of a build-context entry: `0:0`, no owner names, the given mode and mtime.
pub fn context_meta(mode: u32, mtime: u64) -> EntryMeta {
    EntryMeta {
        mode: mode & 0o7777,
        mtime,
        uid: 0,
        gid: 0,
        uname: String::new(),
        gname: String::new(),
    }
}

impl EmbeddedContext {
    /// The `Dockerfile` of this context.
    pub fn dockerfile(&self) -> &'static str {
        self.files
            .iter()
            .find(|f| f.path == "Dockerfile")
            .and_then(|f| std::str::from_utf8(f.data).ok())
            .unwrap_or_default()
    }

    /// The context as a tar archive: parent directories (`0755`) before their files, mtime 0,
    /// owner `0:0`. Small (its size is fixed at compile time), so it is built in memory.
    pub fn tar(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut dirs: HashSet<&str> = HashSet::new();
        for f in self.files {
            let mut end = 0;
            while let Some(i) = f.path.get(end..).and_then(|rest| rest.find('/')) {
                end += i;
                let dir = f.path.get(..end).unwrap_or_default();
                if dirs.insert(dir) {
                    out.extend(header_for_dir(dir, &context_meta(0o755, 0))?);
                }
                end += 1;
            }
            out.extend(header_for_file(
                f.path,
                f.data.len() as u64,
                &context_meta(f.mode, 0),
            )?);
            out.extend_from_slice(f.data);
            out.extend_from_slice(padding(f.data.len() as u64));
        }
        out.extend_from_slice(&END_OF_ARCHIVE);
        Ok(out)
    }
}
