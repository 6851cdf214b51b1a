//! `/images/...`, `/build`: request builders, models, and the JSON-lines progress decoder shared by
//! build, load, import and pull.
//!
//! Bodies of build, load and import are tar streams the caller writes after the head: pass
//! `Some(length)` when the size is known (sent with `Content-Length`) or `None` to send it chunked.
//! Both engines answer these calls with `200` and a stream of JSON objects, one per line, and
//! report failures **inside** that stream (`{"error": ..., "errorDetail": {...}}`), which the
//! Python pocketdock ignored: feed the body to a [`ProgressDecoder`] and let a
//! [`ProgressSummary`] turn the first in-stream error into [`Error::StreamFailed`].

use std::collections::{BTreeMap, VecDeque};

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::Value;

use crate::api::stats::lenient;
use crate::api::{check, null_default, Subject};
use crate::error::{Error, ProtocolError, Result};
use crate::http::Response;
use crate::http::{percent_encode, Method, Query, Request, RequestBody};

/// MIME type of tar bodies.
pub const TAR: &str = "application/x-tar";

/// Longest progress line accepted by default (1 MiB).
pub const MAX_PROGRESS_LINE: usize = 1024 * 1024;

/// Encode an image reference for a path: `/`, `:` and `@` are kept (as docker-py does), every
/// other reserved byte is percent-encoded. Names with empty, `.` or `..` segments are encoded
/// whole so they can never change the path.
fn image_path(name: &str) -> String {
    if name
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return percent_encode(name);
    }
    name.split('/')
        .map(|seg| percent_encode(seg).replace("%3A", ":").replace("%40", "@"))
        .collect::<Vec<_>>()
        .join("/")
}

fn tar_body(length: Option<u64>) -> RequestBody {
    match length {
        Some(length) => RequestBody::Sized {
            content_type: TAR,
            length,
        },
        None => RequestBody::Chunked { content_type: TAR },
    }
}

/// `GET /images/json`, optionally filtered by reference (e.g. `pocketdock/*`).
pub fn list(reference: Option<&str>) -> Request {
    let mut q = Query::new();
    if let Some(r) = reference {
        q = q.push(
            "filters",
            serde_json::json!({ "reference": [r] }).to_string(),
        );
    }
    Request::new(Method::Get, format!("/images/json{}", q.finish()))
}

/// `GET /images/{name}/json`.
pub fn inspect(name: &str) -> Request {
    Request::new(Method::Get, format!("/images/{}/json", image_path(name)))
}

/// `DELETE /images/{name}?force=&noprune=`.
pub fn remove(name: &str, force: bool, prune_parents: bool) -> Request {
    Request::new(
        Method::Delete,
        format!(
            "/images/{}?force={force}&noprune={}",
            image_path(name),
            !prune_parents
        ),
    )
}

/// `POST /images/{name}/tag?repo=&tag=`.
pub fn tag(name: &str, repo: &str, tag: &str) -> Request {
    let q = Query::new().push("repo", repo).push("tag", tag).finish();
    Request::new(Method::Post, format!("/images/{}/tag{q}", image_path(name)))
}

/// `GET /images/get?names=a&names=b`: one tar holding every named image (Docker and Podman).
pub fn save<S: AsRef<str>>(names: &[S]) -> Request {
    let q = names
        .iter()
        .fold(Query::new(), |q, n| q.push("names", n.as_ref()))
        .finish();
    Request::new(Method::Get, format!("/images/get{q}"))
}

/// `POST /images/load?quiet=0|1` with a tar body (see the module documentation).
pub fn load(quiet: bool, length: Option<u64>) -> Request {
    Request::new(
        Method::Post,
        format!("/images/load?quiet={}", u8::from(quiet)),
    )
    .with_body(tar_body(length))
}

/// `POST /images/create?fromSrc=-&repo=&tag=&changes=...` with a root filesystem tar body:
/// make an image from a tarball. `changes` are Dockerfile instructions (`CMD ["sh"]`,
/// `ENV A=b`, ...).
pub fn import<S: AsRef<str>>(repo: &str, tag: &str, changes: &[S], length: Option<u64>) -> Request {
    let q = changes
        .iter()
        .fold(
            Query::new()
                .push("fromSrc", "-")
                .push("repo", repo)
                .push("tag", tag),
            |q, c| q.push("changes", c.as_ref()),
        )
        .finish();
    Request::new(Method::Post, format!("/images/create{q}")).with_body(tar_body(length))
}

/// `POST /images/create?fromImage=&tag=`: pull from a registry.
pub fn pull(image: &str, tag: &str) -> Request {
    let q = Query::new()
        .push("fromImage", image)
        .push("tag", tag)
        .finish();
    Request::new(Method::Post, format!("/images/create{q}"))
}

/// Options of `POST /build`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each bool is one flag of the engine's build endpoint"
)]
pub struct BuildOptions {
    /// Tags to give the image (`t=`, repeated), e.g. `pocketdock/minimal-python`.
    pub tags: Vec<String>,
    /// Dockerfile path inside the context; `None`: `Dockerfile`.
    pub dockerfile: Option<String>,
    /// `ARG` values.
    pub build_args: BTreeMap<String, String>,
    /// Labels for the image.
    pub labels: BTreeMap<String, String>,
    /// Do not use the build cache.
    pub no_cache: bool,
    /// Try to pull newer base images (leave off when offline).
    pub pull: bool,
    /// Remove intermediate containers after a successful build (default on).
    pub rm: bool,
    /// Remove intermediate containers even after a failure (default on).
    pub force_rm: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            tags: Vec::new(),
            dockerfile: None,
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            no_cache: false,
            pull: false,
            rm: true,
            force_rm: true,
        }
    }
}

impl BuildOptions {
    /// Options that tag the result with `tag`.
    pub fn tagged(tag: impl Into<String>) -> Self {
        Self {
            tags: vec![tag.into()],
            ..Self::default()
        }
    }

    /// Check the tags (repository`[:tag]`), the Dockerfile path (relative, no `..`) and the
    /// build-arg names.
    pub fn validate(&self) -> Result<()> {
        for t in &self.tags {
            crate::spec::split_image_ref(t)?;
        }
        if let Some(d) = &self.dockerfile {
            if d.is_empty()
                || d.starts_with('/')
                || d.split('/').any(|c| c == "..")
                || d.chars().any(char::is_control)
            {
                return Err(Error::invalid(
                    "dockerfile",
                    format!("{d:?} must be a relative path inside the build context"),
                ));
            }
        }
        for key in self.build_args.keys() {
            if key.is_empty() || key.contains('=') || key.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "build_args",
                    format!("{key:?} is not an argument name"),
                ));
            }
        }
        Ok(())
    }
}

/// `POST /build?t=..&dockerfile=..&buildargs=..&rm=1&forcerm=1` with a tar of the build context.
pub fn build(opts: &BuildOptions, length: Option<u64>) -> Request {
    let mut q = opts.tags.iter().fold(Query::new(), |q, t| q.push("t", t));
    q = q.push_opt("dockerfile", opts.dockerfile.as_deref());
    if !opts.build_args.is_empty() {
        q = q.push(
            "buildargs",
            serde_json::to_string(&opts.build_args).unwrap_or_default(),
        );
    }
    if !opts.labels.is_empty() {
        q = q.push(
            "labels",
            serde_json::to_string(&opts.labels).unwrap_or_default(),
        );
    }
    q = q
        .push("rm", if opts.rm { "1" } else { "0" })
        .push("forcerm", if opts.force_rm { "1" } else { "0" });
    if opts.no_cache {
        q = q.push("nocache", "1");
    }
    if opts.pull {
        q = q.push("pull", "1");
    }
    Request::new(Method::Post, format!("/build{}", q.finish())).with_body(tar_body(length))
}

/// One row of `GET /images/json`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ImageSummary {
    /// Image id (`sha256:...`).
    #[serde(rename = "Id", deserialize_with = "lenient")]
    pub id: String,
    /// Tags (`null` on Docker for dangling images).
    #[serde(rename = "RepoTags", deserialize_with = "null_default")]
    pub repo_tags: Vec<String>,
    /// Digests.
    #[serde(rename = "RepoDigests", deserialize_with = "null_default")]
    pub repo_digests: Vec<String>,
    /// Creation time, seconds since the epoch.
    #[serde(rename = "Created", deserialize_with = "lenient")]
    pub created: i64,
    /// Size in bytes.
    #[serde(rename = "Size", deserialize_with = "lenient")]
    pub size: i64,
    /// Labels.
    #[serde(rename = "Labels", deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// `Config` of image inspect.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ImageConfig {
    /// Default user.
    #[serde(rename = "User", deserialize_with = "lenient")]
    pub user: String,
    /// Environment.
    #[serde(rename = "Env", deserialize_with = "null_default")]
    pub env: Vec<String>,
    /// Default command.
    #[serde(rename = "Cmd", deserialize_with = "null_default")]
    pub cmd: Vec<String>,
    /// Entrypoint.
    #[serde(rename = "Entrypoint", deserialize_with = "null_default")]
    pub entrypoint: Vec<String>,
    /// Working directory.
    #[serde(rename = "WorkingDir", deserialize_with = "lenient")]
    pub working_dir: String,
    /// Labels.
    #[serde(rename = "Labels", deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// The parts of `GET /images/{name}/json` pocketdock reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ImageInspect {
    /// Image id.
    #[serde(rename = "Id", deserialize_with = "lenient")]
    pub id: String,
    /// Tags.
    #[serde(rename = "RepoTags", deserialize_with = "null_default")]
    pub repo_tags: Vec<String>,
    /// Creation time (RFC 3339).
    #[serde(rename = "Created", deserialize_with = "lenient")]
    pub created: String,
    /// Size in bytes.
    #[serde(rename = "Size", deserialize_with = "lenient")]
    pub size: i64,
    /// CPU architecture.
    #[serde(rename = "Architecture", deserialize_with = "lenient")]
    pub architecture: String,
    /// Operating system.
    #[serde(rename = "Os", deserialize_with = "lenient")]
    pub os: String,
    /// Run configuration.
    #[serde(rename = "Config", deserialize_with = "null_default")]
    pub config: ImageConfig,
}

/// One entry of an image removal answer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct DeleteItem {
    /// A tag that was removed.
    #[serde(rename = "Untagged", deserialize_with = "null_default")]
    pub untagged: Option<String>,
    /// An image layer id that was deleted.
    #[serde(rename = "Deleted", deserialize_with = "null_default")]
    pub deleted: Option<String>,
}

/// Parse an image list (`null` reads as empty).
pub fn parse_list(resp: &Response) -> Result<Vec<ImageSummary>> {
    check(resp, "list images", Subject::None)?;
    Ok(resp
        .json::<Option<Vec<ImageSummary>>>("list images")?
        .unwrap_or_default())
}

/// Parse an image inspect; 404 is [`Error::ImageNotFound`].
pub fn parse_inspect(resp: &Response, name: &str) -> Result<ImageInspect> {
    check(resp, "inspect image", Subject::Image(name))?;
    resp.json("inspect image")
}

/// Parse an image removal; 404 is [`Error::ImageNotFound`], 409 (image in use) an engine error.
pub fn parse_remove(resp: &Response, name: &str) -> Result<Vec<DeleteItem>> {
    check(resp, "remove image", Subject::Image(name))?;
    if resp.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    Ok(resp
        .json::<Option<Vec<DeleteItem>>>("remove image")?
        .unwrap_or_default())
}

/// Check the status of a tag call; 404 is [`Error::ImageNotFound`].
pub fn parse_tag(resp: &Response, name: &str) -> Result<()> {
    check(resp, "tag image", Subject::Image(name))
}

/// `errorDetail` of a progress line.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ErrorDetail {
    /// Error code, if any.
    #[serde(deserialize_with = "lenient")]
    pub code: Option<i64>,
    /// Message.
    #[serde(deserialize_with = "lenient")]
    pub message: String,
}

/// One event of a build, load, import or pull stream.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Progress {
    /// Build output text (usually ends with a newline). A line that is not JSON is reported
    /// here verbatim, with a newline.
    #[serde(deserialize_with = "lenient")]
    pub stream: Option<String>,
    /// Status text (`Downloading`, `Loaded image: ...`, an image id after an import).
    #[serde(deserialize_with = "lenient")]
    pub status: Option<String>,
    /// Layer or image id the status is about.
    #[serde(deserialize_with = "lenient")]
    pub id: Option<String>,
    /// Progress bar text.
    #[serde(deserialize_with = "lenient")]
    pub progress: Option<String>,
    /// Auxiliary data, e.g. `{"ID": "sha256:..."}` at the end of a build.
    #[serde(deserialize_with = "lenient")]
    pub aux: Option<Value>,
    /// In-stream error message.
    #[serde(deserialize_with = "lenient")]
    pub error: Option<String>,
    /// In-stream error detail.
    #[serde(rename = "errorDetail", deserialize_with = "lenient")]
    pub error_detail: Option<ErrorDetail>,
}

impl Progress {
    /// The in-stream error message, if this event reports one (`error`, else
    /// `errorDetail.message`).
    pub fn failure(&self) -> Option<&str> {
        self.error
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .or_else(|| {
                self.error_detail
                    .as_ref()
                    .map(|d| d.message.as_str())
                    .filter(|m| !m.trim().is_empty())
            })
    }

    /// [`Error::StreamFailed`] for `op` when this event reports an error.
    pub fn check(&self, op: &'static str) -> Result<()> {
        match self.failure() {
            Some(message) => Err(Error::StreamFailed {
                op,
                message: message.trim().to_string(),
            }),
            None => Ok(()),
        }
    }

    /// `aux.ID`, the id of a built image.
    pub fn aux_id(&self) -> Option<&str> {
        self.aux
            .as_ref()?
            .get("ID")?
            .as_str()
            .filter(|s| !s.is_empty())
    }

    /// An event carrying only build output text `s` (how a line that is not JSON is reported,
    /// and how pocketdock adds a note of its own to a build's output).
    pub fn text(s: String) -> Self {
        Self {
            stream: Some(s),
            ..Self::default()
        }
    }
}

/// Push decoder of a JSON-lines progress stream.
///
/// Feed body bytes split anywhere with [`feed`](Self::feed), call [`finish`](Self::finish) at the
/// end of the body, and drain [`next_event`](Self::next_event) until `Ok(None)`. Lines may end
/// with `\n` or `\r\n`; blank lines are skipped; several JSON objects on one line give several
/// events; a line that is not JSON is reported as [`Progress::stream`] text. A line longer than
/// the limit (1 MiB by default) is a [`ProtocolError::Json`] error after the events before it,
/// whatever the split points; bytes of the over-long line are never buffered past the limit.
/// Memory stays bounded by what was fed and not yet drained plus one line.
#[derive(Debug)]
pub struct ProgressDecoder {
    buf: BytesMut,
    tail_len: usize,
    max_line: usize,
    overflow: bool,
    eof: bool,
    failed: bool,
    pending: VecDeque<Progress>,
}

impl Default for ProgressDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressDecoder {
    /// A decoder with the default line limit ([`MAX_PROGRESS_LINE`]).
    pub fn new() -> Self {
        Self::with_max_line(MAX_PROGRESS_LINE)
    }

    /// A decoder refusing lines longer than `max_line` bytes (not counting the `\n`).
    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            tail_len: 0,
            max_line,
            overflow: false,
            eof: false,
            failed: false,
            pending: VecDeque::new(),
        }
    }

    /// Add body bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if self.overflow || self.eof || self.failed {
            return;
        }
        match data.iter().rposition(|b| *b == b'\n') {
            Some(i) => {
                let (lines, tail) = data.split_at(i + 1);
                self.buf.extend_from_slice(lines);
                if tail.len() > self.max_line {
                    self.overflow = true;
                    self.tail_len = 0;
                } else {
                    self.buf.extend_from_slice(tail);
                    self.tail_len = tail.len();
                }
            }
            None => {
                if self.tail_len + data.len() > self.max_line {
                    self.overflow = true;
                } else {
                    self.buf.extend_from_slice(data);
                    self.tail_len += data.len();
                }
            }
        }
    }

    /// The body ended: a last line without a newline is decoded too.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    fn too_long(&mut self) -> Error {
        self.failed = true;
        self.pending.clear();
        self.buf.clear();
        Error::Protocol(ProtocolError::Json {
            context: "progress stream",
            detail: format!("line longer than {} bytes", self.max_line),
        })
    }

    /// The next event; `Ok(None)` when more input (or [`finish`](Self::finish)) is needed, or
    /// after an error was returned.
    pub fn next_event(&mut self) -> Result<Option<Progress>> {
        loop {
            if let Some(p) = self.pending.pop_front() {
                return Ok(Some(p));
            }
            if self.failed {
                return Ok(None);
            }
            let line = match self.buf.iter().position(|b| *b == b'\n') {
                Some(pos) => {
                    let line = self.buf.split_to(pos + 1);
                    if pos > self.max_line {
                        return Err(self.too_long());
                    }
                    line
                }
                None if self.overflow => return Err(self.too_long()),
                None if self.eof && !self.buf.is_empty() => {
                    self.tail_len = 0;
                    self.buf.split()
                }
                None => return Ok(None),
            };
            self.decode_line(&line);
        }
    }

    fn decode_line(&mut self, raw: &[u8]) {
        let line = raw.trim_ascii();
        if line.is_empty() {
            return;
        }
        let mut values = serde_json::Deserializer::from_slice(line).into_iter::<Value>();
        loop {
            let offset = values.byte_offset();
            match values.next() {
                None => break,
                Some(Ok(v @ Value::Object(_))) => self
                    .pending
                    .push_back(serde_json::from_value(v).unwrap_or_default()),
                Some(Ok(Value::String(s))) => self.pending.push_back(Progress::text(s)),
                Some(Ok(other)) => self.pending.push_back(Progress::text(other.to_string())),
                Some(Err(_)) => {
                    let rest = line.get(offset..).unwrap_or_default();
                    let text = String::from_utf8_lossy(rest.trim_ascii());
                    if !text.is_empty() {
                        self.pending.push_back(Progress::text(format!("{text}\n")));
                    }
                    break;
                }
            }
        }
    }
}

/// What a finished build, load or import stream said, and its first error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressSummary {
    /// Id of the built or imported image (`aux.ID`, `Successfully built <id>`,
    /// `Loaded image ID: <id>`, or an import's final `sha256:` status).
    pub image_id: Option<String>,
    /// References loaded or tagged (`Loaded image: <ref>`, `Successfully tagged <ref>`).
    pub images: Vec<String>,
    /// The first in-stream error.
    pub error: Option<String>,
}

impl ProgressSummary {
    /// Take one event into account.
    pub fn observe(&mut self, p: &Progress) {
        if let Some(e) = p.failure() {
            if self.error.is_none() {
                self.error = Some(e.trim().to_string());
            }
        }
        if let Some(id) = p.aux_id() {
            self.image_id = Some(id.to_string());
        }
        for (text, is_status) in [(p.stream.as_deref(), false), (p.status.as_deref(), true)] {
            let Some(text) = text else { continue };
            for line in text.lines().map(str::trim) {
                if let Some(id) = line.strip_prefix("Loaded image ID:") {
                    let id = id.trim().to_string();
                    self.images.push(id.clone());
                    self.image_id = Some(id);
                } else if let Some(r) = line.strip_prefix("Loaded image:") {
                    self.images.push(r.trim().to_string());
                } else if let Some(r) = line.strip_prefix("Successfully tagged ") {
                    self.images.push(r.trim().to_string());
                } else if let Some(id) = line.strip_prefix("Successfully built ") {
                    if self.image_id.is_none() {
                        self.image_id = Some(id.trim().to_string());
                    }
                } else if is_status && line.starts_with("sha256:") {
                    self.image_id = Some(line.to_string());
                }
            }
        }
    }

    /// The summary, or [`Error::StreamFailed`] for `op` if the stream reported an error.
    pub fn into_result(self, op: &'static str) -> Result<Self> {
        match self.error {
            Some(message) => Err(Error::StreamFailed { op, message }),
            None => Ok(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ResponseHead;

    type OptCase = (fn(&mut BuildOptions), &'static str);

    fn resp(status: u16, body: &str) -> Response {
        Response {
            head: ResponseHead::new(status, "", &[]),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    /// Decode `input` fed in pieces of `split` bytes; the result list ends with an error marker.
    fn decode(
        input: &[u8],
        split: usize,
        max: usize,
    ) -> Vec<std::result::Result<Progress, String>> {
        let mut d = ProgressDecoder::with_max_line(max);
        let mut out = Vec::new();
        let drain = |d: &mut ProgressDecoder, out: &mut Vec<_>| loop {
            match d.next_event() {
                Ok(Some(p)) => out.push(Ok(p)),
                Ok(None) => break,
                Err(e) => out.push(Err(e.to_string())),
            }
        };
        for chunk in input.chunks(split.max(1)) {
            d.feed(chunk);
            drain(&mut d, &mut out);
        }
        d.finish();
        drain(&mut d, &mut out);
        out
    }

    fn stream(s: &str) -> Progress {
        Progress::text(s.to_string())
    }

    #[test]
    fn request_targets() {
        let table: Vec<(Request, Method, &str)> = vec![
            (list(None), Method::Get, "/images/json"),
            (list(Some("pocketdock/*")), Method::Get, "/images/json?filters=%7B%22reference%22%3A%5B%22pocketdock%2F%2A%22%5D%7D"),
            (inspect("localhost:5000/a/b:v1"), Method::Get, "/images/localhost:5000/a/b:v1/json"),
            (inspect("x@sha256:ab"), Method::Get, "/images/x@sha256:ab/json"),
            (inspect("a b"), Method::Get, "/images/a%20b/json"),
            (inspect("../containers/x"), Method::Get, "/images/..%2Fcontainers%2Fx/json"),
            (inspect("a//b"), Method::Get, "/images/a%2F%2Fb/json"),
            (remove("busybox:latest", true, true), Method::Delete, "/images/busybox:latest?force=true&noprune=false"),
            (remove("x", false, false), Method::Delete, "/images/x?force=false&noprune=true"),
            (tag("abc", "pocketdock/x", "v1"), Method::Post, "/images/abc/tag?repo=pocketdock%2Fx&tag=v1"),
            (save(&["a", "b/c:d"]), Method::Get, "/images/get?names=a&names=b%2Fc%3Ad"),
            (save::<&str>(&[]), Method::Get, "/images/get"),
            (load(false, None), Method::Post, "/images/load?quiet=0"),
            (load(true, Some(5)), Method::Post, "/images/load?quiet=1"),
            (import("busybox", "test", &["CMD [\"sh\"]", "ENV A=b"], Some(3)), Method::Post,
                "/images/create?fromSrc=-&repo=busybox&tag=test&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db"),
            (pull("alpine", "3.21"), Method::Post, "/images/create?fromImage=alpine&tag=3.21"),
        ];
        for (r, m, target) in table {
            assert_eq!((r.method, r.target.as_str()), (m, target));
        }
        assert_eq!(
            load(false, None).body,
            RequestBody::Chunked { content_type: TAR }
        );
        assert_eq!(
            load(false, Some(9)).body,
            RequestBody::Sized {
                content_type: TAR,
                length: 9
            }
        );
        assert_eq!(
            import::<&str>("r", "t", &[], None).body,
            RequestBody::Chunked { content_type: TAR }
        );
    }

    #[test]
    fn build_requests() {
        let mut opts = BuildOptions::tagged("pocketdock/minimal-python");
        assert_eq!(
            build(&opts, None).target,
            "/build?t=pocketdock%2Fminimal-python&rm=1&forcerm=1"
        );
        assert_eq!(
            build(&opts, Some(10)).body,
            RequestBody::Sized {
                content_type: TAR,
                length: 10
            }
        );
        opts.tags.push("x:y".into());
        opts.dockerfile = Some("sub/Dockerfile".into());
        opts.build_args.insert("V".into(), "1 2".into());
        opts.labels.insert("l".into(), "v".into());
        opts.no_cache = true;
        opts.pull = true;
        opts.rm = false;
        opts.force_rm = false;
        assert!(opts.validate().is_ok());
        assert_eq!(
            build(&opts, None).target,
            "/build?t=pocketdock%2Fminimal-python&t=x%3Ay&dockerfile=sub%2FDockerfile\
             &buildargs=%7B%22V%22%3A%221%202%22%7D&labels=%7B%22l%22%3A%22v%22%7D&rm=0&forcerm=0&nocache=1&pull=1"
        );
    }

    #[test]
    fn build_options_refused() {
        let cases: Vec<OptCase> = vec![
            (|o| o.tags.push("Bad Tag".into()), "image"),
            (|o| o.tags.push(String::new()), "image"),
            (|o| o.dockerfile = Some(String::new()), "dockerfile"),
            (|o| o.dockerfile = Some("/abs".into()), "dockerfile"),
            (|o| o.dockerfile = Some("../x".into()), "dockerfile"),
            (|o| o.dockerfile = Some("a\nb".into()), "dockerfile"),
            (
                |o| {
                    o.build_args.insert(String::new(), "v".into());
                },
                "build_args",
            ),
            (
                |o| {
                    o.build_args.insert("a=b".into(), "v".into());
                },
                "build_args",
            ),
        ];
        for (mutate, field) in cases {
            let mut o = BuildOptions::default();
            mutate(&mut o);
            match o.validate() {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field, "{o:?}"),
                other => panic!("{o:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn progress_split_invariance() {
        let input = concat!(
            "{\"stream\":\"Step 1/2 : FROM scratch\\n\"}\r\n",
            "\n",
            "   \r\n",
            "{\"status\":\"Downloading\",\"id\":\"abc\",\"progress\":\"[=>  ]\",\"progressDetail\":{}}\n",
            "{\"aux\":{\"ID\":\"sha256:1234\"}}{\"stream\":\"two on one line\"}\n",
            "plain text line\n",
            "\"a json string\"\n",
            "{\"stream\":\"ok\"} trailing junk\n",
            "{\"errorDetail\":{\"code\":1,\"message\":\"boom\"},\"error\":\"boom\"}\n",
            "{\"stream\":\"no newline at end\"}",
        );
        let want = decode(input.as_bytes(), input.len(), MAX_PROGRESS_LINE);
        assert_eq!(want.len(), 10, "{want:?}");
        for split in 1..input.len() {
            assert_eq!(
                decode(input.as_bytes(), split, MAX_PROGRESS_LINE),
                want,
                "split {split}"
            );
        }
        let ok: Vec<Progress> = want
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(ok.first(), Some(&stream("Step 1/2 : FROM scratch\n")));
        assert_eq!(ok.get(1).and_then(|p| p.id.as_deref()), Some("abc"));
        assert_eq!(
            ok.get(1).and_then(|p| p.progress.as_deref()),
            Some("[=>  ]")
        );
        assert_eq!(ok.get(2).and_then(Progress::aux_id), Some("sha256:1234"));
        assert_eq!(ok.get(3), Some(&stream("two on one line")));
        assert_eq!(ok.get(4), Some(&stream("plain text line\n")));
        assert_eq!(ok.get(5), Some(&stream("a json string")));
        assert_eq!(ok.get(6), Some(&stream("ok")));
        assert_eq!(ok.get(7), Some(&stream("trailing junk\n")));
        assert_eq!(ok.get(8).and_then(Progress::failure), Some("boom"));
        assert_eq!(ok.get(9), Some(&stream("no newline at end")));
    }

    #[test]
    fn overlong_lines_are_refused_whatever_the_split() {
        let max = 16;
        let cases: Vec<(String, usize)> = vec![
            // (input, events before the error)
            (
                format!(
                    "{{\"stream\":\"a\"}}\n{}\n{{\"stream\":\"b\"}}\n",
                    "x".repeat(17)
                ),
                1,
            ),
            (format!("{{\"stream\":\"a\"}}\n{}", "x".repeat(40)), 1),
            (format!("{}\r\n", "x".repeat(16)), 0),
            ("y".repeat(100), 0),
        ];
        for (input, before) in cases {
            for split in 1..=input.len() {
                let got = decode(input.as_bytes(), split, max);
                assert_eq!(got.len(), before + 1, "split {split}: {got:?}");
                let last = got
                    .last()
                    .cloned()
                    .unwrap_or_else(|| Ok(Progress::default()));
                assert!(
                    matches!(&last, Err(e) if e.contains("line longer than 16 bytes")),
                    "split {split}: {got:?}"
                );
            }
        }
        // Exactly at the limit is fine, with or without CR.
        for input in [
            format!("{}\n", "x".repeat(16)),
            format!("{}\r\n", "x".repeat(15)),
        ] {
            for split in 1..=input.len() {
                let got = decode(input.as_bytes(), split, max);
                assert_eq!(got.len(), 1, "{got:?}");
                assert!(got.first().is_some_and(Result::is_ok));
            }
        }
        // Memory stays bounded while an over-long line keeps coming.
        let mut d = ProgressDecoder::with_max_line(max);
        for _ in 0..1000 {
            d.feed(b"zzzzzzzzzz");
        }
        assert!(d.buf.len() <= max);
        assert!(d.next_event().is_err());
        assert!(matches!(d.next_event(), Ok(None)));
        d.feed(b"{\"stream\":\"late\"}\n");
        assert!(matches!(d.next_event(), Ok(None)));
    }

    #[test]
    fn empty_and_partial_streams() {
        assert!(decode(b"", 1, MAX_PROGRESS_LINE).is_empty());
        assert!(decode(b"\n\r\n  \n", 1, MAX_PROGRESS_LINE).is_empty());
        let mut d = ProgressDecoder::new();
        d.feed(b"{\"stream\":\"x\"}");
        assert!(
            matches!(d.next_event(), Ok(None)),
            "no event before the newline"
        );
        d.finish();
        assert!(matches!(d.next_event(), Ok(Some(_))));
        assert!(matches!(d.next_event(), Ok(None)));
        // Odd field types do not break the event.
        let got = decode(
            br#"{"stream":5,"error":{"x":1},"errorDetail":"s","aux":7}"#,
            3,
            64,
        );
        assert_eq!(
            got,
            vec![Ok(Progress {
                aux: Some(serde_json::json!(7)),
                ..Progress::default()
            })]
        );
    }

    #[test]
    fn summaries() {
        let run = |lines: &str| {
            let mut s = ProgressSummary::default();
            for p in decode(lines.as_bytes(), 7, MAX_PROGRESS_LINE) {
                s.observe(&p.unwrap_or_else(|e| panic!("{e}")));
            }
            s
        };
        let docker_build = run(concat!(
            "{\"stream\":\"Step 1/1 : FROM scratch\\n\"}\n",
            "{\"aux\":{\"ID\":\"sha256:aaa\"}}\n",
            "{\"stream\":\"Successfully built aaa\\n\"}\n",
            "{\"stream\":\"Successfully tagged pocketdock/x:latest\\n\"}\n",
        ));
        assert_eq!(docker_build.image_id.as_deref(), Some("sha256:aaa"));
        assert_eq!(docker_build.images, ["pocketdock/x:latest"]);
        assert!(docker_build.clone().into_result("build").is_ok());

        let podman_build =
            run("{\"stream\":\"STEP 1/1: FROM scratch\\nSuccessfully built 9a8b\\n\"}\n");
        assert_eq!(podman_build.image_id.as_deref(), Some("9a8b"));

        let load = run(concat!(
            "{\"status\":\"Loading layer\",\"progress\":\"[==>]\",\"id\":\"l1\"}\n",
            "{\"stream\":\"Loaded image: busybox:latest\\n\"}\n",
            "{\"stream\":\"Loaded image ID: sha256:bbb\\n\"}\n",
        ));
        assert_eq!(load.images, ["busybox:latest", "sha256:bbb"]);
        assert_eq!(load.image_id.as_deref(), Some("sha256:bbb"));

        let import = run("{\"status\":\"sha256:ccc\"}\n");
        assert_eq!(import.image_id.as_deref(), Some("sha256:ccc"));
        let not_import = run("{\"stream\":\"sha256:ddd\"}\n");
        assert_eq!(not_import.image_id, None);

        let failed = run(concat!(
            "{\"stream\":\"Step 1/2 : RUN false\\n\"}\n",
            "{\"errorDetail\":{\"code\":1,\"message\":\"The command returned a non-zero code: 1\"},\"error\":\"The command returned a non-zero code: 1\"}\n",
            "{\"error\":\"second\"}\n",
        ));
        assert_eq!(
            failed.error.as_deref(),
            Some("The command returned a non-zero code: 1")
        );
        match failed.into_result("build") {
            Err(Error::StreamFailed { op, message }) => {
                assert_eq!(op, "build");
                assert!(message.contains("non-zero code"));
            }
            other => panic!("{other:?}"),
        }
        let detail_only = run("{\"errorDetail\":{\"message\":\"only detail\"}}\n");
        assert_eq!(detail_only.error.as_deref(), Some("only detail"));
        let blank_error = run("{\"error\":\"  \",\"errorDetail\":{\"message\":\"\"}}\n");
        assert_eq!(blank_error.error, None);
        let p = Progress {
            error: Some("x".into()),
            ..Progress::default()
        };
        assert!(matches!(
            p.check("load"),
            Err(Error::StreamFailed { op: "load", .. })
        ));
        assert!(Progress::default().check("load").is_ok());
    }

    #[test]
    fn parse_models() {
        let list = parse_list(&resp(
            200,
            r#"[{"Id":"sha256:1","RepoTags":null,"Created":1700000000,"Size":5,"Labels":null},
                {"Id":"sha256:2","RepoTags":["pocketdock/dev:latest"],"Created":"odd","Extra":true}]"#,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.len(), 2);
        assert!(list
            .first()
            .is_some_and(|i| i.repo_tags.is_empty() && i.created == 1_700_000_000));
        assert!(list
            .get(1)
            .is_some_and(|i| i.repo_tags == ["pocketdock/dev:latest"] && i.created == 0));
        assert_eq!(parse_list(&resp(200, "null")).ok(), Some(Vec::new()));
        assert!(matches!(
            parse_list(&resp(200, "nope")),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(
            parse_list(&resp(500, "{}")),
            Err(Error::Engine { .. })
        ));

        let img = parse_inspect(
            &resp(200, r#"{"Id":"sha256:1","Os":"linux","Config":{"User":"sandbox","Cmd":["sleep","infinity"],"Entrypoint":null,"Env":null,"Labels":null}}"#),
            "x",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(img.config.user, "sandbox");
        assert_eq!(img.config.cmd, ["sleep", "infinity"]);
        assert!(img.config.entrypoint.is_empty());
        let null_config = parse_inspect(&resp(200, r#"{"Id":"sha256:1","Config":null}"#), "x");
        assert!(null_config.is_ok_and(|i| i.config == ImageConfig::default()));
        assert!(
            matches!(parse_inspect(&resp(404, "{}"), "x"), Err(Error::ImageNotFound(n)) if n == "x")
        );

        let del = parse_remove(
            &resp(200, r#"[{"Untagged":"x:latest"},{"Deleted":"sha256:1"}]"#),
            "x",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            del.first().and_then(|d| d.untagged.as_deref()),
            Some("x:latest")
        );
        assert_eq!(
            del.get(1).and_then(|d| d.deleted.as_deref()),
            Some("sha256:1")
        );
        assert_eq!(parse_remove(&resp(200, ""), "x").ok(), Some(Vec::new()));
        assert!(matches!(
            parse_remove(&resp(404, "{}"), "x"),
            Err(Error::ImageNotFound(_))
        ));
        assert!(matches!(
            parse_remove(
                &resp(
                    409,
                    r#"{"message":"image is being used by running container"}"#
                ),
                "x"
            ),
            Err(Error::Engine { status: 409, .. })
        ));
        assert!(parse_tag(&resp(201, ""), "x").is_ok());
        assert!(matches!(
            parse_tag(&resp(404, ""), "x"),
            Err(Error::ImageNotFound(_))
        ));
    }
}
