//! Percent-encoding of query strings (RFC 3986 unreserved characters kept, everything else encoded).

use std::fmt::Write as _;

/// Percent-encode `s` so that it is safe as a query value or path segment: only
/// `A-Z a-z 0-9 - . _ ~` are left as they are.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A query string under construction: `Query::new().push("all", "true").finish()`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    buf: String,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `key=value`, both percent-encoded.
    pub fn push(mut self, key: &str, value: impl AsRef<str>) -> Self {
        self.buf.push(if self.buf.is_empty() { '?' } else { '&' });
        self.buf.push_str(&percent_encode(key));
        self.buf.push('=');
        self.buf.push_str(&percent_encode(value.as_ref()));
        self
    }

    /// Append `key=value` when `value` is `Some`.
    pub fn push_opt(self, key: &str, value: Option<impl AsRef<str>>) -> Self {
        match value {
            Some(v) => self.push(key, v),
            None => self,
        }
    }

    /// The query string, starting with `?` unless empty.
    pub fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_unicode() {
        assert_eq!(percent_encode("a b/c?d=e&f"), "a%20b%2Fc%3Fd%3De%26f");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn builds_query() {
        let q = Query::new()
            .push("all", "true")
            .push("filters", r#"{"label":["a=b"]}"#)
            .push_opt("t", None::<&str>)
            .finish();
        assert_eq!(q, "?all=true&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
        assert_eq!(Query::new().finish(), "");
    }
}
