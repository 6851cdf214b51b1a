//! Image references: splitting `repository:tag` and checking both against the reference grammar.

use crate::error::{Error, Result};

/// Split an image reference into repository and tag, for `commit` (snapshot).
///
/// The tag is what follows the last `:` *after* the last `/`, so a registry port is never taken
/// for a tag: `"localhost:5000/x"` gives `("localhost:5000/x", "latest")`, `"a/b:c"` gives
/// `("a/b", "c")`, `"repo"` gives `("repo", "latest")`. Digest references (`name@sha256:...`)
/// are refused: a commit target needs a tag. The repository must follow the reference grammar
/// (lowercase path components, optional `host[:port]` first component) and the tag
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn split_image_ref(reference: &str) -> Result<(String, String)> {
    let bad = |why: String| Error::invalid("image", format!("{reference:?}: {why}"));
    if reference.is_empty() {
        return Err(bad("must not be empty".into()));
    }
    if reference.contains('@') {
        return Err(bad(
            "a digest reference cannot name a new image; use repository[:tag]".into(),
        ));
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match reference.get(slash..).and_then(|last| last.rfind(':')) {
        Some(colon) => {
            let at = slash + colon;
            (
                reference.get(..at).unwrap_or_default(),
                reference.get(at + 1..).unwrap_or_default(),
            )
        }
        None => (reference, "latest"),
    };
    check_repository(repo).map_err(bad)?;
    check_tag(tag).map_err(bad)?;
    Ok((repo.to_string(), tag.to_string()))
}

fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let mut bytes = tag.bytes();
    let ok_first = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok_first
        || tag.len() > 128
        || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(format!(
            "tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
        ));
    }
    Ok(())
}

fn check_repository(repo: &str) -> std::result::Result<(), String> {
    if repo.is_empty() {
        return Err("the repository name is empty".into());
    }
    if repo.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    let parts: Vec<&str> = repo.split('/').collect();
    let mut path = parts.as_slice();
    if let [first, rest @ ..] = parts.as_slice() {
        if !rest.is_empty() && (first.contains('.') || first.contains(':') || *first == "localhost")
        {
            check_domain(first)?;
            path = rest;
        }
    }
    for component in path {
        if !is_path_component(component) {
            return Err(format!(
                "repository component {component:?} must be lowercase letters and digits \
                 separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn check_domain(domain: &str) -> std::result::Result<(), String> {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(format!("registry {domain:?} is not a valid host[:port]"))
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !b.first().is_some_and(alnum) || !b.last().is_some_and(alnum) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b.get(i).is_some_and(alnum) {
            i += 1;
            continue;
        }
        let start = i;
        while b.get(i).is_some_and(|x| !alnum(x)) {
            i += 1;
        }
        let sep = c.get(start..i).unwrap_or_default();
        let ok =
            matches!(sep, "." | "_" | "__") || (!sep.is_empty() && sep.bytes().all(|x| x == b'-'));
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::test_support::field_of;

    #[test]
    fn image_refs() {
        let table: &[(&str, &str, &str)] = &[
            ("myrepo", "myrepo", "latest"),
            ("myrepo:v1", "myrepo", "v1"),
            ("repo:tag", "repo", "tag"),
            ("a/b:c", "a/b", "c"),
            ("registry.io/repo:v2", "registry.io/repo", "v2"),
            ("localhost:5000/x", "localhost:5000/x", "latest"),
            ("localhost:5000/x:v1", "localhost:5000/x", "v1"),
            ("localhost/x", "localhost/x", "latest"),
            (
                "my-registry.example.com:443/team/app:1.0_rc-2",
                "my-registry.example.com:443/team/app",
                "1.0_rc-2",
            ),
            ("a__b/c.d/e--f:_t", "a__b/c.d/e--f", "_t"),
            (
                "pocketdock/minimal-python",
                "pocketdock/minimal-python",
                "latest",
            ),
            ("Registry.IO/repo", "Registry.IO/repo", "latest"),
        ];
        for (s, repo, tag) in table {
            let (r, t) = split_image_ref(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!((r.as_str(), t.as_str()), (*repo, *tag), "{s}");
        }
        let long_tag = format!("r:{}", "t".repeat(129));
        for bad in [
            "",
            "repo:",
            ":tag",
            "Repo",
            "Repo:v1",
            "a b",
            "repo:bad tag",
            "repo:-x",
            "a//b",
            "/a",
            "a/",
            "a/b/",
            "a@sha256:abcd",
            "a:b@sha256:abcd",
            "re..po",
            "re-",
            "a___b",
            "localhost:/x",
            "localhost:99x/x",
            "-bad.io/x",
            "a:b:c",
            long_tag.as_str(),
        ] {
            assert_eq!(field_of(split_image_ref(bad)), "image", "{bad:?}");
        }
    }
}
