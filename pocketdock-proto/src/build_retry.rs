//! When to build an image again: Podman's storage race with a concurrent image removal.
//!
//! Podman's builder (buildah releases before the fix, and the Podman versions that vendor them)
//! lists the images of its store when it looks for a cached step, then reads each one's top
//! layer. When another client removes an image in between, the build fails with "checking if
//! cached image exists from a previous build: getting top layer info: layer not known"; the same
//! race can hit the commit of a step ("creating image ...: layer not known"). Nothing is wrong
//! with the build: it is a buildah bug, fixed upstream by ignoring the vanished layer. Podman
//! 4.3.1, the engine of Debian 12, has the bug; pocketdock's own test suite hit it by building a
//! profile while another test removed its images.
//!
//! A build ([`BuildOp`](crate::image_flow::BuildOp)) therefore runs again, up to
//! [`BUILD_ATTEMPTS`] times in all, when it fails with that message, and tells the caller's
//! progress callback why first ([`retry_note`]). A build is a pure function of its context and
//! options, so another attempt is safe; steps that
//! had finished come from the cache. Any other failure is returned at once.

use crate::api::images::Progress;
use crate::error::Error;

/// How many times a build is tried in all when it loses a layer to a concurrent removal.
pub const BUILD_ATTEMPTS: u32 = 3;

/// How pocketdock's own notes in a build's output start.
pub const NOTE_PREFIX: &str = "pocketdock: ";

/// The containers/storage message of a layer that vanished (`storage.ErrLayerUnknown`).
const LAYER_UNKNOWN: &str = "layer not known";

/// Whether `err` is the engine's storage race with a concurrent image removal (see the module
/// documentation): an in-stream build failure naming an unknown layer.
pub fn is_storage_race(err: &Error) -> bool {
    matches!(err, Error::StreamFailed { op: "build", message } if message.contains(LAYER_UNKNOWN))
}

/// If failed attempt `attempt` (1-based) of a build should be followed by another, the progress
/// note to hand the caller before it; `None` when `err` is final.
pub fn retry_note(err: &Error, attempt: u32) -> Option<Progress> {
    if attempt >= BUILD_ATTEMPTS || !is_storage_race(err) {
        return None;
    }
    Some(Progress::text(format!(
        "{NOTE_PREFIX}the engine lost a layer to a concurrent image removal ({err}); \
         building again (attempt {} of {BUILD_ATTEMPTS})\n",
        attempt + 1
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(op: &'static str, message: &str) -> Error {
        Error::StreamFailed {
            op,
            message: message.into(),
        }
    }

    #[test]
    fn podmans_race_is_retried_twice_then_final() {
        let race = failed(
            "build",
            "checking if cached image exists from a previous build: getting top layer info: \
             layer not known",
        );
        assert!(is_storage_race(&race));
        let note = retry_note(&race, 1).expect("a first failure is retried");
        let text = note.stream.expect("a text note");
        assert!(text.starts_with(NOTE_PREFIX), "{text}");
        assert!(text.contains("attempt 2 of 3"), "{text}");
        assert!(text.ends_with('\n'));
        assert!(retry_note(&race, 2).is_some());
        assert!(retry_note(&race, BUILD_ATTEMPTS).is_none());
    }

    #[test]
    fn the_commit_variant_is_the_same_race() {
        let race = failed(
            "build",
            "committing container for step {...}: copying layers and metadata for container \
             \"a8d0\": committing the finished image: creating image \"4177\": layer not known",
        );
        assert!(retry_note(&race, 1).is_some());
    }

    #[test]
    fn other_failures_are_final() {
        for err in [
            failed(
                "build",
                "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
            ),
            failed(
                "build",
                "pull access denied for nope, repository does not exist",
            ),
            failed("load", "layer not known"),
            Error::invalid("tags", "bad"),
        ] {
            assert!(!is_storage_race(&err), "{err}");
            assert!(retry_note(&err, 1).is_none(), "{err}");
        }
    }
}
