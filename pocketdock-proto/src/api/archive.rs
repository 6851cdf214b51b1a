//! `/containers/{id}/archive`: upload a tar into a directory, download a path as a tar, stat a
//! path.
//!
//! Both engines describe the path of a `GET` or `HEAD` in the `X-Docker-Container-Path-Stat`
//! header: base64 of a JSON object `{name, size, mode, mtime, linkTarget}` where `mode` is a Go
//! `os.FileMode` (permission bits plus type bits such as `1 << 31` for a directory). A `404` means
//! the path does not exist ([`Error::PathNotFound`]) unless the engine says the container is
//! missing.

use serde::Deserialize;

use crate::api::stats::lenient;
use crate::api::{check as check_status, Subject};
use crate::error::{Error, ProtocolError, Result};
use crate::http::Response;
use crate::http::{percent_encode, Method, Query, Request, RequestBody, ResponseHead};

/// The header carrying the path stat.
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// MIME type of the tar bodies.
pub const TAR: &str = "application/x-tar";

fn target(container: &str, q: Query) -> String {
    format!(
        "/containers/{}/archive{}",
        percent_encode(container),
        q.finish()
    )
}

/// `PUT /containers/{id}/archive?path=DIR&noOverwriteDirNonDir=true` with a tar body the caller
/// streams after the head (`Some(length)`: `Content-Length`, `None`: chunked). `dir_path` must
/// be an existing directory in the container. For a small tar known in full, replace the body
/// with [`RequestBody::Full`] through [`Request::with_body`].
pub fn put(container: &str, dir_path: &str, length: Option<u64>) -> Request {
    let q = Query::new()
        .push("path", dir_path)
        .push("noOverwriteDirNonDir", "true");
    let body = match length {
        Some(length) => RequestBody::Sized {
            content_type: TAR,
            length,
        },
        None => RequestBody::Chunked { content_type: TAR },
    };
    Request::new(Method::Put, target(container, q)).with_body(body)
}

/// `GET /containers/{id}/archive?path=`: a tar of the file or directory at `path`.
pub fn get(container: &str, path: &str) -> Request {
    Request::new(
        Method::Get,
        target(container, Query::new().push("path", path)),
    )
}

/// `HEAD /containers/{id}/archive?path=`: only the path stat header.
pub fn head_stat(container: &str, path: &str) -> Request {
    Request::new(
        Method::Head,
        target(container, Query::new().push("path", path)),
    )
}

/// Check a path given for an archive call: absolute, no NUL, not empty.
pub fn validate_path(field: &'static str, path: &str) -> Result<()> {
    if path.is_empty() || !path.starts_with('/') || path.contains('\0') {
        return Err(Error::invalid(
            field,
            format!("{path:?} must be an absolute path in the container"),
        ));
    }
    Ok(())
}

/// Map an archive response status: `404` is [`Error::PathNotFound`] (or
/// [`Error::ContainerNotFound`] when the message says so; a `HEAD` has no message, so it is
/// always a path), other errors as [`crate::api::check`].
pub fn check(resp: &Response, op: &'static str, container: &str, path: &str) -> Result<()> {
    if resp.status() == 404 {
        let msg = resp.message().to_ascii_lowercase();
        return Err(if msg.contains("no such container") {
            Error::ContainerNotFound(container.to_string())
        } else {
            Error::PathNotFound(path.to_string())
        });
    }
    check_status(resp, op, Subject::Path(path))
}

/// What the engine says about a path in a container.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PathStat {
    /// Base name.
    #[serde(deserialize_with = "lenient")]
    pub name: String,
    /// Size in bytes.
    #[serde(deserialize_with = "lenient")]
    pub size: i64,
    /// Go `os.FileMode`: permissions in the low 9 bits, type and special bits above.
    #[serde(deserialize_with = "lenient")]
    pub mode: u32,
    /// Modification time (RFC 3339).
    #[serde(deserialize_with = "lenient")]
    pub mtime: String,
    /// Target of a symbolic link, else empty.
    #[serde(rename = "linkTarget", deserialize_with = "lenient")]
    pub link_target: String,
}

/// Go `os.ModeDir`.
const MODE_DIR: u32 = 1 << 31;
/// Go `os.ModeSymlink`.
const MODE_SYMLINK: u32 = 1 << 27;
/// Go type bits: dir, append, exclusive, temporary, symlink, device, named pipe, socket,
/// char device, irregular.
const MODE_TYPE: u32 =
    MODE_DIR | MODE_SYMLINK | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19);

impl PathStat {
    /// A directory?
    pub fn is_dir(&self) -> bool {
        self.mode & MODE_DIR != 0
    }

    /// A symbolic link?
    pub fn is_symlink(&self) -> bool {
        self.mode & MODE_SYMLINK != 0
    }

    /// A regular file (no type bit set)?
    pub fn is_file(&self) -> bool {
        self.mode & MODE_TYPE == 0
    }

    /// The permission bits (`0o755`, ...).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o777
    }

    /// Decode the header value (base64 of JSON).
    pub fn from_header(value: &str) -> Result<Self> {
        let bad = |detail: String| {
            Error::Protocol(ProtocolError::InvalidHeader {
                name: PATH_STAT_HEADER.to_ascii_lowercase(),
                detail,
            })
        };
        let json = decode_base64(value.trim()).ok_or_else(|| bad("not base64".into()))?;
        serde_json::from_slice::<serde_json::Value>(&json)
            .ok()
            .filter(serde_json::Value::is_object)
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| bad("not a JSON object".into()))
    }

    /// The stat in a response head, `None` when the header is absent.
    pub fn from_head(head: &ResponseHead) -> Result<Option<Self>> {
        head.header(PATH_STAT_HEADER)
            .map(Self::from_header)
            .transpose()
    }
}

/// Parse a [`head_stat`] (or [`get`]) response: status mapped by [`check`], then the header,
/// which must be present.
pub fn parse_stat(resp: &Response, container: &str, path: &str) -> Result<PathStat> {
    check(resp, "stat path", container, path)?;
    PathStat::from_head(&resp.head)?.ok_or_else(|| {
        Error::Protocol(ProtocolError::InvalidHeader {
            name: PATH_STAT_HEADER.to_ascii_lowercase(),
            detail: "missing".into(),
        })
    })
}

fn base64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decode base64 (standard or URL-safe alphabet, padding optional but only as the last one or
/// two characters of a length that is a multiple of 4). `None` when malformed.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let data = s.trim_end_matches('=');
    let pad = s.len() - data.len();
    if pad > 2 || (pad > 0 && s.len() % 4 != 0) || data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in data.bytes() {
        acc = (acc << 6) | base64_value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type ErrCase = (u16, &'static str, fn(&Error) -> bool);

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            head: ResponseHead::new(status, "", headers),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn request_targets() {
        let p = put("c1", "/home/sandbox/a b", None);
        assert_eq!(p.method, Method::Put);
        assert_eq!(
            p.target,
            "/containers/c1/archive?path=%2Fhome%2Fsandbox%2Fa%20b&noOverwriteDirNonDir=true"
        );
        assert_eq!(p.body, RequestBody::Chunked { content_type: TAR });
        assert_eq!(
            put("c1", "/tmp", Some(1024)).body,
            RequestBody::Sized {
                content_type: TAR,
                length: 1024
            }
        );
        let g = get("c1", "/etc/os-release");
        assert_eq!(
            (g.method, g.target.as_str()),
            (
                Method::Get,
                "/containers/c1/archive?path=%2Fetc%2Fos-release"
            )
        );
        let h = head_stat("my c", "/x&y=z");
        assert_eq!(
            (h.method, h.target.as_str()),
            (Method::Head, "/containers/my%20c/archive?path=%2Fx%26y%3Dz")
        );
    }

    #[test]
    fn paths_validated() {
        assert!(validate_path("path", "/tmp").is_ok());
        for bad in ["", "tmp", "./x", "/a\0b"] {
            assert!(
                matches!(
                    validate_path("path", bad),
                    Err(Error::InvalidInput { field: "path", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn base64_table() {
        let table: &[(&str, &[u8])] = &[
            ("", b""),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
            ("Zg", b"f"),
            ("Zm8", b"fo"),
            ("-_-_", &[0xfb, 0xff, 0xbf]),
            ("+/+/", &[0xfb, 0xff, 0xbf]),
        ];
        for (s, want) in table {
            assert_eq!(decode_base64(s).as_deref(), Some(*want), "{s}");
        }
        for bad in [
            "Z", "Zm9vY", "Zg===", "Zg=", "Z===", "Zm 9v", "Zm9v!", "=Zm9", "Zg==Zg==", "é",
        ] {
            assert_eq!(decode_base64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn path_stat_header() {
        // {"name":"sandbox","size":4096,"mode":2147484141,"mtime":"2026-01-15T10:30:00Z","linkTarget":""}
        let dir = "eyJuYW1lIjoic2FuZGJveCIsInNpemUiOjQwOTYsIm1vZGUiOjIxNDc0ODQxNDEsIm10aW1lIjoiMjAyNi0wMS0xNVQxMDozMDowMFoiLCJsaW5rVGFyZ2V0IjoiIn0=";
        let st = PathStat::from_header(dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(st.name, "sandbox");
        assert_eq!(st.size, 4096);
        assert!(st.is_dir() && !st.is_file() && !st.is_symlink());
        assert_eq!(st.permissions(), 0o755);
        assert_eq!(st.mtime, "2026-01-15T10:30:00Z");
        // {"name":"sh","size":7,"mode":134218239,"mtime":"x","linkTarget":"/bin/busybox"}
        let link = "eyJuYW1lIjoic2giLCJzaXplIjo3LCJtb2RlIjoxMzQyMTgyMzksIm10aW1lIjoieCIsImxpbmtUYXJnZXQiOiIvYmluL2J1c3lib3gifQ";
        let st = PathStat::from_header(link).unwrap_or_else(|e| panic!("{e}"));
        assert!(st.is_symlink() && !st.is_dir() && !st.is_file());
        assert_eq!(st.link_target, "/bin/busybox");
        assert_eq!(st.permissions(), 0o777);
        // {"name":"f","size":"odd","mode":420}: odd field types read as defaults
        let file = "eyJuYW1lIjoiZiIsInNpemUiOiJvZGQiLCJtb2RlIjo0MjB9";
        let st = PathStat::from_header(file).unwrap_or_else(|e| panic!("{e}"));
        assert!(st.is_file());
        assert_eq!((st.size, st.permissions()), (0, 0o644));
        // not base64, base64 of non-JSON ("hello"), base64 of a JSON array ("[1]")
        for bad in ["%%%", "aGVsbG8=", "WzFd"] {
            assert!(
                matches!(
                    PathStat::from_header(bad),
                    Err(Error::Protocol(ProtocolError::InvalidHeader { .. }))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn responses() {
        let file = "eyJuYW1lIjoiZiIsInNpemUiOjUsIm1vZGUiOjQyMH0=";
        let ok = resp(200, &[("X-Docker-Container-Path-Stat", file)], "");
        let st = parse_stat(&ok, "c", "/f").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((st.name.as_str(), st.size), ("f", 5));
        assert_eq!(
            PathStat::from_head(&resp(200, &[], "").head).ok(),
            Some(None)
        );
        assert!(matches!(
            parse_stat(&resp(200, &[], ""), "c", "/f"),
            Err(Error::Protocol(_))
        ));

        let cases: &[ErrCase] = &[
            (
                404,
                "",
                |e| matches!(e, Error::PathNotFound(p) if p == "/f"),
            ),
            (
                404,
                r#"{"message":"Could not find the file /f in container c"}"#,
                |e| matches!(e, Error::PathNotFound(_)),
            ),
            (
                404,
                r#"{"message":"No such container: c"}"#,
                |e| matches!(e, Error::ContainerNotFound(c) if c == "c"),
            ),
            (
                404,
                r#"{"cause":"no such container","message":"no container with name or ID \"c\" found: no such container"}"#,
                |e| matches!(e, Error::ContainerNotFound(_)),
            ),
            (
                400,
                r#"{"message":"extraction point is not a directory"}"#,
                |e| matches!(e, Error::Engine { status: 400, .. }),
            ),
            (
                403,
                r#"{"message":"container rootfs is marked read-only"}"#,
                |e| matches!(e, Error::Engine { status: 403, .. }),
            ),
            (500, "boom", |e| {
                matches!(e, Error::Engine { status: 500, .. })
            }),
        ];
        for (status, body, pred) in cases {
            let r = resp(*status, &[], body);
            match check(&r, "put archive", "c", "/f") {
                Err(e) => assert!(pred(&e), "{status} {body}: {e:?}"),
                Ok(()) => panic!("{status} accepted"),
            }
        }
        assert!(check(&resp(200, &[], ""), "put archive", "c", "/f").is_ok());
    }
}
