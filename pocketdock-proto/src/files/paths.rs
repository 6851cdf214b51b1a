//! Container path arithmetic of the file flows: checking a path argument, splitting it, resolving
//! a symbolic link's target against it, and what a `pull` source names.

use crate::api::archive::validate_path;
use crate::error::{Error, Result};

use super::options::MAX_LINK_HOPS;

/// Check a container path argument (absolute, no NUL).
pub fn check_path(field: &'static str, path: &str) -> Result<()> {
    validate_path(field, path)
}

/// Split a container path into its parent directory and last component, ignoring trailing
/// slashes: `/a/b/` → (`/a`, `b`), `/a` → (`/`, `a`). `None` for `/`.
pub fn split_path(path: &str) -> Option<(String, String)> {
    let trimmed = path.trim_end_matches('/');
    let (parent, name) = trimmed.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    let parent = parent.trim_end_matches('/');
    let parent = if parent.is_empty() { "/" } else { parent };
    Some((parent.to_string(), name.to_string()))
}

/// The path a symbolic link at `path` points to: `target` itself when absolute, else resolved
/// against the link's directory (the engine resolves `..` inside the container).
pub fn resolve_link(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let parent = split_path(path).map_or_else(|| "/".to_string(), |(p, _)| p);
    if parent == "/" {
        format!("/{target}")
    } else {
        format!("{parent}/{target}")
    }
}

/// What `pull` of `src` copies: `(Some(name), false)` for a path whose last component is
/// `name`; `(None, true)` for the contents of a directory (`dir/.`). A last component `..` is
/// refused, and so is `/` (the engines name its entries with absolute paths, which extraction
/// refuses).
pub fn pull_source(src: &str) -> Result<(Option<String>, bool)> {
    check_path("src", src)?;
    let trimmed = src.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "/." {
        return Err(Error::invalid(
            "src",
            "pulling the whole file system (\"/\") is not supported: pull its directories",
        ));
    }
    if trimmed.ends_with("/.") {
        return Ok((None, true));
    }
    match split_path(src) {
        Some((_, name)) if name == ".." => Err(Error::invalid(
            "src",
            format!("{src:?} ends with \"..\": give the directory's own path"),
        )),
        Some((_, name)) => Ok((Some(name), false)),
        None => Ok((None, true)),
    }
}

/// The error for a chain of more than [`MAX_LINK_HOPS`] symbolic links at `path`.
pub fn too_many_links(path: &str) -> Error {
    Error::invalid(
        "path",
        format!("more than {MAX_LINK_HOPS} symbolic links to follow at {path:?}"),
    )
}
