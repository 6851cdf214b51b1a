//! Where a `push` goes, with `docker cp` semantics: which directory the archive is extracted
//! into (created from the archive when it is missing), and under which name.

use crate::error::{Error, Result};

use super::paths::{check_path, split_path};
use super::prepare::DestKind;

/// Where a push extracts its archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPlan {
    /// The container directory the archive is extracted into (the `path` of the upload).
    pub extract_dir: String,
    /// The name of the archive's top entry; `None` when the contents of a source directory are
    /// extracted straight into `extract_dir` (no top entry).
    pub root_name: Option<String>,
}

fn plain_name(field: &'static str, name: &str) -> Result<String> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::invalid(
            field,
            format!("{name:?} cannot name a file or directory"),
        ));
    }
    Ok(name.to_string())
}

/// Plan a push with `docker cp` semantics. `src_name` is the host source's last component;
/// `contents_only` is a source directory given as `dir/.` (its contents are copied).
///
/// | destination | source file | source directory |
/// |---|---|---|
/// | an existing directory | copied into it under `src_name` | copied into it under `src_name` (`dir/.`: merged into it) |
/// | missing, ends with `/` | created, file copied into it | created, directory copied into it |
/// | missing | the new file | the new directory (with the source's contents) |
/// | a file or symlink | replaced | refused |
pub fn plan_push(
    src_is_dir: bool,
    src_name: &str,
    contents_only: bool,
    dest: &str,
    dest_kind: DestKind,
) -> Result<PushPlan> {
    check_path("dest", dest)?;
    let contents_only = contents_only && src_is_dir;
    let into = |dir: &str| -> Result<PushPlan> {
        Ok(PushPlan {
            extract_dir: dir.to_string(),
            root_name: if contents_only {
                None
            } else {
                Some(plain_name("src", src_name)?)
            },
        })
    };
    let as_new = || -> Result<PushPlan> {
        let (parent, name) =
            split_path(dest).ok_or_else(|| Error::invalid("dest", "\"/\" cannot be replaced"))?;
        Ok(PushPlan {
            extract_dir: parent,
            root_name: Some(plain_name("dest", &name)?),
        })
    };
    match dest_kind {
        DestKind::Dir => into(dest),
        DestKind::Missing if dest.ends_with('/') || contents_only => into(dest),
        DestKind::File { .. } | DestKind::Link if src_is_dir => Err(Error::invalid(
            "dest",
            format!("{dest:?} exists and is not a directory"),
        )),
        DestKind::Missing | DestKind::File { .. } | DestKind::Link => as_new(),
    }
}
