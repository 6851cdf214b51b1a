//! The hijacked `exec start` exchange that both a run ([`super::ExecOp`]) and a long-lived
//! attached exec ([`crate::session::attach::AttachOp`]) make, and how they read its answer.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::exchange::Exchange;
use crate::api::exec;
use crate::api::{check, Subject};
use crate::error::{Error, ProtocolError};
use crate::http::{Expect, Response, ResponseHead};

/// Most bytes of a refused start's body kept for its error message.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// The `exec start` of exec `id` on a fresh connection, expecting the stream to be hijacked,
/// with `deadline` on its answer.
pub(crate) fn start_exchange(id: &str, tty: bool, deadline: Option<Instant>) -> Exchange {
    let mut ex = Exchange::new("exec start", &exec::start(id, tty), Expect::Hijack, None);
    ex.set_deadline(deadline);
    ex
}

/// The engine accepted the start: `101 UPGRADED`, or a `2xx` with the raw stream.
pub(crate) fn start_accepted(head: &ResponseHead) -> bool {
    head.status == 101 || head.is_success()
}

/// Keep `data` of a refused start's body, up to [`MAX_REFUSAL_BODY`] in all.
pub(crate) fn keep_refusal(body: &mut BytesMut, data: &[u8]) {
    if body.len() < MAX_REFUSAL_BODY {
        body.extend_from_slice(data);
    }
}

/// The typed error of a start the engine refused with `head` and `body`, for `container`.
pub(crate) fn start_error(container: &str, head: &ResponseHead, body: &[u8]) -> Error {
    let resp = Response {
        head: head.clone(),
        body: Bytes::copy_from_slice(body),
    };
    match check(&resp, "exec start", Subject::Container(container)) {
        Err(e) => e,
        Ok(()) => Error::Protocol(ProtocolError::UnexpectedStatus(head.status)),
    }
}
