//! Podman's archive endpoint reads a `GET` path as a glob pattern: which paths need care, how
//! they are escaped, and the helper argvs of the temporary symlink that reaches a path with `*`.

/// Does `path` contain characters Podman's archive endpoint reads as glob syntax in a `GET`
/// (`*`, `?`, `[`, `\`)? Podman 4.3 matches the path as a pattern (`/tmp/?` returns every
/// one-character name); Docker takes it literally.
pub fn has_glob_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// `path` with `\`, `?` and `[` escaped by a backslash, for a Podman `GET`. `*` is left alone:
/// Podman 4.3 answers 404 for any path containing it, escaped or not, so the adapter reads such
/// a path through a temporary symlink ([`link_command`]).
pub fn escape_glob(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for c in path.chars() {
        if matches!(c, '\\' | '?' | '[') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The argv creating the symlink `link` to `target` (both as plain arguments).
pub fn link_command(target: &str, link: &str) -> Vec<String> {
    vec![
        "ln".into(),
        "-s".into(),
        "--".into(),
        target.into(),
        link.into(),
    ]
}

/// The argv removing `link`.
pub fn unlink_command(link: &str) -> Vec<String> {
    vec!["rm".into(), "-f".into(), "--".into(), link.into()]
}
