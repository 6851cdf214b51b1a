//! The engine endpoints pocketdock uses: request builders, response models and error mapping.
//!
//! Paths carry no version prefix, so both Docker and Podman's Docker-compatible API answer them.
//! Models are tolerant: unknown fields are ignored and every field has a default.

pub mod containers;
pub mod exec;
pub mod system;

use crate::error::{Error, Result};
use crate::http::Response;

/// What a `404` or `409` means for the call being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A container with this id or name.
    Container(&'a str),
    /// An image with this reference.
    Image(&'a str),
    /// A path inside a container.
    Path(&'a str),
    /// Nothing in particular.
    None,
}

/// Turn an error status into the matching [`Error`]; `Ok` for 1xx/2xx/3xx.
pub fn check(resp: &Response, op: &'static str, subject: Subject<'_>) -> Result<()> {
    let status = resp.status();
    if status < 400 {
        return Ok(());
    }
    let message = resp.message();
    let lower = message.to_ascii_lowercase();
    Err(match (status, subject) {
        (409 | 500, _) if op == "create" && lower.contains("already in use") => {
            Error::NameInUse(name_in_message(&message))
        }
        (404, Subject::Container(id)) => {
            if lower.contains("no such image") || lower.contains("image not known") {
                Error::ImageNotFound(id.to_string())
            } else {
                Error::ContainerNotFound(id.to_string())
            }
        }
        (404, Subject::Image(image)) => Error::ImageNotFound(image.to_string()),
        (404, Subject::Path(path)) => Error::PathNotFound(path.to_string()),
        (409, Subject::Container(id)) if is_not_running(&lower) || op != "create" => {
            Error::ContainerNotRunning(id.to_string())
        }
        (500, Subject::Container(id)) if is_not_running(&lower) => {
            Error::ContainerNotRunning(id.to_string())
        }
        // Podman, while a container is being removed, answers a call about one of its exec
        // sessions with 500 "container ... does not exist in database: no such container".
        (500, Subject::Container(id)) if lower.contains("no such container") => {
            Error::ContainerNotFound(id.to_string())
        }
        _ => Error::Engine {
            op,
            status,
            message,
        },
    })
}

/// The quoted container name in an engine's "name already in use" message.
fn name_in_message(message: &str) -> String {
    message
        .split('"')
        .nth(1)
        .map_or_else(|| message.to_string(), |n| strip_slash(n).to_string())
}

fn is_not_running(lower: &str) -> bool {
    lower.contains("is not running")
        || lower.contains("state improper")
        || lower.contains("is paused")
        || lower.contains("not running")
}

/// Strip the leading `/` that engines put before container names.
pub fn strip_slash(name: &str) -> &str {
    name.strip_prefix('/').unwrap_or(name)
}

/// Deserialize `null` as the type's default (engines send `"Labels": null`).
pub(crate) fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
pub mod archive;
pub mod images;
pub mod stats;
